"""Verdicts: a reproduced number or claim against what the paper published.

The rules (also in the README, "How verdicts are decided"):

value targets, ``rule: tolerance``
    tol = max(abs, rel * |published|). ``reproduced`` when |mean - published| <= tol;
    ``close`` when it is within ``close_factor * tol``; otherwise ``not reproduced``. A test never
    turns a miss into ``close`` (failing to reject equality is not evidence of agreement): the p-value
    of an equivalence test (TOST, two one-sided t-tests with the tolerance as the margin, against the
    published spread where the paper gives one) is shown beside every verdict it can be computed for.
value targets, ``rule: at_most`` / ``at_least``
    ``reproduced`` when the mean is on the right side of ``limit``; ``close`` when it misses by
    at most ``(close_factor - 1) * |limit|``; otherwise ``not reproduced``.
claims
    evaluated on the per-seed values (see each ``_claim_*`` below); ``claim holds`` or
    ``claim fails``, with the test statistic and p-value where one applies.
anything without values
    ``not run: <reason>``, or ``failed: <reason>`` when its job raised an error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from benchmark.suite import Ref, Target

REPRODUCED, CLOSE, NOT_REPRODUCED = "reproduced", "close", "not reproduced"
HOLDS, FAILS = "claim holds", "claim fails"


@dataclass
class Values:
    """Per-seed values of one measurement of one job, with the profile they ran under."""

    values: list[float]
    profile: str
    # what each value is: the seed ("seed 0") or, over a sweep, the setting ("lr_g=0.0001 lr_d=0.0003")
    labels: list[str] | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0


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
    device: str | None = None  # where the runs trained (cpu, cuda)
    run_ids: list[str] = field(default_factory=list)  # the MLflow runs behind the verdict
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
        stat, detail, test = STATISTICS[target.statistic.type](target, lookup)
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
    verdict_text, detail, test = CLAIMS[target.claim.type](target, lookup)
    return Verdict(**base, reproduced=None, reproduced_std=None, n=min(lookup[r].n for r in target.refs),
                   difference=None, verdict=verdict_text, detail=detail, profile=",".join(profiles), test=test,
                   values=values)


# --------------------------------------------------------------------------- value targets


def _judge_value(target: Target, got: Values) -> dict[str, Any]:
    check, published = target.check, float(target.published)
    mean, std, n = got.mean, got.std, got.n
    diff = mean - published
    test: dict[str, Any] = {}
    if check.rule == "tolerance":
        tol = max(check.abs, check.rel * abs(published))
        if abs(diff) <= tol:
            verdict, detail = REPRODUCED, f"|diff| {abs(diff):.4g} <= tol {tol:.4g}"
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
    p_low = float(stats.t.sf((diff + margin) / se, df))  # H0: diff <= -margin
    p_high = float(stats.t.cdf((diff - margin) / se, df))  # H0: diff >= margin
    return max(p_low, p_high)


def outcome_of(verdict: str) -> tuple[str, str]:
    """The verdict's kind and, for `not run` / `failed`, its reason."""
    for kind in ("not run", "failed"):
        if verdict.startswith(kind + ":"):
            return kind, verdict[len(kind) + 1:].strip()
    return verdict, ""


# ---------------------------------------------------------------------------------- claims


def _one_sided_p(a: list[float], b: list[float], alternative: str) -> float | None:
    """Welch's t-test that mean(a) is less/greater than mean(b); None without a spread on both sides."""
    if len(a) < 2 or len(b) < 2 or (np.std(a) == 0 and np.std(b) == 0):
        return None
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def _fmt_p(p: float | None) -> str:
    return "p n/a" if p is None else f"p = {p:.3g}"


def _claim_ordering(target: Target, lookup: Lookup):
    claim = target.claim
    refs = target.refs
    means = [lookup[r].mean for r in refs]
    holds, pvalues = True, []
    for a, b, ma, mb in zip(refs, refs[1:], means, means[1:], strict=False):
        ok = ma < mb if claim.relation == "<" else ma > mb
        holds &= ok
        pvalues.append(_one_sided_p(lookup[a].values, lookup[b].values,
                                    "less" if claim.relation == "<" else "greater"))
    chain = f" {claim.relation} ".join(f"{r.method}/{r.dataset}:{m:.4g}" for r, m in zip(refs, means, strict=True))
    known = [p for p in pvalues if p is not None]
    worst = max(known) if known else None
    test = {"test": "one-sided Welch per adjacent pair", "p_values": pvalues, "p_value": worst}
    return (HOLDS if holds else FAILS), f"means {chain}; worst pair {_fmt_p(worst)}", test


def _claim_lowest(target: Target, lookup: Lookup):
    claim = target.claim
    refs = target.refs[: len(claim.refs)]
    expected = target.refs[len(claim.refs)]  # parsed after the list, see suite._claim_refs
    means = {r: lookup[r].mean for r in refs}
    best = (max if claim.highest else min)(refs, key=lambda r: means[r])
    word = "highest" if claim.highest else "lowest"
    others = [r for r in refs if r != expected]
    runner_up = (max if claim.highest else min)(others, key=lambda r: means[r])
    p = _one_sided_p(lookup[expected].values, lookup[runner_up].values, "greater" if claim.highest else "less")
    holds = means[expected] == means[best]
    detail = (f"{word}: {best.method}/{best.dataset} ({means[best]:.4g}); expected {expected.method} "
              f"({means[expected]:.4g}); runner-up {runner_up.method} ({means[runner_up]:.4g}), {_fmt_p(p)}")
    return (HOLDS if holds else FAILS), detail, {"test": "one-sided Welch vs runner-up", "p_value": p}


def _claim_bound(target: Target, lookup: Lookup):
    claim = target.claim
    lhs = target.refs[0]
    a = np.asarray(lookup[lhs].values)
    if isinstance(claim.rhs, str):
        rhs = target.refs[1]
        b = np.asarray(lookup[rhs].values)
        paired = lhs.job == rhs.job
        if paired:
            a, b = paired_values(lookup[lhs], lookup[rhs])
        rhs_text = str(rhs.measurement)
    else:
        b, paired, rhs_text = np.full_like(a, float(claim.rhs)), True, f"{claim.rhs:g}"
    if claim.relation == "<=":
        margins = (b - a) if paired else np.array([b.min() - a.max()])
    else:
        margins = (a - b) if paired else np.array([a.min() - b.max()])
    holds = bool(np.all(margins >= -claim.slack))
    worst = float(margins.min())
    detail = (f"{lhs.measurement} {claim.relation} {rhs_text}: worst margin {worst:.4g}"
              f" over {len(margins)} {'seed pairs' if paired else 'extremes'} (slack {claim.slack:g})")
    return (HOLDS if holds else FAILS), detail, {"test": "every seed", "worst_margin": worst}


def _claim_ratio(target: Target, lookup: Lookup):
    claim = target.claim
    lhs, rhs = target.refs
    a, b = np.asarray(lookup[lhs].values), np.asarray(lookup[rhs].values)
    if lhs.job == rhs.job:
        a, b = paired_values(lookup[lhs], lookup[rhs])
        ratios = a / np.maximum(np.abs(b), 1e-300)
    else:
        ratios = np.array([a.min() / max(abs(b.max()), 1e-300)])
    holds = bool(np.all(ratios >= claim.factor))
    detail = f"{lhs.measurement} / {rhs.measurement}: min ratio {ratios.min():.4g} (needs >= {claim.factor:g})"
    return (HOLDS if holds else FAILS), detail, {"test": "every seed", "min_ratio": float(ratios.min())}


def _claim_approx(target: Target, lookup: Lookup):
    claim = target.claim
    lhs, rhs = target.refs
    ma, mb = lookup[lhs].mean, lookup[rhs].mean
    tol = max(claim.abs, claim.rel * abs(mb))
    p = None
    a, b = lookup[lhs].values, lookup[rhs].values
    if len(a) > 1 and len(b) > 1 and (np.std(a) > 0 or np.std(b) > 0):
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    holds = abs(ma - mb) <= tol
    detail = (f"{lhs.measurement} {ma:.4g} vs {rhs.measurement} {mb:.4g}: |diff| {abs(ma - mb):.4g} "
              f"(tol {tol:.4g}); {_fmt_p(p)}")
    return (HOLDS if holds else FAILS), detail, {"test": "two-sided Welch", "p_value": p}


def _claim_correlation(target: Target, lookup: Lookup):
    claim = target.claim
    means = [lookup[r].mean for r in target.refs]
    x = np.asarray(claim.x, dtype=float)
    if np.std(means) == 0:
        r, p = 0.0, 1.0
    else:
        res = stats.pearsonr(x, means)
        r, p = float(res.statistic), float(res.pvalue)
    holds = r >= claim.min_r
    detail = f"Pearson r = {r:.4f} (needs >= {claim.min_r:g}) over {len(x)} points; p = {p:.3g}"
    return (HOLDS if holds else FAILS), detail, {"test": "pearson", "r": r, "p_value": p}


def _claim_cv(target: Target, lookup: Lookup):
    claim = target.claim
    values = np.asarray(lookup[target.refs[0]].values)
    mean = float(np.mean(values))
    cv = float(np.std(values, ddof=1) / abs(mean)) if len(values) > 1 and mean != 0 else math.inf
    holds = cv <= claim.limit
    return (HOLDS if holds else FAILS), f"coefficient of variation {cv:.4g} (needs <= {claim.limit:g})", {"cv": cv}


def paired_values(a: Values, b: Values) -> tuple[np.ndarray, np.ndarray]:
    """The values of two measurements of the same runs, matched by label (seed or setting)."""
    if a.labels is None or b.labels is None:
        n = min(a.n, b.n)
        return np.asarray(a.values[:n], dtype=float), np.asarray(b.values[:n], dtype=float)
    right = dict(zip(b.labels, b.values, strict=True))
    common = [(x, right[label]) for label, x in zip(a.labels, a.values, strict=True) if label in right]
    return np.asarray([c[0] for c in common], dtype=float), np.asarray([c[1] for c in common], dtype=float)


def _claim_fraction_beats_best(target: Target, lookup: Lookup):
    claim = target.claim
    lhs, rhs = target.refs
    a, b = np.asarray(lookup[lhs].values, dtype=float), np.asarray(lookup[rhs].values, dtype=float)
    best = b.max() if claim.relation == ">" else b.min()
    beats = int(np.sum(a > best) if claim.relation == ">" else np.sum(a < best))
    fraction = beats / len(a)
    holds = fraction > claim.more_than
    word = "best" if claim.relation == ">" else "lowest"
    detail = (f"{beats} of {len(a)} {lhs.method} values {claim.relation} the {word} of {len(b)} {rhs.method} "
              f"values ({best:.4g}): fraction {fraction:.3g} (needs > {claim.more_than:g})")
    return (HOLDS if holds else FAILS), detail, {"test": "count", "fraction": fraction, "n": len(a)}


def _claim_paired_correlation(target: Target, lookup: Lookup):
    claim = target.claim
    lhs, rhs = target.refs
    x, y = paired_values(lookup[lhs], lookup[rhs])
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        detail = f"Pearson r undefined over {len(x)} paired runs (needs 3 or more, each side varying)"
        return FAILS, detail, {"test": "pearson", "r": None, "n": len(x)}
    res = stats.pearsonr(x, y)
    r, p = float(res.statistic), float(res.pvalue)
    rho = float(stats.spearmanr(x, y).statistic)
    detail = (f"{lhs.measurement} vs {rhs.measurement}: Pearson r = {r:.3f} (needs >= {claim.min_r:g}), "
              f"Spearman {rho:.3f}, over {len(x)} paired runs; p = {p:.3g}")
    return (HOLDS if r >= claim.min_r else FAILS), detail, {"test": "pearson", "r": r, "p_value": p,
                                                            "spearman": rho, "n": len(x)}


CLAIMS = {
    "ordering": _claim_ordering,
    "lowest": _claim_lowest,
    "bound": _claim_bound,
    "ratio_at_least": _claim_ratio,
    "approx_equal": _claim_approx,
    "correlation": _claim_correlation,
    "cv_at_most": _claim_cv,
    "fraction_beats_best": _claim_fraction_beats_best,
    "paired_correlation": _claim_paired_correlation,
}


# ------------------------------------------------------------------------------ statistics


def top_bottom_fraction(top: np.ndarray, bottom: np.ndarray) -> tuple[int, int]:
    """How many of n runs rank in the top half by ``top`` and in the bottom half by ``bottom`` (higher is
    better for both; ties share the average rank). Top half: ranks 1..floor(n/2); bottom half: ranks
    ceil(n/2)+1..n, so with an odd n the median run counts in neither."""
    n = len(top)
    rank_top = stats.rankdata(-top)  # 1 = best
    rank_bottom = stats.rankdata(-bottom)
    in_top = rank_top <= n // 2
    in_bottom = rank_bottom > (n + 1) // 2
    return int(np.sum(in_top & in_bottom)), n


def _stat_rank_disagreement(target: Target, lookup: Lookup):
    half = len(target.refs) // 2
    pairs = [paired_values(lookup[a], lookup[b]) for a, b in zip(target.refs[:half], target.refs[half:], strict=True)]
    top = np.concatenate([p[0] for p in pairs])
    bottom = np.concatenate([p[1] for p in pairs])
    if len(top) < 2:
        return None, f"a rank disagreement needs 2 or more runs with both measurements, got {len(top)}", {}
    k, n = top_bottom_fraction(top, bottom)
    rho = float(stats.spearmanr(top, bottom).statistic) if np.std(top) > 0 and np.std(bottom) > 0 else None
    a, b = target.refs[0].measurement, target.refs[half].measurement
    rho_text = "n/a" if rho is None else f"{rho:.3f}"
    detail = (f"{k} of {n} runs in the top half by {a} and the bottom half by {b}; Spearman {rho_text}")
    return k / n, detail, {"runs": n, "disagreeing": k, "spearman": rho}


STATISTICS = {
    "rank_disagreement": _stat_rank_disagreement,
}
