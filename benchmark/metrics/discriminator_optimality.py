"""How close a trained GAN discriminator is to the optimal one (essay §3.1.2).

For a 1-D dataset with exact densities (``gaussian_pair_1d``) this measures

- ``dstar.mae``: E_m |D(x) − D*(x)| with m = (p_data + p_g)/2, the distribution the
  discriminator is trained on. Weighting by m (rather than a plain grid average) ignores the
  far tails where neither density has mass and the network was never trained.
- ``value.v_trained``: V(D, G) = ∫ p_data log D + ∫ p_g log(1 − D), integrated numerically
  against the exact densities, so it is deterministic given D.
- ``value.v_theory``: V(D*, G) = 2·JSD(p_data, p_g) − log 4, with JSD from scipy's quad.
- ``jsd.exact``: JSD(p_data, p_g) itself.

V(D, G) ≤ V(D*, G) for every D, because D* maximises the integrand pointwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
from scipy import integrate

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric

LOG4 = math.log(4.0)


def _quad(integrand: Callable[[float], float], lo: float, hi: float, points: tuple[float, ...]) -> float:
    """Adaptive quadrature, told where the densities peak so that narrow bumps are not missed.

    quad warns about roundoff long before the precision we report (1e-6) is at risk, e.g. when
    the integrand is a float32 network with LeakyReLU kinks; those warnings are silenced.
    """
    inside = sorted({p for p in points if lo < p < hi}) or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value, _ = integrate.quad(integrand, lo, hi, points=inside, limit=500, epsabs=1e-11, epsrel=1e-9)
    return float(value)


def jsd_quad(log_p: Callable[[float], float], log_q: Callable[[float], float], lo: float, hi: float,
             points: tuple[float, ...] = ()) -> float:
    """JSD(P, Q) = ½ KL(P‖M) + ½ KL(Q‖M), M = (P+Q)/2, by adaptive quadrature on [lo, hi]."""

    def integrand(x: float) -> float:
        lp, lq = log_p(x), log_q(x)
        lm = np.logaddexp(lp, lq) - math.log(2.0)
        return 0.5 * (math.exp(lp) * (lp - lm) + math.exp(lq) * (lq - lm))

    return max(_quad(integrand, lo, hi, points), 0.0)


def value_quad(log_p: Callable[[float], float], log_q: Callable[[float], float],
               logit: Callable[[float], float], lo: float, hi: float, points: tuple[float, ...] = ()) -> float:
    """V(D) = ∫ p log D + q log(1 − D) with D = sigmoid(logit), log D = −softplus(−logit)."""

    def integrand(x: float) -> float:
        s = logit(x)
        log_d, log_1md = -np.logaddexp(0.0, -s), -np.logaddexp(0.0, s)
        return math.exp(log_p(x)) * log_d + math.exp(log_q(x)) * log_1md

    return _quad(integrand, lo, hi, points)


def _scalar(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[float], float]:
    return lambda x: float(fn(torch.tensor([[x]], dtype=torch.float64)).reshape(-1)[0])


@register_metric(
    "discriminator_optimality",
    produces=["dstar.mae", "value.v_trained", "value.v_theory", "jsd.exact"],
    description="|D − D*| weighted by the mixture density, V(D) and 2·JSD − log 4 by quadrature",
    needs_model=("discriminator",), needs_dataset=("density_pair_1d",),
)
def discriminator_optimality(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(contracts.DensityPair1D, ctx.dataset)
    model = cast(contracts.Discriminator, result.model)
    log_p, log_q = _scalar(ds.log_density_data), _scalar(ds.log_density_model)
    lo, hi = ds.support()
    points = tuple(ds.breakpoints())

    x = ds.grid(4001)
    d_star = ds.optimal_discriminator(x).squeeze(1).double()
    d_hat = torch.sigmoid(model.logits(x.float()).double())
    mix = 0.5 * (ds.log_density_data(x).exp() + ds.log_density_model(x).exp()).squeeze(1)
    xs = x.squeeze(1).numpy()
    mae = np.trapezoid((mix * (d_hat - d_star).abs()).numpy(), xs) / np.trapezoid(mix.numpy(), xs)

    def logit(v: float) -> float:
        return float(model.logits(torch.tensor([[v]], dtype=torch.float32))[0])

    jsd = jsd_quad(log_p, log_q, lo, hi, points)
    out = {
        "dstar.mae": float(mae),
        "value.v_trained": value_quad(log_p, log_q, logit, lo, hi, points),
        "value.v_theory": 2.0 * jsd - LOG4,
        "jsd.exact": jsd,
    }
    if ctx.figure_sink is not None:
        ctx.log_figure(_figure(xs, d_hat.numpy(), d_star.numpy(), mix.numpy()), "discriminator_vs_optimal")
    return out


def _figure(x: np.ndarray, d_hat: np.ndarray, d_star: np.ndarray, mix: np.ndarray):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(x, d_star, label="D*(x) = p_data/(p_data+p_g)", lw=2)
    ax.plot(x, d_hat, "--", label="trained D(x)", lw=1.5)
    ax.fill_between(x, 0, mix / mix.max(), color="grey", alpha=0.2, label="(p_data+p_g)/2, scaled")
    ax.set_xlabel("x")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
