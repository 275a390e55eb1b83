"""Budget-curve figures for the leaderboard (benchmark/curves.py): per experiment with a curve, one panel per
model and dataset, each measured value that a target publishes drawn against training steps (mean over the
seeds, log-log), with the published value as a dashed line of the same colour at the right. The profile is
the one the verdicts read (the paper's budget where it ran, else the largest complete one).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmark import curves
from benchmark.results import SuiteResults

Triple = tuple[str, str, str]


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not by `bench compare`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mean_curve(runs: list, measurement: str) -> list[tuple[int, float]]:
    """The mean over runs (seeds) at every step all of them measured."""
    per_run = [dict(curves.decode(run.tags.get(curves.TAG)).get(measurement, [])) for run in runs]
    if not per_run or not all(per_run):
        return []
    steps = sorted(set.intersection(*(set(p) for p in per_run)))
    return [(s, float(np.mean([p[s] for p in per_run]))) for s in steps]


def draw(r: SuiteResults, out: Path) -> list[tuple[str, str, Path]]:
    """The curve figures of one suite: (paper reference, caption, path) each; none without curve data."""
    suite = r.suite
    drawn = []
    for name, exp in suite.experiments.items():
        if exp.curve is None:
            continue
        published: dict[Triple, dict[str, float]] = {}
        refs: dict[str, int] = {}
        for target in suite.all_targets:
            if (target.kind == "value" and target.role == "reproduction" and target.published is not None
                    and target.measurement and len(target.refs) == 1 and target.refs[0].experiment == name):
                published.setdefault(target.refs[0].job, {})[target.measurement] = float(target.published)
                refs[target.paper_ref] = refs.get(target.paper_ref, 0) + 1
        runs = _finals(r, name)
        if not runs or not published:
            continue
        path = _draw_experiment(name, exp.methods, exp.datasets, runs, published,
                                out / "figures" / suite.suite / "curves" / f"{name}.png")
        if path is None:
            continue
        profile_of = sorted({r.profiles[t] for t in runs})
        caption = (f"Budget curves of experiment '{name}': each published value's measurement against training "
                   f"steps (mean over seeds; profile {', '.join(profile_of)}); dashed: the published value. "
                   "A value still far from its line at the last point, and still moving, was not settled.")
        drawn.append((max(refs, key=refs.get), caption, path))
    return drawn


def _plain_ticks(ax) -> None:
    """Log axes labelled 500, 5K, 0.1 rather than 5×10²; minor ticks unlabelled."""
    from matplotlib import ticker

    def steps(x: float, _pos: int) -> str:
        return f"{x / 1000:g}K" if x >= 1000 else f"{x:g}"

    ax.xaxis.set_major_formatter(ticker.FuncFormatter(steps))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _pos: f"{y:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _finals(r: SuiteResults, experiment: str) -> dict[Triple, list]:
    """Per job of the experiment, the final runs of the record its verdicts read."""
    found: dict[Triple, list] = {}
    for (profile, _device, triple), rec in r.records.items():
        if triple[0] != experiment or not rec.done or r.profiles.get(triple) != profile or triple in found:
            continue
        runs = [rec.finals[s] for s in sorted(rec.finals)]
        if any(run.tags.get(curves.TAG) for run in runs):
            found[triple] = runs
    return found


def _draw_experiment(name: str, methods: list[str], datasets: list[str], runs: dict[Triple, list],
                     published: dict[Triple, dict[str, float]], out: Path) -> Path | None:
    plt = _pyplot()
    measurements = sorted({m for pub in published.values() for m in pub})
    colours = plt.get_cmap("tab10" if len(measurements) <= 10 else "tab20")
    colour = {m: colours(i % colours.N) for i, m in enumerate(measurements)}
    fig, axes = plt.subplots(len(methods), len(datasets), figsize=(3.6 * len(datasets) + 1.8, 2.7 * len(methods)),
                             squeeze=False, sharex="col")
    any_line = False
    for i, method in enumerate(methods):
        for j, dataset in enumerate(datasets):
            ax = axes[i][j]
            triple = (name, method, dataset)
            pub = published.get(triple, {})
            ax.set_title(f"{method} · {dataset}", fontsize=9)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.tick_params(labelsize=7)
            if triple not in runs:
                ax.text(0.5, 0.5, "no run with a curve", ha="center", va="center", transform=ax.transAxes,
                        fontsize=8, color="0.5")
                continue
            for m in (m for m in measurements if m in pub):
                points = [(s, v) for s, v in mean_curve(runs[triple], m) if v > 0 and math.isfinite(v)]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, "-o", ms=2.5, lw=1.1, color=colour[m], label=m)
                    any_line = True
                if m in pub and pub[m] > 0:
                    ax.axhline(pub[m], ls="--", lw=0.8, color=colour[m], alpha=0.8)
            _plain_ticks(ax)
            if i == len(methods) - 1:
                ax.set_xlabel("training steps", fontsize=8)
            if j == 0:
                ax.set_ylabel("value (log)", fontsize=8)
    if not any_line:
        plt.close(fig)
        return None
    handles = [plt.Line2D([], [], color=colour[m], marker="o", ms=3, lw=1.1) for m in measurements]
    fig.legend(handles, measurements, loc="center right", fontsize=8, frameon=False, title="ours (—), paper (--)",
               title_fontsize=8)
    fig.tight_layout(rect=(0, 0, 1 - 1.6 / (3.6 * len(datasets) + 1.8), 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
