"""A mixture of n_modes equally weighted isotropic 2-D Gaussians on a circle (the usual ring
toy problem), used to train an InfoGAN with a categorical code of n_modes classes."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.api import Dataset, register_dataset


@register_dataset
class RingMixture2D(Dataset):
    name = "ring_mixture_2d"
    description = "n_modes isotropic Gaussians (std) equally spaced on a circle of the given radius"
    offers = ("samples", "flat_samples", "density", "mixture")
    dim = 2

    def __init__(self, data_dir: Path | None = None, n_modes: int = 10, radius: float = 2.0,
                 std: float = 0.05) -> None:
        if n_modes < 1 or std <= 0:
            raise ValueError("ring_mixture_2d: n_modes must be ≥ 1 and std > 0")
        super().__init__(data_dir, n_modes=n_modes, radius=radius, std=std)
        self.n_modes = int(n_modes)
        self.radius = float(radius)
        self.std = float(std)
        angles = torch.arange(self.n_modes, dtype=torch.float64) * (2.0 * math.pi / self.n_modes)
        self.means = self.radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        self.weights = torch.full((self.n_modes,), 1.0 / self.n_modes, dtype=torch.float64)
        self.variances = torch.full((self.n_modes, 2), self.std**2, dtype=torch.float64)

    def sample_with_modes(self, n: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples (n, 2) float32 and the index of the mode each was drawn from (n,)."""
        modes = torch.randint(0, self.n_modes, (n,), generator=rng)
        noise = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        x = self.means[modes] + self.std * noise
        return x.float(), modes

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample_with_modes(n, rng)[0]

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample(n, rng)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p_data(x) for x of shape (n, 2)."""
        x = x.to(torch.float64)
        sq = ((x.unsqueeze(1) - self.means.unsqueeze(0)) ** 2).sum(-1)  # (n, n_modes)
        log_comp = -0.5 * sq / self.std**2 - math.log(2.0 * math.pi * self.std**2)
        return torch.logsumexp(log_comp, dim=1) - math.log(self.n_modes)

    def nearest_component(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the closest mode centre, for mode-coverage diagnostics."""
        d = torch.cdist(x.to(torch.float64), self.means)
        return d.argmin(dim=1)
