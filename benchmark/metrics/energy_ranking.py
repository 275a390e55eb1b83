"""Ranking digits by their learned energy, Dai et al. (ICLR 2017) Section 5.2, Appendix B.4: Figures 4
(top 100), 5 (bottom 100), 9 (all 1,000) and 7 (the mean training digit).

The protocol of knn_nist/egan_knn.py (read for facts): after training on one digit class, 500 samples
are generated and 500 real test images are drawn without replacement; all 1,000 are sorted by energy
(lowest first) and drawn in a grid, real images marked by a frame. The script draws the generated
500 from U(−1, 1)^10 (``npuniform``) although it trains on N(0, I) noise; ``rank_noise`` follows it.

The paper's claim is visual: the top-ranked images of EGAN-Ent-NN "look similar to the mean sample",
the lowest-ranked "are clearly different from the mean image". Made measurable here:

- ``rank.rho_real``: Spearman ρ between the energy of each real test image and its Euclidean pixel
  distance to the mean training digit (Figure 7); the claim reads ρ > 0 (low energy near the mean);
- ``rank.rho_real_p``: its one-sided permutation p-value (``rank_permutations`` shuffles of the
  distances), (1 + #{ρ_perm ≥ ρ}) / (1 + permutations);
- ``rank.rho_generated``: the same ρ over the generated images;
- ``rank.real_share_top`` / ``rank.real_share_bottom``: the share of real images among the top / bottom
  ``rank_top`` (the paper: 100 of 1,000; default here 10 % of the ranked set).

Budget keys: ``rank_real`` (at most this many real test images, 500), ``rank_generated`` (default: as
many as real images, the paper's 1:1 mix), ``rank_top``, ``rank_noise``, ``rank_permutations``.
"""

from __future__ import annotations

import math
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

from benchmark.api import RunContext, TrainResult, register_metric  # noqa: E402
from benchmark.budget import read as read_budget  # noqa: E402
from benchmark.hparams import Choice, Int  # noqa: E402

BUDGET = {
    "rank_real": Int(500, low=1, doc="test images ranked (at most the test split)"),
    "rank_generated": Int(None, low=1, doc="generated images ranked; null: as many as real ones"),
    "rank_noise": Choice("uniform", ("normal", "uniform"), doc="the generator's noise for the ranked samples"),
    "rank_permutations": Int(10_000, low=1, doc="permutations of the Spearman test's p-value"),
    "rank_top": Int(None, low=1, doc="images in the top and bottom of the ranking; null: a tenth of all ranked"),
}

FRAME_RGB = (1.0, 0.1, 0.1)  # real images get a red frame ("bounding box" in the captions)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    rho = stats.spearmanr(a, b).statistic
    return 0.0 if not math.isfinite(rho) else float(rho)


def permutation_p(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, permutations: int = 10_000) -> float:
    """One-sided p-value of Spearman ρ(a, b) > 0: how often shuffled b correlates at least as strongly."""
    ra, rb = stats.rankdata(a), stats.rankdata(b)
    ra = (ra - ra.mean()) / (ra.std() or 1.0)
    rb = (rb - rb.mean()) / (rb.std() or 1.0)
    observed = float(np.mean(ra * rb))
    shuffled = np.stack([rng.permutation(rb) for _ in range(permutations)])
    null = shuffled @ ra / len(ra)
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + permutations))


def rank_by_energy(energy: np.ndarray, is_real: np.ndarray, top: int) -> dict[str, float]:
    """Order lowest energy first; share of real images among the first and last ``top``."""
    order = np.argsort(energy, kind="stable")
    return {"rank.real_share_top": float(is_real[order[:top]].mean()),
            "rank.real_share_bottom": float(is_real[order[-top:]].mean())}


def distance_to_mean(images: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return np.linalg.norm(images.reshape(len(images), -1) - mean.reshape(1, -1), axis=1)


def _rgb(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """One flat image of ``shape`` (C, H, W), values in [0, 1], as an (H, W, 3) RGB array (grey repeated)."""
    c, h, w = shape
    pixels = np.clip(image.reshape(c, h, w), 0, 1).transpose(1, 2, 0)
    return np.repeat(pixels, 3, axis=2) if c == 1 else pixels


def image_grid(images: np.ndarray, framed: np.ndarray, shape: tuple[int, int, int], columns: int) -> np.ndarray:
    """RGB grid of flat images of ``shape`` (C, H, W) in [0, 1]; framed ones get a 2-pixel red frame
    (knn_nist/egan_knn.py marks real images with 2-pixel white strokes)."""
    n = len(images)
    _, h, w = shape
    rows = max(1, math.ceil(n / columns))
    pad = 2
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, 3))
    for i, (img, frame) in enumerate(zip(images, framed, strict=True)):
        tile = _rgb(img, shape)
        if frame:
            for edge in (np.s_[:2, :], np.s_[-2:, :], np.s_[:, :2], np.s_[:, -2:]):
                tile[edge] = FRAME_RGB
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = tile
    return grid


def _grid_figure(images: np.ndarray, framed: np.ndarray, shape: tuple[int, int, int], columns: int, title: str):
    grid = image_grid(images, framed, shape, columns)
    fig, ax = plt.subplots(figsize=(min(14, 0.45 * columns + 1), min(14, 0.45 * grid.shape[0] / shape[1] + 1)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


@register_metric(
    "energy_ranking",
    produces=["rank.rho_real", "rank.rho_real_p", "rank.rho_generated", "rank.real_share_top",
              "rank.real_share_bottom", "rank.n_real", "rank.n_generated", "rank.top"],
    description="Figures 4/5/7/9: images ranked by energy; Spearman rho of energy vs distance to the mean digit",
    version="2", needs_model=("noise_sampler", "energy"), needs_dataset=("train_set", "test_set", "images"),
    budget=BUDGET,
)
def energy_ranking(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(Any, result.model)  # declared: noise_sampler, energy
    ds = cast(Any, ctx.dataset)  # declared: train_set, test_set, images
    budget = read_budget(BUDGET, ctx.budget)
    train = ds.train_samples().double().numpy()
    mean_digit = train.mean(axis=0)
    test = ds.test_samples().double().numpy()
    n_real = min(int(budget["rank_real"]), len(test))
    real = test[np.sort(ctx.np_rng("metric/energy_ranking/real").choice(len(test), n_real, replace=False))]
    n_gen = n_real if budget["rank_generated"] is None else int(budget["rank_generated"])
    noise = str(budget["rank_noise"])
    gen = model.sample(n_gen, ctx.rng("metric/energy_ranking/generated"), noise=noise).double()
    gen = gen.reshape(n_gen, -1).numpy()
    e_real = model.energy(torch.from_numpy(real).float()).double().numpy()
    e_gen = model.energy(torch.from_numpy(gen).float()).double().numpy()

    d_real, d_gen = distance_to_mean(real, mean_digit), distance_to_mean(gen, mean_digit)
    perms = int(budget["rank_permutations"])
    energy = np.concatenate([e_gen, e_real])
    is_real = np.concatenate([np.zeros(n_gen, bool), np.ones(n_real, bool)])
    top = max(1, round(0.1 * len(energy))) if budget["rank_top"] is None else int(budget["rank_top"])
    out = {"rank.rho_real": spearman(e_real, d_real),
           "rank.rho_real_p": permutation_p(e_real, d_real, ctx.np_rng("metric/energy_ranking/permutations"), perms),
           "rank.rho_generated": spearman(e_gen, d_gen), **rank_by_energy(energy, is_real, top),
           "rank.n_real": float(n_real), "rank.n_generated": float(n_gen), "rank.top": float(top)}
    shape = tuple(int(s) for s in ds.image_shape)
    _log_figures(ctx, model.label or "model", np.concatenate([gen, real]), energy, is_real, mean_digit, top, out,
                 shape)
    return out


def _log_figures(ctx: RunContext, label: str, images: np.ndarray, energy: np.ndarray, is_real: np.ndarray,
                 mean_digit: np.ndarray, top: int, out: dict[str, float], shape: tuple[int, int, int]) -> None:
    order = np.argsort(energy, kind="stable")
    columns = 10 if top <= 100 else 20
    fig = _grid_figure(images[order[:top]], is_real[order[:top]], shape, columns,
                       f"Figure 4 ({label}): {top} lowest-energy of {len(order)}; red frame = real "
                       f"({out['rank.real_share_top']:.0%})")
    ctx.log_figure(fig, f"figure4_top{top}_{label}")
    fig = _grid_figure(images[order[-top:]], is_real[order[-top:]], shape, columns,
                       f"Figure 5 ({label}): {top} highest-energy of {len(order)}; red frame = real "
                       f"({out['rank.real_share_bottom']:.0%})")
    ctx.log_figure(fig, f"figure5_bottom{top}_{label}")
    fig = _grid_figure(images[order], is_real[order], shape, 50 if len(order) > 400 else 20,
                       f"Figure 9 ({label}): all {len(order)} ranked by energy (row by row); "
                       f"Spearman rho(energy, distance to mean | real) = {out['rank.rho_real']:.3f}")
    ctx.log_figure(fig, f"figure9_ranked_{label}")
    fig, ax = plt.subplots(figsize=(2.2, 2.4))
    ax.imshow(_rgb(mean_digit, shape), vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title("Figure 7: mean training digit", fontsize=8)
    ctx.log_figure(fig, "figure7_mean_digit")
