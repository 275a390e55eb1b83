"""Published against reproduced, one plot per table: what agrees shows at a glance.

Each value target is a point (x: the paper's number, y: ours, the mean over seeds with the confidence interval
its verdict rests on as an error bar), coloured by its verdict and shaped by its block (the dataset in Table 2). The
identity line is where a perfect reproduction lies; the shaded band is the check's tolerance around it
(dark: reproduced, light: close), drawn as one band when every point has the same tolerance rule and as a bar
per point otherwise. Axes are logarithmic when the values span decades; negative values that span decades
(log-likelihoods) are drawn as magnitudes on log axes, and the axis labels say so.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.check import Verdict, close_band
from benchmark.report_outcomes import LABELS, OUTCOMES, outcome
from benchmark.suite import Check

# verdict colours; the same in the HTML (templates/leaderboard.css) so the plot's legend reads the page's
COLOURS = {"reproduced": "#1b7a3a", "close": "#d99a00", "not reproduced": "#c0392b", "claim holds": "#1f6fb2",
           "claim fails": "#8e2a77", "inconclusive": "#6a5acd", "not run": "#8a8a8a", "failed": "#333333"}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]
DECADES = 1.0  # log axes once the largest magnitude is 10x the smallest


@dataclass
class Point:
    verdict: Verdict
    group: str  # the block it belongs to (dataset), "" for none
    check: Check | None


@dataclass
class PlotInfo:
    path: Path
    scale: str  # linear | log | log of magnitudes
    shown: int  # points drawn
    missing: int  # targets of the table with no reproduced value (not run), not drawn
    off_scale: int  # points a log axis cannot show (zero or a sign unlike the rest)



def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not by `bench compare`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

def axis_scale(values: list[float]) -> str:
    """'log' for positive values spanning decades, 'neglog' for negative ones that do, else 'linear'."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return "linear"
    if all(v > 0 for v in finite) and math.log10(max(finite) / min(finite)) >= DECADES:
        return "log"
    if all(v < 0 for v in finite) and math.log10(min(finite) / max(finite)) >= DECADES:
        return "neglog"
    return "linear"


def draw(points: list[Point], title: str, out: Path) -> PlotInfo | None:
    """Draws published against reproduced for ``points`` into ``out`` (PNG); None when nothing has both."""
    judged = [p for p in points if p.verdict.published is not None and p.verdict.reproduced is not None
              and math.isfinite(p.verdict.reproduced)]
    if not judged:
        return None
    # the scale follows the published values: our outliers must not flip a table of positive KLs to linear
    scale = axis_scale([p.verdict.published for p in judged])
    sign = -1.0 if scale == "neglog" else 1.0
    drawable = [p for p in judged if scale == "linear" or (sign * p.verdict.published > 0
                                                            and sign * p.verdict.reproduced > 0)]
    off_scale = len(judged) - len(drawable)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.6))
    xs = np.array([sign * p.verdict.published for p in drawable])
    ys = np.array([sign * p.verdict.reproduced for p in drawable])
    lo, hi = _limits(np.concatenate([xs, ys]), scale)
    _band(ax, drawable, lo, hi, scale, sign)
    ax.plot([lo, hi], [lo, hi], color="0.25", lw=1, ls="--", zorder=2)
    groups = list(dict.fromkeys(p.group for p in drawable))
    shapes = {g: MARKERS[i % len(MARKERS)] if len(groups) > 1 else "o" for i, g in enumerate(groups)}
    for p, x, y in zip(drawable, xs, ys, strict=True):
        v = p.verdict
        colour = COLOURS.get(outcome(v), "#000000")
        yerr = xerr = None
        if v.interval is not None:
            # the interval the verdict rests on; on a log axis a bar reaching zero or below stops at the axis
            low, high = sorted(sign * e for e in v.interval)
            below = min(y - low, y - lo) if scale != "linear" else y - low
            yerr = [[max(below, 0.0)], [max(high - y, 0.0)]]
        elif v.reproduced_std and v.n and v.n > 1:
            # on a log axis a bar reaching zero or below has no bottom end: it stops at the axis instead
            below = min(v.reproduced_std, y - lo) if scale != "linear" else v.reproduced_std
            yerr = [[below], [v.reproduced_std]]
        if v.published_std:
            xerr = [[min(v.published_std, x - lo) if scale != "linear" else v.published_std], [v.published_std]]
        ax.errorbar([x], [y], yerr=yerr, xerr=xerr, fmt=shapes[p.group], ms=6, mfc=colour, mec="white", mew=0.6,
                    ecolor=colour, elinewidth=1, capsize=2, zorder=3, alpha=0.9)
    if scale != "linear":
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    neg = "−" if scale == "neglog" else ""
    ax.set_xlabel(f"{neg}published" + (" (magnitude, log)" if scale == "neglog" else ""))
    ax.set_ylabel(f"{neg}reproduced: mean over seeds, bar: its interval"
                  + (" (magnitude)" if scale == "neglog" else ""))
    ax.grid(True, which="major", color="0.9", lw=0.6, zorder=0)
    _legend(ax, drawable, groups, shapes)
    ax.set_title(_wrap(title, 60), fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    missing = len(points) - len(judged)
    return PlotInfo(out, {"linear": "linear", "log": "log", "neglog": "log of magnitudes"}[scale], len(drawable),
                    missing, off_scale)


def _limits(values: np.ndarray, scale: str) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if scale == "linear":
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        return lo - pad, hi + pad
    return lo / 1.6, hi * 1.6


def _band(ax, points: list[Point], lo: float, hi: float, scale: str, sign: float) -> None:
    """The most common tolerance rule as a band along the identity line; points judged by another rule get a
    bar of their own at their published value."""
    rules = Counter(_rule(p.check) for p in points if _rule(p.check) is not None)
    common = rules.most_common(1)[0][0] if rules else None
    if common is not None:
        _, tol_abs, tol_rel, close_factor = common
        grid = np.geomspace(lo, hi, 200) if scale != "linear" else np.linspace(lo, hi, 200)
        for factor, alpha in ((close_factor, 0.10), (1.0, 0.22)):
            low, high = _edges(grid, tol_abs, tol_rel, factor, close=factor != 1.0)
            if scale != "linear":
                low = np.maximum(low, lo)  # a log axis has no room below zero
            ax.fill_between(grid, low, high, color="#1b7a3a", alpha=alpha, lw=0, zorder=1)
    for p in points:
        if _rule(p.check) is None or _rule(p.check) == common:
            continue
        x = sign * p.verdict.published
        for factor, alpha in ((p.check.close_factor, 0.12), (1.0, 0.3)):
            low, high = (float(e[0]) for e in _edges(np.array([x]), p.check.abs, p.check.rel, factor,
                                                     close=factor != 1.0))
            bottom = max(low, lo) if scale != "linear" else low
            ax.plot([x, x], [bottom, high], color="#1b7a3a", alpha=alpha, lw=5, zorder=1, solid_capstyle="butt")


def _edges(x: np.ndarray, tol_abs: float, tol_rel: float, factor: float, close: bool) -> tuple[np.ndarray, np.ndarray]:
    """A band's edges at published values ``x``: x ± factor·tol, and for the close band ``check.close_band``
    (a relative tolerance's edge nearer zero mirrored in ratio, whatever the sign), as the verdict does."""
    tol = np.maximum(tol_abs, tol_rel * np.abs(x))
    if not close:
        return x - tol, x + tol
    edges = np.array([close_band(float(v), tol_abs, tol_rel, factor) for v in x])
    return edges[:, 0], edges[:, 1]


def _rule(check: Check | None) -> tuple[str, float, float, float] | None:
    if check is None or check.rule != "tolerance":
        return None
    return (check.rule, check.abs, check.rel, check.close_factor)


def _legend(ax, points: list[Point], groups: list[str], shapes: dict[str, str]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    present = [o for o in OUTCOMES if any(outcome(p.verdict) == o for p in points)]
    handles = [Line2D([], [], marker="o", ls="", mfc=COLOURS[o], mec="white", ms=7, label=LABELS[o])
               for o in present]
    if len(groups) > 1:
        handles += [Line2D([], [], marker=shapes[g], ls="", mfc="0.55", mec="white", ms=7, label=g) for g in groups]
    handles.append(Line2D([], [], color="0.25", ls="--", lw=1, label="ours = published"))
    if any(p.check is not None and p.check.rule == "tolerance" for p in points):
        handles.append(Patch(color="#1b7a3a", alpha=0.3, label="tolerance (light: close)"))
    # below the axes, so that it never hides a point
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text
