"""The three 2-D datasets of Dai et al. (ICLR 2017), Figure 1 / Section 5.1.

Facts taken from the authors' ``synthetic/synthetic_data.py`` (zihangdai/cegan_iclr2017, commit
41cd208) and ``synthetic/vis_utils.py`` (the canvas); the code here is our own:

- ``cegan_gmm4``: 4 equally weighted Gaussians at (±v, ±v), v = 10·u, diagonal covariances
  10·diag(u1, u2), all u drawn from ``numpy.random.RandomState(5)`` in the order the original
  draws them (component counts, v, then per component its covariance and its samples).
- ``cegan_biased``: 2 Gaussians at (v, v) with weight 0.1 and (−v, −v) with weight 0.9,
  v = 8·u, covariance 5·I, ``RandomState(2)``.
- ``cegan_spirals``: two spirals of Gaussian components, t = 120° + s·360°, s ∈ [0, 1];
  centres (−t cos t, t sin t) and (t cos t, −t sin t); samples get isotropic noise 0.45;
  ``RandomState(12345)``. The original's ``__main__`` uses NC = 100 components (50 per spiral,
  not the 100 per spiral the paper's text says) and its *analytic* energy uses unit-variance
  components (not the 0.45 sampling noise). ``log_density`` follows the code, because with it
  the dataset KLs above Table 2 come out to four digits (see the suite YAML).

Each dataset holds its fixed 100K-sample training set (the paper's p_emp) and the exact
mixture log-density (its p_data), and defines the canvas of the Table 2 measurements: the
bounding box of the training set widened by half its half-width on every side, sampled by a
100 × 100 grid whose points are the cell centres (``create_meshgrid`` in vis_utils.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from benchmark.api import Dataset, register_dataset

N_TRAIN = 100_000  # synthetic_data.py, __main__: N=100000 for every dataset
GRID_WIDTH = 100  # egan_knn.py / binary_gan.py: grid_width = 100


@dataclass(frozen=True)
class Canvas:
    """The 100 × 100 grid of cell centres the KLs and figures live on."""

    lo: tuple[float, float]
    hi: tuple[float, float]
    width: int = GRID_WIDTH

    @classmethod
    def around(cls, data: np.ndarray, width: int = GRID_WIDTH) -> Canvas:
        lo, hi = data.min(axis=0), data.max(axis=0)
        mid = (lo + hi) / 2.0
        # widen by half of the half-range on each side, as the original canvas does
        lo, hi = lo + 0.5 * (lo - mid), hi + 0.5 * (hi - mid)
        return cls((float(lo[0]), float(lo[1])), (float(hi[0]), float(hi[1])), width)

    @property
    def xs(self) -> np.ndarray:
        return np.linspace(self.lo[0], self.hi[0], self.width)

    @property
    def ys(self) -> np.ndarray:
        return np.linspace(self.lo[1], self.hi[1], self.width)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return (self.lo[0], self.hi[0], self.lo[1], self.hi[1])

    def points(self) -> torch.Tensor:
        """Cell centres, (width², 2), row-major with y the slow index (meshgrid order)."""
        gx, gy = np.meshgrid(self.xs, self.ys)
        return torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))

    def cell_index(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """Index of the nearest cell centre for each point. On a regular lattice the nearest
        centre is the rounded coordinate, clipped to the border for points off the canvas."""
        x = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        step = (hi - lo) / (self.width - 1)
        ij = np.clip(np.rint((x - lo) / step), 0, self.width - 1).astype(np.int64)
        return ij[:, 1] * self.width + ij[:, 0]

    def histogram(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """Normalised counts per cell (the paper's p_emp / p_gen estimate), (width²,)."""
        counts = np.bincount(self.cell_index(x), minlength=self.width**2).astype(np.float64)
        return counts / max(counts.sum(), 1.0)


class CeganSynthetic(Dataset):
    """A Gaussian mixture with a fixed training set drawn the way the original code drew it."""

    offers = ("samples", "flat_samples", "density", "canvas", "mixture", "train_set")
    dim = 2
    data_seed: int = 0

    def __init__(self, data_dir: Path | None = None, n_train: int = N_TRAIN) -> None:
        if n_train < 1:
            raise ValueError(f"{self.name}: n_train must be ≥ 1")
        super().__init__(data_dir, n_train=n_train)
        self.n_train = int(n_train)
        data, weights, means, variances = self._build(np.random.RandomState(self.data_seed), self.n_train)
        self._train = data
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(np.asarray(means), dtype=torch.float64)
        self.variances = torch.as_tensor(np.asarray(variances), dtype=torch.float64)  # (K, 2) diagonal
        self.sample_variances = self._sampling_variances()

    # subclasses: draw the training set and return (data, weights, means, diagonal variances)
    def _build(self, rs: np.random.RandomState, n: int):  # pragma: no cover - interface
        raise NotImplementedError

    def _sampling_variances(self) -> torch.Tensor:
        return self.variances

    # ------------------------------------------------------------------------- data access

    def train_samples(self) -> torch.Tensor:
        """The fixed empirical set (p_emp), float32 (n_train, 2)."""
        return torch.from_numpy(self._train).float()

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """Fresh draws from the generating mixture (the sampling noise, not the plotted one)."""
        comp = torch.multinomial(self.weights.float(), n, replacement=True, generator=rng)
        noise = torch.randn(n, 2, generator=rng, dtype=torch.float64)
        return (self.means[comp] + noise * self.sample_variances[comp].sqrt()).float()

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p_data(x) of the analytic mixture, float64 (n,)."""
        x = x.to(torch.float64)
        diff = x.unsqueeze(1) - self.means.unsqueeze(0)  # (n, K, 2)
        log_comp = (-0.5 * (diff**2 / self.variances).sum(-1)
                    - 0.5 * torch.log(self.variances).sum(-1) - math.log(2 * math.pi))
        return torch.logsumexp(log_comp + torch.log(self.weights), dim=1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """The true energy −log p_data, Figure 1's left panels."""
        return -self.log_density(x)

    @cached_property
    def canvas(self) -> Canvas:
        return Canvas.around(self._train)

    def grid_pdata(self) -> np.ndarray:
        """p_data discretised on the canvas: density at cell centres, renormalised (Table 2). Read-only."""
        return self._grid_pdata

    def grid_pemp(self) -> np.ndarray:
        """p_emp: the 100K training samples histogrammed on the canvas (Table 2). Read-only."""
        return self._grid_pemp

    # Both depend on the dataset alone, yet every metric of every run needs them: computed once per dataset.
    @cached_property
    def _grid_pdata(self) -> np.ndarray:
        logp = self.log_density(self.canvas.points()).numpy()
        p = np.exp(logp - logp.max())
        return _read_only(p / p.sum())

    @cached_property
    def _grid_pemp(self) -> np.ndarray:
        return _read_only(self.canvas.histogram(self.train_samples()))

    def nearest_component(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x.to(torch.float64), self.means).argmin(dim=1)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared by every run of the job: nobody may change it in place
    return array


@register_dataset
class CeganGMM4(CeganSynthetic):
    name = "cegan_gmm4"
    description = "Dai et al. 2017 Fig. 1: 4 equally weighted 2-D Gaussians (synthetic_data.py, seed 5)"
    data_seed = 5

    def _build(self, rs: np.random.RandomState, n: int):
        weights = np.full(4, 0.25)
        counts = rs.multinomial(n, weights)
        v = rs.rand() * 10.0  # mean_scale = 10
        means = [np.array([v, v]), np.array([-v, v]), np.array([v, -v]), np.array([-v, -v])]
        variances, parts = [], []
        for mean, count in zip(means, counts, strict=True):
            var = rs.rand(2) * 10.0  # var_scale = 10, diagonal
            parts.append(rs.multivariate_normal(mean, np.diag(var), size=count))
            variances.append(var)
        return np.concatenate(parts).astype(np.float32), weights, means, variances


@register_dataset
class CeganBiased(CeganSynthetic):
    name = "cegan_biased"
    description = "Dai et al. 2017 Fig. 1: 2 Gaussians weighted 0.1 / 0.9 (synthetic_data.py, seed 2)"
    data_seed = 2

    def _build(self, rs: np.random.RandomState, n: int):
        v = rs.rand() * 8.0  # mean_scale = 8
        means = [np.array([v, v]), np.array([-v, -v])]
        variances = [np.full(2, 5.0), np.full(2, 5.0)]  # var_scale = 5
        weights = np.array([0.1, 0.9])  # mix_weights=[0.10, 0.90]: the small mode is (v, v)
        counts = rs.multinomial(n, weights)
        parts = [rs.multivariate_normal(m, np.diag(s), size=c)
                 for m, s, c in zip(means, variances, counts, strict=True)]
        return np.concatenate(parts).astype(np.float32), weights, means, variances

    @property
    def small_mode(self) -> int:
        return int(torch.argmin(self.weights))


@register_dataset
class CeganSpirals(CeganSynthetic):
    name = "cegan_spirals"
    description = "Dai et al. 2017 Fig. 1: Gaussians along two spirals (synthetic_data.py, seed 12345)"
    data_seed = 12345

    def __init__(self, data_dir: Path | None = None, n_train: int = N_TRAIN, n_components: int = 100,
                 noise: float = 0.45, density_std: float = 1.0) -> None:
        if n_components < 2 or noise <= 0 or density_std <= 0:
            raise ValueError("cegan_spirals: n_components must be ≥ 2 and noise, density_std > 0")
        self.n_components, self.noise, self.density_std = int(n_components), float(noise), float(density_std)
        super().__init__(data_dir, n_train)
        self.params.update(n_components=n_components, noise=noise, density_std=density_std)

    def _build(self, rs: np.random.RandomState, n: int):
        per_comp = -(-n // self.n_components)  # ceil, so that every component gets as many draws
        half = self.n_components // 2
        t_all, parts = [], []
        for sign, count in ((-1.0, half), (1.0, self.n_components - half)):
            t = math.radians(120.0) + np.linspace(0.0, 1.0, count) * math.radians(360.0)
            tt = np.repeat(t, per_comp)
            # x noise for the whole spiral is drawn before its y noise, as in the original
            x = sign * np.cos(tt) * tt + rs.randn(count * per_comp) * self.noise
            y = -sign * np.sin(tt) * tt + rs.randn(count * per_comp) * self.noise
            parts.append(np.stack([x, y], axis=1))
            t_all.append(np.stack([sign * np.cos(t) * t, -sign * np.sin(t) * t], axis=1))
        data = np.concatenate(parts)[:n].astype(np.float32)
        means = np.concatenate(t_all)
        weights = np.full(self.n_components, 1.0 / self.n_components)
        variances = np.full((self.n_components, 2), self.density_std**2)
        return data, weights, means, variances

    def _sampling_variances(self) -> torch.Tensor:
        return torch.full_like(self.variances, self.noise**2)
