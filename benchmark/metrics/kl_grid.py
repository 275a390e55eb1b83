"""Table 2 of Dai et al. (ICLR 2017), Appendix B.2: pairwise KL divergences among four
distributions discretised on the dataset's 100 × 100 canvas.

- p_data: the analytic density at the cell centres, renormalised (``grid_pdata``);
- p_emp: histogram of the 100K training samples, each assigned to its nearest cell;
- p_gen: histogram of 100K generator samples, the same way;
- p_disc: softmax of −c(x) over the cell centres (µ*(x) = 0, infinite support).

Smoothing: every distribution gets 1e-8 added to each cell and is renormalised before the KL.
The released code has no KL script; this constant is inferred, not read: it is the one value
that reproduces all six dataset KLs printed above Table 2 to three or four digits (1e-10 and 1e-6
miss them by 40–50 %; add-one count smoothing misses them by far more). Those six numbers fixed it,
so the suite scores them as calibration targets (shown with this constant, never counted).

``grid_distributions`` is shared with ``energy_shape``: computed once per run (``RunContext.run_cache``), p_gen
from the run's stream "metric/grid_distributions/samples". The dataset's own KLs are ``dataset_kl.py``'s.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric

SMOOTHING = 1e-8
N_SAMPLES = 100_000  # "approximated from 100K generated data"

MODEL_KLS = ("pgen_pemp", "pemp_pgen", "pgen_pdata", "pdata_pgen", "pdisc_pemp", "pemp_pdisc",
             "pdisc_pdata", "pdata_pdisc", "pgen_pdisc", "pdisc_pgen")


def smooth(p: np.ndarray, eps: float = SMOOTHING) -> np.ndarray:
    q = np.asarray(p, dtype=np.float64) + eps
    return q / q.sum()


def kl(p: np.ndarray, q: np.ndarray, eps: float = SMOOTHING) -> float:
    """KL(p ‖ q) between two histograms on the same cells, both smoothed."""
    p, q = smooth(p, eps), smooth(q, eps)
    return float(np.sum(p * (np.log(p) - np.log(q))))


def softmax_neg(energy: np.ndarray) -> np.ndarray:
    """p_disc(x) = exp(−c(x)) / Σ_grid exp(−c(x'))."""
    e = -np.asarray(energy, dtype=np.float64)
    w = np.exp(e - e.max())
    return w / w.sum()


def grid_distributions(result: TrainResult, ctx: RunContext, n: int | None = None) -> dict[str, np.ndarray]:
    """The four distributions of Appendix B.2 on the dataset's canvas (unsmoothed), once per run and n.
    Needs the model's ``sampler`` and ``energy`` and the dataset's ``canvas``."""
    n = N_SAMPLES if n is None else n
    slot = ("grid_distributions", n)
    if slot not in ctx.run_cache:
        ds = cast(contracts.Canvas, ctx.dataset)
        model = cast(Any, result.model)  # declared: sampler, energy
        canvas = ds.canvas
        energy = model.energy(canvas.points().float()).double().numpy()
        ctx.run_cache[slot] = {
            "pdata": ds.grid_pdata(),
            "pemp": ds.grid_pemp(),
            "pgen": canvas.histogram(model.sample(n, ctx.rng("metric/grid_distributions/samples"))),
            "pdisc": softmax_neg(energy),
            "energy": energy,
        }
    return ctx.run_cache[slot]


@register_metric("kl_grid", produces=[f"kl.{name}" for name in MODEL_KLS],
                 description="Table 2: the ten pairwise KLs among p_gen, p_disc, p_emp and p_data on the grid",
                 version="2", needs_model=("sampler", "energy"), needs_dataset=("canvas",))
def kl_grid(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    dist = grid_distributions(result, ctx)
    out = {}
    for name in MODEL_KLS:
        a, b = name.split("_")
        out[f"kl.{name}"] = kl(dist[a], dist[b])
    return out

