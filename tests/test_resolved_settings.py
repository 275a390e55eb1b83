"""A run's settings are resolved once (benchmark/settings.py): the params MLflow records for a run are what it
trained with, one name per setting, and the identity of every run is what it was before they were.

The runs here go through the executor (``RunExecutor.start``: the code that logs a run's params to MLflow and
hands the method its context); the params are read back from MLflow, never recomputed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO

from benchmark import api, settings
from benchmark.errors import DatasetMissing
from benchmark.execute import RunExecutor, RunPlace
from benchmark.planner import Job, plan
from benchmark.progress import Progress
from benchmark.run_settings import RunSettings
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri


def _shipped_jobs(profile: str = "smoke") -> list[Job]:
    return [job for path in sorted((REPO / "suites").glob("*.yaml")) for job in plan(load_suite(path), profile)]


def _job(suite: str, key_part: str) -> Job:
    found = [j for j in plan(load_suite(REPO / "suites" / f"{suite}.yaml"), "smoke") if key_part in j.key]
    assert found, key_part
    return found[0]


def _point(job: Job) -> dict:
    return job.grid_points()[0] if job.sweep and all(hasattr(s, "grid") for s in job.sweep.values()) else {}


class _Store:
    """A tracking store in the test's BENCH_HOME, and the executor's way of starting runs in it."""

    def __init__(self) -> None:
        self.tracker = Tracker(default_tracking_uri())
        self.run_settings = RunSettings(tracking_uri=default_tracking_uri(), storage_url="", device="cpu",
                                        data_dir=None, artifact_root=None, show_progress=False)

    def start(self, job: Job, dataset: api.Dataset | None, params: dict, seed: int = 0):
        """The run begun as `bench run` begins it, and its params as MLflow has them."""
        executor = RunExecutor(self.tracker, job, dataset, {}, self.run_settings, Progress())
        parent = self.tracker.start(job.suite, {"bench.kind": "job"})
        begun = executor.start(params, seed, "final", RunPlace(parent, 0, 0, {}), lambda record: False)
        logged = self.tracker.client.get_run(begun.run_id).data.params
        return executor, begun, logged


def _as_logged(values: dict) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


def _one_name_each(logged: dict[str, str], job: Job) -> None:
    """No setting under two names: a budget key that replaces a hyper-parameter is not logged beside it."""
    replacing = settings.replaced_by_budget(job.method_name, job.metrics)
    twice = sorted(k for k in logged if k.startswith("budget.") and k[len("budget."):] in replacing)
    assert not twice, (job.key, twice)


def test_budget_replaced_batch_size_and_width_are_logged_once_with_the_value_that_trained(bench_home):
    """calibrating_ebgan's digit ranking: the method's hparams say batch_size 200 and width 1.0, the smoke budget
    32 and 0.125; the run trains at 32 and 0.125, and MLflow says so under one name each."""
    job = _job("calibrating_ebgan", "/digit_ranking/EGAN-Ent-NN/")
    assert job.hparams["batch_size"] == 200 and job.budget["batch_size"] == 32 and job.budget["width"] == 0.125
    dataset = api.DATASETS[job.loader](data_dir=None, **job.dataset_params)
    executor, begun, logged = _Store().start(job, dataset, {})
    assert logged["batch_size"] == "32" and logged["width"] == "0.125"
    assert "budget.batch_size" not in logged and "budget.width" not in logged
    assert logged["budget.steps"] == "6" and logged["seed"] == "0"
    assert logged == _as_logged(job.run_settings({}, 0).params())
    model = executor.train(begun).model
    assert model.batch_size == 32  # what the metrics draw in batches of
    first_conv = next(m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.out_channels == 8  # the original code's 64, x0.125


def test_a_swept_run_logs_its_sweep_point_and_budget_width_once(bench_home):
    """α-GAN's analogue WGAN-GP sweeps lr_g and lr_d; its smoke budget sets width 0.25 over the hyper-parameter's
    1.0. MLflow has the sweep point's values, width 0.25 once, and the budget's other keys under budget.*:
    exactly the context the method gets."""
    job = _job("alpha_gan", "/analogue_gan/WGAN-GP/")
    point = _point(job)
    assert set(point) == {"lr_g", "lr_d"} and job.hparams["width"] == 1.0 and job.budget["width"] == 0.25
    dataset = api.DATASETS[job.loader](data_dir=None, **job.dataset_params)
    _, begun, logged = _Store().start(job, dataset, point, seed=2)
    resolved = job.run_settings(point, 2)
    assert logged == _as_logged(resolved.params())
    assert logged["width"] == "0.25" and "budget.width" not in logged and logged["budget.critic_width"] == "0.25"
    assert {k: logged[k] for k in point} == _as_logged(point) and logged["seed"] == "2"
    assert begun.ctx.hparams == dict(resolved.hparams) and begun.ctx.budget == dict(resolved.budget)
    assert begun.ctx.hparams["width"] == 0.25 and "width" not in begun.ctx.budget
    assert begun.key == job.run_key(point, 2)


def test_identity_hashes_the_settings_as_written():
    """A budget that replaces a hyper-parameter changes what trains and so the run key, but through the budget
    the key always hashed: the written hyper-parameters are hashed unchanged (stores keep their runs)."""
    job = _job("calibrating_ebgan", "/digit_ranking/EGAN-Ent-NN/")
    resolved = job.run_settings({}, 0)
    assert resolved.identity() == {"hparams": job.hparams, "seed": 0}
    assert resolved.hparams["batch_size"] == 32 and resolved.written_hparams["batch_size"] == 200
    assert "batch_size" not in resolved.budget and resolved.written_budget["batch_size"] == 32
    nulled = settings.of_values(job.method_name, job.hparams, {**job.budget, "batch_size": None}, metrics=job.metrics)
    assert nulled.hparams["batch_size"] == 200 and "budget.batch_size" not in nulled.params()


@pytest.mark.slow
def test_every_shipped_jobs_params_are_its_resolved_settings(bench_home, stand_in_files, monkeypatch):
    """Every shipped job at smoke, its first grid point, seed 0, begun by the executor (not trained): MLflow's
    params equal the resolved settings and the context the method gets; no setting under two names."""
    monkeypatch.setenv("BENCH_DATA", str(stand_in_files))
    store = _Store()
    jobs = _shipped_jobs()
    assert len(jobs) >= 40
    replaced = 0
    for job in jobs:
        try:
            dataset = api.DATASETS[job.loader](data_dir=Path(stand_in_files), **job.dataset_params)
        except DatasetMissing:
            dataset = None
        point = _point(job)
        _, begun, logged = store.start(job, dataset, point)
        resolved = job.run_settings(point, 0)
        assert logged == _as_logged(resolved.params()), job.key
        assert begun.ctx.settings == resolved and dict(begun.ctx.hparams) == dict(resolved.hparams), job.key
        assert {k: logged[k] for k in begun.ctx.hparams} == _as_logged(begun.ctx.hparams), job.key
        _one_name_each(logged, job)
        replaced += any(resolved.hparams[h] != resolved.written_hparams.get(h) for h in resolved.replaces.values())
        begun.figures.cleanup()
    assert replaced >= 10  # the image jobs whose smoke budget shrinks batch_size or width
