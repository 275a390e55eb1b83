"""What a job's studies must cover, and what they chose: functions of a job and its trials.

Per job (experiment x method x dataset) there are two studies, both named after the job's fingerprint:
1. search: one trial per unit of work: a grid point (or the single fixed setting), or for a range sweep an
   empty slot whose setting TPE proposes when a worker takes it. Each trial trains once, with the first seed.
2. seeds: once the search is complete, one trial per seed of the chosen setting, in a study named after that
   setting, so a sweep that chooses another setting after an edit gets a new seeds study.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import TrialState

from benchmark.planner import Job
from benchmark.storage import get_trial, trial_id
from benchmark.suite import GridSpec, RangeSpec


def counts_as_visited(trial) -> bool:
    """A setting is covered once it finished or diverged; trials failed because a worker died are not, nor
    those that lacked a file or raised an error (the next `bench run`, perhaps fixed, tries them again)."""
    if trial.state == TrialState.COMPLETE:
        return True
    attrs = trial.user_attrs
    return (trial.state == TrialState.FAIL and bool(attrs.get("failure")) and not attrs.get("not_run")
            and not attrs.get("error"))


def identity(trial) -> dict[str, Any]:
    return {**trial.system_attrs.get("fixed_params", {}), **trial.params}


def frozen(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def units(job: Job, phase: str) -> list[dict[str, Any]] | int:
    """What a phase must cover: its points, or (TPE) how many trials."""
    if phase == "final":
        return [{"seed": s} for s in job.seeds]
    if any(isinstance(s, RangeSpec) for s in job.sweep.values()):
        return job.n_trials
    return job.grid_points()  # [{}] for a job without a sweep


def enqueue_missing(study, job: Job, phase: str) -> int:
    """Queue every unit neither covered nor queued nor running; returns how many were queued."""
    trials = study.get_trials(deepcopy=False)
    live = [t for t in trials if counts_as_visited(t) or t.state in (TrialState.WAITING, TrialState.RUNNING)]
    wanted = units(job, phase)
    if isinstance(wanted, int):
        missing = wanted - len(live)
        for _ in range(max(0, missing)):
            study.enqueue_trial({})
        return max(0, missing)
    have = {frozen(identity(t)) for t in live}
    added = 0
    for point in wanted:
        if frozen(point) not in have:
            study.enqueue_trial(point)
            added += 1
    return added


def duplicate_of(study, trial, job: Job, phase: str) -> int | None:
    """The number of an earlier trial that already covers this one's unit, if any.

    Two trials can hold the same unit when a repair races a retry; the one with the lowest number
    among those running or done keeps it, so exactly one of them trains."""
    me = get_trial(study, trial_id(trial))
    others = [t for t in study.get_trials(deepcopy=False) if t.number != me.number and (
        counts_as_visited(t) or (t.state == TrialState.RUNNING and t.number < me.number))]
    if isinstance(units(job, phase), int):
        # TPE slots have no identity but their count: a slot beyond n_trials is surplus
        return others[0].number if len(others) >= job.n_trials else None
    mine = frozen(identity(me))
    for t in others:
        if frozen(identity(t)) == mine:
            return t.number
    return None


def fixed_setting(job: Job) -> dict[str, Any] | None:
    """The job's one setting when its sweep has nothing to choose (no sweep, or a grid of one point); else None."""
    if any(isinstance(s, RangeSpec) for s in job.sweep.values()):
        return None
    points = job.grid_points()
    return dict(points[0]) if len(points) == 1 else None


def complete(study) -> list:
    return list(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def best_params(job: Job, trials: list) -> dict[str, Any]:
    if job.objective is None:
        return dict(trials[0].params)
    sign = 1.0 if job.objective[1] == "minimize" else -1.0
    # ties go to the lowest trial number, so every worker picks the same setting
    return dict(min(trials, key=lambda t: (sign * t.value, t.number)).params)


def suggest(trial, job: Job) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in sorted(job.sweep.items()):
        if isinstance(spec, GridSpec):
            params[name] = trial.suggest_categorical(name, list(spec.grid))
        elif isinstance(spec, RangeSpec) and spec.integer:
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
        else:
            params[name] = trial.suggest_float(name, spec.low, spec.high, log=spec.log)
    return params
