"""WGAN-GP (Gulrajani et al. 2017, Alg. 1) as the full generative model of Rosca et al. (2017) §6.

Per iteration: five critic updates on E f(G(z)) − E f(x) + λ·E(‖∇f(x̂)‖ − 1)² with λ = 10 (H.1), then
one generator update on −E f(G(z)) ("for WGAN-GP, we update the discriminator 5 times for each generator
update following [1, 13]", §6). The gradient penalty is ``baselines.wgan.gradient_penalty`` applied to
flattened images. Networks of H.4 without batch norm in the critic (a batch-normalised critic breaks the
per-sample penalty; Gulrajani et al. §4), Adam(β = 0.5, 0.9), batch 64, Table 2's learning rates.
"""

from __future__ import annotations

from typing import Any

import torch

from baselines import alpha_gan_networks as nets
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int
from benchmark.loop import Program
from benchmark.nets.wgan_gp import (  # noqa: F401 (re-exported: the critic objective of this method)
    FlatCritic,
    critic_loss,
    image_gradient_penalty,
)


def generator_loss(f_fake: torch.Tensor) -> torch.Tensor:
    return -f_fake.mean()


@register_method
class WGANGP(Method):
    name = "wgan_gp"
    description = "WGAN-GP generative model: 5 critic updates per generator update, λ = 10"
    provides = ("sampler", "generator_snapshots")
    needs = nets.NEEDS
    budget = nets.BUDGET
    hparams = {**nets.COMMON_HPARAMS, "lr_g": Float(1e-4, low=0), "lr_d": Float(1e-4, low=0),
               "n_critic": Int(5, low=1), "penalty": Float(10.0, low=0)}

    def setup(self, ctx: RunContext) -> Program:
        return _WGANGPTraining(ctx)


class _WGANGPTraining(nets.ImageTraining):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        s, hp = self.s, self.hp
        self.G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        self.D = nets.discriminator(s.shape, width=s.width, batch_norm=False).to(s.device)
        self.opt_g = nets.adam(self.G.parameters(), hp["lr_g"], s.betas)
        self.opt_d = nets.adam(self.D.parameters(), hp["lr_d"], s.betas)
        self.parts.update(G=self.G, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d)
        self.streams["interpolation"] = ctx.rng("interpolation")
        self.lam = float(hp["penalty"])

    def step(self, step: int, log: bool) -> dict[str, Any]:
        G, D = self.G, self.D
        for _ in range(int(self.hp["n_critic"])):
            x = self.images()
            fake = G(self.prior()).detach()
            penalty = image_gradient_penalty(D, x, fake, self.streams["interpolation"])
            d_loss = critic_loss(D(x), D(fake), penalty, self.lam)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        g_loss = generator_loss(D(G(self.prior())))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.snap(step, G)
        return {"critic_loss": d_loss, "penalty": penalty, "g_loss": g_loss}

    def result(self) -> TrainResult:
        return TrainResult(model=self.model(self.G))
