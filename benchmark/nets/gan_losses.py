"""The classical GAN objective (Goodfellow et al. 2014) in logits: the discriminator's value and the two
generator losses of §3. log D and log(1 − D) are logsigmoid(±logits), so that confident discriminators stay
finite. Shared by the GAN methods (``baselines/gan.py``, ``baselines/infogan.py``) and the metric that
compares the two generator losses' gradients (``benchmark/metrics/generator_gradients.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_value(logits_data: torch.Tensor, logits_model: torch.Tensor) -> torch.Tensor:
    """V(D) = E_data log D + E_model log(1 − D) from minibatch averages; −V is the BCE loss."""
    return F.logsigmoid(logits_data).mean() + F.logsigmoid(-logits_model).mean()


def saturating_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """The minimax generator objective E log(1 − D(G(z))), which the generator minimises."""
    return F.logsigmoid(-logits_fake).mean()


def non_saturating_generator_loss(logits_fake: torch.Tensor) -> torch.Tensor:
    """−E log D(G(z)): same fixed point, strong gradients when D rejects the samples."""
    return -F.logsigmoid(logits_fake).mean()
