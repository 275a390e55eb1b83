"""The parallel-lines example of Arjovsky et al. (2017), essay §3.3.1.

P0 = (0, Z) and Pθ = (θ, Z) with Z ~ U[0, 1]: two vertical segments in R². Their supports are
disjoint for θ ≠ 0, so JSD(P0, Pθ) = log 2 however close they are, while W(P0, Pθ) = |θ|.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.api import Dataset, register_dataset


@register_dataset
class ParallelLines(Dataset):
    name = "parallel_lines"
    description = "P0 = (0, Z) as data, fixed model Pθ = (θ, Z), Z ~ U[0,1]"
    offers = ("samples", "flat_samples", "model_distribution", "exact_divergences")
    dim = 2

    def __init__(self, data_dir: Path | None = None, theta: float = 1.0) -> None:
        super().__init__(data_dir, theta=theta)
        self.theta = float(theta)

    def _line(self, x0: float, n: int, rng: torch.Generator) -> torch.Tensor:
        z = torch.rand(n, generator=rng)
        return torch.stack([torch.full_like(z, x0), z], dim=1)

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self._line(0.0, n, rng)

    def sample_model(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self._line(self.theta, n, rng)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.sample_data(n, rng)

    def wasserstein_exact(self) -> float:
        """W1(P0, Pθ) = |θ|: moving every point horizontally by θ is optimal."""
        return abs(self.theta)

    def jsd_exact(self) -> float:
        """JSD(P0, Pθ): 0 when the lines coincide, log 2 (disjoint supports) otherwise."""
        return 0.0 if self.theta == 0 else math.log(2.0)
