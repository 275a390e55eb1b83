"""Template method: a GAN with fully connected networks on flat samples (PacGAN's 2-D experiments train such
networks). Copy this file for a new method: declare every hyper-parameter with its type and default, the budget
keys it reads, what its trained model provides and what it needs of its dataset; ``setup`` builds a ``Program``
and the engine's loop runs it (seeding, step counting, loss logging, checkpoints and resume)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from benchmark import budget as budgets
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.contracts import FlatSamples, as_offered
from benchmark.hparams import Choice, Float, Int
from benchmark.loop import Program


def mlp(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


@dataclass
class Sampler:
    """The trained model as the metrics see it: capability ``sampler``, draws on the CPU from ``rng``."""

    generator: nn.Module
    latent_dim: int
    device: torch.device

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=rng).to(self.device)
        return self.generator(z).cpu()


@register_method
class SmallGAN(Method):
    name = "template_gan"  # what a suite's `method:` names
    description = "a GAN with two-hidden-layer fully connected networks"
    version = "1"  # part of every run's identity: bump it when a change alters the numbers
    hparams = {
        "lr": Float(1e-3, low=0, doc="Adam's learning rate, both networks"),
        "batch_size": Int(100, low=1),
        "hidden": Int(128, low=1, doc="units of each hidden layer at width 1"),
        "latent_dim": Int(2, low=1),
        "generator_loss": Choice("non_saturating", ("non_saturating", "minimax")),
    }
    # budget keys it reads besides the engine's `steps`: a reduced profile shrinks its networks with `width`
    budget = {"width": Float(1.0, low=0, doc="multiplies `hidden` (1.0: the paper's networks)")}
    provides = ("sampler",)
    needs = ("flat_samples",)

    def setup(self, ctx: RunContext) -> Program:
        return _Training(ctx)


class _Training(Program):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp = ctx.hparams  # merged already: the declared defaults under the suite's values
        width = budgets.read(SmallGAN.budget, ctx.budget)["width"]
        hidden = max(1, round(int(hp["hidden"]) * float(width)))
        self.data = as_offered(ctx.dataset, FlatSamples)  # the typed view of what `needs` declares
        self.device, self.latent_dim = ctx.device, int(hp["latent_dim"])
        self.batch_size, self.minimax = int(hp["batch_size"]), hp["generator_loss"] == "minimax"
        # torch's global generator is already seeded from the run's `init` stream: initialisation is reproducible
        self.gen = mlp(self.latent_dim, self.data.dim, hidden).to(ctx.device)
        self.disc = mlp(self.data.dim, 1, hidden).to(ctx.device)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=float(hp["lr"]), betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=float(hp["lr"]), betas=(0.5, 0.999))
        # saved and restored whole at checkpoints: networks, optimisers, and every random stream the steps draw
        self.parts = {"gen": self.gen, "disc": self.disc, "opt_g": self.opt_g, "opt_d": self.opt_d}
        self.streams = {"data": ctx.rng("data"), "noise": ctx.rng("noise")}

    def _noise(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.latent_dim, generator=self.streams["noise"]).to(self.device)

    def step(self, step: int, log: bool) -> dict[str, Any]:
        real = self.data.sample(self.batch_size, self.streams["data"]).to(self.device)
        fake = self.gen(self._noise())
        d_loss = F.softplus(-self.disc(real)).mean() + F.softplus(self.disc(fake.detach())).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        logits = self.disc(self.gen(self._noise()))
        g_loss = -F.softplus(logits).mean() if self.minimax else F.softplus(-logits).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}  # read only at logged steps

    def result(self) -> TrainResult:
        self.gen.eval()
        return TrainResult(model=Sampler(self.gen, self.latent_dim, self.device))
