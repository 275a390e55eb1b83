"""The plug-in contract, pairing by pairing: every (method, dataset, metric) that a shipped suite pairs trains at
smoke size and measures, and no metric changes what it measures: each metric run twice, and all of them in
reverse order, on the same trained model give identical numbers (the engine hands metrics the model read-only,
with their own random streams).

Jobs whose dataset needs files that are not on this machine (MNIST, CIFAR-10, CelebA, SVHN) and metrics that need
the Inception weights cannot run here; they are listed, and the test checks that nothing else is left out."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import REPO

from benchmark import api, planner
from benchmark.errors import DatasetMissing
from benchmark.execute import measure
from benchmark.numerics import Numerics, apply
from benchmark.suite import load_suite

api.load_plugins()
apply(Numerics())  # as every run: full FP32, deterministic algorithms (an op without one raises)
SUITES = sorted((REPO / "suites").glob("*.yaml"))


def _jobs() -> list[tuple[str, planner.Job]]:
    out = []
    for path in SUITES:
        for job in planner.plan(load_suite(path), "smoke"):
            out.append((f"{job.suite}/{job.experiment}/{job.method}/{job.dataset}", job))
    return out


JOBS = _jobs()
OFFLINE_MISSING = {"mnist", "cifar10", "celeba64", "svhn", "color_mnist"}  # loaders that read a data directory


def _dataset(job: planner.Job):
    try:
        return api.DATASETS[job.loader](data_dir=None, **job.dataset_params)
    except DatasetMissing:
        return None


def test_only_jobs_on_real_datasets_are_left_out():
    left_out = {job.loader for _, job in JOBS if _dataset(job) is None}
    assert left_out <= OFFLINE_MISSING, left_out
    assert len([j for _, j in JOBS if _dataset(j) is not None]) >= 40


@pytest.mark.parametrize("name,job", [(n, j) for n, j in JOBS if j.loader not in OFFLINE_MISSING],
                         ids=[n for n, j in JOBS if j.loader not in OFFLINE_MISSING])
def test_every_shipped_pairing_runs_and_its_metrics_are_read_only(name: str, job: planner.Job):
    dataset = _dataset(job)
    assert dataset is not None
    metrics = [api.METRICS[m] for m in job.metrics if api.METRICS[m].requires is None]
    params = job.grid_points()[0]
    ctx = api.RunContext.of(job.run_settings(params, 0), dataset, torch.device("cpu"))
    result = api.METHODS[job.method_name]().train(ctx)
    assert set(api.METHODS[job.method_name].produces) <= set(result.measurements)

    def all_of(order) -> dict[str, dict[str, float]]:
        return {m.name: measure(m, result, ctx) for m in order}

    first = all_of(metrics)
    for m in metrics:
        assert set(m.produces) >= set(first[m.name]), m.name
        assert all(v is None or math.isfinite(float(v)) for v in first[m.name].values()), (m.name, first[m.name])
    assert all_of(metrics) == first
    assert all_of(list(reversed(metrics))) == first


def test_registries_refuse_a_second_definition_of_a_name():
    with pytest.raises(ValueError, match="registered twice"):
        @api.register_method
        class Impostor(api.Method):  # noqa: F841 - defined for its registration
            name = "gan"
    with pytest.raises(ValueError, match="registered twice"):
        @api.register_metric("kl_grid", produces=["x"])
        def impostor(result, ctx):  # noqa: F841
            return {}
    assert api.METHODS["gan"].__module__ == "baselines.gan"


def test_every_plug_in_kind_refuses_a_second_definition_of_a_name():
    """Datasets, claim types, statistic types and batch trainers go through the same registry as methods and
    metrics: a second definition under a taken name fails, and the first stays registered."""
    from typing import Literal

    from benchmark import batching, claims

    with pytest.raises(ValueError, match="dataset 'cegan_gmm4' is registered twice"):
        @api.register_dataset
        class Impostor(api.Dataset):  # noqa: F841
            name = "cegan_gmm4"
    with pytest.raises(ValueError, match="claim type 'ordering' is registered twice"):
        @claims.claim_type
        class ImpostorClaim(claims.OrderingClaim):  # noqa: F841
            type: Literal["ordering"]
    with pytest.raises(ValueError, match="statistic type 'rank_disagreement' is registered twice"):
        @claims.statistic_type
        class ImpostorStatistic(claims.RankDisagreement):  # noqa: F841
            type: Literal["rank_disagreement"]
    # a function with the trainer's qualified name in another module is another definition (the name alone
    # used to pass as the same one)
    trainer = batching.TRAINERS["cegan_2d"]
    with pytest.raises(ValueError, match="batch trainer 'cegan_2d' is registered twice"):
        def twin(runs, checkpoint=None):
            return []
        twin.__qualname__ = trainer.__qualname__
        batching.batch_trainer("cegan_2d")(twin)
    assert api.DATASETS["cegan_gmm4"].__module__ == "benchmark.data.cegan_synthetic"
    assert claims.CLAIM_TYPES["ordering"] is claims.OrderingClaim
    assert claims.STATISTIC_TYPES["rank_disagreement"] is claims.RankDisagreement
    assert batching.TRAINERS["cegan_2d"] is trainer
    assert batching.batch_trainer("cegan_2d")(trainer) is trainer  # its own module imported again: allowed
