"""Verdicts: a reproduced number or claim against what the paper published.

The rules (also in the README, "How verdicts are decided"):

value targets, ``rule: tolerance``
    tol = max(abs, rel * |published|). ``reproduced`` when |mean - published| <= tol;
    ``close`` when it is within ``close_factor * tol`` and, where tol is the relative one, not below
    published / (1 + close_factor * rel) (the band mirrored in ratio, so it never reaches zero);
    otherwise ``not reproduced``. A test never
    turns a miss into ``close`` (failing to reject equality is not evidence of agreement): the p-value
    of an equivalence test (TOST, two one-sided t-tests with the tolerance as the margin, against the
    published spread where the paper gives one) is shown beside every verdict it can be computed for.
value targets, ``rule: at_most`` / ``at_least``
    ``reproduced`` when the mean is on the right side of ``limit``; ``close`` when it misses by
    at most ``(close_factor - 1) * |limit|``; otherwise ``not reproduced``.
claims
    evaluated on the per-seed values (each claim type's ``judge`` in ``benchmark.claims``); ``claim holds`` or
    ``claim fails``, with the test statistic and p-value where one applies.
anything without values
    ``not run: <reason>``, or ``failed: <reason>`` when its job raised an error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark.claims import top_bottom_fraction  # noqa: F401 (re-exported)
from benchmark.targets import Ref, Target
from benchmark.values import (  # noqa: F401 (re-exported)
    CLOSE,
    FAILS,
    HOLDS,
    NOT_REPRODUCED,
    REPRODUCED,
    Values,
    paired_values,
)


@dataclass
class Verdict:
    target: str
    paper_ref: str
    kind: str
    measurement: str | None
    published: float | None
    published_std: float | None
    reproduced: float | None
    reproduced_std: float | None
    n: int
    difference: float | None
    verdict: str
    detail: str
    profile: str | None
    source: str
    rule: str
    test: dict[str, Any] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)
    statement: str | None = None
    # why the target is there: reproduction (counted), sanity (true by construction), calibration (a
    # constant was chosen to match it); only reproductions count in a score
    role: str = "reproduction"
    note: str | None = None  # another reading of the same published number, or the constant it fixed
    # the share of the paper's budget (steps) the verdict's runs spent; None where the paper states none
    budget_fraction: float | None = None
    budget: str = ""  # the same in words: "4% of the paper's steps", "the paper's budget", ...
    # with a budget curve: the relative change of the mean over seeds across the last doubling of steps, and
    # the same in words ("still moving: +23% over the last doubling of steps"; benchmark/curves.py)
    last_doubling: float | None = None
    moving: str = ""
    device: str | None = None  # where the runs trained (cpu, cuda)
    run_ids: list[str] = field(default_factory=list)  # the MLflow runs behind the verdict
    # what those runs were trained with and where: commit, versions, device, processor, when they finished
    # (tracking.provenance_of: each tag's values with their run counts, and "finished")
    provenance: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""  # reproduced | close | not reproduced | claim holds | claim fails | not run | failed
    reason: str = ""  # for not run / failed: the cause, stated once (files, hardware, error)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Lookup = dict[Ref, Values]


def judge(target: Target, lookup: Lookup, reasons: dict[Any, str]) -> Verdict:
    missing = [ref for ref in target.refs if ref not in lookup or lookup[ref].n == 0]
    base = dict(target=target.id, paper_ref=target.paper_ref, kind=target.kind, measurement=target.measurement,
                published=target.published, published_std=target.published_std, source=target.source,
                rule=target.rule_text(), statement=target.statement)
    if missing:
        # a measurement that could not be taken says why; otherwise why its job did not run
        reason = next((reasons.get(ref) or reasons.get(ref.job) for ref in missing
                       if reasons.get(ref) or reasons.get(ref.job)), None)
        reason = reason or "no finished runs (run `bench run` for this target)"
        text = reason if reason.startswith("failed:") else f"not run: {reason}"
        return Verdict(**base, reproduced=None, reproduced_std=None, n=0, difference=None,
                       verdict=text, detail="", profile=None)
    profiles = sorted({lookup[ref].profile for ref in target.refs})
    values = {str(ref): lookup[ref].values for ref in target.refs}
    if target.kind == "value" and target.statistic is not None:
        stat, detail, test = target.statistic.compute(target, lookup)
        if stat is None:
            return Verdict(**base, reproduced=None, reproduced_std=None, n=0, difference=None,
                           verdict=f"not run: {detail}", detail="", profile=",".join(profiles), values=values)
        verdict = _judge_value(target, Values([stat], ",".join(profiles)))
        verdict["detail"] = f"{detail}; {verdict['detail']}"
        verdict["test"] = {**test, **verdict["test"]}
        return Verdict(**base, **verdict, profile=",".join(profiles), values=values)
    if target.kind == "value":
        verdict = _judge_value(target, lookup[target.refs[0]])
        return Verdict(**base, **verdict, profile=",".join(profiles), values=values)
    verdict_text, detail, test = target.claim.judge(target, lookup)
    return Verdict(**base, reproduced=None, reproduced_std=None, n=min(lookup[r].n for r in target.refs),
                   difference=None, verdict=verdict_text, detail=detail, profile=",".join(profiles), test=test,
                   values=values)


# --------------------------------------------------------------------------- value targets


def close_floor(published: float, abs_tol: float, rel: float, close_factor: float) -> float | None:
    """Where ``rel`` sets the tolerance, the ratio to the published value below which a miss is not close:
    1 / (1 + close_factor x rel), the close band's upper edge mirrored in ratio, rather than 1 - close_factor x
    rel, which reaches zero at rel 0.5 and would call a value ten times smaller close. None where ``abs`` sets
    the tolerance (or the published value is 0)."""
    if published == 0 or rel <= 0 or rel * abs(published) < abs_tol:
        return None
    return 1 / (1 + close_factor * rel)


def _judge_value(target: Target, got: Values) -> dict[str, Any]:
    check, published = target.check, float(target.published)
    mean, std, n = got.mean, got.std, got.n
    diff = mean - published
    test: dict[str, Any] = {}
    if check.rule == "tolerance":
        tol = max(check.abs, check.rel * abs(published))
        floor = close_floor(published, check.abs, check.rel, check.close_factor)
        ratio = mean / published if floor is not None else None
        if abs(diff) <= tol:
            verdict, detail = REPRODUCED, f"|diff| {abs(diff):.4g} <= tol {tol:.4g}"
        elif abs(diff) <= check.close_factor * tol and floor is not None and ratio < floor:
            verdict, detail = NOT_REPRODUCED, (f"ours {ratio:.3g} x the published, below the close band's "
                                               f"1 / (1 + {check.close_factor:g} x rel) = {floor:.3g} x")
        elif abs(diff) <= check.close_factor * tol:
            verdict, detail = CLOSE, f"|diff| {abs(diff):.4g} <= {check.close_factor:g} x tol {tol:.4g}"
        else:
            verdict, detail = NOT_REPRODUCED, f"|diff| {abs(diff):.4g} > {check.close_factor:g} x tol {tol:.4g}"
        p = tost_p(mean, std, n, published, tol, target.published_std, target.published_n)
        if p is not None:
            test = {"test": "TOST equivalence within tol", "p_value": p, "margin": tol}
            shown = "shown" if p < check.alpha else "not shown"
            detail += f"; TOST p = {p:.3g} (equivalence within tol {shown} at {check.alpha:g})"
    else:
        limit = float(check.limit)
        margin = (check.close_factor - 1) * abs(limit)
        ok = mean <= limit if check.rule == "at_most" else mean >= limit
        near = mean <= limit + margin if check.rule == "at_most" else mean >= limit - margin
        sign = "<=" if check.rule == "at_most" else ">="
        if ok:
            verdict, detail = REPRODUCED, f"{mean:.4g} {sign} {limit:g}"
        elif near:
            verdict, detail = CLOSE, f"{mean:.4g} misses {limit:g} by at most {margin:.3g}"
        else:
            verdict, detail = NOT_REPRODUCED, f"{mean:.4g} not {sign} {limit:g}"
    return dict(reproduced=mean, reproduced_std=std, n=n, difference=diff, verdict=verdict, detail=detail,
                test=test)


def tost_p(mean: float, std: float, n: int, published: float, margin: float, published_std: float | None = None,
           published_n: int = 1) -> float | None:
    """Two one-sided t-tests (Schuirmann 1987) that |true mean - published| < margin: the larger of the two
    one-sided p-values; small means equivalence shown. Against a published spread (published_std over
    published_n runs) Welch's standard error and degrees of freedom; else the published value is taken as
    exact. None with fewer than two runs or no spread at all."""
    if n < 2 or margin <= 0:
        return None
    diff = mean - published
    two_sample = published_std is not None and published_std > 0 and published_n >= 2
    var = std**2 / n + (published_std**2 / published_n if two_sample else 0.0)
    if var <= 0:
        return 0.0 if abs(diff) < margin else 1.0
    se = math.sqrt(var)
    if two_sample:
        a, b = std**2 / n, published_std**2 / published_n
        df = var**2 / ((a**2 / (n - 1) if n > 1 else 0.0) + b**2 / (published_n - 1))
    else:
        df = n - 1
    from scipy import stats

    p_low = float(stats.t.sf((diff + margin) / se, df))  # H0: diff <= -margin
    p_high = float(stats.t.cdf((diff - margin) / se, df))  # H0: diff >= margin
    return max(p_low, p_high)


def outcome_of(verdict: str) -> tuple[str, str]:
    """The verdict's kind and, for `not run` / `failed`, its reason."""
    for kind in ("not run", "failed"):
        if verdict.startswith(kind + ":"):
            return kind, verdict[len(kind) + 1:].strip()
    return verdict, ""
