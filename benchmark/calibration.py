"""A short calibration of the jobs that have no history: `bench plan` answers in seconds, so the calibrations of
one plan share ``PLAN_SECONDS``: each shape gets its share of timed training (between ``MIN_SHAPE_SECONDS`` and
``MAX_SHAPE_SECONDS``), and once the plan's time is spent the remaining shapes wait for the next `bench plan`
(each calibration is kept, so every call adds some).

Per shape (``planner.shape_of``) it trains twice, each once and timed: one step, then as many more as fit in
the shape's share (at most ``MAX_STEPS``); the difference of the two removes the fixed part of a run (building
the networks), so a step's time is what the longer run adds per step. A shape whose one step already takes
its share keeps that step's time, fixed part included. What happens once per process (lazy initialisation,
allocator caches) is paid by one untimed step before the first shape. Other work on the machine only ever
adds time, so the figures err long.

Runs that train together (``Job.trainer``) are calibrated as a batch of at most ``MAX_MEMBERS`` runs, each
charged its share: on a CPU a member's share barely changes with the batch's size; on a GPU a larger batch
shares more, so the figure errs long there.

Metrics are measured once per plan, each on the first briefly trained model that uses it, and that time is
charged to every job measuring it. The assumption: a metric's cost follows its own settings (samples, grid
sizes, figures), not the method or how long the model trained. Metrics with files missing are left out (as
they are of the runs).

A calibration is kept in ``$BENCH_HOME/cache/throughput.json``; a finished run of the same shape takes its
place (``estimate.history``), so the estimate sharpens with every `bench run`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark.planner import Job

PLAN_SECONDS = 4.0  # calibrating all the plan's shapes: no shape starts after this
MAX_MEMBERS = 4
MIN_SHAPE_SECONDS = 0.2  # a shape's share never drops below this (a plan of many shapes takes longer)
MAX_SHAPE_SECONDS = 2.0
MAX_STEPS = 200  # enough to time a step to a percent or so; more only spends the budget
MIN_STEPS = 1  # the measured step-cost table asks for more: one step's time is mostly the fixed part
BASIS = "short calibration"
NOT_YET = "not calibrated yet (this plan's calibration time is spent; `bench plan` again adds more)"


@dataclass
class Throughput:
    seconds_per_step: float
    measure_seconds: float
    basis: str  # "history (n runs)" or "short calibration (n steps)"


def share(shapes: int) -> float:
    """Seconds of timed training each of ``shapes`` shapes gets."""
    return min(MAX_SHAPE_SECONDS, max(MIN_SHAPE_SECONDS, PLAN_SECONDS / max(1, shapes)))


class Calibrator:
    """Calibrates the shapes of one plan: shares its datasets (built once) and its metric timings."""

    def __init__(self, data_dir: str | None, shapes: int) -> None:
        self.data_dir = data_dir
        self.seconds = share(shapes)
        self.datasets: dict[str, Any] = {}
        self.metric_seconds: dict[str, float] = {}  # metric -> seconds, timed once per plan
        self.warmed = False
        self.began: float | None = None

    @property
    def spent(self) -> bool:
        return self.began is not None and time.perf_counter() - self.began > PLAN_SECONDS

    def calibrate(self, job: Job, members: int = 1) -> Throughput | None:
        """Seconds per step and per measuring of the job's runs; None when its data is missing or the plan's
        calibration time is spent (``spent``)."""
        from benchmark import api
        from benchmark.errors import DatasetMissing

        if self.spent:
            return None
        self.began = self.began or time.perf_counter()
        members = min(members, MAX_MEMBERS)
        api.load_plugins()
        try:
            dataset = self._dataset(job)
        except DatasetMissing:
            return None
        if not self.warmed:
            _train(job, dataset, 1, members)
            self.warmed = True
        began = time.perf_counter()
        one, result, ctx = _train(job, dataset, 1, members)
        # the longer run, judged by the one step (an upper bound of a step: it includes the fixed part, and a
        # batch takes ``members`` times a member's share), fits in what is left of the shape's share
        left = self.seconds - (time.perf_counter() - began)
        steps = max(1, min(MAX_STEPS, job.steps, max(MIN_STEPS, int(left / max(one * members, 1e-6)))))
        per_step = one
        if steps > 1:
            longer, result, ctx = _train(job, dataset, steps, members)
            per_step = longer / steps
            if longer > one:  # noise can make the difference larger than the bound: keep the bound
                per_step = min(per_step, (longer - one) / (steps - 1))
        return Throughput(per_step, self._measure(job, result, ctx), f"{BASIS} ({steps} steps)")

    def _dataset(self, job: Job) -> Any:
        from benchmark import api
        from benchmark.identity import digest

        key = digest({"loader": job.loader, "params": job.dataset_params})
        if key not in self.datasets:
            data_dir = Path(self.data_dir) if self.data_dir else None
            self.datasets[key] = api.DATASETS[job.loader](data_dir=data_dir, **job.dataset_params)
        return self.datasets[key]

    def _measure(self, job: Job, result: Any, ctx: Any) -> float:
        """The seconds the job's metrics take, each timed the first time the plan meets it."""
        from benchmark import api
        from benchmark.errors import DatasetMissing
        from benchmark.execute import measure

        for name in job.metrics:
            metric = api.METRICS[name]
            if name in self.metric_seconds or metric.requires is not None:
                continue
            started = time.perf_counter()
            try:
                measure(metric, result, ctx)
            except DatasetMissing:
                pass
            self.metric_seconds[name] = time.perf_counter() - started
        return sum(self.metric_seconds.get(name, 0.0) for name in job.metrics)


def _train(job: Job, dataset: Any, steps: int, members: int) -> tuple[float, Any, Any]:
    """Seconds per member to train ``steps`` steps of the job (``members`` runs as one batch where its runs
    train together), and the first member's model and context."""
    import torch

    from benchmark import api
    from benchmark.batching import TRAINERS

    params = job.grid_points()[0] if all(hasattr(s, "grid") for s in job.sweep.values()) else {}
    contexts = [api.RunContext.of(job.run_settings(params, seed).with_steps(steps), dataset, torch.device(job.device))
                for seed in range(members)]
    started = time.perf_counter()
    if job.trainer == "loop":
        result = api.METHODS[job.method_name]().train(contexts[0])
    else:
        result = TRAINERS[job.trainer.split(":", 1)[1]]([(job.method_name, c) for c in contexts])[0]
    return (time.perf_counter() - started) / members, result, contexts[0]


def _cache_file() -> Path:
    from benchmark.tracking import bench_home

    return bench_home() / "cache" / "throughput.json"


def saved() -> dict[str, Throughput]:
    """Calibrations an earlier `bench plan` made, by shape."""
    try:
        data = json.loads(_cache_file().read_text())
        return {shape: Throughput(**value) for shape, value in data.items()}
    except (OSError, ValueError, TypeError):
        return {}


def save(shape: str, rate: Throughput) -> None:
    data = {k: asdict(v) for k, v in saved().items()}
    data[shape] = asdict(rate)
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only store: the plan still answers, the next one calibrates again
