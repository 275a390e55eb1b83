"""Statistics of an encoder's codes (Rosca et al. 2017, Appendix D, Figures 11 and 12): the per-dimension
means of the codes of ``latent_codes`` training images (64,000 in the paper) and their covariance matrix.

- ``latent.mean_abs``: mean over dimensions of |mean_i| (Figure 11: "the empirical KL seems better at
  forcing the means to be around 0");
- ``latent.offdiag_mass``: Σ_{i≠j} |Σ_ij| / Σ_i Σ_ii, the off-diagonal mass of the covariance relative to
  its diagonal (Figure 12: "the code discriminator produces latents which have a lot less correlation");
- ``latent.var_mean``: the mean per-dimension variance (1 under the N(0, I) prior).

Both figures are logged. The metric needs a model with an ``encoder`` (α-GAN, AGE; ``bench validate`` rejects it
with DCGAN or WGAN-GP); the images come from the run's stream "metric/latent_statistics/images".
"""

from __future__ import annotations

from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from benchmark import contracts  # noqa: E402
from benchmark.api import RunContext, TrainResult, register_metric  # noqa: E402
from benchmark.budget import read as read_budget  # noqa: E402
from benchmark.hparams import Int  # noqa: E402

BUDGET = {"latent_codes": Int(64_000, low=1, doc="images encoded for the codes' statistics")}


def code_statistics(codes: torch.Tensor) -> dict[str, float | torch.Tensor]:
    c = codes.double()
    mean = c.mean(dim=0)
    cov = torch.cov(c.T).reshape(c.shape[1], c.shape[1])
    diag = cov.diagonal()
    off = cov.abs().sum() - diag.abs().sum()
    return {"mean": mean, "cov": cov, "latent.mean_abs": float(mean.abs().mean()),
            "latent.offdiag_mass": float(off / diag.sum()), "latent.var_mean": float(diag.mean())}


def _figures(stats: dict, title: str):
    fig1, ax = plt.subplots(figsize=(4, 3))
    ax.hist(stats["mean"].numpy(), bins=30)
    ax.set(xlabel="per-dimension mean of the codes", ylabel="dimensions", title=title)
    fig2, ax2 = plt.subplots(figsize=(4, 3.5))
    im = ax2.imshow(stats["cov"].numpy(), cmap="coolwarm")
    fig2.colorbar(im, ax=ax2)
    ax2.set(title=f"code covariance ({title})")
    return fig1, fig2


@register_metric(
    "latent_statistics",
    produces=["latent.mean_abs", "latent.offdiag_mass", "latent.var_mean"],
    description="per-dimension means and covariance of encoder codes (Appendix D, Figures 11–12)",
    version="2", needs_model=("encoder",), needs_dataset=("samples",), budget=BUDGET,
)
def latent_statistics(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(contracts.Encoder, result.model)
    ds = cast(contracts.Samples, ctx.dataset)
    n = int(read_budget(BUDGET, ctx.budget)["latent_codes"])
    rng = ctx.rng("metric/latent_statistics/images")
    images = torch.cat([ds.sample(min(1000, n - i), rng) for i in range(0, n, 1000)])
    stats = code_statistics(model.encode(images))
    hist, cov = _figures(stats, ctx.dataset.name)
    ctx.log_figure(hist, "figure11_latent_means")
    ctx.log_figure(cov, "figure12_latent_covariance")
    return {k: v for k, v in stats.items() if k.startswith("latent.")}
