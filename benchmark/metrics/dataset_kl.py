"""The dataset's own KL divergences printed above Table 2 of Dai et al. (ICLR 2017): KL(p_data ‖ p_emp) and
KL(p_emp ‖ p_data) on the 100 × 100 canvas, with the smoothing of ``kl_grid.py`` (which those six printed
numbers fixed: they are calibration targets). Independent of any model.
"""

from __future__ import annotations

from typing import cast

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.metrics.kl_grid import kl


@register_metric("dataset_kl", produces=["kl.pdata_pemp", "kl.pemp_pdata"],
                 description="the dataset's own KL(p_data‖p_emp), KL(p_emp‖p_data) printed above Table 2",
                 needs_dataset=("canvas",))
def dataset_kl(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(contracts.Canvas, ctx.dataset)
    pdata, pemp = ds.grid_pdata(), ds.grid_pemp()
    return {"kl.pdata_pemp": kl(pdata, pemp), "kl.pemp_pdata": kl(pemp, pdata)}
