"""The two read-outs of a feature pass: the Inception score from class probabilities (Salimans et al. 2016)
and the Fréchet distance between Gaussian fits of features (Heusel et al. 2017; the formula and its safeguards
as in pytorch-fid's ``calculate_frechet_distance``, which cannot be called with SciPy 1.18: it passes
``sqrtm(..., disp=False)``, an argument SciPy removed, and every FID failed on a machine with SciPy 1.18)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg

SINGULAR_OFFSET = 1e-6  # pytorch-fid's eps: added to both diagonals when the product's square root is not finite


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
    """Fréchet distance between two Gaussian fits (mean, covariance):
    |μ₁ − μ₂|² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁Σ₂)^½)."""
    mu1, mu2 = np.atleast_1d(a[0]), np.atleast_1d(b[0])
    sigma1, sigma2 = np.atleast_2d(a[1]), np.atleast_2d(b[1])
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"Gaussian fits of different dimensions: {mu1.shape} and {mu2.shape}")
    with warnings.catch_warnings():
        # a fit of fewer samples than features (reduced budgets) is singular by construction, and SciPy says so
        # once per call: a run's log filled with it; the finite check below is what handles a failed root
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # a nearly singular product
            offset = np.eye(sigma1.shape[0]) * SINGULAR_OFFSET
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):  # rounding leaves a small imaginary part; a large one is an error
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
