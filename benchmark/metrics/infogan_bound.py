"""InfoGAN's variational lower bound on I(c; G(z, c)) (essay §3.2.1).

``info.lower_bound`` = H(c) + E log Q(c | G(z, c)) over a large fresh batch with c from the
prior, and ``info.entropy_c`` = H(c) computed from the prior itself. The bound can never exceed
H(c): I(c; x) ≤ H(c) for a discrete c, and the estimate adds only terms log Q ≤ 0.
``info.code_accuracy`` (how often argmax Q recovers c) is a plainer view of the same thing. Codes and latents
come from the run's stream "metric/infogan_bound/codes"; the bound itself is ``benchmark/nets/infogan.py``'s,
the one the method maximises.
"""

from __future__ import annotations

from typing import cast

import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.nets.infogan import categorical_entropy, lower_bound

N_EVAL = 20_000


@register_metric(
    "infogan_bound",
    produces=["info.lower_bound", "info.entropy_c", "info.code_accuracy"],
    description="L_I = H(c) + E log Q(c|G(z,c)) on a fresh batch, and H(c) from the prior",
    version="2", needs_model=("info_codes",), needs_dataset=("samples",),
)
def infogan_bound(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(contracts.InfoCodes, result.model)
    rng = ctx.rng("metric/infogan_bound/codes")
    entropy_c = categorical_entropy(model.code_probs)
    with torch.no_grad():
        codes = model.draw_codes(N_EVAL, rng)
        z = torch.randn(N_EVAL, model.latent_dim, generator=rng)
        x = model.generate(z.to(model.device), codes.to(model.device))
        q = model.q_logits(x).double().cpu()
    out = {
        "info.lower_bound": float(lower_bound(q, codes, entropy_c)),
        "info.entropy_c": entropy_c,
        "info.code_accuracy": float((q.argmax(dim=1) == codes).double().mean()),
    }
    if ctx.figure_sink is not None:
        ctx.log_figure(_figure(x.cpu().numpy()[:2000], codes.numpy()[:2000], ctx), "infogan_samples_by_code")
    return out


def _figure(x, codes, ctx: RunContext):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    data = cast(contracts.Samples, ctx.dataset).sample(2000, ctx.rng("metric/infogan_bound/figure_data"))
    ax.scatter(data[:, 0], data[:, 1], s=2, c="lightgrey", label="data")
    ax.scatter(x[:, 0], x[:, 1], s=2, c=codes, cmap="tab10", label="G(z, c), coloured by c")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    return fig
