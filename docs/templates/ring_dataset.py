"""Template dataset: a ring of 2-D Gaussians, the mode-collapse toy problem of VEEGAN and PacGAN (Lin et al.
2018, Table 1). Copy this file, rename the loader, and keep the shape: constructor keywords are the suite's
``params`` (with the defaults a suite may leave out), ``offers`` says what metrics and methods may read, and
every random draw comes from the ``rng`` the caller hands in."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.api import Dataset, register_dataset


@register_dataset
class RingOfGaussians(Dataset):
    name = "template_ring"  # what a suite's `loader:` names
    description = "n_modes equally weighted 2-D Gaussians (std) equally spaced on a circle of the given radius"
    version = "1"  # part of every run's identity: bump it when a change alters the data
    # capabilities (benchmark/contracts.py): samples of shape (n, dim), and the mixture's components
    offers = ("samples", "flat_samples", "mixture", "density")
    dim = 2

    def __init__(self, data_dir: Path | None = None, n_modes: int = 8, radius: float = 1.0,
                 std: float = 0.05) -> None:
        if n_modes < 1 or radius <= 0 or std <= 0:
            raise ValueError("template_ring: n_modes must be ≥ 1 and radius, std > 0")
        super().__init__(data_dir, n_modes=n_modes, radius=radius, std=std)
        angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
        self.means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (K, 2)
        self.weights = torch.full((n_modes,), 1.0 / n_modes, dtype=torch.float64)  # (K,)
        self.variances = torch.full((n_modes, 2), float(std) ** 2, dtype=torch.float64)  # (K, 2), per component

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        component = torch.multinomial(self.weights, n, replacement=True, generator=rng)
        noise = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        return (self.means[component] + noise * self.variances[component].sqrt()).float()

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        diff = x.to(torch.float64).unsqueeze(1) - self.means  # (n, K, 2)
        log_component = (-0.5 * (diff**2 / self.variances).sum(-1) - 0.5 * torch.log(self.variances).sum(-1)
                         - math.log(2 * math.pi))
        return torch.logsumexp(log_component + torch.log(self.weights), dim=1)

    def nearest_component(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x.to(torch.float64), self.means).argmin(dim=1)
