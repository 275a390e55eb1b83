"""The two read-outs of a feature pass: the Inception score from class probabilities (Salimans et al. 2016)
and the Fréchet distance between Gaussian fits of features (Heusel et al. 2017, through pytorch-fid's
``calculate_frechet_distance``)."""

from __future__ import annotations

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance


def score_from_probs(probs: torch.Tensor, splits: int = 1) -> float:
    """exp(E KL(p(y|x) ‖ p(y))), averaged over ``splits`` equal parts."""
    scores = []
    for part in torch.chunk(probs.double(), splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (torch.log(part.clamp_min(1e-30)) - torch.log(marginal.clamp_min(1e-30)))).sum(dim=1)
        scores.append(torch.exp(kl.mean()))
    return float(torch.stack(scores).mean())


def gaussian_fit(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of feature rows, float64."""
    f = features.double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def frechet(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Fréchet distance between two Gaussian fits (mean, covariance)."""
    return float(calculate_frechet_distance(a[0], a[1], b[0], b[1]))
