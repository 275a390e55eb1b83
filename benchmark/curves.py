"""Budget curves: an experiment's measurements taken at log-spaced points of training, so that a verdict at a
reduced budget can say whether its measurement had settled, and the leaderboard can draw each value against
steps with the published number beside it.

An experiment asks for a curve with ``curve: {points: N, metrics: [...]}``. Its runs then measure those metrics
at the budget's steps halved 0, 1, ..., N-1 times (100,000 steps: 781, 1,562, ..., 50,000, 100,000), each point
on the model as it is at that step and without disturbing training (the metric is read-only, its random
streams are its own). The points are doublings on purpose: the change over the last doubling of steps, the
last two points, is what "still moving" means.

A run records its curve twice: as MLflow metric histories ``curve.<measurement>`` (charts in the MLflow UI)
and as one JSON tag ``curve`` (``{"steps": [...], "<measurement>": [...]}``) that read-back takes with the run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from benchmark.tracking import CURVE_PREFIX as PREFIX  # noqa: F401 (the metric histories are curve.<name>)

TAG = "curve"

# A measurement "still moving" changed its mean over seeds by at least this share over the last doubling of
# steps. Ours: a tenth is well inside every tolerance the suites use (rel 0.25-0.5), so a value below it would
# not flip a verdict by settling further at the rate it moved last.
MOVING = 0.10


def curve_steps(steps: int, points: int) -> tuple[int, ...]:
    """The steps at which a run of ``steps`` steps measures its curve: ``steps`` halved 0..points-1 times,
    rounded, ascending, without repeats or zeros."""
    if steps <= 0 or points <= 0:
        return ()
    return tuple(sorted({max(1, round(steps / 2**k)) for k in range(points)}))


def encode(points: dict[int, dict[str, float]]) -> str:
    """The ``curve`` tag of a run: its steps, and per measurement its value at each (None where not finite)."""
    steps = sorted(points)
    names = sorted({name for values in points.values() for name in values})
    payload: dict[str, Any] = {"steps": steps}
    for name in names:
        payload[name] = [_finite(points[s].get(name)) for s in steps]
    return json.dumps(payload, separators=(",", ":"))


def decode(tag: str | None) -> dict[str, list[tuple[int, float]]]:
    """Per measurement, its (step, value) points, from a run's ``curve`` tag ({} without one)."""
    if not tag:
        return {}
    try:
        payload = json.loads(tag)
    except ValueError:
        return {}
    steps = payload.pop("steps", [])
    return {name: [(int(s), float(v)) for s, v in zip(steps, values, strict=False) if v is not None]
            for name, values in payload.items()}


def last_doubling(curves: Sequence[dict[str, list[tuple[int, float]]]], measurement: str) -> float | None:
    """The relative change of the mean over runs (seeds) of ``measurement`` from half the steps to the end:
    None when a run lacks either point."""
    ends, halves = [], []
    for curve in curves:
        points = dict(curve.get(measurement, []))
        if not points:
            return None
        end = max(points)
        half = round(end / 2)
        if half not in points or half == end:
            return None
        ends.append(points[end])
        halves.append(points[half])
    if not ends:
        return None
    before, after = sum(halves) / len(halves), sum(ends) / len(ends)
    if before == 0:
        return None if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def moving_text(change: float | None) -> str:
    """A verdict's note on its last doubling of steps."""
    if change is None:
        return ""
    pct = "∞" if math.isinf(change) else f"{100 * change:+.0f}%"
    return (f"still moving: {pct} over the last doubling of steps" if abs(change) >= MOVING
            else f"settled: {pct} over the last doubling of steps")


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None
