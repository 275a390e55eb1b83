"""Runs planned jobs: Optuna decides what to train, MLflow records it, and any number of workers share the work.

Per job (experiment x method x dataset):
1. search: an Optuna study named after the job holds one trial per unit of work: a grid point
   (or the single fixed setting), or for a range sweep an empty slot whose setting TPE proposes when
   a worker takes it. Each trial trains once, with the first seed.
2. seeds: once the search is complete, a second study ``<job key>/seeds`` holds one trial per seed of
   the best setting; the first seed's run is the search run, read back, not retrained.

Units of work are claimed atomically through the Optuna storage: a study is set up by the process
whose ``create_study`` succeeded (it creates the parent MLflow run, enqueues every unit and marks the
study ``enqueued``), and a worker takes a WAITING trial by switching it to RUNNING under a row lock.
So several processes, here or on other machines (``bench worker``), can work on the same studies.

A run's identity is a hash of everything that determines its training (``Job.run_key``). Before
training, the MLflow runs with that key are read back: a FINISHED one is reused. A RUNNING one is
closed as KILLED when it is stale: with the default sqlite storage one process owns a job, so every
RUNNING run and trial it finds was left by a killed process; with a shared storage (PostgreSQL)
trials send heartbeats, a trial whose worker stopped beating is failed and retried
(``RetryHeartbeatStaleTrialCallback``), and an MLflow run is stale only once the trial it is tagged with is
no longer RUNNING. A trial whose setting another trial already covers (a retry racing a repair) is
pruned as a duplicate, never trained twice. Long runs resume from their last checkpoint
(``RunContext.checkpoint``/``restore``), kept under ``$BENCH_HOME/checkpoints/<run_key>.pt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import queue
import tempfile
import threading
import time
import warnings
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
from benchmark.tracking import (
    CHILD,
    LOSS_PREFIX,
    MISSING_TAG,
    PARENT,
    RunRecord,
    Tracker,
    database_url,
    runtime_tags,
    safe_child,
)

SEEDS_SUFFIX = "/seeds"
TRIAL_TAG = "optuna.trial_id"  # ties an MLflow run to the trial that claimed it (staleness check)


class RunFailed(Exception):
    def __init__(self, reason: str, step: int | None = None) -> None:
        self.reason = reason
        self.step = step
        super().__init__(reason if step is None else f"{reason} at step {step}")


class RunNotPossible(RunFailed):
    """A file the run needs is missing (raised as DatasetMissing by the method or by the objective's metric):
    the job is `not run` with this reason, not diverged."""


class _LostClaim(Exception):
    """Our trial was failed as stale while we trained (a stall longer than the grace period)."""


@dataclass
class JobOutcome:
    key: str
    status: str  # done | not_run | failed | pending (another worker still holds part of it)
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
    # shared: other processes may work on the same studies (heartbeats decide what is stale);
    # otherwise one process owns each job and whatever it finds RUNNING was left by a killed one.
    shared: bool = False
    heartbeat: int = 10  # seconds between a trial's heartbeats; a trial silent 5x this long is retried
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0  # steps between checkpoints; 0: a tenth of the run's steps
    poll: float = 0.5  # seconds between looks at the studies while other workers hold the rest

    @property
    def grace(self) -> int:
        return 5 * self.heartbeat


def is_shared_storage(url: str) -> bool:
    """sqlite is one machine's file and one process's job; anything else is a server many workers share."""
    return not url.startswith("sqlite:")


def resolve_device(requested: str | None) -> str:
    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was requested but torch sees no GPU on this machine", field="--device")
    if requested not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{requested}' (use cpu or cuda)", field="--device")
    return requested


# ----------------------------------------------------------------------------- storage


def open_storage(settings: RunSettings):
    """The Optuna storage, with heartbeats and retries of dead workers' trials when it is shared."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*Heartbeat of storage.*")
    kwargs: dict[str, Any] = {}
    if settings.shared:
        kwargs = {"heartbeat_interval": settings.heartbeat, "grace_period": settings.grace,
                  "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=20)}
    engine: dict[str, Any] = {"pool_pre_ping": True} if is_shared_storage(settings.storage_url) else {}
    for attempt in range(5):
        try:
            storage = RDBStorage(database_url(settings.storage_url), engine_kwargs=engine, **kwargs)
            storage.get_all_studies()  # reads a table: fails now on a locked file or a refused connection
            return storage
        except Exception as exc:  # an unreachable, locked or unwritable storage is a setting the user gave
            # workers starting together on an empty database race to create Optuna's tables: the losers retry
            if attempt < 4 and any(word in str(exc) for word in ("duplicate key", "already exists")):
                time.sleep(0.5 + attempt)
                continue
            raise UserError(f"cannot open the Optuna storage: {_first_line(exc)}", field="--storage",
                            file=_redact(settings.storage_url)) from None
    raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # SQLAlchemy wraps the driver's message as "(driver.Error) message"; keep the message
    line = text.splitlines()[0] if text else exc.__class__.__name__
    if line.startswith("(") and ") " in line:
        line = line.split(") ", 1)[1]
    return line[:200]


def _redact(url: str) -> str:
    """A storage URL as printed: without a password."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


# ------------------------------------------------------------------------------ workers


def run_jobs(jobs: list[Job], settings: RunSettings, workers: int = 1) -> list[JobOutcome]:
    """Train what the jobs need with ``workers`` processes; returns one outcome per job, in job order."""
    if workers <= 1:
        return work(jobs, settings)
    quiet = RunSettings(**{**settings.__dict__, "show_progress": False})
    if settings.shared:
        # every process works on every job: units are claimed through the storage
        results = _in_processes([(jobs, quiet)] * workers, workers)
    else:
        # one process per job at a time: a sqlite file is not for concurrent writers to one study
        results = _in_processes([([job], quiet) for job in jobs], workers)
    return merge_outcomes(jobs, results)


def merge_outcomes(jobs: list[Job], results: list[list[JobOutcome]]) -> list[JobOutcome]:
    merged: dict[str, JobOutcome] = {}
    for outcomes in results:
        for o in outcomes:
            m = merged.setdefault(o.key, JobOutcome(o.key, "pending"))
            m.trained += o.trained
            m.reused += o.reused
            m.seconds = max(m.seconds, o.seconds)
            if m.status == "pending" and o.status != "pending":
                m.status, m.reason = o.status, o.reason
    return [merged.get(job.key, JobOutcome(job.key, "pending", reason="its worker died")) for job in jobs]


def _in_processes(tasks: list[tuple[list[Job], RunSettings]], workers: int) -> list[list[JobOutcome]]:
    """Run ``work`` over tasks in at most ``workers`` processes. A process that dies (killed) loses only
    its own report: what it trained is in MLflow and what it held is retried by the others."""
    ctx = multiprocessing.get_context("spawn")
    results: queue.Queue = ctx.Queue()
    todo = list(enumerate(tasks))
    running: dict[int, Any] = {}
    collected: list[list[JobOutcome]] = []
    errors: list[str] = []
    crashes: list[str] = []
    while todo or running:
        while todo and len(running) < workers:
            index, (jobs, settings) = todo.pop(0)
            proc = ctx.Process(target=_process_main, args=(jobs, settings, workers, results), daemon=False)
            proc.start()
            running[index] = proc
        try:
            kind, payload = results.get(timeout=1.0)
            {"ok": collected, "error": errors, "crash": crashes}[kind].append(payload)
        except queue.Empty:
            pass
        for index, proc in list(running.items()):
            if not proc.is_alive():
                proc.join(timeout=5)
                del running[index]
    while True:  # reports that arrived as their process exited
        try:
            kind, payload = results.get(timeout=0.2)
        except queue.Empty:
            break
        {"ok": collected, "error": errors, "crash": crashes}[kind].append(payload)
    if errors:
        raise UserError(errors[0])
    if crashes:
        raise RuntimeError(crashes[0])
    return collected


def _process_main(jobs: list[Job], settings: RunSettings, workers: int, results) -> None:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    try:
        results.put(("ok", work(jobs, settings)))
    except UserError as err:
        results.put(("error", str(err)))
    except Exception as exc:  # a bug, not a user's mistake: say so in the parent instead of a silent gap
        results.put(("crash", f"a worker process failed: {exc.__class__.__name__}: {str(exc)[:300]}"))
        raise


def work(jobs: list[Job], settings: RunSettings) -> list[JobOutcome]:
    """Take units of work from the jobs' studies until every job is complete; this is `bench worker`."""
    api.load_plugins()
    worker = _Worker(jobs, settings)
    try:
        return worker.loop()
    finally:
        worker.close()


@dataclass
class _JobState:
    job: Job
    started: float
    outcome: JobOutcome
    parent: str = ""
    search: Any = None
    seeds: Any = None
    best: dict[str, Any] | None = None
    dataset: api.Dataset | None = None
    waiting_since: dict[str, float] = field(default_factory=dict)
    cleaned: bool = False
    prepared: bool = False
    missing: dict[str, str] = field(default_factory=dict)  # measurement -> why its metric cannot run
    impossible: bool = False  # a run found a file missing that the job cannot do without


class _Worker:
    def __init__(self, jobs: list[Job], settings: RunSettings) -> None:
        self.settings = settings
        self.tracker = Tracker(settings.tracking_uri, Path(settings.artifact_root) if settings.artifact_root else None)
        self.storage = open_storage(settings)
        self.states = [_JobState(j, time.monotonic(), JobOutcome(j.key, "pending")) for j in jobs]
        show = settings.show_progress
        self.jobs_bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not show, position=0)
        self.runs_bar = tqdm(total=sum(j.n_trials + len(j.seeds) - 1 for j in jobs), desc=" runs", unit="run",
                             leave=False, position=1, disable=not show)

    def close(self) -> None:
        self.runs_bar.close()
        self.jobs_bar.close()

    def loop(self) -> list[JobOutcome]:
        pending = list(self.states)
        while pending:
            worked = False
            for state in list(pending):
                self.jobs_bar.set_postfix_str(f"{state.job.experiment}/{state.job.method}/{state.job.dataset}")
                step = self._advance(state)
                if step == "done":
                    pending.remove(state)
                    state.outcome.seconds = time.monotonic() - state.started
                    self.jobs_bar.update(1)
                elif step == "worked":
                    worked = True
                    break  # earlier jobs first: finish what is begun before starting more
            if pending and not worked:
                time.sleep(self.settings.poll)  # the rest is held by other workers: wait for them, or for staleness
        return [s.outcome for s in self.states]

    # ----------------------------------------------------------------------- one job
    def _advance(self, state: _JobState) -> str:
        """Do one unit of the job if one is free: 'worked', 'wait' (others hold the rest) or 'done'."""
        if not state.prepared:
            state.prepared = True
            state.job = self._without_unavailable_metrics(state)
        job = state.job
        if state.search is None:
            state.search = self._study(state, job.key, self._setup_search)
            if state.search is None:
                return "wait"
            reason = self._not_run_reason(state)
            if reason is not None:
                self.tracker.set_tags(state.parent, {"not_run_reason": reason, "job_status": "not_run"})
                state.outcome.status, state.outcome.reason = "not_run", reason
                return "done"
        if state.best is None:
            step = self._phase(state, state.search, "search")
            if state.impossible:
                return self._finish_failed(state)
            if step != "complete":
                return step
            complete = _complete(state.search)
            if not complete:
                return self._finish_failed(state)
            state.best = _best_params(job, state.search, complete)
        if state.seeds is None:
            state.seeds = self._study(state, job.key + SEEDS_SUFFIX, self._setup_seeds)
            if state.seeds is None:
                return "wait"
        step = self._phase(state, state.seeds, "final")
        if state.impossible:
            return self._finish_failed(state)
        if step != "complete":
            return step
        if not _complete(state.seeds):
            return self._finish_failed(state)
        self._close_stale_runs(state)
        self.tracker.set_tags(state.parent, {"job_status": "done", "not_run_reason": "",
                                             "best_params": repr(state.best), "seeds": str(len(job.seeds))})
        self.tracker.finish(state.parent, "FINISHED")
        state.outcome.status = "done"
        return "done"

    def _finish_failed(self, state: _JobState) -> str:
        failures = [t for study in (state.search, state.seeds) if study is not None
                    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if t.user_attrs.get("failure")]
        impossible = [t.user_attrs["not_run"] for t in failures if t.user_attrs.get("not_run")]
        first = failures[0].user_attrs["failure"] if failures else "no run finished"
        status, reason = ("not_run", impossible[0]) if impossible else (
            "failed", f"all {len(failures)} runs diverged ({first})")
        self._close_stale_runs(state)
        self.tracker.set_tags(state.parent, {"job_status": status, "not_run_reason": reason})
        self.tracker.finish(state.parent, "FAILED")
        state.outcome.status, state.outcome.reason = status, reason
        return "done"

    def _data_dir(self) -> Path | None:
        return Path(self.settings.data_dir) if self.settings.data_dir else None

    def _without_unavailable_metrics(self, state: _JobState) -> Job:
        """The job without the metrics whose files are missing (``Metric.requires``); their measurements
        are remembered with the reason, for the runs' tags and for `_not_run_reason`."""
        skipped = []
        for name in state.job.metrics:
            metric = api.METRICS[name]
            if metric.requires is None:
                continue
            try:
                metric.requires(self._data_dir())
            except DatasetMissing as missing:
                skipped.append(name)
                for measurement in metric.produces:
                    state.missing.setdefault(measurement, str(missing))
        if not skipped:
            return state.job
        return dataclasses.replace(state.job, metrics=[m for m in state.job.metrics if m not in skipped],
                                   skipped_metrics=tuple(skipped))

    def _not_run_reason(self, state: _JobState) -> str | None:
        job = state.job
        if job.requires_gpu and self.settings.device != "cuda":
            return "needs GPU"
        # not worth training when the objective, or everything the targets read, cannot be measured
        needed = list(job.needs) + ([job.objective[0]] if job.objective else [])
        if job.objective and job.objective[0] in state.missing:
            return state.missing[job.objective[0]]
        if job.skipped_metrics:
            if needed and all(m in state.missing for m in needed):
                return state.missing[needed[0]]
            if not needed and not job.metrics and not api.METHODS[job.method_name].produces:
                return next(iter(state.missing.values()))
        try:
            state.dataset = api.DATASETS[job.loader](data_dir=self._data_dir(), **job.dataset_params)
        except DatasetMissing as missing:
            return str(missing)
        return None

    # ------------------------------------------------------------------ studies
    def _study(self, state: _JobState, name: str, setup) -> Any:
        """The study ``name``, set up exactly once: by its creator, or by anyone once the creator has been
        silent for the grace period (it died between creating and enqueueing). None: not ready yet."""
        import optuna

        job = state.job
        direction = job.objective[1] if job.objective else "minimize"
        sampler = (optuna.samplers.TPESampler(seed=0) if any(isinstance(s, RangeSpec) for s in job.sweep.values())
                   else optuna.samplers.RandomSampler(seed=0))
        created = False
        try:
            study = optuna.create_study(study_name=name, storage=self.storage, sampler=sampler, direction=direction)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=self.storage, sampler=sampler)
        if not self.settings.shared:
            _fail_running(study)  # one process per job: anything RUNNING was left by a killed process
        if not created and not study.user_attrs.get("enqueued"):
            first_seen = state.waiting_since.setdefault(name, time.monotonic())
            if self.settings.shared and time.monotonic() - first_seen < self.settings.grace:
                return None  # its creator is setting it up right now
        if created or not study.user_attrs.get("enqueued"):
            setup(state, study)
            study.set_user_attr("enqueued", True)
        state.parent = state.parent or study.user_attrs.get("parent_run_id", "")
        if name == job.key and not state.parent:  # a study from before parents were recorded in it
            state.parent = self._parent_run(state)
            study.set_user_attr("parent_run_id", state.parent)
        if name.endswith(SEEDS_SUFFIX):
            state.best = study.user_attrs.get("params", state.best)
        return study

    def _setup_search(self, state: _JobState, study) -> None:
        state.parent = self._parent_run(state)
        study.set_user_attr("parent_run_id", state.parent)
        _enqueue_missing(study, state.job, "search")

    def _setup_seeds(self, state: _JobState, study) -> None:
        assert state.best is not None
        # stored, so every worker re-runs the very setting the creator chose
        study.set_user_attr("params", json.loads(json.dumps(state.best)))
        _enqueue_missing(study, state.job, "final")

    def _parent_run(self, state: _JobState) -> str:
        job = state.job
        for record in self.tracker.runs(job.suite, f"tags.job_key = '{_quote(job.key)}'"):
            if record.tags.get("bench.kind") == PARENT:
                return record.run_id
        tags = {**_job_tags(job, self.settings), **runtime_tags(), "bench.kind": PARENT}
        params = {"method_name": job.method_name, "loader": job.loader,
                  **{f"data.{k}": v for k, v in job.dataset_params.items()},
                  **{f"budget.{k}": v for k, v in job.budget.items()},
                  "seeds": len(job.seeds), "n_trials": job.n_trials}
        return self.tracker.start(job.suite, tags, params, name=f"{job.experiment}/{job.method}/{job.dataset}")

    def _phase(self, state: _JobState, study, phase: str) -> str:
        """Claim and run one unit of this phase: 'worked'; 'wait' while others hold units; 'complete'."""
        if self.settings.shared:
            _fail_stale(study)
        trial_id = self._claim(study)
        if trial_id is not None:
            self._run_unit(state, study, trial_id, phase)
            return "worked"
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)):
            return "wait"
        # nothing queued or running: anything still missing lost its trial for good (retries used up,
        # or failed by a process that owned the job); queue it again
        if _enqueue_missing(study, state.job, phase):
            return "worked"
        return "complete"

    def _claim(self, study) -> int | None:
        for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            if self.settings.shared:
                # beat first: a trial claimed by a worker that dies right after is then never without a heartbeat
                study._storage.record_heartbeat(trial._trial_id)
            try:
                if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                    return trial._trial_id
            except Exception:  # finished meanwhile by another worker
                continue
        return None

    # -------------------------------------------------------------------- units
    def _run_unit(self, state: _JobState, study, trial_id: int, phase: str) -> None:
        import optuna

        job = state.job
        with _Heartbeat(study._storage, trial_id, self.settings.heartbeat if self.settings.shared else 0):
            trial = optuna.trial.Trial(study, trial_id)
            if phase == "search":
                params, seed = _suggest(trial, job), job.seeds[0]
            else:
                params, seed = dict(state.best or {}), trial.suggest_categorical("seed", list(job.seeds))
            duplicate = _duplicate_of(study, trial, job, phase)
            if duplicate is not None:
                study._storage.set_trial_user_attr(trial_id, "duplicate_of", duplicate)
                study.tell(trial, state=TrialState.PRUNED)
                return
            executor = _RunExecutor(self, state, study, trial)
            try:
                record = executor.run(params, seed, phase)
            except RunFailed as failure:
                study._storage.set_trial_user_attr(trial_id, "failure", str(failure))
                if isinstance(failure, RunNotPossible):
                    study._storage.set_trial_user_attr(trial_id, "not_run", failure.reason)
                    state.impossible = True
                _tell(study, trial, state=TrialState.FAIL)
                return
            except _LostClaim:
                return
            value = float(record.measurements[job.objective[0]]) if job.objective and phase == "search" else 0.0
            _tell(study, trial, values=value)

    def _close_stale_runs(self, state: _JobState) -> None:
        """No MLflow run of a finished job stays RUNNING: close those whose trial no longer runs."""
        if state.cleaned:
            return
        state.cleaned = True
        for record in self.tracker.runs(state.job.suite, f"tags.job_key = '{_quote(state.job.key)}'"):
            if record.tags.get("bench.kind") == CHILD and record.status == "RUNNING" and self._is_stale(record):
                self.tracker.finish(record.run_id, "KILLED")

    def _is_stale(self, record: RunRecord) -> bool:
        if not self.settings.shared or TRIAL_TAG not in record.tags:
            return True
        try:
            return self.storage.get_trial(int(record.tags[TRIAL_TAG])).state != TrialState.RUNNING
        except (KeyError, ValueError):
            return True


def _tell(study, trial, **kwargs) -> None:
    import optuna

    try:
        study.tell(trial, **kwargs)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError, RuntimeError):
        pass  # failed as stale meanwhile; its retry finds this run FINISHED in MLflow and reuses it


class _Heartbeat:
    """Keeps a claimed trial's heartbeat fresh while this process works on it."""

    def __init__(self, storage, trial_id: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if self.interval > 0:
            self.thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{self.trial_id}")
            self.thread.start()
        return self

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a dropped connection: the next beat retries; a long gap means retry elsewhere
                continue

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


# ----------------------------------------------------------------------------- study helpers


def _fail_running(study) -> None:
    """A trial still RUNNING when its job starts belongs to a process that died (one process runs a job)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "killed", True)
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except Exception:  # finished meanwhile
            continue


def _fail_stale(study) -> None:
    """Fail (and so retry) the trials whose worker stopped sending heartbeats."""
    from optuna.storages import fail_stale_trials

    fail_stale_trials(study)


def _counts_as_visited(trial) -> bool:
    """A setting is covered once it finished or diverged; trials failed because a worker died are not, nor
    those that lacked a file (the next `bench run`, perhaps with the file, tries them again)."""
    if trial.state == TrialState.COMPLETE:
        return True
    return (trial.state == TrialState.FAIL and bool(trial.user_attrs.get("failure"))
            and not trial.user_attrs.get("not_run"))


def _identity(trial) -> dict[str, Any]:
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


def _frozen(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _units(job: Job, phase: str) -> list[dict[str, Any]] | int:
    """What a phase must cover: its points, or (TPE) how many trials."""
    if phase == "final":
        return [{"seed": s} for s in job.seeds]
    if any(isinstance(s, RangeSpec) for s in job.sweep.values()):
        return job.n_trials
    return job.grid_points()  # [{}] for a job without a sweep


def _enqueue_missing(study, job: Job, phase: str) -> int:
    """Queue every unit neither covered nor queued nor running; returns how many were queued."""
    trials = study.get_trials(deepcopy=False)
    live = [t for t in trials if _counts_as_visited(t) or t.state in (TrialState.WAITING, TrialState.RUNNING)]
    units = _units(job, phase)
    if isinstance(units, int):
        missing = units - len(live)
        for _ in range(max(0, missing)):
            study.enqueue_trial({})
        return max(0, missing)
    have = {_frozen(_identity(t)) for t in live}
    added = 0
    for point in units:
        if _frozen(point) not in have:
            study.enqueue_trial(point)
            added += 1
    return added


def _duplicate_of(study, trial, job: Job, phase: str) -> int | None:
    """The number of an earlier trial that already covers this one's unit, if any.

    Two trials can hold the same unit when a repair races a retry; the one with the lowest number
    among those running or done keeps it, so exactly one of them trains."""
    me = study._storage.get_trial(trial._trial_id)
    others = [t for t in study.get_trials(deepcopy=False) if t.number != me.number and (
        _counts_as_visited(t) or (t.state == TrialState.RUNNING and t.number < me.number))]
    if isinstance(_units(job, phase), int):
        # TPE slots have no identity but their count: a slot beyond n_trials is surplus
        return others[0].number if len(others) >= job.n_trials else None
    mine = _frozen(_identity(me))
    for t in others:
        if _frozen(_identity(t)) == mine:
            return t.number
    return None


def _complete(study) -> list:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]


def _best_params(job: Job, study, complete: list) -> dict[str, Any]:
    if job.objective is None:
        return dict(complete[0].params)
    sign = 1.0 if job.objective[1] == "minimize" else -1.0
    # ties go to the lowest trial number, so every worker picks the same setting
    return dict(min(complete, key=lambda t: (sign * t.value, t.number)).params)


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def _job_tags(job: Job, settings: RunSettings) -> dict[str, str]:
    return {"suite": job.suite, "experiment": job.experiment, "method": job.method, "dataset": job.dataset,
            "profile": job.profile, "device": settings.device, "job_key": job.key, **settings.tags}


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
    """Trains one run of one claimed trial, or reads it back when a run with its key already finished."""

    def __init__(self, worker: _Worker, state: _JobState, study, trial) -> None:
        self.worker, self.state, self.study, self.trial = worker, state, study, trial
        self.job, self.settings, self.tracker = state.job, worker.settings, worker.tracker

    def run(self, params: dict[str, Any], seed: int, phase: str) -> RunRecord:
        job = self.job
        key = job.run_key(params, seed)
        found = self.tracker.runs(job.suite, f"tags.run_key = '{key}'")
        done = [r for r in found if r.tags.get("bench.kind") == CHILD and r.status == "FINISHED"]
        if done:
            record = done[0]
            if phase == "final" and record.tags.get("final") != "1":
                self.tracker.set_tags(record.run_id, {"final": "1"})
                record.tags["final"] = "1"
            self.state.outcome.reused += 1
            self.worker.runs_bar.update(1)
            return record
        for stale in (r for r in found if r.status == "RUNNING" and r.tags.get("bench.kind") == CHILD):
            if self.worker._is_stale(stale):
                self.tracker.finish(stale.run_id, "KILLED")
        hparams = {**job.hparams, **params}
        tags = {**_job_tags(job, self.settings), **runtime_tags(), "bench.kind": CHILD, "seed": str(seed),
                "phase": phase, "run_key": key, "final": "1" if phase == "final" else "0",
                "trial": str(self.trial.number), TRIAL_TAG: str(self.trial._trial_id),
                "worker": f"{os.uname().nodename}:{os.getpid()}"}
        run_id = self.tracker.start(job.suite, tags, {**hparams, **{f"budget.{k}": v for k, v in
                                                                    job.budget.items()}, "seed": seed},
                                    parent_id=self.state.parent, name=f"{job.method}/{job.dataset}/s{seed}/{phase}")
        checkpoints = _Checkpoints(self.settings, key)
        losses: list[tuple[str, float, int]] = []
        with tempfile.TemporaryDirectory(prefix="bench-fig-") as tmp:
            figures = Path(tmp)
            try:
                measurements = self._train(hparams, seed, losses, figures, checkpoints, run_id)
            except RunFailed as failure:
                self._record_failure(run_id, losses, failure)
                checkpoints.clear()
                raise
            except (FloatingPointError, ValueError, RuntimeError) as exc:
                failure = RunFailed(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
                self._record_failure(run_id, losses, failure)
                checkpoints.clear()
                raise failure from exc
            missing = {k: v for k, v in self.state.missing.items() if k not in measurements}
            if missing:
                self.tracker.set_tags(run_id, {MISSING_TAG: json.dumps(missing, sort_keys=True)})
            self.tracker.log_metrics(run_id, losses + [(k, v, 0) for k, v in sorted(measurements.items())])
            for png in sorted(figures.glob("*.png")):
                self.tracker.log_artifact(run_id, png, "figures")
        if self.settings.shared and self.study._storage.get_trial(self.trial._trial_id).state != TrialState.RUNNING:
            # we stalled past the grace period and our unit was handed to another worker: leave it to them
            self.tracker.set_tags(run_id, {"failure": "claim lost: the trial was retried by another worker"})
            self.tracker.finish(run_id, "KILLED")
            raise _LostClaim()
        self.tracker.finish(run_id, "FINISHED")
        checkpoints.clear()
        self.state.outcome.trained += 1
        self.worker.runs_bar.update(1)
        return RunRecord(run_id, "FINISHED", tags, {}, measurements)

    def _train(self, hparams: dict[str, Any], seed: int, losses: list, figures: Path, checkpoints: _Checkpoints,
               run_id: str) -> dict[str, float]:
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

            fig.savefig(safe_child(figures, name, ".png"), dpi=110, bbox_inches="tight")
            plt.close(fig)

        def restored(step: int, saved_losses: list) -> None:
            losses[:] = [tuple(row) for row in saved_losses]  # the history before the restart stays whole
            steps_bar.update(step)
            self.tracker.set_tags(run_id, {"resumed_from_step": str(step)})

        # how often is not part of the run's identity: it changes no number the run produces
        every = self.settings.checkpoint_every or max(1, int(job.budget.get("steps", 1000)) // 10)
        ctx = api.RunContext(dataset=self.state.dataset, hparams=hparams, seed=seed,
                             device=torch.device(self.settings.device), budget=job.budget, profile=job.profile,
                             log_every=self.settings.log_every, loss_sink=loss_sink, figure_sink=figure_sink,
                             step_sink=steps_bar.update, checkpoint_every=every,
                             checkpoint_store=checkpoints.bind(losses, restored))
        try:
            ctx.seed_everything()
            try:
                result = api.METHODS[job.method_name]().train(ctx)
            except DatasetMissing as missing:
                raise RunNotPossible(str(missing)) from None
            measurements = dict(result.measurements)
            for metric in job.metrics:
                try:
                    measurements.update(api.METRICS[metric].fn(result, ctx))
                except DatasetMissing as missing:  # found out only now: the other metrics still count
                    for name in api.METRICS[metric].produces:
                        self.state.missing.setdefault(name, str(missing))
        finally:
            steps_bar.close()
        if job.objective and job.objective[0] in self.state.missing and job.objective[0] not in measurements:
            raise RunNotPossible(self.state.missing[job.objective[0]])
        for name, value in measurements.items():
            if value is None or not math.isfinite(float(value)):
                raise RunFailed(f"measurement '{name}' is {value}")
        return {k: float(v) for k, v in measurements.items()}

    def _record_failure(self, run_id: str, losses: list, failure: RunFailed) -> None:
        self.worker.runs_bar.update(1)
        self.tracker.log_metrics(run_id, losses)
        self.tracker.set_tags(run_id, {"failure": str(failure), "failure_step": str(failure.step or "")})
        self.tracker.finish(run_id, "FAILED")


class _Checkpoints:
    """Where one run's checkpoint lives: ``<checkpoint dir>/<run_key>.pt``, written atomically."""

    def __init__(self, settings: RunSettings, run_key: str) -> None:
        from benchmark.tracking import bench_home

        root = Path(settings.checkpoint_dir) if settings.checkpoint_dir else bench_home() / "checkpoints"
        self.path = safe_child(root, run_key, ".pt")

    def bind(self, losses: list, on_restore) -> api.CheckpointStore:
        return api.CheckpointStore(save=lambda step, state: self._save(step, state, losses),
                                   load=lambda: self._load(on_restore))

    def _save(self, step: int, state: dict[str, Any], losses: list) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        torch.save({"step": step, "state": state, "losses": list(losses)}, tmp)
        os.replace(tmp, self.path)  # a kill mid-write leaves the previous checkpoint, never half of one

    def _load(self, on_restore) -> tuple[int, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # unreadable: start over rather than fail the run
            return None
        on_restore(int(saved["step"]), saved.get("losses", []))
        return int(saved["step"]), saved["state"]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
