"""The classical GAN (Goodfellow et al. 2014) on low-dimensional toy data.

Two methods:

- ``gan_discriminator`` trains only the discriminator of the minimax objective
  max_D E_data log D(x) + E_model log(1 − D(x)) against the dataset's *fixed* model
  distribution (``sample_model``), so that it can be compared with the optimal
  D* = p_data / (p_data + p_g) (essay §3.1.2).
- ``gan`` plays the full game with an MLP generator. ``generator_loss`` picks the minimax
  (``saturating``) loss E log(1 − D(G(z))) or the ``non_saturating`` −E log D(G(z)) that
  Goodfellow et al. (2014, §3) recommend; ``generator_start`` delays the generator's first
  update, so that a run with ``generator_start ≥ steps`` leaves a confident discriminator
  facing the initial, poor generator (the "early in learning" regime of that section).

Discriminators return logits; probabilities are sigmoid(logits), and log D, log(1 − D) are
computed as logsigmoid(±logits) so that confident discriminators stay finite.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from benchmark.api import Dataset, Method, RunContext, TrainResult, register_method
from benchmark.hparams import Bool, Choice, Float, Int
from benchmark.nets.gan_losses import (  # noqa: F401 (re-exported for the GAN methods)
    discriminator_value,
    non_saturating_generator_loss,
    saturating_generator_loss,
)

# ------------------------------------------------------------------------------------ networks


def mlp(in_dim: int, out_dim: int, hidden: int = 64, depth: int = 2,
        activation: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    """depth hidden layers of width hidden; no output activation (logits / raw values)."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), activation()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def data_dim(dataset: Dataset) -> int:
    return int(getattr(dataset, "dim", 1))


def draw_data(dataset: Dataset, n: int, rng: torch.Generator) -> torch.Tensor:
    """Samples from p_data whichever name the dataset gives its sampler."""
    sampler = getattr(dataset, "sample_data", None) or dataset.sample  # type: ignore[attr-defined]
    return sampler(n, rng)


def _adam(params: Any, ctx: RunContext, prefix: str = "") -> torch.optim.Adam:
    lr = float(ctx.hp(f"{prefix}lr") if ctx.hp(f"{prefix}lr") is not None else ctx.hp("lr"))
    return torch.optim.Adam(params, lr=lr, betas=(float(ctx.hp("beta1")), float(ctx.hp("beta2"))))


# ---------------------------------------------------------------------- discriminator only


@dataclass
class DiscriminatorModel:
    """A trained discriminator (logits) facing the dataset's fixed model distribution."""

    discriminator: nn.Module
    device: torch.device

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x.to(self.device, torch.float32)).squeeze(-1).cpu()


@register_method
class GANDiscriminator(Method):
    name = "gan_discriminator"
    description = "classical GAN discriminator (BCE) trained against a fixed model distribution"
    provides = ("discriminator",)
    # Adam with β1 = 0.5 as is usual for GANs since Radford et al. (2016); the width, depth,
    # batch size and the cosine decay (which removes late minibatch noise from D) are ours.
    hparams = {"lr": Float(1e-3, low=0), "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.999, low=0, high=1),
               "batch_size": Int(512, low=1), "hidden": Int(64, low=1), "depth": Int(2, low=1),
               "lr_decay": Bool(True, doc="cosine decay of the learning rate over the run")}

    def train(self, ctx: RunContext) -> TrainResult:
        hp = {**self.defaults, **ctx.hparams}
        ctx = with_hparams(ctx, hp)
        ds = ctx.dataset
        ctx.seed_everything()
        disc = mlp(data_dim(ds), 1, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        opt = _adam(disc.parameters(), ctx)
        sched = lr_schedule(opt, ctx.steps, bool(hp["lr_decay"]))
        rng_data, rng_model = ctx.rng(1), ctx.rng(2)
        bs = int(hp["batch_size"])
        for step in range(1, ctx.steps + 1):
            x_data = ds.sample_data(bs, rng_data).to(ctx.device)  # type: ignore[attr-defined]
            x_model = ds.sample_model(bs, rng_model).to(ctx.device)  # type: ignore[attr-defined]
            value = discriminator_value(disc(x_data), disc(x_model))
            opt.zero_grad(set_to_none=True)
            (-value).backward()
            opt.step()
            sched.step()
            ctx.advance()
            if step % ctx.log_every == 0 or step == ctx.steps:
                ctx.log_losses(step, {"d_loss": -value.item(), "value": value.item()})
        disc.eval()
        return TrainResult(model=DiscriminatorModel(disc, ctx.device))


def with_hparams(ctx: RunContext, hparams: dict[str, Any]) -> RunContext:
    """The same context with the method defaults filled in, so ctx.hp() sees them."""
    return replace(ctx, hparams=hparams)


def lr_schedule(opt: torch.optim.Optimizer, steps: int, decay: bool) -> torch.optim.lr_scheduler.LRScheduler:
    if decay:
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


# ------------------------------------------------------------------------------- full game


@dataclass
class GANModel:
    generator: nn.Module
    discriminator: nn.Module
    latent_dim: int
    device: torch.device

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=rng).to(self.device)
        return self.generator(z).cpu()


@register_method
class GAN(Method):
    name = "gan"
    description = "classical GAN, MLP generator and discriminator, saturating or non-saturating G loss"
    provides = ("sampler", "gan_networks")
    # k = 1 discriminator step per generator step as in Goodfellow et al. (2014, Alg. 1);
    # Adam(β1 = 0.5) and the MLP sizes are the usual toy-problem choices, not from the paper.
    hparams = {"generator_loss": Choice("non_saturating", ("non_saturating", "saturating")),
               "lr": Float(1e-3, low=0), "g_lr": Float(None, low=0, doc="generator lr (default: lr)"),
               "d_lr": Float(None, low=0, doc="discriminator lr (default: lr)"),
               "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.999, low=0, high=1),
               "batch_size": Int(256, low=1), "latent_dim": Int(4, low=1), "hidden": Int(64, low=1),
               "depth": Int(2, low=1), "d_steps": Int(1, low=1),
               "generator_start": Int(0, low=0, doc="steps before the generator's first update")}

    def train(self, ctx: RunContext) -> TrainResult:
        hp = {**self.defaults, **ctx.hparams}
        ctx = with_hparams(ctx, hp)
        loss_name = str(hp["generator_loss"])
        if loss_name not in ("non_saturating", "saturating"):
            raise ValueError(f"gan: generator_loss must be non_saturating or saturating, not {loss_name!r}")
        g_loss_fn = non_saturating_generator_loss if loss_name == "non_saturating" else saturating_generator_loss
        ds = ctx.dataset
        dim, latent, bs = data_dim(ds), int(hp["latent_dim"]), int(hp["batch_size"])
        ctx.seed_everything()
        gen = mlp(latent, dim, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        disc = mlp(dim, 1, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        opt_g = _adam(gen.parameters(), ctx, "g_")
        opt_d = _adam(disc.parameters(), ctx, "d_")
        rng_data, rng_z = ctx.rng(1), ctx.rng(2)
        start = int(hp["generator_start"])
        for step in range(1, ctx.steps + 1):
            for _ in range(int(hp["d_steps"])):
                x = draw_data(ds, bs, rng_data).to(ctx.device)
                with torch.no_grad():
                    fake = gen(torch.randn(bs, latent, generator=rng_z).to(ctx.device))
                value = discriminator_value(disc(x), disc(fake))
                opt_d.zero_grad(set_to_none=True)
                (-value).backward()
                opt_d.step()
            g_loss = None
            if step > start:
                fake = gen(torch.randn(bs, latent, generator=rng_z).to(ctx.device))
                g_loss = g_loss_fn(disc(fake))
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
            ctx.advance()
            if step % ctx.log_every == 0 or step == ctx.steps:
                # No g_loss while the generator waits: the engine rejects non-finite losses.
                with torch.no_grad():
                    p_fake = torch.sigmoid(disc(fake)).mean().item()
                logged = {"d_loss": -value.item(), "d_fake_prob": p_fake}
                if g_loss is not None:
                    logged["g_loss"] = g_loss.item()
                ctx.log_losses(step, logged)
        gen.eval()
        disc.eval()
        return TrainResult(model=GANModel(gen, disc, latent, ctx.device))
