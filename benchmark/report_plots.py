"""Published against reproduced, one plot per table: what agrees shows at a glance.

Each value target is a point (x: the paper's number, y: ours, the mean over seeds with the confidence interval
its verdict rests on as an error bar), coloured by its verdict and shaped by its block (the dataset in Table 2). The
identity line is where a perfect reproduction lies; the shaded band is the check's tolerance around it
(dark: reproduced, light: close), drawn as one band when every point has the same tolerance rule and as a bar
per point otherwise. The axes follow every value drawn, published and reproduced: logarithmic when all are
positive and span decades; magnitudes on log axes when all are negative and span decades (log-likelihoods; the
labels say so); symmetric-log when zeros or both signs appear and values reach decades beyond the smallest non-zero
published magnitude (linear within it, logarithmic beyond); linear otherwise. Every point with both numbers
is drawn: no scale leaves out a zero or a sign.
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
SCALE_WORDS = {"linear": "linear", "log": "log", "neglog": "log of magnitudes", "symlog": "symmetric log"}


@dataclass
class Point:
    verdict: Verdict
    group: str  # the block it belongs to (dataset), "" for none
    check: Check | None


@dataclass
class PlotInfo:
    path: Path
    scale: str  # linear | log | log of magnitudes | symmetric log (linear within ±linthresh)
    shown: int  # points drawn: every target of the table with both a published and a reproduced value
    missing: int  # targets of the table with no reproduced value (not run), not drawn
    limits: tuple[float, float] = (0.0, 1.0)  # both axes' range, in the plotted (sign-flipped for neglog) values
    linthresh: float | None = None  # symlog only: the half-width of the linear part around zero



def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not by `bench compare`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

def axis_scale(values: list[float], published: list[float] | None = None) -> str:
    """The axes for ``values`` (of which ``published`` are the paper's; all of them when not given): 'log' for
    positive values spanning decades, 'neglog' for negative ones that do, 'symlog' where zeros or both signs appear
    and the largest magnitude is decades above the linear threshold, else 'linear'."""
    finite = [v for v in values if math.isfinite(v)]
    magnitudes = [abs(v) for v in finite if v != 0]
    if len(finite) < 2 or not magnitudes or math.log10(max(magnitudes) / min(magnitudes)) < DECADES:
        return "linear"
    if all(v > 0 for v in finite):
        return "log"
    if all(v < 0 for v in finite):
        return "neglog"
    threshold = linear_threshold(finite if published is None else published, finite)
    return "symlog" if math.log10(max(magnitudes) / threshold) >= DECADES else "linear"


def linear_threshold(published: list[float], values: list[float]) -> float:
    """Where a symlog axis turns from linear to logarithmic: the smallest non-zero published magnitude, so that
    every published number but zero sits on the logarithmic part; the smallest of all ``values`` when every
    published number is zero. Not our smallest: a reproduced 2e-6 where the paper says 0 would stretch the axis
    over decades that hold no published number."""
    nonzero = [abs(v) for v in published if v != 0 and math.isfinite(v)]
    return min(nonzero or [abs(v) for v in values if v != 0 and math.isfinite(v)])


def draw(points: list[Point], title: str, out: Path) -> PlotInfo | None:
    """Draws published against reproduced for ``points`` into ``out`` (PNG); None when nothing has both."""
    judged = [p for p in points if p.verdict.published is not None and p.verdict.reproduced is not None
              and math.isfinite(p.verdict.reproduced)]
    if not judged:
        return None
    # the scale follows every value drawn: a reproduced zero among positive KLs turns the axes symmetric-log
    # (the zero shows, the decades stay readable) instead of falling off a log axis
    values = [v for p in judged for v in (p.verdict.published, p.verdict.reproduced)]
    published = [p.verdict.published for p in judged]
    scale = axis_scale(values, published)
    linthresh = linear_threshold(published, values) if scale == "symlog" else None
    sign = -1.0 if scale == "neglog" else 1.0
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.6))
    xs = np.array([sign * p.verdict.published for p in judged])
    ys = np.array([sign * p.verdict.reproduced for p in judged])
    lo, hi = _limits(np.concatenate([xs, ys]), scale, linthresh)
    _band(ax, judged, lo, hi, scale, sign, linthresh)
    ax.plot([lo, hi], [lo, hi], color="0.25", lw=1, ls="--", zorder=2)
    groups = list(dict.fromkeys(p.group for p in judged))
    shapes = {g: MARKERS[i % len(MARKERS)] if len(groups) > 1 else "o" for i, g in enumerate(groups)}
    for p, x, y in zip(judged, xs, ys, strict=True):
        v = p.verdict
        colour = COLOURS.get(outcome(v), "#000000")
        yerr = xerr = None
        if v.interval is not None:
            # the interval the verdict rests on; on a log axis a bar reaching zero or below stops at the axis
            low, high = sorted(sign * e for e in v.interval)
            below = min(y - low, y - lo) if _logarithmic(scale) else y - low
            yerr = [[max(below, 0.0)], [max(high - y, 0.0)]]
        elif v.reproduced_std and v.n and v.n > 1:
            # on a log axis a bar reaching zero or below has no bottom end: it stops at the axis instead
            below = min(v.reproduced_std, y - lo) if _logarithmic(scale) else v.reproduced_std
            yerr = [[below], [v.reproduced_std]]
        if v.published_std:
            xerr = [[min(v.published_std, x - lo) if _logarithmic(scale) else v.published_std], [v.published_std]]
        ax.errorbar([x], [y], yerr=yerr, xerr=xerr, fmt=shapes[p.group], ms=6, mfc=colour, mec="white", mew=0.6,
                    ecolor=colour, elinewidth=1, capsize=2, zorder=3, alpha=0.9)
    if _logarithmic(scale):
        ax.set_xscale("log")
        ax.set_yscale("log")
    elif scale == "symlog":
        ax.set_xscale("symlog", linthresh=linthresh)
        ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    neg = "−" if scale == "neglog" else ""
    ax.set_xlabel(f"{neg}published" + (" (magnitude, log)" if scale == "neglog" else ""))
    ax.set_ylabel(f"{neg}reproduced: mean over seeds, bar: its interval"
                  + (" (magnitude)" if scale == "neglog" else ""))
    ax.grid(True, which="major", color="0.9", lw=0.6, zorder=0)
    _legend(ax, judged, groups, shapes)
    ax.set_title(_wrap(title, 60), fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    missing = len(points) - len(judged)
    words = SCALE_WORDS[scale] + (f" (linear within ±{linthresh:.3g})" if linthresh is not None else "")
    return PlotInfo(out, words, len(judged), missing, (lo, hi), linthresh)


def _logarithmic(scale: str) -> bool:
    return scale in ("log", "neglog")


def _limits(values: np.ndarray, scale: str, linthresh: float | None = None) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    if scale == "symlog":
        # padded by the same share as a linear axis, but of the axis as drawn
        a, b = _to_symlog(np.array([lo, hi]), linthresh)
        pad = 0.08 * (b - a)
        return tuple(float(v) for v in _from_symlog(np.array([a - pad, b + pad]), linthresh))
    if scale == "linear":
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        return lo - pad, hi + pad
    return lo / 1.6, hi * 1.6


def _to_symlog(v: np.ndarray, linthresh: float) -> np.ndarray:
    """Positions on a symlog axis, up to matplotlib's scale factor: linear within ±linthresh, log beyond."""
    return np.sign(v) * np.log10(1 + np.abs(v) / linthresh)


def _from_symlog(t: np.ndarray, linthresh: float) -> np.ndarray:
    return np.sign(t) * linthresh * (10 ** np.abs(t) - 1)


def _band(ax, points: list[Point], lo: float, hi: float, scale: str, sign: float,
          linthresh: float | None = None) -> None:
    """The most common tolerance rule as a band along the identity line; points judged by another rule get a
    bar of their own at their published value."""
    rules = Counter(_rule(p.check) for p in points if _rule(p.check) is not None)
    common = rules.most_common(1)[0][0] if rules else None
    if common is not None:
        _, tol_abs, tol_rel, close_factor = common
        if scale == "symlog":
            grid = _from_symlog(np.linspace(*_to_symlog(np.array([lo, hi]), linthresh), 400), linthresh)
        else:
            grid = np.geomspace(lo, hi, 200) if _logarithmic(scale) else np.linspace(lo, hi, 200)
        for factor, alpha in ((close_factor, 0.10), (1.0, 0.22)):
            low, high = _edges(grid, tol_abs, tol_rel, factor, close=factor != 1.0)
            if _logarithmic(scale):
                low = np.maximum(low, lo)  # a log axis has no room below zero
            ax.fill_between(grid, low, high, color="#1b7a3a", alpha=alpha, lw=0, zorder=1)
    for p in points:
        if _rule(p.check) is None or _rule(p.check) == common:
            continue
        x = sign * p.verdict.published
        for factor, alpha in ((p.check.close_factor, 0.12), (1.0, 0.3)):
            low, high = (float(e[0]) for e in _edges(np.array([x]), p.check.abs, p.check.rel, factor,
                                                     close=factor != 1.0))
            bottom = max(low, lo) if _logarithmic(scale) else low
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
