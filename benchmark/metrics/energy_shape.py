"""Shape of the learned energy, for the qualitative claims of Dai et al. (ICLR 2017), Section 5.1.

Flatness ("GAN and EGAN-Const ... assign flat energy inside the empirical data support"):
over the high-density cells, the smallest set of grid cells holding half of p_data's mass,
the coefficient of variation of exp(−c(x)) (``flat.cv_disc``) next to the same statistic of
p_data itself (``flat.cv_pdata``). ``flat.ratio`` = cv_disc / cv_pdata is 0 for an energy that is
flat on the support and about 1 for one that tracks the density's variation there.

Mode weights ("EGAN-Ent-VI ... incorrectly assigning lower energy to the mode with lower
probability ... EGAN-Ent-NN perfectly captures the bias in mixture weight"): each grid cell
belongs to its nearest mixture component; ``mode.small_*`` is the mass that p_data, p_disc and
p_gen put on the cells of the lowest-weight component (0.1 for cegan_biased; for equal weights
the first component). ``mode.energy_gap`` = c(µ_small) − c(µ_large) at the two component means,
``mode.energy_gap_true`` the same for −log p_data (log 9 ≈ 2.2 on cegan_biased): positive means
the small mode gets the higher energy, as it should. p_gen and p_disc are ``kl_grid``'s, computed once per run.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.metrics.kl_grid import grid_distributions

CORE_MASS = 0.5


def core_cells(pdata: np.ndarray, mass: float = CORE_MASS) -> np.ndarray:
    """Boolean mask of the highest-density cells that together hold `mass` of p_data."""
    order = np.argsort(pdata)[::-1]
    keep = np.searchsorted(np.cumsum(pdata[order]), mass) + 1
    mask = np.zeros(pdata.shape, dtype=bool)
    mask[order[:keep]] = True
    return mask


def coefficient_of_variation(values: np.ndarray) -> float:
    mean = float(np.mean(values))
    return float(np.std(values) / mean) if mean > 0 else 0.0


@register_metric("energy_shape",
                 produces=["flat.cv_disc", "flat.cv_pdata", "flat.ratio", "mode.small_pdata", "mode.small_pdisc",
                           "mode.small_pgen", "mode.energy_gap", "mode.energy_gap_true"],
                 description="flatness of exp(−c) on the data's core, and the mass each model gives the small mode",
                 version="2", needs_model=("sampler", "energy"), needs_dataset=("canvas", "mixture", "density"))
def energy_shape(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(Any, ctx.dataset)  # declared: canvas, mixture, density
    dist = grid_distributions(result, ctx)
    mask = core_cells(dist["pdata"])
    cv_disc, cv_data = coefficient_of_variation(dist["pdisc"][mask]), coefficient_of_variation(dist["pdata"][mask])
    out = {"flat.cv_disc": cv_disc, "flat.cv_pdata": cv_data, "flat.ratio": cv_disc / max(cv_data, 1e-12)}
    weights = ds.weights
    small, large = int(torch.argmin(weights)), int(torch.argmax(weights))
    cells = ds.nearest_component(ds.canvas.points()).numpy()
    for name in ("pdata", "pdisc", "pgen"):
        out[f"mode.small_{name}"] = float(dist[name][cells == small].sum())
    means = ds.means[[small, large]].float()
    e_model = cast(contracts.Energy, result.model).energy(means).double().numpy()
    e_true = -ds.log_density(means).numpy()  # the true energy −log p_data
    out["mode.energy_gap"] = float(e_model[0] - e_model[1])
    out["mode.energy_gap_true"] = float(e_true[0] - e_true[1])
    return out
