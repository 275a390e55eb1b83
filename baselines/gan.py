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

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.contracts import FlatSamples, ModelDistribution, as_offered
from benchmark.hparams import Bool, Choice, Float, Int
from benchmark.loop import Program
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
    needs = ("flat_samples", "model_distribution")
    # Adam with β1 = 0.5 as is usual for GANs since Radford et al. (2016); the width, depth,
    # batch size and the cosine decay (which removes late minibatch noise from D) are ours.
    hparams = {"lr": Float(1e-3, low=0), "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.999, low=0, high=1),
               "batch_size": Int(512, low=1), "hidden": Int(64, low=1), "depth": Int(2, low=1),
               "lr_decay": Bool(True, doc="cosine decay of the learning rate over the run")}

    def setup(self, ctx: RunContext) -> Program:
        return _DiscriminatorTraining(ctx)


class _DiscriminatorTraining(Program):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp, self.device = ctx.hparams, ctx.device
        dim = as_offered(ctx.dataset, FlatSamples).dim
        self.pair = as_offered(ctx.dataset, ModelDistribution)
        self.disc = mlp(dim, 1, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        self.opt = _adam(self.disc.parameters(), ctx)
        self.sched = lr_schedule(self.opt, ctx.steps, bool(hp["lr_decay"]))
        self.parts = {"disc": self.disc, "opt": self.opt, "sched": self.sched}
        self.streams = {"data": ctx.rng("data"), "model": ctx.rng("model")}
        self.batch_size = int(hp["batch_size"])

    def step(self, step: int, log: bool) -> dict[str, Any]:
        bs = self.batch_size
        x_data = self.pair.sample_data(bs, self.streams["data"]).to(self.device)
        x_model = self.pair.sample_model(bs, self.streams["model"]).to(self.device)
        value = discriminator_value(self.disc(x_data), self.disc(x_model))
        self.opt.zero_grad(set_to_none=True)
        (-value).backward()
        self.opt.step()
        self.sched.step()
        return {"d_loss": -value, "value": value}

    def result(self) -> TrainResult:
        self.disc.eval()
        return TrainResult(model=DiscriminatorModel(self.disc, self.device))


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
    needs = ("flat_samples",)
    # k = 1 discriminator step per generator step as in Goodfellow et al. (2014, Alg. 1);
    # Adam(β1 = 0.5) and the MLP sizes are the usual toy-problem choices, not from the paper.
    hparams = {"generator_loss": Choice("non_saturating", ("non_saturating", "saturating")),
               "lr": Float(1e-3, low=0), "g_lr": Float(None, low=0, doc="generator lr (default: lr)"),
               "d_lr": Float(None, low=0, doc="discriminator lr (default: lr)"),
               "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.999, low=0, high=1),
               "batch_size": Int(256, low=1), "latent_dim": Int(4, low=1), "hidden": Int(64, low=1),
               "depth": Int(2, low=1), "d_steps": Int(1, low=1),
               "generator_start": Int(0, low=0, doc="steps before the generator's first update")}

    def setup(self, ctx: RunContext) -> Program:
        return _GameTraining(ctx)


class _GameTraining(Program):
    """Algorithm 1 of Goodfellow et al. (2014): ``d_steps`` discriminator updates, then one generator update
    (from step ``generator_start`` on)."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp, self.device = ctx.hparams, ctx.device
        self.data = as_offered(ctx.dataset, FlatSamples)
        self.g_loss_fn = (non_saturating_generator_loss if hp["generator_loss"] == "non_saturating"
                          else saturating_generator_loss)
        self.dim, self.latent, self.bs = self.data.dim, int(hp["latent_dim"]), int(hp["batch_size"])
        self.gen = mlp(self.latent, self.dim, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        self.disc = mlp(self.dim, 1, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        self.opt_g = _adam(self.gen.parameters(), ctx, "g_")
        self.opt_d = _adam(self.disc.parameters(), ctx, "d_")
        self.parts = {"gen": self.gen, "disc": self.disc, "opt_g": self.opt_g, "opt_d": self.opt_d}
        self.streams = {"data": ctx.rng("data"), "noise": ctx.rng("noise")}
        self.d_steps, self.start = int(hp["d_steps"]), int(hp["generator_start"])

    def _noise(self) -> torch.Tensor:
        return torch.randn(self.bs, self.latent, generator=self.streams["noise"]).to(self.device)

    def step(self, step: int, log: bool) -> dict[str, Any]:
        for _ in range(self.d_steps):
            x = self.data.sample(self.bs, self.streams["data"]).to(self.device)
            with torch.no_grad():
                fake = self.gen(self._noise())
            value = discriminator_value(self.disc(x), self.disc(fake))
            self.opt_d.zero_grad(set_to_none=True)
            (-value).backward()
            self.opt_d.step()
        g_loss = None
        if step > self.start:
            fake = self.gen(self._noise())
            g_loss = self.g_loss_fn(self.disc(fake))
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        if not log:
            return {}
        # No g_loss while the generator waits: the engine rejects non-finite losses.
        with torch.no_grad():
            logged = {"d_loss": -value, "d_fake_prob": torch.sigmoid(self.disc(fake)).mean()}
        if g_loss is not None:
            logged["g_loss"] = g_loss
        return logged

    def result(self) -> TrainResult:
        self.gen.eval()
        self.disc.eval()
        return TrainResult(model=GANModel(self.gen, self.disc, self.latent, self.device))
