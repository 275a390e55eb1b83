"""`bench plan`: what a `bench run` would train, what is done already, and how long the rest takes here.

Each finished run records how long it trained and measured (tags ``train_seconds``, ``measure_seconds``,
``steps``). A job's estimate comes from earlier runs of the same shape (method, dataset, device, and every
hyper-parameter and budget setting but the number of steps): seconds per step times its steps, plus the
time its metrics took; its basis reads ``history (n runs)``. A job with no such history is calibrated when
asked (``--calibrate``, the default of `bench plan`): a few steps within a second or so, and its metrics once
(``benchmark.calibration``); its basis reads ``short calibration (n steps)``. A shape that the committed
step-cost table covers (``benchmark/step_costs.json``, measured by ``benchmarks/step_costs.py``) needs no
calibration: its basis names the table's machine. Every `bench run` adds history, which takes the place of a
calibration or the table from then on.
"""

from __future__ import annotations

import functools
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark import calibration
from benchmark.batch_families import methods_apart
from benchmark.calibration import Throughput
from benchmark.planner import Job, shape_of
from benchmark.tracking import CHILD, FINGERPRINT_TAG, PARENT, STATUS_TAG, RunRecord, Tracker


@dataclass
class JobEstimate:
    suite: str
    experiment: str
    method: str
    dataset: str
    profile: str
    device: str
    seeds: int
    steps: int
    runs: int  # distinct runs the job consists of (search units, and the chosen setting's other seeds)
    done: int
    estimated_seconds: float | None
    basis: str
    max_seeds: int = 0  # adaptive seeds: the most seeds the job may grow to (its seeds when it cannot grow)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def history(runs: list[RunRecord]) -> dict[str, Throughput]:
    """Seconds per step and per measuring, by shape, from the finished runs that recorded them (a resumed run
    trained only part of its steps in the time it recorded, so it is left out)."""
    per_step: dict[str, list[float]] = {}
    measure: dict[str, list[float]] = {}
    for run in runs:
        tags = run.tags
        if tags.get("bench.kind") != CHILD or run.status != "FINISHED" or "resumed_from_step" in tags:
            continue
        shape, steps = tags.get("shape"), int(tags.get("steps", "0") or 0)
        if not shape or "train_seconds" not in tags or steps <= 0:
            continue
        per_step.setdefault(shape, []).append(float(tags["train_seconds"]) / steps)
        measure.setdefault(shape, []).append(float(tags.get("measure_seconds", 0.0)))
    return {shape: Throughput(statistics.median(v), statistics.median(measure[shape]), f"history ({len(v)} runs)")
            for shape, v in per_step.items()}


STEP_COSTS = Path(__file__).with_name("step_costs.json")


@functools.cache
def committed() -> dict[str, Throughput]:
    """The step costs measured for the shipped suites' shapes (``benchmarks/step_costs.py``), by shape: what a
    fresh store's plan starts from instead of calibrating, on another machine than this one, maybe, so its
    basis names the machine. This machine's own calibrations and history take its place."""
    try:
        table = json.loads(STEP_COSTS.read_text())
    except (OSError, ValueError):
        return {}
    basis = f"step-cost table ({table.get('machine', 'unknown machine')}, {table.get('measured', '?')})"
    return {shape: Throughput(row["seconds_per_step"], row["measure_seconds"], basis)
            for shape, row in table.get("shapes", {}).items()}


def runs_of(job: Job) -> int:
    return job.n_trials + len(job.seeds) - 1


def done_of(job: Job, finished: set[str], parents: dict[str, RunRecord]) -> int:
    """How many of the job's runs are finished: all when its parent says so, else the search units and (for a
    fixed setting) the seeds whose run keys have a finished run."""
    parent = parents.get(job.fingerprint)
    if parent is not None and parent.tags.get(STATUS_TAG) == "done":
        return runs_of(job)
    if job.sweep and any(not hasattr(spec, "grid") for spec in job.sweep.values()):
        return 0  # a range sweep's settings are known only as TPE proposes them
    points = job.grid_points()
    done = sum(job.run_key(p, job.seeds[0]) in finished for p in points)
    chosen = points[0] if len(points) == 1 else _chosen(job, parents)
    if chosen is not None:
        done += sum(job.run_key(chosen, s) in finished for s in job.seeds[1:])
    return done


def _chosen(job: Job, parents: dict[str, RunRecord]) -> dict[str, Any] | None:
    """The setting a sweep chose, where the job at another seed count recorded it (adaptive seeds)."""
    for variant in job.with_seeds(job.first_seed_count).seed_variants():
        parent = parents.get(variant.fingerprint)
        if parent is not None and parent.tags.get("best_params"):
            try:
                return json.loads(parent.tags["best_params"])
            except ValueError:
                return None
    return None


def estimate(jobs: list[Job], tracker: Tracker, calibrate: bool = False, data_dir: str | None = None,
             batch: int = 36) -> list[JobEstimate]:
    """Per job: its runs, how many are done, and the seconds the rest take here. Runs that train together
    (``Job.trainer``) are calibrated as the batch they would form: up to ``batch`` runs of the plan with the
    same trainer and steps."""
    together: dict[tuple[str, int, str | None], int] = {}
    for job in jobs:
        if job.trainer != "loop":
            together[_batch_of(job)] = together.get(_batch_of(job), 0) + len(job.seeds)
    by_suite: dict[str, list[RunRecord]] = {}
    for suite in sorted({j.suite for j in jobs}):
        by_suite[suite] = tracker.runs(suite)
    every = [r for runs in by_suite.values() for r in runs]
    known = {**committed(), **calibration.saved(), **history(every)}
    calibrator = calibration.Calibrator(data_dir, len({shape_of(j) for j in jobs} - set(known))) if calibrate else None
    out = []
    for job in jobs:
        runs = by_suite.get(job.suite, [])
        finished = {r.tags.get("run_key", "") for r in runs
                    if r.tags.get("bench.kind") == CHILD and r.status == "FINISHED"}
        parents = {r.tags.get(FINGERPRINT_TAG, ""): r for r in runs if r.tags.get("bench.kind") == PARENT}
        done = done_of(job, finished, parents)
        left = runs_of(job) - done
        shape = shape_of(job)
        if shape not in known and calibrator is not None and left > 0 and not job.requires_gpu:
            members = min(max(1, batch), together.get(_batch_of(job), 1))
            measured = calibrator.calibrate(job, members if job.trainer != "loop" else 1)
            if measured is not None:
                known[shape] = measured
                calibration.save(shape, measured)
        rate = known.get(shape)
        seconds = None if rate is None else left * (job.steps * rate.seconds_per_step + rate.measure_seconds)
        if left == 0:
            seconds = 0.0
        basis = "done" if left == 0 else (rate.basis if rate else _why_unknown(job, calibrator))
        out.append(JobEstimate(job.suite, job.experiment, job.method, job.dataset, job.profile, job.device,
                               len(job.seeds), job.steps, runs_of(job), done, seconds, basis, job.seed_limit))
    return out


def _batch_of(job: Job) -> tuple[str, int, str | None]:
    """Which batch a batched job's runs would join: its trainer and steps, and its method on a device where the
    family trains methods apart (``batch_families.methods_apart``)."""
    apart = methods_apart(job.trainer.split(":", 1)[-1], job.device)
    return job.trainer, job.steps, job.method if apart else None


def _why_unknown(job: Job, calibrator: calibration.Calibrator | None) -> str:
    if job.requires_gpu:
        return "needs GPU"
    if calibrator is not None and calibrator.spent:
        return calibration.NOT_YET
    return "no earlier runs"


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def summary(estimates: list[JobEstimate]) -> str:
    left = sum(e.runs - e.done for e in estimates)
    steps = sum((e.runs - e.done) * e.steps for e in estimates)
    known = [e.estimated_seconds for e in estimates if e.estimated_seconds is not None]
    unknown = [e for e in estimates if e.estimated_seconds is None]
    text = f"{len(estimates)} jobs, {left} runs to train ({sum(e.done for e in estimates)} done), {steps:,} model steps"
    if not unknown:
        return f"{text}; estimated {clock(sum(known))} on this machine"
    reasons = ", ".join(sorted({e.basis for e in unknown}))
    if len(unknown) == len(estimates):  # a fresh store: nothing to go on, and 0:00:00 would read as "nothing left"
        return f"{text}; no estimate yet ({reasons}; `bench plan` calibrates)"
    return (f"{text}; estimated {clock(sum(known))} on this machine for {len(known)} jobs"
            f" (+ {len(unknown)} jobs without an estimate: {reasons})")


def seeds_text(e: JobEstimate) -> str:
    """The seeds column of `bench plan`: '3', or '3 (up to 10)' where adaptive seeds may add more."""
    return f"{e.seeds} (up to {e.max_seeds})" if e.max_seeds > e.seeds else f"{e.seeds}"


def worst_case(estimates: list[JobEstimate], at_most: list[JobEstimate]) -> str | None:
    """The line `bench plan` adds where adaptive seeds may grow jobs: ``at_most`` estimates the same jobs at the
    most seeds each may get. None where no job can grow."""
    growing = sum(e.max_seeds > e.seeds for e in estimates)
    if not growing:
        return None
    return (f"worst case, if every target stays inconclusive ({_count(growing, 'job')} up to "
            f"{max(e.max_seeds for e in estimates)} seeds): {summary(at_most)}")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
