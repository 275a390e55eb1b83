"""Sensitivity axes: a paper's unstated or ambiguous settings, each candidate judged beside the headline setting.

A suite declares them under ``sensitivity:`` (``schema.SensitivityAxis``): the setting (a method's hyper-parameter,
a budget key, a dataset parameter, or a reading of a printed table), the models it applies to, and candidates with
their sources. The headline setting stays what the paper or its released code states; a candidate never replaces
it and is never counted. First use: Calibrating EBGAN (Dai et al., ICLR 2017), whose Table 2 states no batch size
while the authors' first push of zihangdai/cegan_iclr2017 (41cd208) trains at 1000 and the release at 500.

A setting's candidate trains under an identity of its own: ``under`` gives a copy of the suite whose planner applies
the candidate to the jobs it touches (their key gains ``/under-axis=value``, so every run key and fingerprint
differs), while the jobs it does not touch keep the headline's identity and runs. A reading changes no training:
the same runs are judged with the printed numbers compared against other measurements (``swap``).

``attach`` puts each candidate's verdict beside the headline one (``Verdict.sensitivity``), sums up each axis
(which targets move, which way, on which dataset) and gives every counted miss its ``explanation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmark.schema import SensitivityAxis, SensitivityCandidate, Suite
from benchmark.targets import Ref, Target

# outcomes in order of agreement with the paper; `not run` and `failed` have no place (they move nothing)
RANK = {"reproduced": 3, "claim holds": 3, "close": 2, "inconclusive": 1, "not reproduced": 0, "claim fails": 0}
AGREES = ("reproduced", "claim holds")


@dataclass(frozen=True)
class Applied:
    """One candidate of one axis, as the planner applies it to a job's resolved settings."""

    axis: SensitivityAxis
    candidate: SensitivityCandidate

    @property
    def variant(self) -> str:
        return f"{self.axis.axis}={self.candidate.value}"

    @property
    def words(self) -> str:
        return f"under {self.axis.name} {self.candidate.value} ({self.candidate.label})"

    def applies(self, experiment: str, method: str, dataset: str) -> bool:
        """Whether the job trains otherwise under this candidate (a reading trains nothing otherwise)."""
        return self.axis.kind != "reading" and self.axis.applies(experiment, method, dataset)

    def apply(self, profile: str, hparams: dict[str, Any], budget: dict[str, Any],
              params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(hyper-parameters, budget, dataset params) of a touched job: the headline's with the candidate's value."""
        hparams, budget, params = dict(hparams), dict(budget), dict(params)
        {"hparam": hparams, "budget": budget, "dataset": params}[self.axis.kind][self.axis.name] = self.candidate.value
        extra = self.candidate.budget
        if extra is not None and getattr(extra, profile) is not None:
            budget.update(getattr(extra, profile))
        return hparams, budget, params


def under(suite: Suite, axis: SensitivityAxis, candidate: SensitivityCandidate) -> Suite:
    """The suite as the candidate reads it: planned with its setting (a setting's axis), or its targets compared
    against the swapped measurements (a reading)."""
    applied = Applied(axis, candidate)
    copy = suite.model_copy()
    copy._candidate = applied
    if axis.kind == "reading":
        copy._targets = [_read(t, applied) for t in suite.all_targets]
    return copy


def _swap(candidate: SensitivityCandidate) -> dict[str, str]:
    both = dict(candidate.swap)
    both.update({b: a for a, b in candidate.swap.items()})
    return both


def _read(target: Target, applied: Applied) -> Target:
    """The target with each reference the reading touches pointed at the other measurement."""
    swap = _swap(applied.candidate)
    refs = [Ref(r.experiment, r.method, r.dataset, swap[r.measurement])
            if applied.axis.applies(*r.job) and r.measurement in swap else r for r in target.refs]
    if refs == target.refs:
        return target
    measurement = swap.get(target.measurement, target.measurement) if target.measurement else None
    return dataclasses.replace(target, refs=refs, measurement=measurement)


def touched(suite: Suite, axis: SensitivityAxis, candidate: SensitivityCandidate) -> list[Target]:
    """The targets a candidate can move: those reading a job it trains otherwise, or a measurement it swaps."""
    if axis.kind == "reading":
        swap = _swap(candidate)
        return [t for t in suite.all_targets
                if any(axis.applies(*r.job) and r.measurement in swap for r in t.refs)]
    return [t for t in suite.all_targets if any(axis.applies(*job) for job in t.jobs)]


def select(suite: Suite, names: list[str] | None) -> list[SensitivityAxis]:
    """The suite's axes named (all when none is)."""
    if not names:
        return list(suite.sensitivity)
    return [a for a in suite.sensitivity if a.axis in names]


def candidates(suite: Suite, names: list[str] | None = None) -> list[tuple[SensitivityAxis, SensitivityCandidate]]:
    return [(axis, c) for axis in select(suite, names) for c in axis.candidates]


def attach(suite: Suite, verdicts: list[Any], judge_under: Callable[[Suite], list[Any]]) -> list[dict[str, Any]]:
    """Judge every candidate (``judge_under``: the verdicts of a suite copy from the same store), put each touched
    target's candidate verdicts beside its headline verdict, explain every counted miss, and return one summary per
    axis. ``verdicts``: the headline's, changed in place."""
    by_id = {v.target: v for v in verdicts}
    targets = {t.id: t for t in suite.all_targets}
    summaries = []
    for axis in suite.sensitivity:
        lines = []
        for candidate in axis.candidates:
            applied = Applied(axis, candidate)
            ids = {t.id for t in touched(suite, axis, candidate)}
            theirs = {v.target: v for v in judge_under(under(suite, axis, candidate)) if v.target in ids}
            for tid, v in theirs.items():
                if tid in by_id:
                    by_id[tid].sensitivity.append(_entry(applied, v))
            lines.append(_movement(applied, [(by_id[t], theirs[t], targets[t]) for t in theirs if t in by_id]))
        summaries.append({"axis": axis.axis, "setting": axis.setting, "headline": axis.headline,
                          "candidates": lines})
    for v in verdicts:
        v.explanation = explain(v, targets.get(v.target))
    return summaries


def _entry(applied: Applied, v: Any) -> dict[str, Any]:
    from benchmark.check import shown

    return {"axis": applied.axis.axis, "setting": applied.axis.setting, "value": applied.candidate.value,
            "label": applied.candidate.label, "source": applied.candidate.source, "words": applied.words,
            "verdict": v.verdict, "outcome": v.outcome, "reproduced": v.reproduced, "interval": v.interval,
            "n": v.n, "shown": shown(v), "budget": v.budget, "detail": v.detail, "run_ids": v.run_ids}


def _datasets(target: Target | None) -> list[str]:
    return sorted({r.dataset for r in target.refs}) if target is not None else []


def _movement(applied: Applied, pairs: list[tuple[Any, Any, Target]]) -> dict[str, Any]:
    """Which targets a candidate moves, which way, per dataset; where it helps on one dataset and hurts on another,
    that is said: a finding about the paper, not a setting to pick."""
    better: dict[str, list[str]] = {}
    worse: dict[str, list[str]] = {}
    same = unjudged = 0
    for head, cand, target in pairs:
        a, b = RANK.get(head.outcome), RANK.get(cand.outcome)
        if a is None or b is None:  # nothing to compare where either side has no verdict (not run, failed)
            unjudged += 1
        elif a == b:
            same += 1
        else:
            for dataset in _datasets(target):
                (better if b > a else worse).setdefault(dataset, []).append(head.target)
    judged = len(pairs) - unjudged
    parts = [f"better on {d} ({len(ids)})" for d, ids in sorted(better.items())]
    parts += [f"worse on {d} ({len(ids)})" for d, ids in sorted(worse.items())]
    text = f"{applied.variant} ({applied.candidate.label}): "
    if not judged:
        text += f"not judged: none of its {len(pairs)} targets has a verdict on both sides"
    else:
        text += (", ".join(parts) or "moves nothing") + f"; {same} of {judged} unchanged"
        text += f"; {unjudged} more without a verdict on both sides" if unjudged else ""
    split = sorted(set(better) - set(worse)), sorted(set(worse) - set(better))
    if split[0] and split[1]:
        text += (f". It helps on {', '.join(split[0])} and hurts on {', '.join(split[1])}: a finding about the "
                 "paper, not a setting to pick")
    return {"variant": applied.variant, "label": applied.candidate.label, "source": applied.candidate.source,
            "better": better, "worse": worse, "unchanged": same, "judged": judged, "text": text}


def explain(v: Any, target: Target | None) -> dict[str, Any] | None:
    """Why a counted target is not reproduced, from the data: the paper contradicting itself (its quote), a
    candidate under which it is reproduced, a budget still moving at its end, or unexplained (what was tried)."""
    if v.role != "reproduction" or v.outcome in AGREES:
        return None
    if target is not None and target.paper_inconsistency:
        return {"kind": "paper", "text": f"paper: {target.paper_inconsistency}"}
    if v.outcome in ("not run", "failed"):  # no result of ours to explain: why there is none
        return {"kind": "unexplained", "text": f"unexplained: {v.outcome} ({v.reason})"}
    for entry in v.sensitivity:
        if entry["outcome"] in AGREES:
            evidence = f"{entry['outcome']} {entry['words']}" + (f": {entry['shown']}" if entry["shown"] else "")
            return {"kind": "explained", "axis": entry["axis"], "value": entry["value"],
                    "text": f"explained by {entry['axis']}={entry['value']} ({evidence})"}
    if v.moving.startswith("still moving"):
        return {"kind": "budget", "last_doubling": v.last_doubling, "text": f"budget: {v.moving}"}
    # a candidate without a verdict (not trained yet, or failed) was not tried: said apart, never as evidence
    ran = [e for e in v.sensitivity if e["outcome"] not in ("not run", "failed")]
    untried = [f"{e['axis']}={e['value']}" for e in v.sensitivity if e["outcome"] in ("not run", "failed")]
    parts = ["tried " + "; ".join(f"{e['axis']}={e['value']}: {e['outcome']}" for e in ran)] if ran else []
    if untried:
        parts.append(f"not yet trained under {', '.join(untried)}")
    text = "; ".join(parts) or "no sensitivity axis touches it"
    return {"kind": "unexplained", "tried": [f"{e['axis']}={e['value']}" for e in ran], "untried": untried,
            "text": f"unexplained: {text}"}
