"""The Jensen–Shannon divergence a trained GAN discriminator implies (essay §3.1.2, §3.3.1).

At the optimum V(D*, G) = 2·JSD − log 4, so JSD_hat = (V(D) + log 4)/2 with V(D) from sample
averages E_data log D + E_model log(1 − D) over fresh held-out samples. For any D this is a
lower bound on the JSD up to sampling noise, tight at D = D*. ``jsd.true`` is the dataset's
exact value where it knows one (0 or log 2 for the parallel lines: capability ``exact_divergences``). Samples
come from the run's streams "metric/jsd_estimate/data" and ".../model", apart from the training's.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch.nn.functional as F

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric

N_EVAL = 20_000


@register_metric(
    "jsd_estimate",
    produces=["jsd.estimate", "jsd.true"],
    description="(V(D) + log 4)/2 from held-out samples with a trained GAN discriminator",
    version="2", needs_model=("discriminator",), needs_dataset=("model_distribution",),
)
def jsd_estimate(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(Any, ctx.dataset)  # declared: model_distribution; exact_divergences where offered
    model = cast(contracts.Discriminator, result.model)
    logits_data = model.logits(ds.sample_data(N_EVAL, ctx.rng("metric/jsd_estimate/data"))).double()
    logits_model = model.logits(ds.sample_model(N_EVAL, ctx.rng("metric/jsd_estimate/model"))).double()
    value = F.logsigmoid(logits_data).mean() + F.logsigmoid(-logits_model).mean()
    out = {"jsd.estimate": float((value + math.log(4.0)) / 2.0)}
    if "exact_divergences" in contracts.offered(ds):
        out["jsd.true"] = float(ds.jsd_exact())
    return out
