"""The WGAN-GP critic objective (Gulrajani et al. 2017, Alg. 1): E f(x̃) − E f(x) + λ·E(‖∇f(x̂)‖ − 1)² at random
interpolates x̂ of real and generated samples. Shared by the WGAN critics of ``baselines/wgan.py`` and
``baselines/wgan_gp.py`` and by the independent critic metric (``benchmark/metrics/independent_critic.py``)."""

from __future__ import annotations

import torch
from torch import nn


def gradient_penalty(critic: nn.Module, x_data: torch.Tensor, x_model: torch.Tensor,
                     rng: torch.Generator) -> torch.Tensor:
    """E(‖∇f(x̂)‖ − 1)² with x̂ = εx_data + (1 − ε)x_model, ε ~ U[0, 1] per pair."""
    eps = torch.rand(x_data.shape[0], 1, generator=rng).to(x_data.device)
    x_hat = (eps * x_data + (1.0 - eps) * x_model).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1.0) ** 2).mean()


class FlatCritic(nn.Module):
    """Lets the flat-vector gradient penalty act on images: ε is drawn per example and ‖∇f‖ is the norm over
    all of an image's pixels, as in Gulrajani et al."""

    def __init__(self, critic: nn.Module, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.critic, self.shape = critic, shape

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        return self.critic(flat.view(len(flat), *self.shape))


def image_gradient_penalty(critic: nn.Module, x_real: torch.Tensor, x_fake: torch.Tensor,
                           rng: torch.Generator) -> torch.Tensor:
    shape = tuple(x_real.shape[1:])
    return gradient_penalty(FlatCritic(critic, shape), x_real.flatten(1), x_fake.flatten(1), rng)


def critic_loss(f_real: torch.Tensor, f_fake: torch.Tensor, penalty: torch.Tensor, lam: float) -> torch.Tensor:
    """Gulrajani et al. Alg. 1: E f(x̃) − E f(x) + λ·penalty (the critic minimises it)."""
    return f_fake.mean() - f_real.mean() + lam * penalty
