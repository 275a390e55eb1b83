"""Figures 1–3 of Dai et al. (ICLR 2017): the true energy with the training samples (Figure 1),
and each model's learned energy c(x) on the canvas with its samples (Figures 2–3). The
contour levels are spaced quadratically between min and max, as in the original's energy_plot
(synthetic/vis_utils.py), so that the low-energy region gets most of the lines.
"""

from __future__ import annotations

from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmark.api import RunContext, TrainResult, register_metric  # noqa: E402

N_SHOWN = 2000  # num_visualize in the original scripts


def _energy_panel(ax, energy: np.ndarray, canvas, title: str, levels: int = 15) -> None:
    grid = energy.reshape(canvas.width, canvas.width)
    lo, hi = float(grid.min()), float(grid.max())
    bins = lo + (np.arange(levels) ** 2) * (hi - lo) / levels**2
    ax.pcolormesh(canvas.xs, canvas.ys, grid, shading="nearest")
    if hi > lo:
        ax.contour(canvas.xs, canvas.ys, grid, np.unique(bins), colors="white", linewidths=0.6)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("auto")


def _samples_panel(ax, points: np.ndarray, canvas, title: str, colour: str, centres=None) -> None:
    ax.plot(points[:, 0], points[:, 1], ".", color=colour, alpha=0.25, markersize=2)
    if centres is not None:
        ax.plot(centres[:, 0], centres[:, 1], "o", color="green", markersize=4)
    ax.set_xlim(canvas.lo[0], canvas.hi[0])
    ax.set_ylim(canvas.lo[1], canvas.hi[1])
    ax.set_title(title, fontsize=10)


@register_metric("energy_figures", produces=[], description="Figures 1-3: true and learned energies with samples",
                 version="2", needs_model=("sampler", "energy"),
                 needs_dataset=("canvas", "mixture", "density", "train_set"))
def energy_figures(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    ds = cast(Any, ctx.dataset)  # declared: canvas, mixture, density, train_set
    model = cast(Any, result.model)  # declared: sampler, energy
    canvas = ds.canvas
    points = canvas.points()
    train = ds.train_samples().numpy()
    shown = train[ctx.np_rng("metric/energy_figures/shown").choice(len(train), N_SHOWN, replace=False)]

    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    _energy_panel(axes[0], -ds.log_density(points).numpy(), canvas, f"true energy −log p_data ({ds.name})")
    _samples_panel(axes[1], shown, canvas, "training samples; green: component means", "red", ds.means.numpy())
    fig.tight_layout()
    ctx.log_figure(fig, f"figure1_true_energy_{ds.name}")
    plt.close(fig)

    gen = model.sample(N_SHOWN, ctx.rng("metric/energy_figures/samples")).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    _energy_panel(axes[0], model.energy(points.float()).double().numpy(), canvas, "learned energy c(x)")
    _samples_panel(axes[1], shown, canvas, "generated (red) and real (blue) samples", "blue")
    axes[1].plot(gen[:, 0], gen[:, 1], ".", color="red", alpha=0.4, markersize=2)
    fig.tight_layout()
    ctx.log_figure(fig, f"figure2_3_learned_energy_{ds.name}")
    plt.close(fig)
    return {}
