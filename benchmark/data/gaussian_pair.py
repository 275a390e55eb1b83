"""Two 1-D Gaussians: p_data and a *fixed* model distribution p_g.

Used to check the classical GAN's optimal discriminator D* = p_data / (p_data + p_g) and the
value of the game at the optimum, 2·JSD(p_data, p_g) − log 4 (essay §3.1.2). Both densities are
known exactly, so metrics can integrate against them instead of sampling.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.api import Dataset, register_dataset

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _normal_log_density(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return -0.5 * ((x - mean) / std) ** 2 - math.log(std) - _LOG_SQRT_2PI


@register_dataset
class GaussianPair1D(Dataset):
    name = "gaussian_pair_1d"
    description = "p_data = N(data_mean, data_std²), fixed model p_g = N(model_mean, model_std²), 1-D"
    offers = ("samples", "flat_samples", "density", "model_distribution", "density_pair_1d")
    dim = 1

    def __init__(self, data_dir: Path | None = None, data_mean: float = 0.0, data_std: float = 1.0,
                 model_mean: float = 1.0, model_std: float = 1.0) -> None:
        if data_std <= 0 or model_std <= 0:
            raise ValueError("gaussian_pair_1d: data_std and model_std must be positive")
        super().__init__(data_dir, data_mean=data_mean, data_std=data_std,
                         model_mean=model_mean, model_std=model_std)
        self.data_mean = float(data_mean)
        self.data_std = float(data_std)
        self.model_mean = float(model_mean)
        self.model_std = float(model_std)

    # -- sampling: shape (n, 1) so that networks see one feature per sample
    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.data_mean + self.data_std * torch.randn(n, 1, generator=rng)

    def sample_model(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.model_mean + self.model_std * torch.randn(n, 1, generator=rng)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """p_data, under the name the generic Dataset interface uses."""
        return self.sample_data(n, rng)

    # -- exact densities; accept any shape, a trailing feature axis of size 1 is fine
    def log_density_data(self, x: torch.Tensor) -> torch.Tensor:
        return _normal_log_density(x, self.data_mean, self.data_std)

    def log_density_model(self, x: torch.Tensor) -> torch.Tensor:
        return _normal_log_density(x, self.model_mean, self.model_std)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_density_data(x)

    def optimal_discriminator(self, x: torch.Tensor) -> torch.Tensor:
        """D*(x) = p_data / (p_data + p_g), computed as a sigmoid of the log-ratio for stability."""
        return torch.sigmoid(self.log_density_data(x) - self.log_density_model(x))

    def support(self, n_std: float = 10.0) -> tuple[float, float]:
        """An interval holding all but ~1e-23 of either density's mass: the integration range."""
        lo = min(self.data_mean - n_std * self.data_std, self.model_mean - n_std * self.model_std)
        hi = max(self.data_mean + n_std * self.data_std, self.model_mean + n_std * self.model_std)
        return lo, hi

    def breakpoints(self) -> tuple[float, float]:
        """Where the densities peak: hints for adaptive quadrature."""
        return (self.data_mean, self.model_mean)

    def grid(self, n: int = 2001, n_std: float = 6.0) -> torch.Tensor:
        """Evaluation grid, shape (n, 1), covering both densities to ±n_std standard deviations."""
        lo, hi = self.support(n_std)
        return torch.linspace(lo, hi, n, dtype=torch.float64).unsqueeze(1)
