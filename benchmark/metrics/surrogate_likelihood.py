"""The surrogate log-likelihood of an Entropic GAN (Balaji et al. 2019, Theorem/Corollary of the
poster's "Main theorem"): with X ~ f_X = N(0, I_r) and the explicit model
f_{Y|X=x}(y) = C exp(−ℓ(y, G(x))/λ),

    log f_Y(y) ≥ E_Q[log f_X(x)] − (1/λ) E_Q[ℓ(y, G(x))] + H(Q) + log C,
    Q = P*_{X|Y=y},  P*_{X|Y=y}(x) ∝ f_X(x) exp(v(y, G(x))/λ),  v = D1(y) − D2(ŷ) − ℓ(y, ŷ).

How the authors' evaluator (src/evaluator.py, ``compute_LL``) estimates it, per test point y:

- S = 640 latent draws x_i ~ N(0, I) (``nsamples = self.batchSize*5``, batch 128), fresh for
  every test point;
- weights p_i ∝ exp(−‖x_i‖²/2) · exp(v_i/λ), normalised over the S draws (``estimate_probs``);
- LL = −(1/λ)(Σ p_i ℓ_i − λ H) + Σ p_i (−‖x_i‖²/2), H = −Σ p_i log(p_i + 1e-70) the *discrete*
  entropy of the weights, and no constants (neither log C nor the prior's −(r/2) log 2π).

That recipe is reported verbatim as ``loglik.surrogate_code*`` (it is what the paper's MNIST/SVHN
histogram shows). Two of its choices do not estimate the formula above: the draws already come from
f_X, so multiplying by f_X(x_i) again targets ∝ f_X² exp(v/λ), and a discrete entropy over S points
is not H(Q). The main measurements therefore estimate the formula itself with the same draws and
self-normalised weights, i.e. importance sampling with the prior as proposal:

    p_i = w_i / Σ w,  w_i = exp(v_i/λ),  Ẑ = mean(w),  log q(x_i) = log f_X(x_i) + v_i/λ − log Ẑ,
    reconstruction = log C − Σ p_i ℓ_i/λ        (E_Q log f_{Y|X=x}(y))
    prior          = Σ p_i log f_X(x_i)          (E_Q log f_X, with its −(r/2) log 2π)
    coupling_entropy = −Σ p_i log q(x_i)         (H(Q), differential)
    surrogate      = reconstruction + coupling_entropy + prior.

Because p_i = w_i/(S Ẑ), surrogate = Σ p_i log(C e^{−ℓ_i/λ} / (S p_i)) ≤ log((1/S) Σ C e^{−ℓ_i/λ})
by Gibbs' inequality: the estimate never exceeds the plain Monte-Carlo estimate of log f_Y(y) on
the same draws, with equality when the coupling is the exact posterior (see the tests).

Measurements: for the dataset's main evaluation set (``heldout`` or ``test``) the components and
their sum, the effective sample size of the weights, and the code's number; for every other set
``loglik.surrogate_<set>`` and ``loglik.surrogate_code_<set>``; a histogram figure when there is
more than one set (the paper's Figure "dissimilar datasets have low likelihood").

Each set's latent draws come from the run's stream "metric/surrogate_likelihood/latents/<set>", so adding a
set never changes another's numbers; ``exact_gaussian_likelihood`` reads the same per-point estimates, computed
once per run (``set_terms``).
"""

from __future__ import annotations

import math
from typing import cast

import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.hparams import Int

N_LATENT = 640  # evaluator.py: nsamples = batchSize * 5 with batch_size 128 (main.py)
CHUNK_ELEMENTS = 4_000_000  # test points per chunk × S × d, to bound memory
SETS = ("heldout", "other_digits", "dissimilar")

COMPONENTS = ("surrogate", "reconstruction", "coupling_entropy", "prior")


def surrogate_terms(model: contracts.EntropicCoupling, y: torch.Tensor, rng: torch.Generator,
                    n_latent: int = N_LATENT) -> dict[str, torch.Tensor]:
    """Per-test-point estimates, each of shape (n,), float64 on the CPU.

    Keys: the four ``COMPONENTS``, ``mc_loglik`` (log of the plain Monte-Carlo mean of
    f_{Y|X=x_i}(y), the upper envelope of the surrogate on the same draws), ``ess`` (effective
    sample size 1/Σp² of the coupling weights) and ``code`` (evaluator.py's number).
    """
    y = y.reshape(len(y), -1).to(torch.float64)
    per_point = n_latent * max(model.dim, model.latent_dim)
    step = max(1, CHUNK_ELEMENTS // per_point)
    parts = [_chunk_terms(model, y[i:i + step], rng, n_latent) for i in range(0, len(y), step)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _chunk_terms(model: contracts.EntropicCoupling, y: torch.Tensor, rng: torch.Generator,
                 n_latent: int) -> dict[str, torch.Tensor]:
    n, r, lam = len(y), model.latent_dim, float(model.lam)
    x = torch.randn(n, n_latent, r, generator=rng, dtype=torch.float64)  # fresh draws per test point
    y_hat = model.generate(x).double().cpu()  # (n, S, d)
    ell = model.cost(y.unsqueeze(1), y_hat).double().cpu()  # (n, S)
    v = (model.d1(y).double().cpu().unsqueeze(1) - model.d2(y_hat).double().cpu() - ell)  # (n, S)
    half_sq = 0.5 * (x**2).sum(-1)
    log_fx = -half_sq - 0.5 * r * math.log(2.0 * math.pi)
    log_c = model.log_c()

    # The formula, by self-normalised importance sampling with f_X as proposal.
    log_w = v / lam
    log_p = torch.log_softmax(log_w, dim=1)
    p = log_p.exp()
    log_z_hat = torch.logsumexp(log_w, dim=1) - math.log(n_latent)
    reconstruction = log_c - (p * ell).sum(1) / lam
    prior = (p * log_fx).sum(1)
    entropy = -(p * (log_fx + log_w - log_z_hat.unsqueeze(1))).sum(1)
    mc = torch.logsumexp(log_c - ell / lam, dim=1) - math.log(n_latent)

    # evaluator.py, compute_LL, term by term.
    p_code = torch.softmax(-half_sq + log_w, dim=1)
    code = (-(p_code * ell).sum(1) / lam + (-(p_code * torch.log(p_code + 1e-70))).sum(1)
            + (p_code * -half_sq).sum(1))
    return {"surrogate": reconstruction + entropy + prior, "reconstruction": reconstruction,
            "coupling_entropy": entropy, "prior": prior, "mc_loglik": mc, "ess": 1.0 / (p**2).sum(1),
            "code": code}


def evaluation_sets(ctx: RunContext) -> dict[str, torch.Tensor]:
    """The dataset's evaluation sets (capability ``evaluation_sets``), built once per run."""
    if "evaluation_sets" not in ctx.run_cache:
        ctx.run_cache["evaluation_sets"] = cast(contracts.EvaluationSets, ctx.dataset).evaluation_sets()
    return ctx.run_cache["evaluation_sets"]


def main_set(sets: dict[str, torch.Tensor]) -> str:
    return "heldout" if "heldout" in sets else next(iter(sets))


def latent_rng(ctx: RunContext, set_name: str) -> torch.Generator:
    """One stream per evaluation set, so that adding a set never changes another set's numbers."""
    return ctx.rng(f"metric/surrogate_likelihood/latents/{set_name}")


def set_terms(result: TrainResult, ctx: RunContext, set_name: str, n_latent: int) -> dict[str, torch.Tensor]:
    """``surrogate_terms`` of one evaluation set under the run's model, computed once per run."""
    slot = ("surrogate_terms", set_name, n_latent)
    if slot not in ctx.run_cache:
        model = cast(contracts.EntropicCoupling, result.model)
        y = evaluation_sets(ctx)[set_name]
        ctx.run_cache[slot] = surrogate_terms(model, y, latent_rng(ctx, set_name), n_latent)
    return ctx.run_cache[slot]


@register_metric(
    "surrogate_likelihood",
    produces=[*(f"loglik.{c}" for c in COMPONENTS), "loglik.ess", "loglik.surrogate_code",
              *(f"loglik.surrogate_{s}" for s in SETS), *(f"loglik.surrogate_code_{s}" for s in SETS)],
    description="Entropic-GAN variational lower bound on log f_Y and its three terms (Balaji et al. 2019)",
    params={"n_latent": Int(N_LATENT, low=1, doc="latent draws per sample (evaluator.py nsamples)")},
    version="2", needs_model=("entropic_coupling",), needs_dataset=("evaluation_sets",))
def surrogate_likelihood(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    n_latent = int(ctx.hp("n_latent", N_LATENT))
    sets = evaluation_sets(ctx)
    main = main_set(sets)
    per_set = {name: set_terms(result, ctx, name, n_latent) for name in sets}
    terms = per_set[main]
    out = {f"loglik.{c}": float(terms[c].mean()) for c in COMPONENTS}
    out["loglik.ess"] = float(terms["ess"].mean())
    out["loglik.surrogate_code"] = float(terms["code"].mean())
    if len(sets) > 1:
        for name, t in per_set.items():
            out[f"loglik.surrogate_{name}"] = float(t["surrogate"].mean())
            out[f"loglik.surrogate_code_{name}"] = float(t["code"].mean())
        _histogram(ctx, {k: t["surrogate"] for k, t in per_set.items()}, "surrogate log-likelihood (paper formula)",
                   "loglik_histogram")
        _histogram(ctx, {k: t["code"] for k, t in per_set.items()}, "surrogate likelihood (evaluator.py recipe)",
                   "loglik_histogram_code")
    return out


def _histogram(ctx: RunContext, values: dict[str, torch.Tensor], xlabel: str, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    colours = {"heldout": "tab:red", "other_digits": "tab:green", "dissimilar": "tab:blue"}
    for set_name, v in values.items():
        finite = v[torch.isfinite(v)].numpy()
        ax.hist(finite, bins=40, alpha=0.4, density=True, color=colours.get(set_name), label=set_name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    ctx.log_figure(fig, name)
    plt.close(fig)
