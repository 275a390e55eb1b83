"""One feature pass per run, and the test split's statistics once per home (see the package docstring).

A ``FeatureNetwork`` is what a pair of metrics (a score and a distance) reads: a function from images in
[-1, 1] to (class probabilities, features) and the description of everything that determines its outputs,
which keys the statistics cache. ``sample_outputs`` gives the network's outputs on the run's samples, computed
by whichever metric of the run asks first; ``test_statistics`` gives the test split's, read from
``$BENCH_HOME/cache/features/<key>.npz`` when an earlier run (of any model) computed them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.api import RunContext, TrainResult
from benchmark.budget import read as read_budget
from benchmark.features.cache import load_arrays, save_arrays
from benchmark.features.scores import gaussian_fit, score_from_probs
from benchmark.hparams import Int

SAMPLES_STREAM = "metric/image_features/samples"  # one draw for every feature metric of a run


@dataclass(frozen=True)
class FeatureNetwork:
    name: str  # "inception" or "classifier": the run-cache slot, and the cache key's
    outputs: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # images -> (probs float64, features)
    key: dict[str, Any]  # what determines the outputs (weights, code version, torch, device kind)


@dataclass(frozen=True)
class TestStatistics:
    """What the metrics read of the test split: the feature fit, the split's own score, the top-1 accuracy
    against the split's labels (None without labels or class-aligned outputs)."""

    mean: np.ndarray
    cov: np.ndarray
    score: float
    accuracy: float | None


# What every feature metric reads of the budget (each declares it as its ``budget``)
BUDGET = {
    "is_samples": Int(10_000, low=1, doc="images per set scored: the model's samples and the test split's"),
    "is_splits": Int(10, low=1, doc="splits the Inception score is averaged over"),
}


def budget_sizes(ctx: RunContext) -> tuple[int, int]:
    """(images per set, splits of the score): the budget's ``is_samples`` and ``is_splits``."""
    budget = read_budget(BUDGET, ctx.budget)
    return int(budget["is_samples"]), int(budget["is_splits"])


def run_samples(result: TrainResult, ctx: RunContext, n: int) -> torch.Tensor:
    """The run's n model samples for the feature metrics, drawn once."""
    slot = ("image_features", "samples", n)
    if slot not in ctx.run_cache:
        ctx.run_cache[slot] = result.model.sample(n, ctx.rng(SAMPLES_STREAM))
    return ctx.run_cache[slot]


def sample_outputs(result: TrainResult, ctx: RunContext, net: FeatureNetwork) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, features) of the run's samples under ``net``: one forward pass per run and network."""
    n, _ = budget_sizes(ctx)
    slot = ("image_features", net.name, n)
    if slot not in ctx.run_cache:
        ctx.run_cache[slot] = net.outputs(run_samples(result, ctx, n))
    return ctx.run_cache[slot]


def statistics_key(ctx: RunContext, net: FeatureNetwork, n: int, splits: int) -> dict[str, Any]:
    ds = ctx.dataset
    return {"what": "test split statistics", "network": net.key, "dataset": ds.name,
            "dataset_version": type(ds).version, "params": ds.params, "split": "test", "n": n, "splits": splits}


def test_statistics(ctx: RunContext, net: FeatureNetwork,
                    labels: Callable[[], torch.Tensor | None] = lambda: None) -> TestStatistics:
    """The test split's statistics under ``net``: from this run, from the home's cache, or computed now (and
    stored). ``labels`` gives the split's labels when the network's classes are the dataset's."""
    n, splits = budget_sizes(ctx)
    slot = ("image_features", net.name, "test", n, splits)
    if slot in ctx.run_cache:
        return ctx.run_cache[slot]
    key = statistics_key(ctx, net, n, splits)
    stored = load_arrays("features", key)
    if stored is None:
        probs, feats = net.outputs(ctx.dataset.split("test")[:n])
        mean, cov = gaussian_fit(feats)
        truth = labels()
        accuracy = np.nan if truth is None else float((probs.argmax(dim=1) == truth[:len(probs)]).double().mean())
        stored = {"mean": mean, "cov": cov, "score": np.array(score_from_probs(probs, splits)),
                  "accuracy": np.array(accuracy)}
        save_arrays("features", key, stored)
    accuracy = float(stored["accuracy"])
    stats = TestStatistics(stored["mean"], stored["cov"], float(stored["score"]),
                           None if np.isnan(accuracy) else accuracy)
    ctx.run_cache[slot] = stats
    return stats
