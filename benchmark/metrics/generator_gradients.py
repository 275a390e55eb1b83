"""Why the minimax generator loss saturates (essay §3.1.1; Goodfellow et al. 2014, §3).

For the trained GAN's generator G and discriminator D this measures the norm of the gradient,
w.r.t. all generator parameters, of

- ``grad.saturating``: E log(1 − D(G(z))), the minimax objective's generator term, and
- ``grad.non_saturating``: −E log D(G(z)), the flipped objective used in practice,

on one fresh batch of latents. With logits s = logit D(G(z)), the two per-sample gradients are
−σ(s)·∇s and −(1 − σ(s))·∇s: when D confidently rejects the samples (σ(s) ≈ 0) the first
vanishes while the second does not. The latents come from the run's stream "metric/generator_gradients/z".
"""

from __future__ import annotations

from typing import cast

import torch

from benchmark import contracts
from benchmark.api import RunContext, TrainResult, register_metric
from benchmark.nets.gan_losses import non_saturating_generator_loss, saturating_generator_loss

N_EVAL = 4096


def _grad_norm(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> float:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    squares = [g.double().pow(2).sum() for g in grads if g is not None]
    return float(torch.stack(squares).sum().sqrt()) if squares else 0.0


@register_metric(
    "generator_gradients",
    produces=["grad.saturating", "grad.non_saturating", "d.fake_prob"],
    description="‖∇_θG‖ of the saturating and non-saturating generator losses on a fresh batch",
    version="2", needs_model=("gan_networks",),
)
def generator_gradients(result: TrainResult, ctx: RunContext) -> dict[str, float]:
    model = cast(contracts.GANNetworks, result.model)
    gen, disc = model.generator, model.discriminator
    params = [p for p in gen.parameters() if p.requires_grad]
    device = next(gen.parameters()).device
    z = torch.randn(N_EVAL, model.latent_dim, generator=ctx.rng("metric/generator_gradients/z")).to(device)
    with torch.enable_grad():
        logits = disc(gen(z)).squeeze(-1)
        out = {
            "grad.saturating": _grad_norm(saturating_generator_loss(logits), params),
            "grad.non_saturating": _grad_norm(non_saturating_generator_loss(logits), params),
        }
    # How confident D is on the generated samples: the reason for the gap above.
    out["d.fake_prob"] = float(torch.sigmoid(logits.detach()).double().mean())
    return out
