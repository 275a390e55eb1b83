"""Reads what ran back from MLflow and judges every target of a suite (`bench compare`)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmark.check import Values, Verdict, judge
from benchmark.suite import PROFILES, Ref, Suite
from benchmark.tracking import CHILD, MISSING_TAG, PARENT, RunRecord, Tracker

# With no --profile, each job reports the largest budget it has finished.
PREFERENCE = tuple(reversed(PROFILES))


@dataclass
class SuiteResults:
    suite: Suite
    verdicts: list[Verdict]
    figures: dict[tuple[str, str, str], RunRecord]  # job -> the run whose figures represent it
    runs_total: int
    profiles: dict[tuple[str, str, str], str]
    # every setting a job's sweep tried (its search runs), per measurement reference; read by sweep
    # targets and the leaderboard's sweep figures
    sweeps: dict[Ref, Values] = field(default_factory=dict)
    finals: dict[Ref, Values] = field(default_factory=dict)


def collect(suite: Suite, tracker: Tracker, profile: str | None = None) -> SuiteResults:
    runs = tracker.runs(suite.suite)
    finals: dict[tuple[str, str, str, str], dict[int, RunRecord]] = defaultdict(dict)
    searches: dict[tuple[str, str, str, str], dict[str, RunRecord]] = defaultdict(dict)
    parents: dict[tuple[str, str, str, str], RunRecord] = {}
    for run in runs:  # newest first: a rerun replaces what an older run of the same seed or setting recorded
        tags = run.tags
        job = (tags.get("experiment", ""), tags.get("method", ""), tags.get("dataset", ""), tags.get("profile", ""))
        if tags.get("bench.kind") == PARENT:
            parents.setdefault(job, run)
        elif tags.get("bench.kind") == CHILD and run.status == "FINISHED":
            if tags.get("final") == "1":
                finals[job].setdefault(run.seed, run)  # one value per seed, never two
            if tags.get("phase") == "search":
                searches[job].setdefault(_setting(suite, tags.get("experiment", ""), run), run)

    chosen: dict[tuple[str, str, str], str] = {}
    for triple in sorted({key[:3] for key in finals}):
        for p in [profile] if profile else PREFERENCE:
            if finals.get((*triple, p)):
                chosen[triple] = p
                break

    lookup: dict[Ref, Values] = {}
    sweeps: dict[Ref, Values] = {}
    reasons: dict[Any, str] = {}
    figures: dict[tuple[str, str, str], RunRecord] = {}
    wanted = [ref for target in suite.all_targets for ref in target.refs]
    wanted += [ref for fig in suite.resolved_figures for ref in fig.refs + fig.ys + sum(fig.references, [])]
    for ref in wanted:
        triple = ref.job
        if triple not in chosen:
            reasons[triple] = _reason(parents, triple, profile)
            continue
        by_seed = finals[(*triple, chosen[triple])]
        seeds = sorted(by_seed)
        lookup[ref] = _values([(f"seed {s}", by_seed[s]) for s in seeds], ref.measurement, chosen[triple])
        by_setting = searches.get((*triple, chosen[triple]), {})
        sweeps[ref] = _values(sorted(by_setting.items()), ref.measurement, chosen[triple])
        figures[triple] = by_seed[seeds[0]]
        if not lookup[ref].values:
            reasons[ref] = _missing_reason(by_seed.values(), ref.measurement)
    verdicts = [judge(t, sweeps if t.scope == "sweep" else lookup, reasons) for t in suite.all_targets]
    return SuiteResults(suite, verdicts, figures, len(runs), chosen, sweeps, lookup)


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


def _reason(parents: dict, triple: tuple[str, str, str], profile: str | None) -> str:
    for p in ([profile] if profile else PREFERENCE):
        parent = parents.get((*triple, p))
        if parent is not None and parent.tags.get("not_run_reason"):
            return parent.tags["not_run_reason"]
    return ""
