"""What verdicts are computed from: the per-seed (or per-setting) values of one measurement of one job, and
the small statistics that claims share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REPRODUCED, CLOSE, NOT_REPRODUCED = "reproduced", "close", "not reproduced"
HOLDS, FAILS = "claim holds", "claim fails"
# the evidence decides neither way yet (an interval across a band's edge, a test that rejects neither way)
INCONCLUSIVE = "inconclusive"


@dataclass
class Values:
    """Per-seed values of one measurement of one job, with the profile they ran under."""

    values: list[float]
    profile: str
    # what each value is: the seed ("seed 0") or, over a sweep, the setting ("lr_g=0.0001 lr_d=0.0003")
    labels: list[str] | None = None
    # the seeds whose runs diverged ("seed 2"): no value, but they count against the target
    diverged: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0


def paired_values(a: Values, b: Values) -> tuple[np.ndarray, np.ndarray]:
    """The values of two measurements of the same runs, matched by label (seed or setting)."""
    if a.labels is None or b.labels is None:
        n = min(a.n, b.n)
        return np.asarray(a.values[:n], dtype=float), np.asarray(b.values[:n], dtype=float)
    right = dict(zip(b.labels, b.values, strict=True))
    common = [(x, right[label]) for label, x in zip(a.labels, a.values, strict=True) if label in right]
    return np.asarray([c[0] for c in common], dtype=float), np.asarray([c[1] for c in common], dtype=float)


def fmt_p(p: float | None) -> str:
    return "p n/a" if p is None else f"p = {p:.3g}"
