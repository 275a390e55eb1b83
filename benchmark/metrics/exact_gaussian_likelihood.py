"""The exact log-likelihood of an Entropic GAN with a linear generator and the squared loss, and
how far the surrogate (``surrogate_likelihood``) stays below it (Balaji et al. 2019, "Tightness of
the lower-bound", poster table).

With X ~ N(0, I_r), G(x) = Ax + b and f_{Y|X=x}(y) = C exp(−‖y − G(x)‖²/λ), C = (πλ)^{−d/2},
Y | X = x is N(Ax + b, (λ/2) I), hence

    f_Y = N(b, AAᵀ + (λ/2) I),

a closed form (the variance λ/2, not λ: exp(−‖e‖²/λ) = exp(−‖e‖²/(2·λ/2))). For any other loss or
generator there is no closed form and the metric refuses to run.

Measurements on the dataset's test set (the same points and the same latent draws as
``surrogate_likelihood``, so the comparison is per test point):

- ``loglik.exact``: mean log f_Y(y);
- ``loglik.gap``: mean (exact − surrogate), ≥ 0 when the bound holds;
- ``loglik.frac_above_exact``: fraction of test points whose surrogate exceeds the exact value;
- ``loglik.max_gap_violation``: max over test points of (surrogate − exact), ≤ 0 when the bound
  holds for every point;
- ``loglik.data``: mean log p_data(y) where the dataset knows it, the ceiling for any model.

With quadratic critics the coupling is Gaussian too, and the bound itself has a closed form, free
of the Monte-Carlo error of the 640-draw estimate (our addition, to tell the two apart): D1(y) is a
constant in x, D2(Ax + b) and ‖y − Ax − b‖² are quadratic in x, so
Q = P*_{X|Y=y} = N(μ, P⁻¹) with P = I + (2/λ)(AᵀM2A + AᵀA), Pμ = (1/λ)(2Aᵀ(y − b) − 2AᵀM2b − Aᵀw2),
and E_Q log f_X, E_Q ‖y − G(x)‖², H(Q) are Gaussian moments.

- ``loglik.surrogate_analytic``: mean of that exact bound;
- ``loglik.max_gap_violation_analytic``: max over test points of (bound − exact), ≤ 0 by the theorem;
- ``loglik.mc_error``: mean (640-draw estimate − exact bound), the estimator's own error.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.hparams import Int
from benchmark.metrics.surrogate_likelihood import N_LATENT, evaluation_sets, main_set, set_terms


def marginal_covariance(a: torch.Tensor, lam: float) -> torch.Tensor:
    """AAᵀ + (λ/2) I: the covariance of f_Y for the squared loss."""
    return a @ a.T + 0.5 * lam * torch.eye(a.shape[0], dtype=a.dtype)


def exact_log_likelihood(a: torch.Tensor, b: torch.Tensor, lam: float, y: torch.Tensor) -> torch.Tensor:
    """log N(y; b, AAᵀ + (λ/2) I) for each row of y, in float64."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    cov = marginal_covariance(a, lam)
    chol = torch.linalg.cholesky(cov)
    diff = (y.to(torch.float64) - b).T
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)
    log_det = 2.0 * torch.log(torch.diagonal(chol)).sum()
    d = a.shape[0]
    return -0.5 * (sol**2).sum(0) - 0.5 * log_det - 0.5 * d * math.log(2.0 * math.pi)


def linear_squared_parameters(model: contracts.LinearGaussian) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b) of a model that declares ``linear_gaussian``; a model that declares it falsely is a bug."""
    params = model.linear_parameters()
    if params is None or model.loss != "squared":
        raise ValueError("exact_gaussian_likelihood needs a linear generator and loss: squared "
                         "(no closed form for log f_Y otherwise)")
    return params


@register_metric(
    "exact_gaussian_likelihood",
    produces=["loglik.exact", "loglik.gap", "loglik.frac_above_exact", "loglik.max_gap_violation", "loglik.data",
              "loglik.surrogate_analytic", "loglik.max_gap_violation_analytic", "loglik.mc_error"],
    description="closed-form log f_Y = log N(b, AAᵀ + λ/2 I) of a linear Entropic GAN, and the surrogate's gap to it",
    params={"n_latent": Int(N_LATENT, low=1, doc="latent draws per sample (evaluator.py nsamples)")},
    version="2", needs_model=("entropic_coupling", "linear_gaussian"), needs_dataset=("evaluation_sets",))
def exact_gaussian_likelihood(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(Any, result.model)  # declared: entropic_coupling, linear_gaussian
    a, b = linear_squared_parameters(model)
    sets = evaluation_sets(ctx)
    name = main_set(sets)
    y = sets[name].to(torch.float64)
    exact = exact_log_likelihood(a, b, float(model.lam), y)
    surrogate = set_terms(result, ctx, name, int(ctx.hp("n_latent", N_LATENT)))["surrogate"]
    excess = surrogate - exact
    out = {"loglik.exact": float(exact.mean()), "loglik.gap": float(-excess.mean()),
           "loglik.frac_above_exact": float((excess > 0).double().mean()),
           "loglik.max_gap_violation": float(excess.max())}
    if "density" in contracts.offered(ctx.dataset):  # the ceiling, where the dataset knows it
        out["loglik.data"] = float(cast(contracts.Density, ctx.dataset).log_density(y).mean())
    analytic = analytic_bound(model, a, b, y)
    if analytic is not None:
        out["loglik.surrogate_analytic"] = float(analytic.mean())
        out["loglik.max_gap_violation_analytic"] = float((analytic - exact).max())
        out["loglik.mc_error"] = float((surrogate - analytic).mean())
    return out


def analytic_bound(model: Any, a: torch.Tensor, b: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """E_Q[log f_X] + log C − E_Q[‖y − Ax − b‖²]/λ + H(Q) for Gaussian Q, per row of y.

    None when the critics are not quadratic (``contracts.QuadraticCritics``, the optional part of
    ``linear_gaussian``) or Q is improper (P not positive definite).
    """
    critics = model.critics
    if not isinstance(critics, contracts.QuadraticCritics):
        return None
    lam, r = float(model.lam), a.shape[1]
    m2 = critics.m2.detach().double().cpu()
    m2 = 0.5 * (m2 + m2.T)
    w2 = critics.w2.detach().double().cpu()
    prec = torch.eye(r, dtype=torch.float64) + (2.0 / lam) * (a.T @ m2 @ a + a.T @ a)
    chol, info = torch.linalg.cholesky_ex(prec)
    if int(info) != 0:
        return None
    cov = torch.cholesky_inverse(chol)
    lin = (2.0 * (y - b) @ a - 2.0 * (a.T @ m2 @ b) - a.T @ w2) / lam  # (n, r): rows of Pμ
    mu = lin @ cov  # cov is symmetric
    resid = y - b - mu @ a.T
    sq_err = (resid**2).sum(1) + torch.trace(a @ cov @ a.T)
    prior = -0.5 * ((mu**2).sum(1) + torch.trace(cov)) - 0.5 * r * math.log(2.0 * math.pi)
    entropy = 0.5 * r * (1.0 + math.log(2.0 * math.pi)) - torch.log(torch.diagonal(chol)).sum()
    return prior + model.log_c() - sq_err / lam + entropy
