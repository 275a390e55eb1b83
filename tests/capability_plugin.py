"""A plug-in file kept outside bench, loaded through BENCH_PLUGINS by tests/test_plugin_capabilities.py: a
capability of its own (``known_moments``), a dataset offering it and a metric needing it. Nothing in the engine
knows any of the three."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from benchmark import api
from benchmark.contracts import as_offered, register_capability


@register_capability("dataset", "known_moments", "the data's exact mean and standard deviation: true_mean, true_std")
@runtime_checkable
class KnownMoments(Protocol):
    """``known_moments``: p_data's exact ``true_mean`` and ``true_std`` (1-D)."""

    true_mean: float
    true_std: float


@api.register_dataset
class ShiftedGaussian(api.Dataset):
    name = "test_plugin_shifted_gaussian"
    description = "a 1-D Gaussian that states its own moments"
    offers = ("samples", "known_moments")

    def __init__(self, data_dir: Path | None = None, mean: float = -0.5, std: float = 0.25) -> None:
        super().__init__(data_dir, mean=mean, std=std)
        self.true_mean, self.true_std = float(mean), float(std)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.true_mean + self.true_std * torch.randn(n, generator=rng)


@api.register_metric("test_plugin_moment_gap", produces=["moments.mean_gap", "moments.std_ratio"],
                     needs_dataset=("known_moments",))
def moment_gap(result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    """How far the fitted (mean, std) of the engine tests' learner lies from the moments the dataset states."""
    mu, sigma = result.model
    moments = as_offered(ctx.dataset, KnownMoments)
    return {"moments.mean_gap": abs(mu - moments.true_mean), "moments.std_ratio": sigma / moments.true_std}
