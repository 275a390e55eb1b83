"""Reads what ran back from MLflow and judges every target of a suite (`bench compare`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from benchmark.check import Values, Verdict, judge
from benchmark.suite import PROFILES, Ref, Suite
from benchmark.tracking import CHILD, PARENT, RunRecord, Tracker

# With no --profile, each job reports the largest budget it has finished.
PREFERENCE = tuple(reversed(PROFILES))


@dataclass
class SuiteResults:
    suite: Suite
    verdicts: list[Verdict]
    figures: dict[tuple[str, str, str], RunRecord]  # job -> the run whose figures represent it
    runs_total: int
    profiles: dict[tuple[str, str, str], str]


def collect(suite: Suite, tracker: Tracker, profile: str | None = None) -> SuiteResults:
    runs = tracker.runs(suite.suite)
    finals: dict[tuple[str, str, str, str], dict[int, RunRecord]] = defaultdict(dict)
    parents: dict[tuple[str, str, str, str], RunRecord] = {}
    for run in runs:
        tags = run.tags
        job = (tags.get("experiment", ""), tags.get("method", ""), tags.get("dataset", ""), tags.get("profile", ""))
        if tags.get("bench.kind") == PARENT:
            parents[job] = run
        elif tags.get("bench.kind") == CHILD and tags.get("final") == "1" and run.status == "FINISHED":
            # one value per seed: a rerun of the same seed replaces, never adds
            finals[job].setdefault(run.seed, run)

    chosen: dict[tuple[str, str, str], str] = {}
    for triple in sorted({key[:3] for key in finals}):
        for p in [profile] if profile else PREFERENCE:
            if finals.get((*triple, p)):
                chosen[triple] = p
                break

    lookup: dict[Ref, Values] = {}
    reasons: dict[tuple[str, str, str], str] = {}
    figures: dict[tuple[str, str, str], RunRecord] = {}
    for target in suite.all_targets:
        for ref in target.refs:
            triple = ref.job
            if triple in chosen:
                by_seed = finals[(*triple, chosen[triple])]
                seeds = sorted(by_seed)
                values = [by_seed[s].measurements[ref.measurement] for s in seeds
                          if ref.measurement in by_seed[s].measurements]
                lookup[ref] = Values(values, chosen[triple])
                figures[triple] = by_seed[seeds[0]]
            else:
                reasons[triple] = _reason(parents, triple, profile)
    verdicts = [judge(t, lookup, reasons) for t in suite.all_targets]
    return SuiteResults(suite, verdicts, figures, len(runs), chosen)


def _reason(parents: dict, triple: tuple[str, str, str], profile: str | None) -> str:
    for p in ([profile] if profile else PREFERENCE):
        parent = parents.get((*triple, p))
        if parent is not None and parent.tags.get("not_run_reason"):
            return parent.tags["not_run_reason"]
    return ""
