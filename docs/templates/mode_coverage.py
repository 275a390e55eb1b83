"""Template metric: mode coverage on a Gaussian mixture, as VEEGAN and PacGAN (Lin et al. 2018, Table 1) count
it. A generated point is of high quality when it lies within three standard deviations of its nearest component
(in that component's own variances); a mode is captured when at least ``min_per_mode`` high-quality points fall
on it. The same count over the dataset's own draws is a sanity measurement: true by construction.
Copy this file for a new metric: one function, registered with what it produces and what it needs."""

from __future__ import annotations

from typing import cast

import torch

from benchmark import budget as budgets
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.contracts import Mixture, Sampler, Samples
from benchmark.hparams import Int

BUDGET = {"coverage_samples": Int(2500, low=1, doc="points drawn from the model and from the data")}


def coverage(points: torch.Tensor, mixture: Mixture, min_per_mode: int) -> tuple[int, float]:
    """(modes captured, fraction of high-quality points) of ``points`` (n, d)."""
    nearest = mixture.nearest_component(points)
    scaled = (points.to(torch.float64) - mixture.means[nearest]) ** 2 / mixture.variances[nearest]
    good = scaled.sum(dim=1).sqrt() <= 3.0
    counts = torch.bincount(nearest[good], minlength=len(mixture.means))
    return int((counts >= min_per_mode).sum()), float(good.double().mean())


@register_metric("template_mode_coverage", produces=["modes.captured", "modes.high_quality", "modes.data_captured",
                                                     "modes.data_high_quality"],
                 description="modes captured and the fraction of high-quality samples (3 standard deviations)",
                 params={"min_per_mode": Int(1, low=1, doc="high-quality points that capture a mode")},
                 needs_model=("sampler",), needs_dataset=("samples", "mixture"), budget=BUDGET)
def mode_coverage(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    n = budgets.read(BUDGET, ctx.budget)["coverage_samples"]
    least = int(ctx.hp("min_per_mode", 1))
    # a metric draws from streams of its own, named after it: never the method's
    model = cast(Sampler, result.model).sample(n, ctx.rng("metric/template_mode_coverage/model"))
    data = cast(Samples, ctx.dataset).sample(n, ctx.rng("metric/template_mode_coverage/data"))
    mixture = cast(Mixture, ctx.dataset)
    captured, quality = coverage(model, mixture, least)
    data_captured, data_quality = coverage(data, mixture, least)
    _draw(ctx, model, mixture)
    return {"modes.captured": float(captured), "modes.high_quality": quality,
            "modes.data_captured": float(data_captured), "modes.data_high_quality": data_quality}


def _draw(ctx: RunContext, points: torch.Tensor, mixture: Mixture) -> None:
    """The samples over the components' means; the suite's `figures:` gives the figure its published caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="samples")
    ax.scatter(mixture.means[:, 0], mixture.means[:, 1], s=30, c="red", marker="x", label="component means")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    ctx.log_figure(fig, "samples_ring")
