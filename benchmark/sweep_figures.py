"""The paper's figures over whole sweeps, drawn from the MLflow record for the leaderboard.

- box (Rosca et al. 2017, Figures 2 and 5: "box plot for all the hyperparameters we considered with the
  best 10 jobs indicated by black circles"): one box per job over the settings its sweep tried (one search
  run each), every setting a grey dot, the best ``best_n`` of each job black circles, the chosen setting's
  mean over its seeds a red diamond, and the ``reference`` measurements (e.g. the test set's diversity) as
  dashed lines. Best is the highest, the lowest, or (``best: closest``) the nearest to the first reference.
- scatter (Figure 15): one measurement against another, one dot per setting, one colour per job, with
  Pearson's r in the legend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.check import Values, paired_values
from benchmark.suite import Ref, ResolvedFigure


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not by `bench compare`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

def best_indices(values: np.ndarray, best: str, n: int, reference: float | None = None) -> np.ndarray:
    """Indices of the ``n`` best values: highest, lowest, or closest to ``reference``."""
    if best == "highest":
        order = np.argsort(-values, kind="stable")
    elif best == "lowest":
        order = np.argsort(values, kind="stable")
    else:
        order = np.argsort(np.abs(values - float(reference)), kind="stable")
    return order[:n]


def _job_label(refs: list[Ref]) -> list[str]:
    """Method names, with the dataset or experiment added only where they tell jobs apart."""
    labels = [r.method for r in refs]
    if len(set(labels)) < len(labels):
        labels = [f"{r.method}\n{r.dataset}" for r in refs]
    if len(set(labels)) < len(labels):
        labels = [f"{r.method}\n{r.experiment}" for r in refs]
    return labels


def _mean(values: Values | None) -> float | None:
    return values.mean if values is not None and values.n else None


def draw(fig_spec: ResolvedFigure, sweeps: dict[Ref, Values], finals: dict[Ref, Values], out: Path) -> Path | None:
    """Draws one sweep figure into ``out``; None when no job of it has any run."""
    if not any(sweeps.get(ref) is not None and sweeps[ref].n for ref in fig_spec.refs):
        return None
    draw_fn = _box if fig_spec.spec.kind == "box" else _scatter
    fig = draw_fn(fig_spec, sweeps, finals)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return out


def _box(fig_spec: ResolvedFigure, sweeps: dict[Ref, Values], finals: dict[Ref, Values]):
    spec = fig_spec.spec
    labels = _job_label(fig_spec.refs)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(fig_spec.refs), 4))
    rng = np.random.default_rng(0)  # dot jitter only
    profiles = set()
    for i, (ref, refs_of_job) in enumerate(zip(fig_spec.refs, fig_spec.references, strict=True), start=1):
        got = sweeps.get(ref)
        if got is None or not got.n:
            ax.text(i, 0.5, "not run", transform=ax.get_xaxis_transform(), ha="center", color="0.5")
            continue
        profiles.add(got.profile)
        values = np.asarray(got.values, dtype=float)
        ax.boxplot([values], positions=[i], widths=0.5, showfliers=False, medianprops={"color": "tab:blue"})
        x = i + rng.uniform(-0.12, 0.12, len(values))
        ax.scatter(x, values, s=12, color="0.6", zorder=2)
        reference = _mean(sweeps.get(refs_of_job[0])) if refs_of_job else None
        best = best_indices(values, spec.best, spec.best_n, reference)
        ax.scatter(x[best], values[best], s=22, color="black", zorder=3)
        chosen = _mean(finals.get(ref))
        if chosen is not None:
            ax.scatter([i + 0.3], [chosen], marker="D", s=28, color="tab:red", zorder=4)
    for k, measurement in enumerate(spec.reference):
        level = [_mean(sweeps.get(refs[k])) for refs in fig_spec.references if refs]
        level = [v for v in level if v is not None]
        if level:
            ax.axhline(float(np.mean(level)), ls="--", lw=1, color=f"C{k + 2}", label=measurement)
    ax.scatter([], [], s=22, color="black", label=f"best {spec.best_n} per model ({spec.best})")
    ax.scatter([], [], marker="D", s=28, color="tab:red", label="chosen setting, mean over seeds")
    ax.set_xticks(range(1, len(labels) + 1), labels)
    ax.set_xlim(0.4, len(labels) + 0.8)
    ax.set_ylabel(spec.measurement)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(_title(spec.caption, profiles), fontsize=9)
    return fig


def _scatter(fig_spec: ResolvedFigure, sweeps: dict[Ref, Values], finals: dict[Ref, Values]):
    spec = fig_spec.spec
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    profiles = set()
    for k, (xref, yref, label) in enumerate(zip(fig_spec.refs, fig_spec.ys, _job_label(fig_spec.refs),
                                                strict=True)):
        if sweeps.get(xref) is None or sweeps.get(yref) is None:
            continue
        profiles.add(sweeps[xref].profile)
        x, y = paired_values(sweeps[xref], sweeps[yref])
        r = np.corrcoef(x, y)[0, 1] if len(x) > 2 and np.std(x) > 0 and np.std(y) > 0 else float("nan")
        ax.scatter(x, y, s=18, color=f"C{k}", label=f"{label.replace(chr(10), ' ')} (n={len(x)}, r={r:.2f})")
    ax.set_xlabel(spec.measurement)
    ax.set_ylabel(spec.y or "")
    ax.legend(fontsize=7, loc="best")
    ax.set_title(_title(spec.caption, profiles), fontsize=9)
    return fig


def _title(caption: str, profiles: set[str]) -> str:
    words, lines, line = caption.split(), [], ""
    for word in words:  # wrap the caption at ~70 characters
        if len(line) + len(word) > 70 and line:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines) + (f"\n(profile: {', '.join(sorted(profiles))})" if profiles else "")
