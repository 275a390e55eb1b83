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
