"""Sample diversity, 1 − MS-SSIM averaged over random pairs (Rosca et al. 2017 §5, after Odena et al.
2017), with pytorch-msssim's ``ms_ssim``, and the paper's two reference values: the test set, and the test
set with added normal noise ("it is higher than the diversity of the original data", §5).

pytorch-msssim's five scales with a w-pixel Gaussian window need images wider than 16·(w − 1) pixels,
so images are enlarged bilinearly by the smallest integer factor that gets there (w = 11, the standard
window of Wang et al. 2003: 28 → 168, 32 → 192, 64 → 192); identical images stay identical, so their
diversity is exactly 0. ``msssim_win`` in the budget picks w (the cpu profile uses 5: 28 → 84 pixels).
The noise standard deviation (0.1 on the [0, 1] scale, clipped back to [0, 1]) is ours: the paper does not give it.
Reference values do not depend on the model: they are computed once per process from the fixed stream
"metric/sample_diversity/reference"; the samples come from the run's stream "metric/sample_diversity/samples".
"""

from __future__ import annotations

import math
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from pytorch_msssim import ms_ssim  # noqa: E402

from benchmark import contracts  # noqa: E402
from benchmark.api import RunContext, TrainResult, register_metric  # noqa: E402
from benchmark.budget import read as read_budget  # noqa: E402
from benchmark.hparams import Int  # noqa: E402
from benchmark.streams import fixed_rng  # noqa: E402
from benchmark.threads import cpu_threads  # noqa: E402

WIN = 11  # Wang et al. (2003) and pytorch_msssim's default
BUDGET = {
    "diversity_pairs": Int(1000, low=1, doc="random pairs of images whose MS-SSIM is averaged"),
    "msssim_win": Int(WIN, low=1, doc="MS-SSIM window w in pixels (images are enlarged to > 16·(w − 1))"),
}
NOISE_STD = 0.1
_REFERENCE: dict[tuple, tuple[float, float]] = {}


def _prepare(images: torch.Tensor, win: int) -> torch.Tensor:
    """[-1, 1] → [0, 1], enlarged for the 5-scale MS-SSIM (pytorch_msssim: side > (win − 1)·2⁴)."""
    x = ((images.float() + 1.0) / 2.0).clamp(0.0, 1.0)
    factor = math.ceil(((win - 1) * 16 + 1) / min(x.shape[-2:]))
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False) if factor > 1 else x


def pairwise_diversity(a: torch.Tensor, b: torch.Tensor, win: int = WIN, batch: int = 100) -> float:
    """1 − mean MS-SSIM(a_i, b_i) over aligned pairs of images in [-1, 1]."""
    scores = [ms_ssim(_prepare(a[i:i + batch], win), _prepare(b[i:i + batch], win), data_range=1.0,
                      size_average=False, win_size=win) for i in range(0, len(a), batch)]
    return float(1.0 - torch.cat(scores).double().mean())


def diversity(images: torch.Tensor, n_pairs: int, rng: torch.Generator, win: int = WIN) -> float:
    """Diversity of a set: n_pairs random pairs of distinct members."""
    i = torch.randint(0, len(images), (n_pairs,), generator=rng)
    j = (i + torch.randint(1, len(images), (n_pairs,), generator=rng)) % len(images)
    return pairwise_diversity(images[i], images[j], win)


def reference_diversity(dataset: Any, n_pairs: int, win: int = WIN) -> tuple[float, float]:
    """(test diversity, noisy test diversity) of a dataset offering ``image_splits``."""
    key = (dataset.name, repr(sorted(dataset.params.items())), n_pairs, win)
    if key not in _REFERENCE:
        g = fixed_rng(0, "metric/sample_diversity/reference")
        test = dataset.split("test")
        noisy = (((test + 1) / 2 + NOISE_STD * torch.randn(test.shape, generator=g)).clamp(0, 1)) * 2 - 1
        _REFERENCE[key] = (diversity(test, n_pairs, g, win), diversity(noisy, n_pairs, g, win))
    return _REFERENCE[key]


def sample_grid(images: torch.Tensor, title: str, rows: int = 8):
    """Figures 3, 4 and 6: a grid of samples."""
    x = ((images[: rows * rows].float() + 1) / 2).clamp(0, 1)
    n, c, h, w = x.shape
    cols = math.ceil(n / rows)
    canvas = torch.ones(c, rows * (h + 1), cols * (w + 1))
    for k in range(n):
        i, j = divmod(k, cols)
        canvas[:, i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = x[k]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(canvas.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray" if c == 1 else None)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


@register_metric(
    "sample_diversity",
    produces=["diversity.samples", "diversity.test", "diversity.test_noisy"],
    description="1 − MS-SSIM over random pairs: samples, test set, test set plus normal noise (§5)",
    version="2", needs_model=("sampler",), needs_dataset=("image_splits",), budget=BUDGET,
)
def sample_diversity(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    budget = read_budget(BUDGET, ctx.budget)
    n_pairs, win = int(budget["diversity_pairs"]), int(budget["msssim_win"])
    model = cast(contracts.Sampler, result.model)
    samples = model.sample(2 * n_pairs, ctx.rng("metric/sample_diversity/samples"))
    with cpu_threads(ctx):
        test, noisy = reference_diversity(ctx.dataset, n_pairs, win)
        value = pairwise_diversity(samples[:n_pairs], samples[n_pairs:], win)
    ctx.log_figure(sample_grid(samples, f"samples ({ctx.dataset.name})"), "samples")
    return {"diversity.samples": value,
            "diversity.test": test, "diversity.test_noisy": noisy}
