"""The statistics a verdict rests on: confidence intervals for a reproduced mean, where an interval stands against
a band of edges, how many seeds would likely decide it, Holm's correction, and a Wilson interval for a rate.

Every value verdict is an equivalence-style decision: the two-sided interval at level 1 - 2 alpha lies inside the
tolerance band exactly when both one-sided tests (TOST) reject at alpha, so each edge is crossed with error at
most alpha. At n = 1 the seeds give no spread: the interval is unbounded (the verdict ``inconclusive``) unless
the paper gives its own spread over two or more runs, which then stands for ours too (the pooled two-sample t,
equal variances assumed, with the paper's degrees of freedom).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# scipy is imported where it is used: reading cached verdicts back (`bench compare`) should not pay for it

# more seeds than this are not "likely to decide": the answer is None
MAX_SEEDS = 1000


@dataclass(frozen=True)
class Interval:
    """A confidence interval for a reproduced mean (or statistic) at ``level``, from ``n`` values."""

    mean: float
    lo: float
    hi: float
    n: int
    level: float
    method: str  # "Student t", "Welch", "pooled t with the paper's spread", "bootstrap", "no spread (n = 1)"

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    def text(self, fmt: Callable[[float], str] = lambda x: f"{x:.4g}") -> str:
        """``mean [lo, hi] (n)``, the form every verdict is shown in."""
        bounds = f"[{fmt(self.lo)}, {fmt(self.hi)}]" if self.bounded else "[unbounded]"
        return f"{fmt(self.mean)} {bounds} ({self.n})"


def level_of(alpha: float) -> float:
    """The two-sided level whose interval inside a band shows equivalence at ``alpha`` (each edge a one-sided
    test at alpha)."""
    return 1 - 2 * alpha


def _half_width(std: float, n: int, level: float, published_std: float | None, published_n: int) -> tuple[float, str]:
    """The half-width of the interval around the mean, and the method that gave it (inf where none applies)."""
    from scipy import stats

    quantile = 1 - (1 - level) / 2
    paper_spread = published_std is not None and published_std > 0 and published_n >= 2
    if n < 2:
        if not paper_spread:
            return math.inf, "no spread (n = 1)"
        # one seed: the paper's spread stands for ours (equal variances), pooled with the paper's df
        se = published_std * math.sqrt(1 / n + 1 / published_n)
        return float(stats.t.ppf(quantile, published_n - 1)) * se, "pooled t with the paper's spread"
    ours = std**2 / n
    if not paper_spread:
        return float(stats.t.ppf(quantile, n - 1)) * math.sqrt(ours), "Student t"
    theirs = published_std**2 / published_n
    var = ours + theirs
    df = var**2 / (ours**2 / (n - 1) + theirs**2 / (published_n - 1))
    return float(stats.t.ppf(quantile, df)) * math.sqrt(var), "Welch"


def mean_interval(values: Sequence[float], level: float, published_std: float | None = None,
                  published_n: int = 1) -> Interval:
    """The interval for the seeds' mean; against a published spread (``published_std`` over ``published_n`` runs)
    the Welch interval of the difference to the published value, placed around our mean, so that it stands
    against the same band in value units."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if n > 1 else 0.0
    half, method = _half_width(std, n, level, published_std, published_n)
    return Interval(mean, mean - half, mean + half, n, level, method)


def bootstrap_interval(samples: tuple[np.ndarray, ...], statistic: Callable[..., float], level: float,
                       seed: int = 0) -> Interval:
    """A percentile bootstrap interval for a statistic that is not a mean, resampling the runs (the arrays in
    ``samples`` are paired run by run)."""
    from scipy import stats

    point = float(statistic(*samples))
    n = len(samples[0])
    if n < 2:
        return Interval(point, -math.inf, math.inf, n, level, "no spread (n = 1)")
    res = stats.bootstrap(samples, statistic, paired=True, vectorized=False, confidence_level=level,
                          n_resamples=999, method="percentile", random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # every resample gave the same value
        lo = hi = point
    return Interval(point, min(lo, point), max(hi, point), n, level, "bootstrap")


def straddled(interval: Interval, edges: Sequence[float]) -> list[float]:
    """The edges that lie strictly inside the interval: while any does, the interval cannot decide."""
    return [e for e in edges if interval.lo < e < interval.hi]


def seeds_to_decide(values: Sequence[float], level: float, edges: Sequence[float], published_std: float | None = None,
                    published_n: int = 1) -> int | None:
    """How many seeds would likely decide, if the mean and spread stayed as observed: the fewest n whose interval
    no longer reaches the nearest edge. None where the spread is unknown (n = 1), the mean sits on an edge, or the
    paper's own spread keeps the interval too wide at any n."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2 or not edges:
        return None
    mean, std = float(np.mean(values)), float(np.std(values, ddof=1))
    room = min(abs(mean - e) for e in edges)
    if room == 0:
        return None
    for more in range(n + 1, MAX_SEEDS + 1):
        if _half_width(std, more, level, published_std, published_n)[0] < room:
            return more
    return None


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a rate of k in n (Wilson 1927): sensible at k = 0 and k = n, unlike k / n ± z se."""
    from scipy import stats

    if n == 0:
        return 0.0, 1.0
    res = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(res.low), float(res.high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (family-wise error at the level the adjusted values are compared with);
    SciPy has only Benjamini-Hochberg (false discovery rate), which is not what 'differs' should mean here."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def one_sided(a: Sequence[float], b: Sequence[float], alternative: str, paired: bool) -> float | None:
    """The p-value of a one-sided test that mean(a) is ``alternative`` ("less" / "greater") than mean(b): a paired t
    on run-by-run differences where ``paired``, Welch's t otherwise. Deterministic values (no spread anywhere)
    show their order exactly (0 or 1); None where a side has fewer than two values."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    spread = np.std(a - b) if paired else max(np.std(a), np.std(b))
    if spread == 0:
        diff = float(np.mean(a) - np.mean(b))
        return 0.0 if (diff < 0 if alternative == "less" else diff > 0) else 1.0
    if paired:
        return float(stats.ttest_rel(a, b, alternative=alternative).pvalue)
    return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def probability_below(a: Sequence[float], b: Sequence[float]) -> float:
    """P(A < B): the chance that a run of A lands below a run of B, over every pair of runs (ties count a half);
    the Mann-Whitney U over n x m. Infinite values (a diverged run counted as the worst) compare as any other."""
    a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
    if a.size == 0 or b.size == 0:
        return math.nan
    return float(np.mean((a < b) + 0.5 * (a == b)))


def tost(a: Sequence[float], b: Sequence[float], margin: float, paired: bool) -> tuple[float | None, float | None]:
    """Equivalence within ``margin`` of two samples' means: (p that |diff| < margin, the TOST p-value;
    p that |diff| > margin, the reverse shown on one side, doubled for the two sides it could lie on).
    Paired t on run-by-run differences, Welch otherwise; None with fewer than two values on a side."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None, None
    if paired:
        d = a - b
        diff, var, df = float(np.mean(d)), float(np.var(d, ddof=1)) / len(d), len(d) - 1.0
    else:
        va, vb = float(np.var(a, ddof=1)) / len(a), float(np.var(b, ddof=1)) / len(b)
        diff, var = float(np.mean(a) - np.mean(b)), va + vb
        df = var**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if var > 0 else 1.0
    if var == 0:
        inside = abs(diff) < margin
        return (0.0, 1.0) if inside else (1.0, 0.0 if abs(diff) > margin else 1.0)
    se = math.sqrt(var)
    p_equal = max(float(stats.t.sf((diff + margin) / se, df)), float(stats.t.cdf((diff - margin) / se, df)))
    p_apart = min(1.0, 2 * min(float(stats.t.sf((diff - margin) / se, df)),
                               float(stats.t.cdf((diff + margin) / se, df))))
    return p_equal, p_apart
