"""Adversarial Generator-Encoder networks (AGE; Ulyanov et al. 2017) as Rosca et al. (2017) train them.

No discriminator: the encoder E and the generator G play the game themselves (§4, "the encoder tries to
compress data into codes drawn from the prior, while compressing samples into codes which do not match
the prior"). Codes live on the unit sphere, the prior is uniform on it (H.3), and the divergence of a
minibatch of codes from the prior is the empirical KL of eq. (18) divided by the latent size (App. D:
"this approximation was also used by Ulyanov et al. [41] in AGE"). Losses (H.1, H.2):

- encoder (minimises): KL(E(x)) − KL(E(G(z))) + λ_x·‖x − G(E(x))‖₁, λ_x swept over {100, 500, 1000, 2000};
- generator (minimises): KL(E(G(z))) + λ_z·(1 − cos(z, E(G(z)))), λ_z = 10 (cosine code reconstruction).

The generator is "updated multiple times for each encoder update" (§6); we take two, AGE's own
g_updates for CIFAR-10. One learning rate for both networks, Table 2: {1, 2, 5}·10⁻⁴, fixed (H).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from baselines import alpha_gan_networks as nets
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int
from benchmark.loop import Program


def encoder_loss(codes_real: torch.Tensor, codes_fake: torch.Tensor, x: torch.Tensor, x_rec: torch.Tensor,
                 recon_x: float) -> torch.Tensor:
    return nets.empirical_kl(codes_real) - nets.empirical_kl(codes_fake) + recon_x * nets.l1(x, x_rec)


def generator_loss(codes_fake: torch.Tensor, z: torch.Tensor, recon_z: float) -> torch.Tensor:
    cosine_distance = 1.0 - F.cosine_similarity(z, codes_fake, dim=1).mean()
    return nets.empirical_kl(codes_fake) + recon_z * cosine_distance


@register_method
class AGE(Method):
    name = "age"
    description = "AGE: encoder/generator game on the unit sphere, L1 data and cosine code reconstruction"
    provides = ("sampler", "generator_snapshots", "encoder")
    needs = nets.NEEDS
    budget = nets.BUDGET
    hparams = {**nets.COMMON_HPARAMS, "lr": Float(2e-4, low=0), "recon_x": Float(1000.0, low=0),
               "recon_z": Float(10.0, low=0), "g_steps": Int(2, low=1)}

    def setup(self, ctx: RunContext) -> Program:
        return _AGETraining(ctx)


class _AGETraining(nets.ImageTraining):
    prior_kind = "sphere"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        s, hp = self.s, self.hp
        self.G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        # H.4: "For AGE we used the encoder architecture suggested by the authors, which is very similar
        # to the DCGAN discriminator architecture"
        self.E = nets.discriminator(s.shape, out=s.latent_dim, width=s.width).to(s.device)
        self.opt_g = nets.adam(self.G.parameters(), hp["lr"], s.betas)
        self.opt_e = nets.adam(self.E.parameters(), hp["lr"], s.betas)
        self.parts.update(G=self.G, E=self.E, opt_g=self.opt_g, opt_e=self.opt_e)
        self.lx, self.lz = float(hp["recon_x"]), float(hp["recon_z"])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return nets.project_sphere(self.E(x))

    def step(self, step: int, log: bool) -> dict[str, Any]:
        G = self.G
        x = self.images()
        codes_real = self.encode(x)
        e_loss = encoder_loss(codes_real, self.encode(G(self.prior()).detach()), x, G(codes_real), self.lx)
        self.opt_e.zero_grad(set_to_none=True)
        e_loss.backward()
        self.opt_e.step()
        for _ in range(int(self.hp["g_steps"])):
            z = self.prior()
            g_loss = generator_loss(self.encode(G(z)), z, self.lz)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        self.snap(step, G)
        return {"e_loss": e_loss, "g_loss": g_loss}

    def result(self) -> TrainResult:
        return TrainResult(model=self.model(self.G, codes=self.E))
