"""The ablation of Rosca et al. (2017), Appendix D: α-GAN with the code discriminator replaced by the
empirical KL of eq. (18),

    KL(q(z|x) ‖ N(0, I)) ≈ −n/2 + Σ_i ((s_i² + m_i²)/2 − log s_i),

over a minibatch of codes with per-dimension mean m_i and standard deviation s_i, divided by the latent
size n "to be able to use the same hyperparameters for different latent sizes". Everything else is
Algorithm 1 as in ``baselines/alpha_gan.py`` (same networks, updates, sweeps); the encoder minimises
λ_e‖x − x̂‖₁ + KL/n.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines import alpha_gan_networks as nets
from baselines.alpha_gan import AlphaGAN
from benchmark.api import register_method


def encoder_loss(x: torch.Tensor, x_rec: torch.Tensor, codes: torch.Tensor, recon: float) -> torch.Tensor:
    return recon * nets.l1(x, x_rec) + nets.empirical_kl(codes)


@register_method
class AlphaGANEmpiricalKL(AlphaGAN):
    name = "alpha_gan_empirical_kl"
    description = "α-GAN with the empirical KL of eq. (18) instead of the code discriminator (App. D)"
    hparams = {k: v for k, v in AlphaGAN.hparams.items() if k not in ("lr_c", "code_hidden", "code_depth")}
    uses_code_discriminator = False

    def encoder_objective(self, x: torch.Tensor, x_rec: torch.Tensor, codes: torch.Tensor, C: nn.Module | None,
                          recon: float) -> torch.Tensor:
        return encoder_loss(x, x_rec, codes, recon)
