"""Verdicts: a reproduced number or claim against what the paper published.

The rules (also in the README, "How verdicts are decided"):

value targets
    Every value verdict rests on a confidence interval for the reproduced mean at level 1 - 2 alpha (the
    check's ``alpha``): Student t on the seeds; against a published spread (``published_std`` over
    ``published_n`` runs) the Welch interval of the difference, placed around our mean; a bootstrap over the
    runs where a statistic is not a mean (``benchmark.evidence``). An interval inside a band shows the value
    within it at alpha (the two one-sided tests of TOST). ``reproduced`` when the interval lies inside the
    tolerance band; ``not reproduced`` when it lies wholly outside the close band; ``close`` when it lies wholly
    between the two on one side; ``inconclusive`` when it crosses an edge, with the seeds that would likely
    decide it at the observed spread (``seeds_to_decide``). At n = 1 there is no spread, so the verdict is
    inconclusive, unless the paper gives its spread over two or more runs (then taken for ours as well).
``rule: tolerance``
    tol = max(abs, rel * |published|); the tolerance band is published ± tol; the close band published ±
    close_factor x tol, its edge nearer zero, where rel sets tol, at published / (1 + close_factor x rel) (the far
    edge's ratio mirrored, whatever the published value's sign, so it never reaches zero).
``rule: at_most`` / ``at_least``
    the tolerance band is the right side of ``limit``; the close band reaches ``(close_factor - 1) * |limit|``
    past it.
claims
    evaluated on the per-seed values (each claim type's ``judge`` in ``benchmark.claims``); ``claim holds``,
    ``claim fails`` or ``inconclusive``, with the test statistic and p-value where one applies; orderings are
    corrected over the paper's claims of the same kind (``judge_families``).
anything without values
    ``not run: <reason>``, or ``failed: <reason>`` when its job raised an error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmark import evidence
from benchmark.claims import tested_verdict, top_bottom_fraction  # noqa: F401 (re-exported)
from benchmark.evidence import Interval, level_of, mean_interval
from benchmark.schema import Check
from benchmark.targets import Ref, Target
from benchmark.values import (  # noqa: F401 (re-exported)
    CLOSE,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Values,
    fmt_p,
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
    # reproduced | close | not reproduced | inconclusive | claim holds | claim fails | not run | failed
    outcome: str = ""
    # the confidence interval the verdict rests on ([lo, hi] of the mean, or of the statistic), at ``level``;
    # None where it is unbounded (one seed, no published spread)
    interval: list[float] | None = None
    level: float | None = None
    seeds_to_decide: int | None = None  # for an inconclusive value: the seeds that would likely decide it
    diverged: int = 0  # seeds (runs) behind the verdict that diverged: they count, with no value
    diverged_rate: list[float] | None = None  # Wilson interval for the divergence rate, at the verdict's level
    reason: str = ""  # for not run / failed: the cause, stated once (files, hardware, error)
    # beside the headline verdict, each sensitivity candidate's that touches the target (benchmark.sensitivity):
    # shown, never counted
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    # a counted target not reproduced: why, from the data (kind: explained | budget | unexplained | paper, and text)
    explanation: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Lookup = dict[Ref, Values]


def judge(target: Target, lookup: Lookup, reasons: dict[Any, str]) -> Verdict:
    missing = [ref for ref in target.refs if ref not in lookup or (lookup[ref].n == 0 and not lookup[ref].diverged)]
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
        level = level_of(target.check.alpha)
        interval = target.statistic.interval(target, lookup, level) or Interval(stat, -math.inf, math.inf, 1, level,
                                                                                 "no spread (n = 1)")
        verdict = _judge_value(target, Values([stat], ",".join(profiles)), interval)
        verdict["n"] = interval.n
        verdict["detail"] = f"{detail}; {verdict['detail']}"
        verdict["test"] = {**test, **verdict["test"]}
        return Verdict(**base, **verdict, profile=",".join(profiles), values=values)
    if target.kind == "value":
        got = lookup[target.refs[0]]
        if got.n == 0:
            verdict = dict(reproduced=None, reproduced_std=None, n=0, difference=None, verdict=NOT_REPRODUCED,
                           detail="no value: every seed diverged")
        else:
            verdict = _judge_value(target, got)
        _count_divergence(target, got, verdict)
        return Verdict(**base, **verdict, profile=",".join(profiles), values=values)
    diverged = sum(len(lookup[r].diverged) for r in target.refs)
    if not getattr(target.claim, "counts_divergence", False) and any(lookup[r].n == 0 for r in target.refs):
        gone = [str(r) for r in target.refs if lookup[r].n == 0]
        verdict_text, detail, test = FAILS, f"every seed of {', '.join(gone)} diverged", {}
    else:
        verdict_text, detail, test = target.claim.judge(target, lookup)
    rate = None
    if diverged:
        k, n = diverged, diverged + sum(lookup[r].n for r in target.refs)
        rate = list(evidence.wilson(k, n, level_of(getattr(target.claim, "alpha", 0.05))))
        detail += f"; {k} of {n} runs diverged"
    return Verdict(**base, reproduced=None, reproduced_std=None, n=min(lookup[r].n for r in target.refs),
                   difference=None, verdict=verdict_text, detail=detail, profile=",".join(profiles), test=test,
                   values=values, diverged=diverged, diverged_rate=rate)


def _count_divergence(target: Target, got: Values, verdict: dict[str, Any]) -> None:
    """A diverged seed stays in the target: ``k of n diverged`` with a Wilson interval for the rate, and no
    ``reproduced`` while any seed diverged, unless the paper reports divergence (its runs then fail too)."""
    k = len(got.diverged)
    if not k:
        return
    n = k + got.n
    level = level_of(target.check.alpha)
    lo, hi = evidence.wilson(k, n, level)
    verdict["diverged"], verdict["diverged_rate"] = k, [lo, hi]
    verdict["detail"] += f"; {k} of {n} seeds diverged (rate {lo:.2f} to {hi:.2f}, Wilson {level:.0%})"
    if verdict["verdict"] == REPRODUCED and not target.reports_divergence:
        verdict["verdict"] = CLOSE
        verdict["detail"] += "; the paper reports no divergence, so at best close"


# --------------------------------------------------------------------------- value targets


def close_floor(published: float, abs_tol: float, rel: float, close_factor: float) -> float | None:
    """Where ``rel`` sets the tolerance, the ratio to the published value past which a miss is not close, on the
    side nearer zero: 1 / (1 + close_factor x rel), the far edge's ratio mirrored, rather than 1 - close_factor x
    rel, which reaches zero at rel 0.5 and would call a value ten times smaller close. The same ratio whatever the
    published value's sign: for -16.38 at rel 0.1 the close band is [-16.38 x 1.2, -16.38 / 1.2]. None where
    ``abs`` sets the tolerance (or the published value is 0)."""
    if published == 0 or rel <= 0 or rel * abs(published) < abs_tol:
        return None
    return 1 / (1 + close_factor * rel)


def close_band(published: float, abs_tol: float, rel: float, close_factor: float) -> tuple[float, float]:
    """The close band in value units: published ± close_factor x tol, its edge nearer zero moved to the mirrored
    ratio (``close_floor``) where that is tighter; it always contains the tolerance band."""
    tol = max(abs_tol, rel * abs(published))
    lo, hi = published - close_factor * tol, published + close_factor * tol
    floor = close_floor(published, abs_tol, rel, close_factor)
    if floor is not None:
        if published > 0:
            lo = max(lo, published * floor)
        else:
            hi = min(hi, published * floor)
    return min(lo, published - tol), max(hi, published + tol)


def bands(check: Check, published: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The tolerance band and the close band of a value target, in value units (infinite on a limit's open side)."""
    if check.rule == "tolerance":
        tol = max(check.abs, check.rel * abs(published))
        return (published - tol, published + tol), close_band(published, check.abs, check.rel, check.close_factor)
    limit = float(check.limit)
    margin = (check.close_factor - 1) * abs(limit)
    if check.rule == "at_most":
        return (-math.inf, limit), (-math.inf, limit + margin)
    return (limit, math.inf), (limit - margin, math.inf)


def decide(interval: Interval, tol: tuple[float, float], close: tuple[float, float]) -> str:
    """The verdict an interval shows: inside the tolerance band, reproduced; wholly outside the close band, not
    reproduced; wholly between the two bands on one side, close; across any edge, inconclusive."""
    lo, hi = interval.lo, interval.hi
    if tol[0] <= lo and hi <= tol[1]:
        return REPRODUCED
    if hi < close[0] or lo > close[1]:
        return NOT_REPRODUCED
    if close[0] <= lo and hi <= close[1] and (hi <= tol[0] or lo >= tol[1]):
        return CLOSE
    return INCONCLUSIVE


def _edges(tol: tuple[float, float], close: tuple[float, float]) -> list[float]:
    return sorted({e for e in (*close, *tol) if math.isfinite(e)})


def _judge_value(target: Target, got: Values, interval: Interval | None = None) -> dict[str, Any]:
    """``interval``: given for a statistic that is not a mean (a bootstrap over its runs); else the seeds' mean's."""
    check, published = target.check, float(target.published)
    level = level_of(check.alpha)
    if interval is None:
        interval = mean_interval(got.values, level, target.published_std, target.published_n)
    mean, std, n = interval.mean, got.std, got.n
    tol_band, close = bands(check, published)
    edges = _edges(tol_band, close)
    verdict = decide(interval, tol_band, close)
    shown = f"{interval.text()} at {level:.0%} ({interval.method})"
    if check.rule == "tolerance":
        detail = (f"{shown} against tol [{tol_band[0]:.4g}, {tol_band[1]:.4g}], "
                  f"close [{close[0]:.4g}, {close[1]:.4g}]")
    else:
        sign = "<=" if check.rule == "at_most" else ">="
        detail = f"{shown} against {sign} {float(check.limit):g}, close to {_finite_edge(close):.4g}"
    straddled = evidence.straddled(interval, edges)
    more = None
    if verdict == INCONCLUSIVE:
        if not interval.bounded:
            detail += "; one seed gives no spread: add seeds to decide"
        else:
            detail += f"; straddles {', '.join(f'{e:.4g}' for e in straddled)}"
            if interval.method != "bootstrap":
                more = evidence.seeds_to_decide(got.values, level, edges, target.published_std, target.published_n)
                detail += (f"; about {more} seeds would likely decide it" if more is not None
                           else "; more seeds at this spread would likely not decide it")
    test: dict[str, Any] = {}
    if check.rule == "tolerance":
        tol = (tol_band[1] - tol_band[0]) / 2
        p = tost_p(mean, std, n, published, tol, target.published_std, target.published_n)
        if p is not None and interval.method != "bootstrap":
            test = {"test": "TOST equivalence within tol", "p_value": p, "margin": tol}
            detail += f"; TOST p = {p:.3g}"
    return dict(reproduced=mean, reproduced_std=std, n=n, difference=mean - published, verdict=verdict,
                detail=detail, test=test, interval=[interval.lo, interval.hi] if interval.bounded else None,
                level=level, seeds_to_decide=more)


def _finite_edge(band: tuple[float, float]) -> float:
    return band[0] if math.isfinite(band[0]) else band[1]


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


def judge_families(verdicts: list[Verdict]) -> list[Verdict]:
    """Holm's correction over the paper's claims of one type (``test["family"]``: orderings together, lowest /
    highest together): each claim's p-value that it holds, and that it is reversed, adjusted over the family, and
    its verdict decided again on the adjusted values. ``verdicts``: one suite's, changed in place and returned."""
    families: dict[str, list[Verdict]] = {}
    for v in verdicts:
        if v.kind == "claim" and (v.test or {}).get("family"):
            families.setdefault(v.test["family"], []).append(v)
    for family, members in families.items():
        for key in ("p_holds", "p_reverse"):
            known = [v for v in members if v.test.get(key) is not None]
            for v, p in zip(known, evidence.holm([v.test[key] for v in known]), strict=True):
                v.test[f"{key}_adjusted"] = p
        for v in members:
            held, reversed_ = v.test.get("p_holds_adjusted"), v.test.get("p_reverse_adjusted")
            v.test["p_value"] = held
            v.verdict = tested_verdict(held, reversed_, v.test["alpha"])
            v.outcome = outcome_of(v.verdict)[0]
            v.detail += (f"; Holm over the paper's {len(members)} {family} claims: holds {fmt_p(held)}, "
                         f"reversed {fmt_p(reversed_)} (alpha {v.test['alpha']:g})")
    return verdicts


def shown(verdict: Verdict, fmt=lambda x: f"{x:.4g}") -> str:
    """A value verdict's number as every report shows it: ``mean [lo, hi] (n=...)``, the interval unbounded at
    one seed."""
    if verdict.reproduced is None:
        return ""
    bounds = "[unbounded]" if verdict.interval is None else f"[{fmt(verdict.interval[0])}, {fmt(verdict.interval[1])}]"
    return f"{fmt(verdict.reproduced)} {bounds} (n={verdict.n})"


def undecided(verdicts: list[Verdict]) -> list[str]:
    """The targets whose evidence does not decide yet: what more seeds could settle."""
    return [v.target for v in verdicts if v.verdict == INCONCLUSIVE]


def undecided_jobs(verdicts: list[Verdict], targets: list[Target]) -> set[tuple[str, str, str]]:
    """The jobs (experiment, method, dataset) behind the undecided targets: the ones to give more seeds."""
    wanted = set(undecided(verdicts))
    return {job for t in targets if t.id in wanted for job in t.jobs}


def outcome_of(verdict: str) -> tuple[str, str]:
    """The verdict's kind and, for `not run` / `failed`, its reason."""
    for kind in ("not run", "failed"):
        if verdict.startswith(kind + ":"):
            return kind, verdict[len(kind) + 1:].strip()
    return verdict, ""
