"""A worker: takes units of work from the jobs' studies until every job is complete (`bench worker`).

Units are claimed atomically through the Optuna storage: a study is set up by the process whose
``create_study`` succeeded (it creates the job's parent MLflow run, enqueues every unit and marks the study
``enqueued``), and a worker takes a WAITING trial by switching it to RUNNING under a row lock. So several
processes, here or on other machines, can work on the same studies.

A RUNNING run found in MLflow is closed as KILLED when it is stale: with the default sqlite storage one
process owns a job, so every RUNNING run and trial it finds was left by a killed process; with a shared
storage (PostgreSQL) trials send heartbeats, a trial whose worker stopped beating is failed and retried
(``RetryHeartbeatStaleTrialCallback``), and an MLflow run is stale only once the trial it is tagged with is
no longer RUNNING. A trial whose setting another trial already covers (a retry racing a repair) is pruned as
a duplicate, never trained twice.

When a job is complete its parent run records the chosen setting and every run it consists of is tagged
``job.<fingerprint>``; the job's runs and parents that no longer belong to it (an edited suite) are tagged
``superseded``. Whatever happens, the parent ends in a terminal state with a ``job_status``.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from benchmark import api, studies
from benchmark.batching import train_together
from benchmark.devices import is_gpu
from benchmark.errors import DatasetMissing, DeviceBroken
from benchmark.execute import LostClaim, RunError, RunExecutor, RunFailed, RunNotPossible, RunPlace, Started
from benchmark.notes import job_note
from benchmark.planner import Job
from benchmark.progress import Progress
from benchmark.run_settings import RunSettings
from benchmark.storage import (
    Heartbeat,
    claim,
    fail_running,
    fail_stale,
    get_trial,
    open_storage,
    set_trial_attr,
    tell,
    trial_id,
)
from benchmark.tracking import (
    CHILD,
    DIVERGED_TAG,
    FINGERPRINT_TAG,
    MEMBER_PREFIX,
    PARENT,
    REASON_TAG,
    STATUS_TAG,
    SUPERSEDED_TAG,
    RunRecord,
    Tracker,
    runtime_tags,
)

TRIAL_TAG = "optuna.trial_id"


@dataclass
class JobOutcome:
    key: str
    status: str  # done | not_run | failed | pending (another worker still holds part of it)
    trained: int = 0
    reused: int = 0
    reason: str = ""
    seconds: float = 0.0


@dataclass
class _Unit:
    """A claimed unit of work: its trial, and its run (started, or read back)."""

    state: Any
    study: Any
    tid: int
    trial: Any
    phase: str
    seed: int
    place: RunPlace
    executor: RunExecutor
    begun: Started | RunRecord | None  # None: another unit of the batch trains this very run (same run key)
    started: float
    params: dict[str, Any] = field(default_factory=dict)


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
    error: str = ""  # a run raised: the job ends as failed with this reason
    searched: bool = False  # its search study is complete


class Worker:
    def __init__(self, jobs: list[Job], settings: RunSettings, progress: Progress | None = None) -> None:
        self.settings = settings
        self.tracker = Tracker(settings.tracking_uri, Path(settings.artifact_root) if settings.artifact_root else None)
        self.storage = open_storage(settings.storage_url, settings.shared, settings.heartbeat, settings.grace)
        self.states = [_JobState(j, time.monotonic(), JobOutcome(j.key, "pending")) for j in jobs]
        self.progress = progress or Progress()

    def loop(self) -> list[JobOutcome]:
        pending = list(self.states)
        try:
            while pending:
                worked = False
                for state in list(pending):
                    self.progress.job_started(state.job)
                    step = self._advance(state)
                    if step == "done":
                        pending.remove(state)
                        state.outcome.seconds = time.monotonic() - state.started
                        self.progress.job_done(state.job, state.outcome)
                    elif step == "worked":
                        worked = True
                        break  # earlier jobs first: finish what is begun before starting more
                if pending and not worked:
                    time.sleep(self.settings.poll)  # the rest is held by other workers: wait, or for staleness
        except BaseException:
            # interrupted: no parent stays RUNNING; the next `bench run` reopens them and goes on
            for state in pending:
                if state.parent:
                    self._end_parent(state, "interrupted", "interrupted before the job was complete", "KILLED")
            raise
        return [s.outcome for s in self.states]

    # ----------------------------------------------------------------------- one job
    def _advance(self, state: _JobState) -> str:
        """Do one unit of the job if one is free: 'worked', 'wait' (others hold the rest) or 'done'."""
        step = self._ready(state)
        if step is not None:
            return step
        job = state.job
        fixed = studies.fixed_setting(job)
        if state.best is None or (fixed is not None and not state.searched):
            step = self._phase(state, state.search, "search")
            if state.impossible or state.error:
                return self._finish_failed(state)
            if step != "complete":
                return step
            complete = studies.complete(state.search)
            if not complete:
                return self._finish_failed(state)
            state.best = studies.best_params(job, complete)
            state.searched = True
        if state.seeds is None:
            state.seeds = self._study(state, job.seeds_study_name(state.best), self._setup_seeds)
            if state.seeds is None:
                return "wait"
        step = self._phase(state, state.seeds, "final")
        if state.impossible or state.error:
            return self._finish_failed(state)
        if step != "complete":
            return step
        if not studies.complete(state.seeds):
            return self._finish_failed(state)
        self._close_stale_runs(state)
        self._record_members(state)
        diverged = self._diverged_seeds(state)
        self.tracker.set_tags(state.parent, {"best_params": json.dumps(state.best, sort_keys=True, default=str),
                                             "seeds": str(len(job.seeds)),
                                             **({DIVERGED_TAG: ",".join(map(str, diverged))} if diverged else {})})
        return self._finish(state, "done", "")

    def _ready(self, state: _JobState) -> str | None:
        """Set the job's studies up (and end it at once when it cannot run): None when units can be claimed,
        else what ``_advance`` answers ('wait', 'done')."""
        if state.outcome.status != "pending":  # ended while another job gathered units for a batch
            return "done"
        if not state.prepared:
            state.prepared = True
            state.job = self._without_unavailable_metrics(state)
        job = state.job
        if state.search is None:
            state.search = self._study(state, job.study_name, self._setup_search)
            if state.search is None:
                return "wait"
            reason = self._not_run_reason(state)
            if reason is not None:
                return self._finish(state, "not_run", reason)
        fixed = studies.fixed_setting(job)
        if state.best is None and fixed is not None:
            # one setting and nothing to choose: its seeds can be queued (and trained together) at once
            state.best = fixed
        if fixed is not None and state.seeds is None:
            state.seeds = self._study(state, job.seeds_study_name(state.best), self._setup_seeds)
            if state.seeds is None:
                return "wait"
        return None

    def _finish(self, state: _JobState, status: str, reason: str) -> str:
        mlflow_status = {"done": "FINISHED", "not_run": "KILLED"}.get(status, "FAILED")
        if status != "done":
            self._close_stale_runs(state)
        self._end_parent(state, status, reason, mlflow_status)
        state.outcome.status, state.outcome.reason = status, reason
        return "done"

    def _end_parent(self, state: _JobState, status: str, reason: str, mlflow_status: str) -> None:
        self.tracker.set_tags(state.parent, {STATUS_TAG: status, REASON_TAG: reason,
                                             "mlflow.note.content": job_note(state.job, status, reason)})
        self.tracker.finish(state.parent, mlflow_status)

    def _finish_failed(self, state: _JobState) -> str:
        if state.error:
            return self._finish(state, "failed", state.error)
        failures = [t for study in (state.search, state.seeds) if study is not None
                    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if t.user_attrs.get("failure")]
        impossible = [t.user_attrs["not_run"] for t in failures if t.user_attrs.get("not_run")]
        if impossible:
            return self._finish(state, "not_run", impossible[0])
        first = failures[0].user_attrs["failure"] if failures else "no run finished"
        diverged = self._diverged_seeds(state)
        if diverged:
            self.tracker.set_tags(state.parent, {DIVERGED_TAG: ",".join(map(str, diverged))})
        return self._finish(state, "diverged", f"all {len(failures)} runs diverged ({first})")

    @staticmethod
    def _diverged_seeds(state: _JobState) -> list[int]:
        """The seeds of the chosen setting whose runs diverged (and none finished): they stay in the target."""
        if state.seeds is None:
            return []
        failed = {t.params.get("seed") for t in state.seeds.get_trials(deepcopy=False, states=(TrialState.FAIL,))
                  if t.user_attrs.get("failure") and not t.user_attrs.get("not_run") and not t.user_attrs.get("error")}
        finished = {t.params.get("seed") for t in studies.complete(state.seeds)}
        return sorted(int(s) for s in failed - finished if s is not None and int(s) in state.job.seeds)

    def _record_members(self, state: _JobState) -> None:
        """Tag the runs this version of the job consists of, and mark what older versions left as superseded."""
        job, tag = state.job, MEMBER_PREFIX + state.job.fingerprint
        members: dict[str, list[str]] = {}
        for study, phase in ((state.search, "search"), (state.seeds, "final")):
            for trial in studies.complete(study):
                run_id = trial.user_attrs.get("run_id")
                if run_id:
                    members.setdefault(run_id, []).append(phase)
        records = [r for r in self.tracker.runs(job.suite, f"tags.job_key = '{_quote(job.key)}'")
                   if r.run_id in members or r.run_id == state.parent or _same_place(r, job)]
        # the job at its other seed counts is current too (adaptive seeds): neither its parent nor its runs are
        # superseded by this one
        counts = {variant.fingerprint for variant in job.seed_variants()} - {job.fingerprint}
        for record in records:
            other_count = record.tags.get(FINGERPRINT_TAG) in counts or any(
                name[len(MEMBER_PREFIX):] in counts for name in record.tags if name.startswith(MEMBER_PREFIX))
            if record.run_id == state.parent:
                self.tracker.set_tags(record.run_id, {SUPERSEDED_TAG: "0"})
            elif record.run_id in members:
                self.tracker.set_tags(record.run_id, {tag: ",".join(members[record.run_id]), SUPERSEDED_TAG: "0"})
            elif record.tags.get(SUPERSEDED_TAG) != "1" and record.status != "RUNNING" and not other_count:
                # another version's parent, or a run no current unit uses (a removed grid point, a dropped seed)
                self.tracker.set_tags(record.run_id, {SUPERSEDED_TAG: "1"})

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
        return state.job.without_metrics(tuple(skipped))

    def _not_run_reason(self, state: _JobState) -> str | None:
        job = state.job
        if job.requires_gpu and not is_gpu(self.settings.device):
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
        sampler = (optuna.samplers.TPESampler(seed=0) if isinstance(studies.units(job, "search"), int)
                   else optuna.samplers.RandomSampler(seed=0))
        created = False
        try:
            study = optuna.create_study(study_name=name, storage=self.storage, sampler=sampler, direction=direction)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=name, storage=self.storage, sampler=sampler)
        if not self.settings.shared:
            fail_running(study)  # one process per job: anything RUNNING was left by a killed process
        if not created and not study.user_attrs.get("enqueued"):
            first_seen = state.waiting_since.setdefault(name, time.monotonic())
            if self.settings.shared and time.monotonic() - first_seen < self.settings.grace:
                return None  # its creator is setting it up right now
        if created or not study.user_attrs.get("enqueued"):
            setup(state, study)
            study.set_user_attr("enqueued", True)
        if not state.parent:
            state.parent = self._parent_run(state)
        if "/seeds/" in name:
            state.best = study.user_attrs.get("params", state.best)
        return study

    def _setup_search(self, state: _JobState, study) -> None:
        studies.enqueue_missing(study, state.job, "search")

    def _setup_seeds(self, state: _JobState, study) -> None:
        assert state.best is not None
        # stored, so every worker re-runs the very setting the creator chose
        study.set_user_attr("params", json.loads(json.dumps(state.best)))
        studies.enqueue_missing(study, state.job, "final")

    def _parent_run(self, state: _JobState) -> str:
        """The job's parent MLflow run: one per fingerprint, reopened when an earlier attempt ended it."""
        job = state.job
        for record in self.tracker.runs(job.suite, f"tags.{FINGERPRINT_TAG} = '{job.fingerprint}'"):
            if record.tags.get("bench.kind") == PARENT and record.tags.get("job_key") == job.key:
                if record.status != "RUNNING":
                    self.tracker.reopen(record.run_id)
                self.tracker.set_tags(record.run_id, {STATUS_TAG: "running", REASON_TAG: ""})
                return record.run_id
        tags = {**job_tags(job, self.settings), **runtime_tags(), "bench.kind": PARENT,
                FINGERPRINT_TAG: job.fingerprint, STATUS_TAG: "running",
                "mlflow.note.content": job_note(job, "running", "")}
        params = {"method_name": job.method_name, "loader": job.loader,
                  **{f"data.{k}": v for k, v in job.dataset_params.items()},
                  **{f"budget.{k}": v for k, v in job.budget.items()},
                  "seeds": len(job.seeds), "n_trials": job.n_trials}
        return self.tracker.start(job.suite, tags, params,
                                  name=f"{job.experiment} · {job.method} · {job.dataset} · {job.profile}")

    def _phase(self, state: _JobState, study, phase: str) -> str:
        """Claim and run one unit of this phase: 'worked'; 'wait' while others hold units; 'complete'."""
        if self.settings.shared:
            fail_stale(study)
        tid = claim(study, self.settings.shared)
        if tid is not None:
            self._run_units(state, study, tid, phase)
            return "worked"
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)):
            return "wait"
        # nothing queued or running: anything still missing lost its trial for good (retries used up,
        # or failed by a process that owned the job); queue it again
        if studies.enqueue_missing(study, state.job, phase):
            return "worked"
        return "complete"

    # -------------------------------------------------------------------- units
    def _run_units(self, state: _JobState, study, tid: int, phase: str) -> None:
        """Run the claimed unit; when its method trains runs of a family together (``Method.batch_family``),
        claim more units of that family from every pending job first, and train them as one batch. A unit
        whose run another unit of the batch trains (a fixed setting's search run is its first seed's run) waits
        for it and then reads it back."""
        with ExitStack() as beats:
            taken: dict[str, _Unit] = {}
            first = self._begin_unit(state, study, tid, phase, beats, taken)
            if first is None:
                return
            family = self._family(first)
            units = [first] + (self._gather(family, beats, self.settings.batch - 1, taken) if family else [])
            self._train(units, family)
            # the units whose run another unit trained read it back (or, when it failed, train it themselves)
            followers = [u for u in units if u.begun is None]
            for unit in followers:
                unit.begun = unit.executor.start(unit.params, unit.seed, unit.phase, unit.place, self._is_stale)
            self._train(followers, family)

    def _train(self, units: list[_Unit], family: tuple | None) -> None:
        """Record the units read back, train the started ones (together, through their family's trainer: a
        batched run trains so even alone, as that is its identity) and record them."""
        together = [u for u in units if isinstance(u.begun, Started) and family is not None]
        for unit in units:
            if isinstance(unit.begun, RunRecord):
                self._end_unit(unit, record=unit.begun, trained=False)
            elif isinstance(unit.begun, Started) and unit not in together:
                self._train_alone(unit)
        if together:
            outcomes = train_together(family[0], [(u.state.job.method_name, u.begun) for u in together],
                                      [u.executor for u in together])
            for unit, outcome in zip(together, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    self._end_unit(unit, error=outcome)
                else:
                    self._end_unit(unit, result=outcome)

    def _train_alone(self, unit: _Unit) -> None:
        try:
            result = unit.executor.train(unit.begun)
        except BaseException as exc:
            self._end_unit(unit, error=exc)
            return
        self._end_unit(unit, result=result)

    def _family(self, unit: _Unit | _JobState) -> tuple | None:
        """What a run trains together with: its job's batch family (part of its identity, ``Job.trainer``), the
        steps and the device; None when it trains alone."""
        job = unit.state.job if isinstance(unit, _Unit) else unit.job
        if not job.trainer.startswith("batched:"):
            return None
        return (job.trainer.split(":", 1)[1], job.steps, self.settings.device)

    def _gather(self, family: tuple, beats: ExitStack, limit: int, taken: dict[str, _Unit]) -> list[_Unit]:
        """Claim more units of jobs whose runs train in ``family``, up to ``limit`` runs to train, from every
        pending job whose studies are set up (the others come in their turn)."""
        found: list[_Unit] = []
        for state in self.states:
            if state.outcome.status != "pending" or state.error or state.impossible or self._family(state) != family:
                continue
            if state.search is None or (state.seeds is None and studies.fixed_setting(state.job) is not None):
                step = self._ready(state)
                if step == "done":  # not run: its parent says why, and the loop counts it when it comes to it
                    continue
                if step is not None:
                    continue
            for study, phase in ((state.search, "search"), (state.seeds, "final")):
                if study is None or (phase == "final" and state.best is None):
                    continue
                # runs to train count against the limit; units read back, or waiting for a run another unit of
                # the batch trains, do not
                while sum(isinstance(u.begun, Started) for u in found) < limit:
                    tid = claim(study, self.settings.shared)
                    if tid is None:
                        # nothing queued: the units a killed process held were failed when their study was
                        # opened; queue them again (as the job's own turn would) so the batch forms again whole
                        # and resumes from its checkpoint, rather than training them one by one later
                        if not studies.enqueue_missing(study, state.job, phase):
                            break
                        continue
                    unit = self._begin_unit(state, study, tid, phase, beats, taken)
                    if unit is not None:
                        found.append(unit)
        return found

    def _begin_unit(self, state: _JobState, study, tid: int, phase: str, beats: ExitStack,
                    taken: dict[str, _Unit]) -> _Unit | None:
        """The claimed trial's run, started in MLflow (or read back when it finished before; or left unstarted
        when a unit in ``taken``, the batch's runs by key, trains it); None for a duplicate of a unit another
        trial covers."""
        import optuna

        job = state.job
        beats.enter_context(Heartbeat(study, tid, self.settings.heartbeat if self.settings.shared else 0))
        trial = optuna.trial.Trial(study, tid)
        if phase == "search":
            params, seed = studies.suggest(trial, job), job.seeds[0]
        else:
            params, seed = dict(state.best or {}), trial.suggest_categorical("seed", list(job.seeds))
        duplicate = studies.duplicate_of(study, trial, job, phase)
        if duplicate is not None:
            set_trial_attr(study, tid, "duplicate_of", duplicate)
            study.tell(trial, state=TrialState.PRUNED)
            return None
        still_claimed = ((lambda: get_trial(study, tid).state == TrialState.RUNNING)
                         if self.settings.shared else None)
        place = RunPlace(state.parent, trial.number, trial_id(trial), job_tags(job, self.settings), still_claimed)
        executor = RunExecutor(self.tracker, job, state.dataset, state.missing, self.settings, self.progress)
        key = job.run_key(params, seed)
        begun = None if key in taken else executor.start(params, seed, phase, place, self._is_stale)
        unit = _Unit(state, study, tid, trial, phase, seed, place, executor, begun, time.monotonic(), params)
        if isinstance(begun, Started):
            taken[key] = unit
        return unit

    def _end_unit(self, unit: _Unit, result: api.TrainResult | None = None, error: BaseException | None = None,
                  record: RunRecord | None = None, trained: bool = True) -> None:
        """Record the unit's run and tell its trial how it went."""
        state, study, tid, trial, job = unit.state, unit.study, unit.tid, unit.trial, unit.state.job
        try:
            if record is None:
                record = unit.executor.complete(unit.begun, unit.place, result=result, error=error)
        except RunError as failure:
            set_trial_attr(study, tid, "failure", f"error: {failure.reason}")
            set_trial_attr(study, tid, "error", failure.reason)
            state.error = failure.reason
            tell(study, trial, state=TrialState.FAIL)
            self.progress.run_done(job, unit.seed, unit.phase, "failed", time.monotonic() - unit.started)
            if failure.sticky and is_gpu(job.device):
                raise DeviceBroken(failure.reason) from failure
            return
        except RunFailed as failure:
            set_trial_attr(study, tid, "failure", str(failure))
            if isinstance(failure, RunNotPossible):
                set_trial_attr(study, tid, "not_run", failure.reason)
                state.impossible = True
            tell(study, trial, state=TrialState.FAIL)
            self.progress.run_done(job, unit.seed, unit.phase, "diverged", time.monotonic() - unit.started)
            return
        except LostClaim:
            return
        if trained:
            state.outcome.trained += 1
        else:
            state.outcome.reused += 1
        set_trial_attr(study, tid, "run_id", record.run_id)
        self.progress.run_done(job, unit.seed, unit.phase, "trained" if trained else "reused",
                               time.monotonic() - unit.started)
        value = float(record.measurements[job.objective[0]]) if job.objective and unit.phase == "search" else 0.0
        tell(study, trial, values=value)

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


def job_tags(job: Job, settings: RunSettings) -> dict[str, str]:
    return {"suite": job.suite, "experiment": job.experiment, "method": job.method, "dataset": job.dataset,
            "profile": job.profile, "device": job.device, "job_key": job.key, "method_name": job.method_name,
            "loader": job.loader, "trainer": job.trainer, "platform": job.platform, **settings.tags}


def _same_place(run: RunRecord, job: Job) -> bool:
    """Whether a run of the job's key belongs to this job's device and platform: another device's or platform's
    runs are another job's (workers on two kinds of machine share a store), never superseded by this one's. A run
    from before platforms were recorded counts as this platform's older version."""
    if run.tags.get("device", "cpu") != job.device:
        return False
    return not job.platform or run.tags.get("platform", job.platform) == job.platform


def _quote(text: str) -> str:
    return text.replace("'", "\\'")
