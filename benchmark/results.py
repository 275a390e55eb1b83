"""Reads what ran back from MLflow and judges every target of a suite (`bench compare`).

Read-back takes only the runs of the suite's current plan: for each profile the plan is computed again, each
job's fingerprint looked up among the parent runs, and only the runs tagged as members of a complete job of
that fingerprint are read. Runs of older versions of a suite (another budget, a removed grid point, a dropped
seed) are never read. Each target is judged on one profile, one device and one platform (the machine's
processor or GPU, ``numerics.platform_of``): the largest profile whose jobs are all complete for it, never a
mix. A store shared by machines of several kinds holds each platform's runs apart, as it holds devices apart;
this host's platform is read first, then the store's others, and every verdict names the one it comes from
(``device@platform``).
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark import curves, planner, sensitivity
from benchmark.budget import steps as budget_steps
from benchmark.catalog import catalog
from benchmark.check import Values, Verdict, judge, judge_families, outcome_of
from benchmark.numerics import Numerics, host_platform
from benchmark.planner import Job
from benchmark.suite import PROFILES, Ref, Suite, Target
from benchmark.tracking import (
    CHILD,
    DIVERGED_TAG,
    FINGERPRINT_TAG,
    MEMBER_PREFIX,
    MISSING_TAG,
    PARENT,
    REASON_TAG,
    STATUS_TAG,
    RunRecord,
    Tracker,
    provenance_of,
)

# With no --profile, each target reports the largest budget whose runs are all complete.
PREFERENCE = tuple(reversed(PROFILES))
# On one profile, CPU runs (full FP32, deterministic) are preferred where both exist.
DEVICES = ("cpu", "cuda")

Triple = tuple[str, str, str]
Place = tuple[str, str]  # (device, platform): where a job's runs trained; platform "" where it was not recorded


def place_label(device: str, platform: str) -> str:
    """How a verdict names where its runs trained: ``cpu@<processor> <capability>``; the bare device for runs
    from before platforms were recorded."""
    return f"{device}@{platform}" if platform else device


def sources(targets: list[dict[str, Any]]) -> str:
    """Which device and platform the judged targets (``Verdict.as_dict``-shaped) come from, counted:
    ``cpu@<processor> AVX2 (12 targets)``; a target from runs older than the platform tag says so."""
    counts = Counter(_source(t) for t in targets if t.get("run_ids"))
    if not counts:
        return "no platform (no target judged)"
    return "; ".join(f"{label} ({n} target{'s' if n != 1 else ''})" for label, n in counts.most_common())


def _source(target: dict[str, Any]) -> str:
    label = target.get("device") or "unknown device"
    if "@" in label:
        return label
    recorded = target.get("provenance") or {}
    processor = ", ".join(f"{model} {capability}" for model, capability in itertools.product(
        recorded.get("cpu_model", {}), recorded.get("cpu_capability", {})) if model != "not recorded")
    return f"{label} (platform not recorded{'; processor ' + processor if processor else ''})"


@dataclass
class JobRecord:
    """One job of the current plan as MLflow has it."""

    job: Job
    status: str = "absent"  # done | not_run | failed | diverged | running | interrupted | absent
    reason: str = ""
    parent: RunRecord | None = None
    finals: dict[int, RunRecord] = field(default_factory=dict)  # seed -> its run
    searches: dict[str, RunRecord] = field(default_factory=dict)  # setting label -> its search run

    @property
    def done(self) -> bool:
        return self.status == "done" and bool(self.finals)

    @property
    def decided(self) -> bool:
        """Finished with an answer: its seeds' values, or every run diverged (a result too)."""
        return self.done or self.status == "diverged"

    @property
    def diverged(self) -> list[int]:
        """The chosen setting's seeds whose runs diverged; where every run did and the seeds are not recorded
        (a store from before the tag), all of the job's seeds."""
        tag = self.parent.tags.get(DIVERGED_TAG, "") if self.parent is not None else ""
        seeds = [int(s) for s in tag.split(",") if s.strip()]
        if not seeds and self.status == "diverged":
            return list(self.job.seeds)
        return seeds


@dataclass
class SuiteResults:
    suite: Suite
    verdicts: list[Verdict]
    figures: dict[Triple, RunRecord]  # job -> the run whose figures represent it
    runs_total: int
    profiles: dict[Triple, str]  # job -> the profile its figures and sweeps come from
    # every setting a job's sweep tried (its search runs), per measurement reference; read by the
    # leaderboard's sweep figures
    sweeps: dict[Ref, Values] = field(default_factory=dict)
    finals: dict[Ref, Values] = field(default_factory=dict)
    # (profile, place_label(device, platform), job)
    records: dict[tuple[str, str, Triple], JobRecord] = field(default_factory=dict)
    # per sensitivity axis, what each candidate moves (benchmark.sensitivity.attach)
    axes: list[dict[str, Any]] = field(default_factory=list)


class _Index:
    """The suite's MLflow runs, indexed by what read-back asks: parents by fingerprint, members by fingerprint."""

    def __init__(self, runs: list[RunRecord]) -> None:
        self.parents: dict[str, RunRecord] = {}
        self.members: dict[str, list[tuple[RunRecord, list[str]]]] = {}
        self.job_keys: set[str] = set()
        self.platforms: dict[str, Counter[str]] = {}  # device -> the platforms its jobs ran on, with counts
        for run in runs:  # newest first
            kind = run.tags.get("bench.kind")
            if kind == PARENT:
                self.job_keys.add(run.tags.get("job_key", ""))
                device = run.tags.get("device", "cpu")
                self.platforms.setdefault(device, Counter())[run.tags.get("platform", "")] += 1
                fp = run.tags.get(FINGERPRINT_TAG)
                if fp:
                    self.parents.setdefault(fp, run)
            elif kind == CHILD and run.status == "FINISHED":
                for tag, value in run.tags.items():
                    if tag.startswith(MEMBER_PREFIX):
                        self.members.setdefault(tag[len(MEMBER_PREFIX):], []).append((run, value.split(",")))

    def places(self, devices: list[str]) -> list[Place]:
        """Where to read, in order of preference: per device, this host's platform first, then the store's other
        platforms, the most used first."""
        out: list[Place] = []
        for device in devices:
            here = host_platform(device)
            seen = self.platforms.get(device, Counter())
            others = sorted((p for p in seen if p != here), key=lambda p: (-seen[p], p))
            out += [(device, p) for p in ([here] if here else []) + others] or [(device, "")]
        return out

    def record(self, suite: Suite, job: Job) -> JobRecord:
        """The job as recorded, at the largest seed count that is complete (adaptive seeds add seeds to a job
        while its targets are inconclusive); else as ``record_at`` finds it at its first count."""
        for grown in reversed(job.seed_variants()[1:]):
            rec = self.record_at(suite, grown)
            if rec.decided:
                return rec
        return self.record_at(suite, job)

    def record_at(self, suite: Suite, job: Job) -> JobRecord:
        """The job at its seed count as recorded: its complete variant if there is one (with every metric first,
        then without the metrics that needed missing files), else the first variant that has a parent run."""
        first: JobRecord | None = None
        for variant in _variants(job):
            parent = self.parents.get(variant.fingerprint)
            if parent is None:
                continue
            rec = JobRecord(variant, parent.tags.get(STATUS_TAG, "running"), parent.tags.get(REASON_TAG, ""), parent)
            if rec.status == "done":
                for run, phases in self.members.get(variant.fingerprint, []):
                    if "final" in phases and run.seed in job.seeds:
                        rec.finals.setdefault(run.seed, run)
                    if "search" in phases:
                        rec.searches.setdefault(_setting(suite, job.experiment, run), run)
                if rec.done:
                    return rec
            first = first or rec
        return first or JobRecord(job)


def _variants(job: Job) -> list[Job]:
    """The job with every metric, then without each combination of the metrics that need files."""
    metrics = catalog().metrics
    optional = [m for m in job.metrics if metrics[m].needs_files]
    out = [job]
    for r in range(1, len(optional) + 1):
        out += [job.without_metrics(combo) for combo in itertools.combinations(optional, r)]
    return out


def collect_verdicts(suite: Suite, tracker: Tracker, profile: str | None = None, device: str | None = None,
                     numerics: Numerics | None = None, batched: bool = True) -> SuiteResults:
    """``collect``'s verdicts, answered from a cache while nothing that decides them has changed: the suite file,
    the engine's and the plug-ins' code, the options, and the store (a sqlite file's size and modification
    time; a store without such a marker is always read). `bench compare` then needs neither MLflow nor scipy.
    The figures, sweeps and records of a full ``collect`` are not part of the answer."""
    from benchmark.catalog import code_hash
    from benchmark.identity import digest
    from benchmark.tracking import bench_home

    def cache_file(stamp: list) -> Path:
        # this host's platforms decide which platform's runs are read first; read from where an earlier command
        # left them, not from torch, which a compare answered here never imports
        here = {d: host_platform(d) for d in DEVICES}
        key = digest({"suite": Path(suite.path).read_text() if Path(suite.path).exists() else suite.path,
                      "code": code_hash(), "profile": profile, "device": device, "store": stamp, "uri": tracker.uri,
                      "numerics": (numerics or Numerics()).mode, "batched": batched, "platforms": here})
        return bench_home() / "cache" / "readback" / f"{key}.json"

    before = tracker.stamp()
    if before is not None:
        try:
            saved = json.loads(cache_file(before).read_text())
            verdicts = [Verdict(**v) for v in saved["verdicts"]]
            return SuiteResults(suite, verdicts, {}, int(saved["runs_total"]), {}, axes=saved["axes"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    res = collect(suite, tracker, profile, device, numerics, batched)
    after = tracker.stamp()  # reading may have created the store; a write meanwhile makes the answer stale
    if after is not None and before in (None, after):
        path = cache_file(after)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"runs_total": res.runs_total, "axes": res.axes,
                                       "verdicts": [v.as_dict() for v in res.verdicts]}, default=float))
            os.replace(tmp, path)
        except OSError:  # a read-only BENCH_HOME costs only speed
            pass
    return res


def collect(suite: Suite, tracker: Tracker, profile: str | None = None, device: str | None = None,
            numerics: Numerics | None = None, batched: bool = True,
            runs: list[RunRecord] | None = None) -> SuiteResults:
    """Every target's verdict from the runs of the current plan; beside each, its sensitivity candidates' verdicts
    (judged on the same store: ``runs``, read once), and every counted miss's explanation."""
    runs = tracker.runs(suite.suite) if runs is None else runs
    index = _Index(runs)
    profiles = [profile] if profile else list(PREFERENCE)
    places = index.places([device] if device else list(DEVICES))
    devices = [place_label(d, platform) for d, platform in places]  # each place is read as a device of its own
    records: dict[tuple[str, str, Triple], JobRecord] = {}
    for p, (d, platform) in itertools.product(profiles, places):
        for job in planner.plan(suite, p, device=d, numerics=numerics, batched=batched, platform=platform):
            records[(p, place_label(d, platform), job.triple)] = index.record(suite, job)

    # a tested claim holds only after Holm's correction over the paper's claims of its type
    verdicts = judge_families([_judge(suite, target, records, profiles, devices, index)
                               for target in suite.all_targets])
    axes: list[dict[str, Any]] = []
    if suite.candidate is None:  # a candidate's own copy of the suite is judged, not explained
        axes = sensitivity.attach(suite, verdicts, lambda variant: collect(
            variant, tracker, profile, device, numerics, batched, runs).verdicts)

    # figures and sweeps: per job, the largest profile (and preferred device) where it is complete
    figures: dict[Triple, RunRecord] = {}
    chosen: dict[Triple, str] = {}
    sweeps: dict[Ref, Values] = {}
    finals: dict[Ref, Values] = {}
    wanted = [ref for fig in suite.resolved_figures for ref in fig.refs + fig.ys + sum(fig.references, [])]
    wanted += [ref for target in suite.all_targets for ref in target.refs]
    for triple in sorted({key[2] for key in records}):
        rec = next((records[(p, d, triple)] for p, d in itertools.product(profiles, devices)
                    if records[(p, d, triple)].done), None)
        if rec is None:
            continue
        chosen[triple] = rec.job.profile
        figures[triple] = rec.finals[min(rec.finals)]
        for ref in (r for r in wanted if r.job == triple):
            finals[ref] = _values([(f"seed {s}", rec.finals[s]) for s in sorted(rec.finals)], ref.measurement,
                                  rec.job.profile)
            sweeps[ref] = _values(sorted(rec.searches.items()), ref.measurement, rec.job.profile)
    return SuiteResults(suite, verdicts, figures, len(runs), chosen, sweeps, finals, records, axes)


def _judge(suite: Suite, target: Target, records: dict, profiles: list[str], devices: list[str],
           index: _Index) -> Verdict:
    """The verdict on the first profile (largest first) and device where every job the target reads is complete."""
    for p, d in itertools.product(profiles, devices):
        recs = [records[(p, d, triple)] for triple in target.jobs]
        if recs and all(r.decided for r in recs):
            return _judged(target, {r.job.triple: r for r in recs})
    verdict = judge(target, {}, {job: _why_not(suite, target, records, profiles, devices, index)
                                 for job in target.jobs})
    return _annotate(verdict, target, [])


def _judged(target: Target, recs: dict[Triple, JobRecord]) -> Verdict:
    lookup: dict[Ref, Values] = {}
    reasons: dict[Any, str] = {}
    for ref in target.refs:
        rec = recs[ref.job]
        if target.scope == "sweep":
            lookup[ref] = _values(sorted(rec.searches.items()), ref.measurement, rec.job.profile)
        else:
            lookup[ref] = _values([(f"seed {s}", rec.finals[s]) for s in sorted(rec.finals)], ref.measurement,
                                  rec.job.profile)
            lookup[ref].diverged = [f"seed {s}" for s in rec.diverged]
        if not lookup[ref].values and not lookup[ref].diverged:
            reasons[ref] = _missing_reason(rec.finals.values(), ref.measurement)
    verdict = judge(target, lookup, reasons)
    return _annotate(verdict, target, list(recs.values()))


def _annotate(verdict: Verdict, target: Target, recs: list[JobRecord]) -> Verdict:
    verdict.role = target.role
    verdict.note = target.note if not target.calibrates else (
        f"calibration: {target.calibrates}" + (f"; {target.note}" if target.note else ""))
    verdict.outcome, verdict.reason = outcome_of(verdict.verdict)
    if recs:
        jobs = [r.job for r in recs]
        verdict.budget_fraction, verdict.budget = budget_of(jobs)
        verdict.device = ",".join(sorted({place_label(j.device, j.platform) for j in jobs}))
        runs = [run for r in recs for run in (r.searches.values() if target.scope == "sweep" else r.finals.values())]
        verdict.run_ids = sorted({run.run_id for run in runs})
        verdict.provenance = provenance_of(runs)
        if verdict.measurement and target.scope != "sweep" and len(recs) == 1:
            verdict.last_doubling = curves.last_doubling([curves.decode(run.tags.get(curves.TAG)) for run in runs],
                                                         verdict.measurement)
            verdict.moving = curves.moving_text(verdict.last_doubling)
    return verdict


def budget_of(jobs: list[Job]) -> tuple[float | None, str]:
    """The share of the paper's steps behind a verdict (the smallest over its jobs), and the same in words,
    with any other budget setting the profile reduces (network width, batch size)."""
    if any(not j.budget_stated for j in jobs):
        steps = sorted({j.steps for j in jobs})
        ours = "/".join(f"{s:,}" for s in steps)
        return None, f"the paper states no budget (ours: {ours} steps)"
    fractions = [j.budget_fraction for j in jobs]
    if any(f is None for f in fractions):
        return None, "no step budget"
    low, high = min(fractions), max(fractions)  # type: ignore[type-var]
    if low >= 1:
        text = "the paper's budget"
    else:
        pct = _pct(low) if abs(high - low) < 1e-12 else f"{_pct(low)}–{_pct(high)}"
        paper = sorted({budget_steps(j.paper_budget) for j in jobs})
        ours = sorted({j.steps for j in jobs})
        text = (f"{pct} of the paper's steps ({'/'.join(f'{s:,}' for s in ours)} of "
                f"{'/'.join(f'{s:,}' for s in paper)})")
    reduced = []
    for key in ("width", "batch_size"):
        for j in jobs:
            if key in j.budget and key in j.paper_budget and j.budget[key] != j.paper_budget[key]:
                reduced.append(f"{key} {j.budget[key]:g} of {j.paper_budget[key]:g}")
                break
    return low, text + (", " + ", ".join(reduced) if reduced else "")


def _pct(fraction: float) -> str:
    value = 100 * fraction
    return f"{value:.0f}%" if value >= 1 else f"{value:.2g}%"


def _why_not(suite: Suite, target: Target, records: dict, profiles: list[str], devices: list[str],
             index: _Index) -> str:
    """Why a target has no complete runs: what a job of the current plan recorded, else what is there instead."""
    for p, d in itertools.product(profiles, devices):
        for triple in target.jobs:
            rec = records[(p, d, triple)]
            if rec.parent is not None and not rec.done:
                if rec.status in ("running", "interrupted"):
                    return f"incomplete at profile {p}: {rec.status} (run `bench run` again to finish it)"
                if rec.status == "failed":
                    return f"failed: {rec.reason}"
                return rec.reason or rec.status
    # the jobs the target still lacks, on any profile and device (a claim under a candidate also reads headline
    # jobs that are complete)
    cells = list(itertools.product(profiles, devices, target.jobs))
    have = {triple for p, d, triple in cells if records[(p, d, triple)].decided}
    planned = [records[(p, d, triple)].job for p, d, triple in cells if triple not in have]
    # a job of this very key ran before with other settings; a sensitivity candidate's key is its own, so the
    # headline's runs of the same model and data are not its superseded ones
    if any(job.key in index.job_keys for job in planned):
        return "no runs of the current version of the suite (its runs are superseded; run `bench run` again)"
    variants = sorted({job.variant for job in planned if job.variant})
    if variants:
        axes = " ".join(sorted({v.split("=", 1)[0] for v in variants}))
        return f"not trained under {', '.join(variants)} (`bench run --sensitivity {axes}` trains it)"
    return "no finished runs (run `bench run` for this target)"


def _values(labelled: list[tuple[str, RunRecord]], measurement: str, profile: str) -> Values:
    have = [(label, run.measurements[measurement]) for label, run in labelled if measurement in run.measurements]
    return Values([v for _, v in have], profile, [label for label, _ in have])


def _setting(suite: Suite, experiment: str, run: RunRecord) -> str:
    """A search run's hyper-parameter setting as a label: the swept parameters' values, in name order."""
    exp = suite.experiments.get(experiment)
    names = sorted(exp.sweep) if exp is not None else []
    if not names:
        return "default"
    return " ".join(f"{name}={run.params.get(name, '?')}" for name in names)


def _missing_reason(runs, measurement: str) -> str:
    for run in runs:
        missing = json.loads(run.tags.get(MISSING_TAG, "{}") or "{}")
        if measurement in missing:
            return missing[measurement]
    return f"no run recorded '{measurement}'"
