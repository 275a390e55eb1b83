"""Figure 8 of Dai et al. (ICLR 2017), Appendix B.3: per-sample gradients, w.r.t. the generated
samples of one training batch, of the generator's two cost terms: the discriminator term
E_F = mean c(G(z)) and the entropy term (VI bound or nearest-neighbour surrogate).

Measurements are mean per-sample Euclidean norms: ``grad.disc_norm``, ``grad.ent_norm`` and
``grad.ent_over_disc`` (their ratio; the paper says it is large for EGAN-Ent-VI, whose "total
gradient ... is fully dominated by the entropy approximation gradient"). For methods without an
entropy term ``grad.ent_norm`` is 0. The figure draws the three fields as the original's
grad_field plots do: arrows along −gradient (the direction a descent step moves each sample),
over the real training batch in blue.
"""

from __future__ import annotations

from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmark import contracts  # noqa: E402
from benchmark.api import RunContext, TrainResult, register_metric  # noqa: E402


@register_metric("gradient_fields", produces=["grad.disc_norm", "grad.ent_norm", "grad.ent_over_disc"],
                 description="Figure 8: per-sample discriminator vs entropy gradient norms, and their fields",
                 version="2", needs_model=("gradient_fields",), needs_dataset=("canvas", "train_set"))
def gradient_fields(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(contracts.GradientFields, result.model)
    fields = model.sample_gradients(model.batch_size, ctx.rng("metric/gradient_fields/batch"))
    disc = float(fields["disc"].norm(dim=1).double().mean())
    ent = float(fields["ent"].norm(dim=1).double().mean())
    _figure(fields, ctx)
    return {"grad.disc_norm": disc, "grad.ent_norm": ent, "grad.ent_over_disc": ent / max(disc, 1e-30)}


def _figure(fields: dict[str, torch.Tensor], ctx: RunContext) -> None:
    ds = cast(Any, ctx.dataset)  # declared: canvas, train_set
    train = ds.train_samples()
    real = train[ctx.np_rng("metric/gradient_fields/shown").choice(len(train), len(fields["x"]), replace=False)]
    x = fields["x"].numpy()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    for ax, key, colour, title in zip(axes, ("disc", "ent", "total"), ("red", "magenta", "blueviolet"),
                                      ("discriminator gradient", "entropy gradient", "total gradient"), strict=True):
        g = -fields[key].numpy()
        ax.plot(real[:, 0], real[:, 1], ".", color="blue", alpha=0.3, markersize=3)
        if np.any(g != 0):  # a method without an entropy term has an all-zero field
            ax.quiver(x[:, 0], x[:, 1], g[:, 0], g[:, 1], color=colour, alpha=0.6)
        ax.set_xlim(ds.canvas.lo[0], ds.canvas.hi[0])
        ax.set_ylim(ds.canvas.lo[1], ds.canvas.hi[1])
        norm = float(np.linalg.norm(fields[key].numpy(), axis=1).mean())
        ax.set_title(f"{title} (mean norm {norm:.3g})", fontsize=10)
    fig.suptitle(f"Figure 8 analogue: per-sample gradients w.r.t. generated samples, {ds.name}")
    fig.tight_layout()
    ctx.log_figure(fig, f"figure8_gradient_fields_{ds.name}")
    plt.close(fig)
