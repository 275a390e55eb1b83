"""InfoGAN's variational bound on the mutual information of a categorical code (Chen et al. 2016, eq. 4):
L_I = H(c) + E log Q(c | x) ≤ I(c; G(z, c)) ≤ H(c). Shared by the method (``baselines/infogan.py``), which
maximises it, and the metric that measures it on a fresh batch (``benchmark/metrics/infogan_bound.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def categorical_entropy(probs: torch.Tensor) -> float:
    """H(c) = −Σ p log p of the code prior (log K for the uniform one)."""
    p = probs.double()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def lower_bound(q_logits: torch.Tensor, codes: torch.Tensor, entropy_c: float) -> torch.Tensor:
    """Monte-Carlo L_I = H(c) + mean log Q(c | x). Never above H(c) since log Q ≤ 0."""
    return entropy_c - F.cross_entropy(q_logits, codes)
