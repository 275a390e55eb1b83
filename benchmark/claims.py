"""Claim types and statistics: each one class, holding both what a suite writes and how it is judged.

A claim type is a pydantic model with a literal ``type``, its reference fields in ``ref_fields`` (the order in
which ``judge`` finds them in ``target.refs``), and ``judge(target, lookup) -> (verdict, detail, test)``,
evaluated on the per-seed values (or, with ``over: sweep``, on one value per setting the sweep tried).
``@claim_type`` registers it; the suite schema accepts every registered type. A statistic is a value computed
from many runs (``compute(target, lookup) -> (value, detail, test)``), judged by the value rules.
Adding a claim type means adding one class here.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from benchmark.evidence import Interval, bootstrap_interval, one_sided, probability_below, tost
from benchmark.registry import Registry, origin
from benchmark.schema_base import Strict
from benchmark.values import FAILS, HOLDS, INCONCLUSIVE, Values, fmt_p, paired_values

# Seeds that agree to the last digits make scipy warn of cancellation in the variance, once per test, into the
# middle of `bench run`'s output; the claim's verdict does not rest on the p-value it shows.
warnings.filterwarnings("ignore", message="Precision loss occurred in moment calculation", category=RuntimeWarning)

if TYPE_CHECKING:
    from benchmark.targets import Ref, Target

Lookup = dict["Ref", Values]
Judged = tuple[str, str, dict[str, Any]]

CLAIM_TYPES: Registry[type[ClaimBase]] = Registry("claim type")
STATISTIC_TYPES: Registry[type[StatisticBase]] = Registry("statistic type")


def _tag(cls: type) -> str:
    return cls.model_fields["type"].annotation.__args__[0]


def claim_type(cls: type[ClaimBase]) -> type[ClaimBase]:
    return CLAIM_TYPES.add(_tag(cls), cls, origin(cls))


def statistic_type(cls: type[StatisticBase]) -> type[StatisticBase]:
    return STATISTIC_TYPES.add(_tag(cls), cls, origin(cls))


class _Referencing(Strict):
    """A model whose fields name measurements: ``ref_fields`` lists them in the order they are resolved."""

    ref_fields: ClassVar[tuple[str, ...]] = ()

    def paired(self) -> list[tuple[int, int]]:
        """Indices of references compared run by run (they must name the same job)."""
        return []

    def references(self) -> list[tuple[str, str]]:
        """(field, reference string) for every measurement reference, in ``ref_fields`` order."""
        out: list[tuple[str, str]] = []
        for name in self.ref_fields:
            value = getattr(self, name)
            if isinstance(value, list):
                out += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
            elif isinstance(value, str):
                out.append((name, value))
        return out


class ClaimBase(_Referencing):
    # whether ``judge`` counts diverged seeds itself (as the worst outcome); other claims fail where a reference
    # has no value at all, and are judged on the seeds that finished otherwise
    counts_divergence: ClassVar[bool] = False
    # seeds: each reference's values are the seeds of the job's chosen setting (the default);
    # sweep: they are the search runs, one per hyper-parameter setting the sweep tried (first seed)
    over: Literal["seeds", "sweep"] = "seeds"
    # the error a tested claim (ordering, lowest, approx_equal) may make: it holds only when its test rejects at
    # alpha, after Holm's correction over the paper's claims of the same type
    alpha: float = Field(default=0.05, gt=0, lt=1)

    def judge(self, target: Target, lookup: Lookup) -> Judged:  # pragma: no cover - interface
        raise NotImplementedError


def _verdict(holds: bool) -> str:
    return HOLDS if holds else FAILS


def tested_verdict(p_holds: float | None, p_reverse: float | None, alpha: float) -> str:
    """A tested claim holds when its test rejects at alpha, fails when the reverse test does, else is
    inconclusive."""
    if p_holds is not None and p_holds < alpha:
        return HOLDS
    if p_reverse is not None and p_reverse < alpha:
        return FAILS
    return INCONCLUSIVE


def samples(lookup: Lookup, x: Ref, y: Ref) -> tuple[np.ndarray, np.ndarray, bool]:
    """Two references' values, paired run by run where their runs share seeds and data order (the same job's
    runs, or the same dataset with the same seeds: a run's data stream is seeded by its seed and dataset alone),
    else as two independent samples."""
    vx, vy = lookup[x], lookup[y]
    same_seeds = (x.dataset == y.dataset and vx.labels is not None and vy.labels is not None
                  and sorted(vx.labels) == sorted(vy.labels) and all(lb.startswith("seed ") for lb in vx.labels))
    if x.job == y.job or same_seeds:
        a, b = paired_values(vx, vy)
        return a, b, True
    return np.asarray(vx.values, dtype=float), np.asarray(vy.values, dtype=float), False


def with_diverged_as_worst(lookup: Lookup, refs: list[Ref], worst_is_high: bool) -> tuple[Lookup, str]:
    """Each reference's values with its diverged seeds counted as the worst outcome (as MLPerf counts a run that
    never converged as infinitely slow): the worst value any entry of the claim reached, since a t-test has no
    room for infinity. The claim's direction says which end is worse (the higher for "lowest" and "<")."""
    if not any(lookup[r].diverged for r in refs):
        return lookup, ""
    finite = [x for r in refs for x in lookup[r].values]
    worst = (max(finite) if worst_is_high else min(finite)) if finite else 0.0
    out = dict(lookup)
    for r in set(refs):
        got = lookup[r]
        if got.diverged:
            labels = None if got.labels is None else got.labels + got.diverged
            out[r] = Values(got.values + [worst] * len(got.diverged), got.profile, labels)
    k = sum(len(lookup[r].diverged) for r in set(refs))
    return out, f"; {k} diverged seeds counted as the worst value reached ({worst:.4g})"


def _names(refs: list[Ref]) -> dict[Ref, str]:
    """Each entry's shortest name that tells it from the others: its method, else method/dataset, else all of it."""
    for name in (lambda r: r.method, lambda r: f"{r.method}/{r.dataset}", str):
        names = {r: name(r) for r in refs}
        if len(set(names.values())) == len(set(refs)):
            return names
    return {r: str(r) for r in refs}


def _bonferroni(p_values: list[float | None]) -> float | None:
    """Any one of k reverse tests rejecting: the smallest p times k (a claim fails if one of its pairs is
    shown reversed)."""
    known = [p for p in p_values if p is not None]
    return min(1.0, len(p_values) * min(known)) if known else None


def _worst(p_values: list[float | None]) -> float | None:
    """Every one of the tests rejecting (intersection-union): the largest p; unknown if any is."""
    return None if any(p is None for p in p_values) or not p_values else max(p_values)


@claim_type
class OrderingClaim(ClaimBase):
    """The means are in the stated order, shown by a one-sided test per adjacent pair (paired where the runs share
    seeds, Welch otherwise); P(A < B) beside each pair."""

    type: Literal["ordering"]
    refs: list[str] = Field(min_length=2)
    relation: Literal["<", ">"] = "<"
    ref_fields = ("refs",)

    counts_divergence: ClassVar[bool] = True

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        refs = target.refs
        lookup, counted = with_diverged_as_worst(lookup, refs, worst_is_high=self.relation == "<")
        forward = "less" if self.relation == "<" else "greater"
        backward = "greater" if self.relation == "<" else "less"
        p_holds, p_back, below, kinds = [], [], [], set()
        for a, b in zip(refs, refs[1:], strict=False):
            x, y, paired = samples(lookup, a, b)
            kinds.add("paired" if paired else "Welch")
            p_holds.append(one_sided(x, y, forward, paired))
            p_back.append(one_sided(x, y, backward, paired))
            below.append(probability_below(lookup[a].values, lookup[b].values))
        means = [lookup[r].mean for r in refs]
        chain = f" {self.relation} ".join(f"{r.method}/{r.dataset}:{m:.4g}" for r, m in zip(refs, means, strict=True))
        holds, reverse = _worst(p_holds), _bonferroni(p_back)
        name = _names(refs)
        pairs = ", ".join(f"P({name[a]} < {name[b]}) = {q:.2f}" for a, b, q in zip(refs, refs[1:], below, strict=False))
        test = {"test": f"one-sided {'/'.join(sorted(kinds))} t per adjacent pair", "family": self.type,
                "alpha": self.alpha, "p_holds": holds, "p_reverse": reverse, "p_value": holds, "p_values": p_holds,
                "p_below": below}
        detail = f"means {chain}; {pairs}; order {fmt_p(holds)}, reversed {fmt_p(reverse)}{counted}"
        return tested_verdict(holds, reverse, self.alpha), detail, test


@claim_type
class LowestClaim(ClaimBase):
    """The expected entry has the lowest (or highest) mean, shown by a one-sided test against every other entry
    (paired where the runs share seeds, Welch otherwise); P(expected < other) beside the runner-up."""

    type: Literal["lowest"]
    refs: list[str] = Field(min_length=2)
    expected: str
    highest: bool = False
    ref_fields = ("refs", "expected")

    @model_validator(mode="after")
    def _expected_in_refs(self) -> LowestClaim:
        if self.expected not in self.refs:
            raise ValueError(f"expected '{self.expected}' is not one of refs")
        return self

    counts_divergence: ClassVar[bool] = True

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        refs = target.refs[: len(self.refs)]
        expected = target.refs[len(self.refs)]  # ref_fields: the list first, then the expected entry
        lookup, counted = with_diverged_as_worst(lookup, refs, worst_is_high=not self.highest)
        means = {r: lookup[r].mean for r in refs}
        pick = max if self.highest else min
        best = pick(refs, key=lambda r: means[r])
        word = "highest" if self.highest else "lowest"
        forward, backward = ("greater", "less") if self.highest else ("less", "greater")
        others = [r for r in refs if r != expected]
        p_holds, p_back, kinds = [], [], set()
        for other in others:
            x, y, paired = samples(lookup, expected, other)
            kinds.add("paired" if paired else "Welch")
            p_holds.append(one_sided(x, y, forward, paired))
            p_back.append(one_sided(x, y, backward, paired))
        holds, reverse = _worst(p_holds), _bonferroni(p_back)
        runner_up = pick(others, key=lambda r: means[r])
        below = probability_below(lookup[expected].values, lookup[runner_up].values)
        name = _names(refs)
        chance = f"P({name[expected]} > {name[runner_up]}) = {1 - below:.2f}" if self.highest else \
            f"P({name[expected]} < {name[runner_up]}) = {below:.2f}"
        detail = (f"{word}: {best.method}/{best.dataset} ({means[best]:.4g}); expected {expected.method} "
                  f"({means[expected]:.4g}); runner-up {runner_up.method} ({means[runner_up]:.4g}); {chance}; "
                  f"{word} against all {len(others)} others {fmt_p(holds)}, beaten {fmt_p(reverse)}{counted}")
        test = {"test": f"one-sided {'/'.join(sorted(kinds))} t against every other entry", "family": self.type,
                "alpha": self.alpha, "p_holds": holds, "p_reverse": reverse, "p_value": holds, "p_values": p_holds,
                "p_below": [below]}
        return tested_verdict(holds, reverse, self.alpha), detail, test


def _pairs_or_extremes(lookup: Lookup, lhs: Ref, rhs: Ref) -> tuple[np.ndarray, np.ndarray, bool]:
    """Two measurements of the same job compared run by run (paired by seed or setting); of two jobs, as
    whole samples."""
    if lhs.job == rhs.job:
        a, b = paired_values(lookup[lhs], lookup[rhs])
        return a, b, True
    return np.asarray(lookup[lhs].values, dtype=float), np.asarray(lookup[rhs].values, dtype=float), False


@claim_type
class BoundClaim(ClaimBase):
    """x <= y (or >=) for every seed pair of the same runs (the extremes of two jobs), with optional slack."""

    type: Literal["bound"]
    lhs: str
    rhs: str | float
    relation: Literal["<=", ">="] = "<="
    slack: float = Field(default=0.0, ge=0)
    ref_fields = ("lhs", "rhs")

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        lhs = target.refs[0]
        if isinstance(self.rhs, str):
            rhs = target.refs[1]
            a, b, paired = _pairs_or_extremes(lookup, lhs, rhs)
            rhs_text = str(rhs.measurement)
        else:
            a = np.asarray(lookup[lhs].values)
            b, paired, rhs_text = np.full_like(a, float(self.rhs)), True, f"{self.rhs:g}"
        if self.relation == "<=":
            margins = (b - a) if paired else np.array([b.min() - a.max()])
        else:
            margins = (a - b) if paired else np.array([a.min() - b.max()])
        worst = float(margins.min())
        detail = (f"{lhs.measurement} {self.relation} {rhs_text}: worst margin {worst:.4g}"
                  f" over {len(margins)} {'seed pairs' if paired else 'extremes'} (slack {self.slack:g})")
        return _verdict(bool(np.all(margins >= -self.slack))), detail, {"test": "every seed", "worst_margin": worst}


@claim_type
class RatioClaim(ClaimBase):
    """x >= factor * y for every seed (paired within a job; min over max across jobs)."""

    type: Literal["ratio_at_least"]
    lhs: str
    rhs: str
    factor: float = Field(gt=0)
    ref_fields = ("lhs", "rhs")

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        lhs, rhs = target.refs
        a, b, paired = _pairs_or_extremes(lookup, lhs, rhs)
        ratios = a / np.maximum(np.abs(b), 1e-300) if paired else np.array([a.min() / max(abs(b.max()), 1e-300)])
        detail = f"{lhs.measurement} / {rhs.measurement}: min ratio {ratios.min():.4g} (needs >= {self.factor:g})"
        return _verdict(bool(np.all(ratios >= self.factor))), detail, {"test": "every seed",
                                                                        "min_ratio": float(ratios.min())}


@claim_type
class ApproxEqualClaim(ClaimBase):
    """|mean x - mean y| <= max(abs, rel * |mean y|), shown by an equivalence test (TOST, the tolerance as the
    margin; paired where the runs share seeds, Welch otherwise); fails when the difference is shown beyond it."""

    type: Literal["approx_equal"]
    lhs: str
    rhs: str
    abs: float = Field(default=0.0, ge=0)
    rel: float = Field(default=0.0, ge=0)
    ref_fields = ("lhs", "rhs")

    @model_validator(mode="after")
    def _has_tolerance(self) -> ApproxEqualClaim:
        if self.abs == 0 and self.rel == 0:
            raise ValueError("approx_equal needs abs or rel > 0")
        return self

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        lhs, rhs = target.refs
        ma, mb = lookup[lhs].mean, lookup[rhs].mean
        tol = max(self.abs, self.rel * abs(mb))
        a, b, paired = samples(lookup, lhs, rhs)
        p_equal, p_apart = tost(a, b, tol, paired)
        detail = (f"{lhs.measurement} {ma:.4g} vs {rhs.measurement} {mb:.4g}: |diff| {abs(ma - mb):.4g} "
                  f"(tol {tol:.4g}); equivalence (TOST) {fmt_p(p_equal)}, apart {fmt_p(p_apart)}")
        test = {"test": f"TOST within tol ({'paired' if paired else 'Welch'})", "alpha": self.alpha,
                "p_value": p_equal, "p_holds": p_equal, "p_reverse": p_apart, "margin": tol}
        return tested_verdict(p_equal, p_apart, self.alpha), detail, test


@claim_type
class CorrelationClaim(ClaimBase):
    """Pearson r of the means against the stated x values >= min_r."""

    type: Literal["correlation"]
    refs: list[str] = Field(min_length=3)
    x: list[float] = Field(min_length=3)
    min_r: float = Field(ge=-1, le=1)
    ref_fields = ("refs",)

    @model_validator(mode="after")
    def _same_length(self) -> CorrelationClaim:
        if len(self.refs) != len(self.x):
            raise ValueError(f"refs has {len(self.refs)} entries but x has {len(self.x)}")
        return self

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        from scipy import stats

        means = [lookup[r].mean for r in target.refs]
        x = np.asarray(self.x, dtype=float)
        if np.std(means) == 0:
            r, p = 0.0, 1.0
        else:
            res = stats.pearsonr(x, means)
            r, p = float(res.statistic), float(res.pvalue)
        detail = f"Pearson r = {r:.4f} (needs >= {self.min_r:g}) over {len(x)} points; p = {p:.3g}"
        return _verdict(r >= self.min_r), detail, {"test": "pearson", "r": r, "p_value": p}


@claim_type
class CvClaim(ClaimBase):
    """The coefficient of variation over seeds is at most limit."""

    type: Literal["cv_at_most"]
    ref: str
    limit: float = Field(gt=0)
    ref_fields = ("ref",)

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        values = np.asarray(lookup[target.refs[0]].values)
        mean = float(np.mean(values))
        cv = float(np.std(values, ddof=1) / abs(mean)) if len(values) > 1 and mean != 0 else math.inf
        return _verdict(cv <= self.limit), f"coefficient of variation {cv:.4g} (needs <= {self.limit:g})", {"cv": cv}


@claim_type
class FractionBeatsBestClaim(ClaimBase):
    """More than ``more_than`` of lhs's values beat the best of rhs's ("most settings beat the best X")."""

    type: Literal["fraction_beats_best"]
    lhs: str
    rhs: str
    relation: Literal[">", "<"] = ">"
    more_than: float = Field(ge=0, lt=1)
    ref_fields = ("lhs", "rhs")

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        lhs, rhs = target.refs
        a, b = np.asarray(lookup[lhs].values, dtype=float), np.asarray(lookup[rhs].values, dtype=float)
        best = b.max() if self.relation == ">" else b.min()
        beats = int(np.sum(a > best) if self.relation == ">" else np.sum(a < best))
        fraction = beats / len(a)
        word = "best" if self.relation == ">" else "lowest"
        detail = (f"{beats} of {len(a)} {lhs.method} values {self.relation} the {word} of {len(b)} {rhs.method} "
                  f"values ({best:.4g}): fraction {fraction:.3g} (needs > {self.more_than:g})")
        return _verdict(fraction > self.more_than), detail, {"test": "count", "fraction": fraction, "n": len(a)}


@claim_type
class PairedCorrelationClaim(ClaimBase):
    """Pearson r between two measurements of the same runs (paired by seed, or by setting over a sweep)."""

    type: Literal["paired_correlation"]
    lhs: str
    rhs: str
    min_r: float = Field(ge=-1, le=1)
    ref_fields = ("lhs", "rhs")

    def paired(self) -> list[tuple[int, int]]:
        return [(0, 1)]

    def judge(self, target: Target, lookup: Lookup) -> Judged:
        from scipy import stats

        lhs, rhs = target.refs
        x, y = paired_values(lookup[lhs], lookup[rhs])
        if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
            detail = f"Pearson r undefined over {len(x)} paired runs (needs 3 or more, each side varying)"
            return FAILS, detail, {"test": "pearson", "r": None, "n": len(x)}
        res = stats.pearsonr(x, y)
        r, p = float(res.statistic), float(res.pvalue)
        rho = float(stats.spearmanr(x, y).statistic)
        detail = (f"{lhs.measurement} vs {rhs.measurement}: Pearson r = {r:.3f} (needs >= {self.min_r:g}), "
                  f"Spearman {rho:.3f}, over {len(x)} paired runs; p = {p:.3g}")
        return _verdict(r >= self.min_r), detail, {"test": "pearson", "r": r, "p_value": p, "spearman": rho,
                                                    "n": len(x)}


# ------------------------------------------------------------------------------ statistics


class StatisticBase(_Referencing):
    def compute(self, target: Target, lookup: Lookup) -> tuple[float | None, str, dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover - interface

    def interval(self, target: Target, lookup: Lookup, level: float) -> Interval | None:
        """The statistic's confidence interval over its runs (a bootstrap: it is not a mean); None where the
        statistic cannot be resampled, which leaves the verdict inconclusive."""
        return None


def top_bottom_fraction(top: np.ndarray, bottom: np.ndarray) -> tuple[int, int]:
    """How many of n runs rank in the top half by ``top`` and in the bottom half by ``bottom`` (higher is
    better for both; ties share the average rank). Top half: ranks 1..floor(n/2); bottom half: ranks
    ceil(n/2)+1..n, so with an odd n the median run counts in neither."""
    from scipy import stats

    n = len(top)
    in_top = stats.rankdata(-top) <= n // 2  # rank 1 = best
    in_bottom = stats.rankdata(-bottom) > (n + 1) // 2
    return int(np.sum(in_top & in_bottom)), n


@statistic_type
class RankDisagreement(StatisticBase):
    """The fraction of sweep runs (pooled over the jobs) ranked in the top half by one measurement and in
    the bottom half by another; higher is better for both. ``top_by[i]`` and ``bottom_by[i]`` name the same
    job. With n runs, the top half is ranks 1..floor(n/2) and the bottom half ranks ceil(n/2)+1..n."""

    type: Literal["rank_disagreement"]
    top_by: list[str] = Field(min_length=1)
    bottom_by: list[str] = Field(min_length=1)
    ref_fields = ("top_by", "bottom_by")

    @model_validator(mode="after")
    def _same_length(self) -> RankDisagreement:
        if len(self.top_by) != len(self.bottom_by):
            raise ValueError(f"top_by has {len(self.top_by)} entries but bottom_by has {len(self.bottom_by)}")
        return self

    def paired(self) -> list[tuple[int, int]]:
        n = len(self.top_by)
        return [(i, n + i) for i in range(n)]

    def _runs(self, target: Target, lookup: Lookup) -> tuple[np.ndarray, np.ndarray]:
        half = len(target.refs) // 2
        pairs = [paired_values(lookup[a], lookup[b])
                 for a, b in zip(target.refs[:half], target.refs[half:], strict=True)]
        return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])

    def interval(self, target: Target, lookup: Lookup, level: float) -> Interval | None:
        top, bottom = self._runs(target, lookup)
        if len(top) < 2:
            return None
        return bootstrap_interval((top, bottom), lambda t, b: top_bottom_fraction(t, b)[0] / len(t), level)

    def compute(self, target: Target, lookup: Lookup) -> tuple[float | None, str, dict[str, Any]]:
        from scipy import stats

        half = len(target.refs) // 2
        top, bottom = self._runs(target, lookup)
        if len(top) < 2:
            return None, f"a rank disagreement needs 2 or more runs with both measurements, got {len(top)}", {}
        k, n = top_bottom_fraction(top, bottom)
        rho = float(stats.spearmanr(top, bottom).statistic) if np.std(top) > 0 and np.std(bottom) > 0 else None
        a, b = target.refs[0].measurement, target.refs[half].measurement
        rho_text = "n/a" if rho is None else f"{rho:.3f}"
        detail = f"{k} of {n} runs in the top half by {a} and the bottom half by {b}; Spearman {rho_text}"
        return k / n, detail, {"runs": n, "disagreeing": k, "spearman": rho}
