"""DCGAN (Radford et al. 2016) as Rosca et al. (2017) train it for their comparison (§6, App. H).

Per iteration: one discriminator update on the BCE loss of eq. (1), then **two** generator updates on
the non-saturating loss of eq. (2), "following https://github.com/carpedm20/DCGAN-tensorflow; we found
it stabilizes training" (§6, "Experimental insights"). Networks of Appendix H.4 (Table 3 with dropout
after the last convolution, Table 4 on 28×28; the WGAN-code DCGAN networks on 32/64), Adam(β = 0.5,
0.9), batch 64, fixed learning rates swept over Table 2's {1, 2, 3}·10⁻⁴ for each network.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from baselines import alpha_gan_networks as nets
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int
from benchmark.loop import Program


def discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (1): E_p* −log D(x) + E_pθ −log(1 − D(x)), with D = sigmoid(logits)."""
    return -F.logsigmoid(logits_real).mean() - F.logsigmoid(-logits_fake).mean()


def generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (2), the alternative (non-saturating) loss: E_pθ −log D(x)."""
    return -F.logsigmoid(logits_fake).mean()


@register_method
class DCGAN(Method):
    name = "dcgan"
    description = "DCGAN, two generator updates per discriminator update (Rosca et al. 2017 §6)"
    provides = ("sampler", "generator_snapshots")
    needs = nets.NEEDS
    # Table 3 caption: "dropout of 0.8 after the last convolutional layer" — read as TensorFlow's keep
    # probability 0.8, i.e. a drop rate of 0.2.
    budget = nets.BUDGET
    hparams = {**nets.COMMON_HPARAMS, "lr_g": Float(2e-4, low=0), "lr_d": Float(2e-4, low=0),
               "g_steps": Int(2, low=1), "dropout": Float(0.2, low=0, high=1)}

    def setup(self, ctx: RunContext) -> Program:
        return _DCGANTraining(ctx)


class _DCGANTraining(nets.ImageTraining):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        s, hp = self.s, self.hp
        self.G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        self.D = nets.discriminator(s.shape, width=s.width, dropout=float(hp["dropout"])).to(s.device)
        self.opt_g = nets.adam(self.G.parameters(), hp["lr_g"], s.betas)
        self.opt_d = nets.adam(self.D.parameters(), hp["lr_d"], s.betas)
        self.parts.update(G=self.G, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d)

    def step(self, step: int, log: bool) -> dict[str, Any]:
        G, D = self.G, self.D
        x = self.images()
        d_loss = discriminator_loss(D(x), D(G(self.prior()).detach()))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        for _ in range(int(self.hp["g_steps"])):
            g_loss = generator_loss(D(G(self.prior())))
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        self.snap(step, G)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def result(self) -> TrainResult:
        return TrainResult(model=self.model(self.G))
