"""A d-dimensional Gaussian N(μ, Σ): the data of the tightness experiment of Balaji et al. (2019).

The paper checks its variational bound on Gaussian data because, with a linear generator
G(x) = Ax + b and the squared loss, the model's marginal f_Y is Gaussian and log f_Y has a closed
form (``benchmark/metrics/exact_gaussian_likelihood.py``). Neither the poster/slides nor the
authors' repository (yogeshbalaji/EntropicGANs_meet_VAEs, which holds only the MNIST code) say how
the Gaussian was made, so the construction here is ours and stated in the suite YAML:

- μ ~ N(0, I_d); Σ = Q diag(s) Qᵀ with Q a Haar-random rotation and eigenvalues s log-uniform on
  [eig_low, eig_high], all drawn from the stream "data/gaussian_nd/law" of ``data_seed`` so that every run
  seed sees the same law;
- a fixed held-out test set of ``n_test`` points (evaluator.py evaluates ``nsamples_eval`` = 1000
  samples), drawn from the stream "data/gaussian_nd/test" of ``data_seed``; training draws a fresh stream
  from the run's seed.

Keeping the eigenvalues of Σ above λ/2 lets a linear generator with latent dimension d represent
the maximum-likelihood model exactly (AAᵀ = Σ − (λ/2)I), so any gap is the bound's, not the model's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from benchmark.api import Dataset, register_dataset
from benchmark.streams import fixed_np_rng, fixed_rng


def _haar_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """QR of a Gaussian matrix, with the sign fix that makes Q Haar-distributed (Mezzadri 2007)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@register_dataset
class GaussianND(Dataset):
    name = "gaussian_nd"
    description = "N(μ, Σ) in d dimensions with a random rotation and log-uniform spectrum (fixed by data_seed)"
    version = "2"  # the law and the test set are drawn from named streams of data_seed
    offers = ("samples", "flat_samples", "latent_dim", "density", "test_set", "evaluation_sets")

    def __init__(self, data_dir: Path | None = None, dim: int = 5, latent_dim: int | None = None,
                 eig_low: float = 1.0, eig_high: float = 10.0, n_test: int = 1000, data_seed: int = 0) -> None:
        if dim < 1 or n_test < 1 or not 0 < eig_low <= eig_high:
            raise ValueError("gaussian_nd: need dim ≥ 1, n_test ≥ 1 and 0 < eig_low ≤ eig_high")
        super().__init__(data_dir, dim=dim, latent_dim=latent_dim, eig_low=eig_low, eig_high=eig_high,
                         n_test=n_test, data_seed=data_seed)
        self.dim = int(dim)
        self.latent_dim = int(latent_dim) if latent_dim else self.dim
        rng = fixed_np_rng(int(data_seed), "data/gaussian_nd/law")
        self.mean = torch.from_numpy(rng.standard_normal(self.dim))
        eig = np.exp(rng.uniform(math.log(eig_low), math.log(eig_high), self.dim))
        q = _haar_rotation(self.dim, rng)
        self.eigenvalues = torch.from_numpy(np.sort(eig)[::-1].copy())
        self.scale = torch.from_numpy(q * np.sqrt(np.sort(eig)[::-1]))  # Σ = scale scaleᵀ
        self.covariance = self.scale @ self.scale.T
        # A stream of its own for the test set, so it never depends on the run seed.
        self._test = self._draw(int(n_test), fixed_rng(int(data_seed), "data/gaussian_nd/test"))

    def _draw(self, n: int, rng: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.dim, generator=rng, dtype=torch.float64)
        return self.mean + z @ self.scale.T

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self._draw(n, rng)

    def sample_data(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self._draw(n, rng)

    def test_samples(self) -> torch.Tensor:
        return self._test.clone()

    def evaluation_sets(self) -> dict[str, torch.Tensor]:
        return {"test": self.test_samples()}

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """Exact log p_data(y): the best average log-likelihood any model can reach on this data."""
        dist = torch.distributions.MultivariateNormal(self.mean, covariance_matrix=self.covariance)
        return dist.log_prob(y.to(torch.float64))
