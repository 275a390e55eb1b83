"""Runs planned jobs: one Optuna study per job, every run tracked in MLflow, resumable at any point.

Per job:
1. search: the study proposes settings (grid sampler for the paper's grid, TPE for ranges, one
   fixed trial otherwise); each trial trains once, with the first seed;
2. seeds: the best setting is re-run over the profile's seeds (the first one is the search run).

A run's identity is a hash of everything that determines its training (``Job.run_key``). Before
training, the job's MLflow runs are read back: a FINISHED run with the same key is reused, a
RUNNING one left by a killed process is closed as KILLED and trained again. Trials left RUNNING
by a killed process are failed and their grid points re-queued. So a second ``bench run``
trains nothing that finished, and an interrupted one continues from its last finished trial.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from optuna.trial import TrialState
from tqdm import tqdm

from benchmark import api
from benchmark.errors import DatasetMissing, UserError
from benchmark.planner import Job
from benchmark.suite import GridSpec, RangeSpec
from benchmark.tracking import CHILD, LOSS_PREFIX, PARENT, RunRecord, Tracker, runtime_tags


class RunFailed(Exception):
    def __init__(self, reason: str, step: int | None = None) -> None:
        self.reason = reason
        self.step = step
        super().__init__(reason if step is None else f"{reason} at step {step}")


@dataclass
class JobOutcome:
    key: str
    status: str  # done | not_run | failed
    trained: int = 0
    reused: int = 0
    reason: str = ""
    seconds: float = 0.0


@dataclass
class RunSettings:
    tracking_uri: str
    storage_url: str
    device: str
    data_dir: str | None
    artifact_root: str | None
    show_progress: bool = True
    log_every: int = 50
    tags: dict[str, str] = field(default_factory=dict)


def resolve_device(requested: str | None) -> str:
    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was requested but torch sees no GPU on this machine", field="--device")
    if requested not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{requested}' (use cpu or cuda)", field="--device")
    return requested


def run_jobs(jobs: list[Job], settings: RunSettings, workers: int = 1) -> list[JobOutcome]:
    outcomes: list[JobOutcome] = []
    bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not settings.show_progress, position=0)
    if workers <= 1:
        for job in jobs:
            bar.set_postfix_str(f"{job.experiment}/{job.method}/{job.dataset}")
            outcomes.append(run_job(job, settings))
            bar.update(1)
    else:
        import multiprocessing

        quiet = RunSettings(**{**settings.__dict__, "show_progress": False})
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_worker_init, initargs=(workers,)) as pool:
            futures = {pool.submit(run_job, job, quiet): job for job in jobs}
            for future in as_completed(futures):
                outcomes.append(future.result())
                bar.update(1)
        order = {job.key: i for i, job in enumerate(jobs)}
        outcomes.sort(key=lambda o: order[o.key])
    bar.close()
    return outcomes


def _worker_init(workers: int) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def run_job(job: Job, settings: RunSettings) -> JobOutcome:
    api.load_plugins()
    started = time.monotonic()
    tracker = Tracker(settings.tracking_uri, Path(settings.artifact_root) if settings.artifact_root else None)
    existing = tracker.runs(job.suite, f"tags.job_key = '{_quote(job.key)}'")
    parent = _parent_run(tracker, job, existing, settings)

    reason = _not_run_reason(job, settings)
    dataset = None
    if reason is None:
        try:
            dataset = api.DATASETS[job.loader](data_dir=Path(settings.data_dir) if settings.data_dir else None,
                                               **job.dataset_params)
        except DatasetMissing as missing:
            reason = str(missing)
    if reason is not None:
        tracker.set_tags(parent, {"not_run_reason": reason, "job_status": "not_run"})
        return JobOutcome(job.key, "not_run", reason=reason, seconds=time.monotonic() - started)

    finished = {r.tags.get("run_key"): r for r in existing
                if r.tags.get("bench.kind") == CHILD and r.status == "FINISHED"}
    for stale in (r for r in existing if r.status == "RUNNING" and r.tags.get("bench.kind") == CHILD):
        tracker.finish(stale.run_id, "KILLED")
    runs_bar = tqdm(total=job.n_trials + len(job.seeds) - 1, desc=f" runs of {job.method}/{job.dataset}",
                    unit="run", leave=False, position=1, disable=not settings.show_progress)
    executor = _RunExecutor(job, settings, tracker, parent, dataset, finished, runs_bar)
    try:
        best = _search(job, settings, executor)
        for seed in job.seeds:
            try:
                executor.run(best, seed, phase="final")
            except RunFailed:
                continue  # recorded as a FAILED run; the other seeds still count
        if executor.final_done == 0:
            raise RunFailed("no seed of the chosen setting finished")
    except RunFailed:
        runs_bar.close()
        reason = f"all {executor.failed} runs diverged ({executor.first_failure})"
        tracker.set_tags(parent, {"job_status": "failed", "not_run_reason": reason})
        tracker.finish(parent, "FAILED")
        return JobOutcome(job.key, "failed", executor.trained, executor.reused, reason, time.monotonic() - started)
    runs_bar.close()
    tracker.set_tags(parent, {"job_status": "done", "not_run_reason": "",
                              "best_params": repr(best), "seeds": str(len(job.seeds))})
    tracker.finish(parent, "FINISHED")
    return JobOutcome(job.key, "done", executor.trained, executor.reused, seconds=time.monotonic() - started)


def _not_run_reason(job: Job, settings: RunSettings) -> str | None:
    if job.requires_gpu and settings.device != "cuda":
        return "needs GPU"
    return None


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def _job_tags(job: Job, settings: RunSettings) -> dict[str, str]:
    return {"suite": job.suite, "experiment": job.experiment, "method": job.method, "dataset": job.dataset,
            "profile": job.profile, "device": settings.device, "job_key": job.key, **settings.tags}


def _parent_run(tracker: Tracker, job: Job, existing: list[RunRecord], settings: RunSettings) -> str:
    for record in existing:
        if record.tags.get("bench.kind") == PARENT:
            return record.run_id
    tags = {**_job_tags(job, settings), **runtime_tags(), "bench.kind": PARENT}
    params = {"method_name": job.method_name, "loader": job.loader, **{f"data.{k}": v for k, v in
              job.dataset_params.items()}, **{f"budget.{k}": v for k, v in job.budget.items()},
              "seeds": len(job.seeds), "n_trials": job.n_trials}
    return tracker.start(job.suite, tags, params, name=f"{job.experiment}/{job.method}/{job.dataset}")


# ------------------------------------------------------------------------------ search


def _search(job: Job, settings: RunSettings, executor: _RunExecutor) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = job.objective[1] if job.objective else "minimize"
    if job.is_grid:
        sampler = optuna.samplers.GridSampler({k: list(v.grid) for k, v in job.sweep.items()}, seed=0)
    elif job.sweep:
        sampler = optuna.samplers.TPESampler(seed=0)
    else:
        sampler = optuna.samplers.RandomSampler(seed=0)
    try:
        study = optuna.create_study(study_name=job.key, storage=settings.storage_url, sampler=sampler,
                                    direction=direction, load_if_exists=True)
    except Exception as exc:  # an unreachable or unwritable storage is a setting the user gave
        raise UserError(f"cannot open the Optuna storage: {str(exc).splitlines()[0][:200]}",
                        field="--storage", file=settings.storage_url) from None
    _fail_stale_trials(study)

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, job)
        record = executor.run(params, job.seeds[0], phase="search", trial=trial.number)
        if job.objective is None:
            return 0.0
        return float(record.measurements[job.objective[0]])

    if job.is_grid:
        if not study.trials:
            study.optimize(objective, n_trials=job.n_trials, catch=(RunFailed,))
        # points whose trial was killed (or never started) are queued again; a diverged one is a result
        for _ in range(3):
            visited = {_frozen(t.params) for t in study.trials if _counts_as_visited(t)}
            waiting = {_frozen(t.system_attrs.get("fixed_params", {})) for t in study.trials
                       if t.state == TrialState.WAITING}
            missing = [p for p in job.grid_points() if _frozen(p) not in visited]
            if not missing:
                break
            for point in missing:
                if _frozen(point) not in waiting:
                    study.enqueue_trial(point, skip_if_exists=False)
            study.optimize(objective, n_trials=len(missing), catch=(RunFailed,))
    else:
        pending = job.n_trials - sum(_counts_as_visited(t) for t in study.trials)
        if pending > 0:
            study.optimize(objective, n_trials=pending, catch=(RunFailed,))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise RunFailed("every search trial failed")
    return dict(study.best_trial.params) if job.objective else dict(complete[0].params)


def _fail_stale_trials(study) -> None:
    """A trial still RUNNING when its job starts belongs to a process that died (one process runs a job)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "killed", True)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _counts_as_visited(trial) -> bool:
    """Finished trials count, except those failed because their process was killed."""
    if trial.state == TrialState.COMPLETE:
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get("killed", False)


def _frozen(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _suggest(trial, job: Job) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in sorted(job.sweep.items()):
        if isinstance(spec, GridSpec):
            params[name] = trial.suggest_categorical(name, list(spec.grid))
        elif isinstance(spec, RangeSpec) and spec.integer:
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return params


# ------------------------------------------------------------------------------- runs


class _RunExecutor:
    def __init__(self, job: Job, settings: RunSettings, tracker: Tracker, parent: str, dataset: api.Dataset,
                 finished: dict[str, RunRecord], runs_bar: tqdm) -> None:
        self.job, self.settings, self.tracker = job, settings, tracker
        self.parent, self.dataset, self.finished = parent, dataset, finished
        self.runs_bar = runs_bar
        self.trained = 0
        self.reused = 0
        self.failed = 0
        self.final_done = 0
        self.first_failure = ""

    def run(self, params: dict[str, Any], seed: int, phase: str, trial: int | None = None) -> RunRecord:
        job = self.job
        key = job.run_key(params, seed)
        if key in self.finished:
            record = self.finished[key]
            if phase == "final" and record.tags.get("final") != "1":
                self.tracker.set_tags(record.run_id, {"final": "1"})
                record.tags["final"] = "1"
            else:
                self.runs_bar.update(1)
            self.reused += 1
            self.final_done += phase == "final"
            return record
        hparams = {**job.hparams, **params}
        tags = {**_job_tags(job, self.settings), **runtime_tags(), "bench.kind": CHILD, "seed": str(seed),
                "phase": phase, "run_key": key, "final": "1" if phase == "final" else "0"}
        if trial is not None:
            tags["trial"] = str(trial)
        run_id = self.tracker.start(job.suite, tags, {**hparams, **{f"budget.{k}": v for k, v in
                                                                    job.budget.items()}, "seed": seed},
                                    parent_id=self.parent, name=f"{job.method}/{job.dataset}/s{seed}/{phase}")
        losses: list[tuple[str, float, int]] = []
        with tempfile.TemporaryDirectory(prefix="bench-fig-") as tmp:
            figures = Path(tmp)
            try:
                measurements = self._train(hparams, seed, losses, figures)
            except RunFailed as failure:
                self._record_failure(run_id, losses, failure)
                raise
            except (FloatingPointError, ValueError, RuntimeError) as exc:
                failure = RunFailed(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
                self._record_failure(run_id, losses, failure)
                raise failure from exc
            self.tracker.log_metrics(run_id, losses + [(k, v, 0) for k, v in sorted(measurements.items())])
            for png in sorted(figures.glob("*.png")):
                self.tracker.log_artifact(run_id, png, "figures")
        self.tracker.finish(run_id, "FINISHED")
        self.trained += 1
        self.final_done += phase == "final"
        self.runs_bar.update(1)
        record = RunRecord(run_id, "FINISHED", tags, {}, measurements)
        self.finished[key] = record
        return record

    def _train(self, hparams: dict[str, Any], seed: int, losses: list, figures: Path) -> dict[str, float]:
        job = self.job
        steps_bar = tqdm(total=int(job.budget.get("steps", 0)) or None, leave=False, position=2, unit="step",
                         desc=f"  {job.method}/{job.dataset} seed {seed}",
                         disable=not self.settings.show_progress, mininterval=0.5)

        def loss_sink(step: int, values: dict[str, float]) -> None:
            for name, value in values.items():
                if not math.isfinite(value):
                    raise RunFailed(f"loss '{name}' became {value}", step)
                losses.append((f"{LOSS_PREFIX}{name}", value, step))

        def figure_sink(fig: Any, name: str) -> None:
            import matplotlib.pyplot as plt

            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120] or "figure"
            fig.savefig(figures / f"{safe}.png", dpi=110, bbox_inches="tight")
            plt.close(fig)

        ctx = api.RunContext(dataset=self.dataset, hparams=hparams, seed=seed,
                             device=torch.device(self.settings.device), budget=job.budget, profile=job.profile,
                             log_every=self.settings.log_every, loss_sink=loss_sink, figure_sink=figure_sink,
                             step_sink=steps_bar.update)
        try:
            ctx.seed_everything()
            result = api.METHODS[job.method_name]().train(ctx)
            measurements = dict(result.measurements)
            for metric in job.metrics:
                measurements.update(api.METRICS[metric].fn(result, ctx))
        finally:
            steps_bar.close()
        for name, value in measurements.items():
            if value is None or not math.isfinite(float(value)):
                raise RunFailed(f"measurement '{name}' is {value}")
        return {k: float(v) for k, v in measurements.items()}

    def _record_failure(self, run_id: str, losses: list, failure: RunFailed) -> None:
        self.failed += 1
        self.first_failure = self.first_failure or str(failure)
        self.runs_bar.update(1)
        self.tracker.log_metrics(run_id, losses)
        self.tracker.set_tags(run_id, {"failure": str(failure), "failure_step": str(failure.step or "")})
        self.tracker.finish(run_id, "FAILED")
