"""α-GAN (Rosca et al. 2017, Algorithm 1): a variational auto-encoder whose likelihood is replaced by a
synthetic likelihood (a data discriminator D) and whose KL term is replaced by a code discriminator C.

With R_D(x) = −log D(x) + log(1 − D(x)) and R_C(z) = −log C(z) + log(1 − C(z)) (the non-saturating
"reverse KL" losses of eq. 9; for a logit ℓ both equal −ℓ), each iteration minimises

- encoder η, eq. (11):        λ_e·‖x − x̂‖₁ + R_C(ẑ),                        ẑ = E(x), x̂ = G(ẑ);
- generator θ, eq. (13):      λ_g·‖x − x̂‖₁ + R_D(x̂) + R_D(G(z)),              z ~ N(0, I);
- discriminator φ, eq. (15):  −log D(x) − log(1 − D(x̂)) − log(1 − D(G(z)))  (reconstructions *and*
  samples are fake, §3 "Improved Techniques");
- code discriminator ω, eq. (17): −log(1 − C(ẑ)) − log C(z).

"We update the encoder and the generator twice for each discriminator and code discriminator update"
(§6). Coefficients (H.1): λ_e, λ_g swept over {1, 5, 10, 50}; the adversarial terms weigh 1. Learning
rates (Table 2): encoder and generator {1, 5}·10⁻⁴, discriminator and code discriminator 5·10⁻⁴.
C is a 3-layer MLP of 750 units (H.4); D is the H.4 discriminator; the encoder is the generator
transposed. ``baselines/alpha_gan_kl.py`` swaps R_C for the empirical KL of eq. (18) (App. D).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines import alpha_gan_networks as nets
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.hparams import Float, Int
from benchmark.loop import Program


def synthetic_ratio_loss(logits: torch.Tensor) -> torch.Tensor:
    """E[−log D + log(1 − D)] with D = sigmoid(logits): Algorithm 1, lines 3–4 (R_D, R_C)."""
    return (-F.logsigmoid(logits) + F.logsigmoid(-logits)).mean()


def encoder_loss(x: torch.Tensor, x_rec: torch.Tensor, code_logits: torch.Tensor, recon: float) -> torch.Tensor:
    """Eq. (11): λ‖x − x̂‖₁ + R_C(ẑ)."""
    return recon * nets.l1(x, x_rec) + synthetic_ratio_loss(code_logits)


def generator_loss(x: torch.Tensor, x_rec: torch.Tensor, logits_rec: torch.Tensor, logits_sample: torch.Tensor,
                   recon: float) -> torch.Tensor:
    """Eq. (13): λ‖x − x̂‖₁ + R_D(x̂) + R_D(G(z))."""
    return recon * nets.l1(x, x_rec) + synthetic_ratio_loss(logits_rec) + synthetic_ratio_loss(logits_sample)


def discriminator_loss(logits_real: torch.Tensor, logits_rec: torch.Tensor,
                       logits_sample: torch.Tensor) -> torch.Tensor:
    """Eq. (15): −log D(x) − log(1 − D(x̂)) − log(1 − D(G(z)))."""
    return (-F.logsigmoid(logits_real).mean() - F.logsigmoid(-logits_rec).mean()
            - F.logsigmoid(-logits_sample).mean())


def code_discriminator_loss(logits_codes: torch.Tensor, logits_prior: torch.Tensor) -> torch.Tensor:
    """Eq. (17): −log(1 − C(ẑ)) − log C(z); the prior is real, encoder codes are fake."""
    return -F.logsigmoid(-logits_codes).mean() - F.logsigmoid(logits_prior).mean()


@register_method
class AlphaGAN(Method):
    name = "alpha_gan"
    description = "α-GAN (Algorithm 1): encoder, generator, data and code discriminators, L1 reconstruction"
    provides = ("sampler", "generator_snapshots", "encoder")
    needs = nets.NEEDS
    budget = nets.BUDGET
    hparams = {**nets.COMMON_HPARAMS, "lr_g": Float(5e-4, low=0), "lr_d": Float(5e-4, low=0),
               "lr_c": Float(5e-4, low=0), "recon_e": Float(10.0, low=0), "recon_g": Float(10.0, low=0),
               "ae_steps": Int(2, low=1), "code_hidden": Int(750, low=1), "code_depth": Int(3, low=1)}
    uses_code_discriminator = True

    def encoder_objective(self, x: torch.Tensor, x_rec: torch.Tensor, codes: torch.Tensor, C: nn.Module | None,
                          recon: float) -> torch.Tensor:
        """Eq. (11); the code discriminator's R_C(ẑ) stands in for the KL term (eq. 6)."""
        return encoder_loss(x, x_rec, C(codes), recon)

    def setup(self, ctx: RunContext) -> Program:
        return _AlphaGANTraining(ctx, self)


class _AlphaGANTraining(nets.ImageTraining):
    """Algorithm 1: ``ae_steps`` encoder and generator updates, then the data discriminator, then the code
    discriminator (α-GAN) on the same batch."""

    def __init__(self, ctx: RunContext, method: AlphaGAN) -> None:
        super().__init__(ctx)
        s, hp = self.s, self.hp
        self.method = method
        self.G = nets.generator(s.shape, s.latent_dim, s.width).to(s.device)
        self.E = nets.encoder(s.shape, s.latent_dim, s.width).to(s.device)
        self.D = nets.discriminator(s.shape, width=s.width).to(s.device)
        self.opt_g = nets.adam(self.G.parameters(), hp["lr_g"], s.betas)  # Table 2: one rate for generator/encoder
        self.opt_e = nets.adam(self.E.parameters(), hp["lr_g"], s.betas)
        self.opt_d = nets.adam(self.D.parameters(), hp["lr_d"], s.betas)
        self.parts.update(G=self.G, E=self.E, D=self.D, opt_g=self.opt_g, opt_e=self.opt_e, opt_d=self.opt_d)
        self.C, self.opt_c = None, None
        if method.uses_code_discriminator:
            self.C = nets.code_discriminator(s.latent_dim, int(hp["code_hidden"]), int(hp["code_depth"])).to(s.device)
            self.opt_c = nets.adam(self.C.parameters(), hp["lr_c"], s.betas)
            self.parts.update(C=self.C, opt_c=self.opt_c)
        self.lam_e, self.lam_g = float(hp["recon_e"]), float(hp["recon_g"])

    def step(self, step: int, log: bool) -> dict[str, Any]:
        G, E, D, C = self.G, self.E, self.D, self.C
        x = self.images()
        for _ in range(int(self.hp["ae_steps"])):
            codes = E(x)
            e_loss = self.method.encoder_objective(x, G(codes), codes, C, self.lam_e)
            self.opt_e.zero_grad(set_to_none=True)
            e_loss.backward()
            self.opt_e.step()
            x_rec = G(E(x).detach())
            g_loss = generator_loss(x, x_rec, D(x_rec), D(G(self.prior())), self.lam_g)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        with torch.no_grad():
            codes = E(x)
            x_rec, x_gen = G(codes), G(self.prior())
        d_loss = discriminator_loss(D(x), D(x_rec), D(x_gen))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        values = {"e_loss": e_loss, "g_loss": g_loss, "d_loss": d_loss, "l1": nets.l1(x, x_rec)}
        if C is not None and self.opt_c is not None:
            c_loss = code_discriminator_loss(C(codes), C(self.prior()))
            self.opt_c.zero_grad(set_to_none=True)
            c_loss.backward()
            self.opt_c.step()
            values["c_loss"] = c_loss
        self.snap(step, G)
        return values

    def result(self) -> TrainResult:
        return TrainResult(model=self.model(self.G, codes=self.E))
