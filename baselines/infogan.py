"""InfoGAN (Chen et al. 2016; essay §3.2) with one categorical code on 2-D toy data.

The generator sees (z, c) with c ~ Cat(1/K) one-hot; the discriminator body is shared by the
real/fake head D and the code head Q(c | x), as in Chen et al. (2016, §5: "Q and D share all
convolutional layers ... one final fully connected layer to output parameters for Q"). The
game is the classical one plus −λ·L_I(G, Q) with

    L_I = H(c) + E_{c ~ P(c), x ~ G(z, c)} log Q(c | x)  ≤  I(c; G(z, c))  ≤  H(c),

estimated on every minibatch; G and Q both maximise it. λ = 1 for discrete codes (Chen et al.
2016, §6). ``info.lower_bound_max`` is the largest minibatch L_I over the logged steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.gan import (
    discriminator_value,
    mlp,
    non_saturating_generator_loss,
)
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.contracts import FlatSamples, as_offered
from benchmark.hparams import Float, Int
from benchmark.loop import Program
from benchmark.nets.infogan import categorical_entropy, lower_bound


class SharedDiscriminator(nn.Module):
    """An MLP body with two heads: real/fake logit and the K logits of Q(c | x)."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.body = mlp(in_dim, hidden, hidden, depth - 1)
        self.act = nn.LeakyReLU()
        self.d_head = nn.Linear(hidden, 1)
        self.q_head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.act(self.body(x))
        return self.d_head(h).squeeze(-1), self.q_head(h)


@dataclass
class InfoGANModel:
    generator: nn.Module
    shared: SharedDiscriminator
    latent_dim: int
    code_probs: torch.Tensor
    device: torch.device

    @property
    def n_classes(self) -> int:
        return int(self.code_probs.numel())

    def discriminator(self, x: torch.Tensor) -> torch.Tensor:
        """Real/fake logits, so that GAN metrics also apply."""
        return self.shared(x)[0]

    def q_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(x)[1]

    def draw_codes(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.multinomial(self.code_probs, n, replacement=True, generator=rng)

    def generate(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(codes, self.n_classes).to(z.dtype)
        return self.generator(torch.cat([z, one_hot], dim=1))

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        codes = self.draw_codes(n, rng)
        z = torch.randn(n, self.latent_dim, generator=rng)
        return self.generate(z.to(self.device), codes.to(self.device)).cpu()


@register_method
class InfoGAN(Method):
    name = "infogan"
    description = "InfoGAN, MLP G(z, c) and a discriminator with a shared-body Q head, categorical code"
    # λ = 1 and Adam (G: 1e-3, D: 2e-4, β1 = 0.5) as in Chen et al. (2016, §6 and App. C);
    # the MLP sizes and latent size are ours for 2-D data.
    version = "2"  # 2: info.lower_bound_max over every step, not only the logged ones
    produces = ("info.lower_bound_max",)
    provides = ("sampler", "info_codes")
    needs = ("flat_samples",)
    hparams = {"n_classes": Int(10, low=2), "latent_dim": Int(4, low=1), "lambda_info": Float(1.0, low=0),
               "g_lr": Float(1e-3, low=0), "d_lr": Float(2e-4, low=0), "beta1": Float(0.5, low=0, high=1),
               "beta2": Float(0.999, low=0, high=1), "batch_size": Int(256, low=1), "hidden": Int(128, low=1),
               "depth": Int(3, low=1)}

    def setup(self, ctx: RunContext) -> Program:
        return _InfoGANTraining(ctx)


class _InfoGANTraining(Program):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp, self.device = ctx.hparams, ctx.device
        self.data = as_offered(ctx.dataset, FlatSamples)
        k, self.latent, self.bs = int(hp["n_classes"]), int(hp["latent_dim"]), int(hp["batch_size"])
        self.lam = float(hp["lambda_info"])
        self.gen = mlp(self.latent + k, self.data.dim, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        self.shared = SharedDiscriminator(self.data.dim, k, int(hp["hidden"]), int(hp["depth"])).to(ctx.device)
        self.model = InfoGANModel(self.gen, self.shared, self.latent, torch.full((k,), 1.0 / k, dtype=torch.float64),
                                  ctx.device)
        self.entropy_c = categorical_entropy(self.model.code_probs)
        betas = (float(hp["beta1"]), float(hp["beta2"]))
        # Q's head and the shared body learn L_I with D's optimiser; G gets it through its own.
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=float(hp["g_lr"]), betas=betas)
        self.opt_d = torch.optim.Adam(self.shared.parameters(), lr=float(hp["d_lr"]), betas=betas)
        self.parts = {"gen": self.gen, "shared": self.shared, "opt_g": self.opt_g, "opt_d": self.opt_d}
        self.streams = {"data": ctx.rng("data"), "latent": ctx.rng("latent")}
        # the largest minibatch L_I over every step (not only logged ones: the measurement must not depend on
        # the logging cadence), kept on the device so that no step waits for it
        self.values = {"best": torch.full((), -math.inf, device=ctx.device)}

    def step(self, step: int, log: bool) -> dict[str, Any]:
        model, shared, bs, lam = self.model, self.shared, self.bs, self.lam
        x = self.data.sample(bs, self.streams["data"]).to(self.device)
        codes = model.draw_codes(bs, self.streams["latent"]).to(self.device)
        z = torch.randn(bs, self.latent, generator=self.streams["latent"]).to(self.device)
        fake = model.generate(z, codes)

        d_real, _ = shared(x)
        d_fake, q_fake = shared(fake.detach())
        l_info_d = lower_bound(q_fake, codes, self.entropy_c)
        d_loss = -discriminator_value(d_real, d_fake) - lam * l_info_d
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        d_fake, q_fake = shared(fake)
        l_info = lower_bound(q_fake, codes, self.entropy_c)
        g_loss = non_saturating_generator_loss(d_fake) - lam * l_info
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.values["best"] = torch.maximum(self.values["best"], l_info.detach())
        return {"d_loss": d_loss, "g_loss": g_loss, "info.lower_bound": l_info}

    def result(self) -> TrainResult:
        self.gen.eval()
        self.shared.eval()
        return TrainResult(model=self.model, measurements={"info.lower_bound_max": float(self.values["best"])})
