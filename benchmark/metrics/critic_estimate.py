"""The Wasserstein distance a trained critic implies (essay §3.3.1).

``w.estimate`` = E_data f − E_model f on fresh held-out samples (not the training stream), the
Kantorovich–Rubinstein dual objective at the trained critic f. ``w.true`` is the exact W1 the
dataset knows (|θ| for the parallel lines). ``w.grad_norm`` is the critic's mean gradient norm
at random interpolates, i.e. the Lipschitz scale the estimate was obtained at (≈ 1 for a
gradient penalty, ≪ 1 for weight clipping), and ``w.estimate_normalized`` = w.estimate /
w.grad_norm the estimate of the critic rescaled to unit gradient norm. The rescaling removes the
gradient penalty's known bias (its optimal critic has slope 1 + W/(2λ) between the supports)
and the arbitrary scale of a clipped critic; it is our addition, not the papers' estimator. Samples come from
the run's streams "metric/critic_estimate/…", apart from the training's.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric

N_EVAL = 20_000


@register_metric(
    "critic_estimate",
    produces=["w.estimate", "w.true", "w.grad_norm", "w.estimate_normalized"],
    description="held-out E_data f − E_model f of a trained critic, and the exact W1",
    version="2", needs_model=("critic",), needs_dataset=("model_distribution",),
)
def critic_estimate(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(Any, ctx.dataset)  # declared: model_distribution; exact_divergences where offered
    model = cast(contracts.Critic, result.model)
    x_data = ds.sample_data(N_EVAL, ctx.rng("metric/critic_estimate/data"))
    x_model = ds.sample_model(N_EVAL, ctx.rng("metric/critic_estimate/model"))
    estimate = model.values(x_data).double().mean() - model.values(x_model).double().mean()
    eps = torch.rand(N_EVAL, 1, generator=ctx.rng("metric/critic_estimate/interpolates"))
    grad_norm = model.grad_norms(eps * x_data + (1 - eps) * x_model).double().mean()
    out = {"w.estimate": float(estimate), "w.grad_norm": float(grad_norm),
           "w.estimate_normalized": float(estimate / grad_norm)}
    if "exact_divergences" in contracts.offered(ds):
        out["w.true"] = float(ds.wasserstein_exact())
    return out
