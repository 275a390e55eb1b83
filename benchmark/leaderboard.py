"""Renders verdicts: terminal tables, leaderboard/README.md, results.json and index.html with figures."""

from __future__ import annotations

import html
import json
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmark import sweep_figures
from benchmark.check import CLOSE, HOLDS, REPRODUCED, Verdict
from benchmark.results import SuiteResults
from benchmark.tracking import Tracker

COLUMNS = ["target", "paper", "published", "reproduced", "diff", "verdict", "profile"]


def _num(value: float | None, std: float | None = None, n: int | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.4g}"
    if std is not None and n and n > 1:
        text += f" ± {std:.2g} (n={n})"
    elif n == 1:
        text += " (n=1)"
    return text


def row(v: Verdict) -> list[str]:
    if v.kind == "claim":
        reproduced = v.detail
        published = v.statement or "claim"
    else:
        reproduced = _num(v.reproduced, v.reproduced_std, v.n)
        published = _num(v.published, v.published_std)
    diff = "" if v.difference is None else f"{v.difference:+.3g}"
    return [v.target, v.paper_ref, published, reproduced, diff, v.verdict, v.profile or ""]


# In a terminal, long claim statements and details wrap instead of pushing the verdict off screen.
TERMINAL_WIDTHS = [66, 14, 30, 44, 9, 16, 7]


def table(verdicts: list[Verdict], fmt: str = "simple") -> str:
    widths = TERMINAL_WIDTHS if fmt in ("simple", "grid") else None
    if not verdicts:
        return "(no targets)"
    return tabulate([row(v) for v in verdicts], headers=COLUMNS, tablefmt=fmt, disable_numparse=True,
                    maxcolwidths=widths)


def score(verdicts: list[Verdict]) -> Counter:
    """Verdict counts over the targets that count: reproductions (sanity and calibration targets are left out)."""
    counts: Counter = Counter()
    for v in verdicts:
        if v.role == "reproduction":
            counts[_bucket(v.verdict)] += 1
    return counts


def _bucket(verdict: str) -> str:
    for kind in ("not run", "failed"):
        if verdict.startswith(kind):
            return kind
    return verdict


def summary_line(verdicts: list[Verdict]) -> str:
    c = score(verdicts)
    counted = sum(c.values())
    ok = c[REPRODUCED] + c[HOLDS]
    parts = [f"{ok}/{counted} reproduced or holding"]
    parts += [f"{n} {k}" for k, n in sorted(c.items()) if k not in (REPRODUCED, HOLDS)]
    others = [v for v in verdicts if v.role != "reproduction"]
    if others:
        passing = sum(1 for v in others if v.verdict in (REPRODUCED, HOLDS))
        parts.append(f"not counted: {len(others)} sanity/calibration checks ({passing} pass)")
    return ", ".join(parts)


def as_json(results: list[SuiteResults]) -> dict[str, Any]:
    return {"suites": [{
        "suite": r.suite.suite, "title": r.suite.paper.title, "file": r.suite.path,
        "summary": dict(score(r.verdicts)), "mlflow_runs": r.runs_total,
        "targets": [v.as_dict() for v in r.verdicts]} for r in results]}


def write(results: list[SuiteResults], out: Path, tracker: Tracker) -> Path:
    """Writes README.md, results.json, index.html and figures/ under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    figures = _collect_figures(results, out, tracker)
    sweeps = _sweep_figures(results, out)
    (out / "results.json").write_text(json.dumps(as_json(results), indent=2, default=float) + "\n")
    (out / "README.md").write_text(_markdown(results, figures, sweeps))
    (out / "index.html").write_text(_html(results, figures, sweeps))
    return out


SweepFigures = dict[str, dict[str, list[tuple[str, str]]]]  # suite -> paper_ref -> [(caption, path)]


def _sweep_figures(results: list[SuiteResults], out: Path) -> SweepFigures:
    """The suites' figures over whole sweeps (box plots, scatter plots), by the paper reference they draw."""
    drawn: SweepFigures = {}
    for r in results:
        by_ref: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for fig in r.suite.resolved_figures:
            path = sweep_figures.draw(fig, r.sweeps, r.finals, out / "figures" / r.suite.suite / "sweeps" /
                                      f"{fig.spec.name}.png")
            if path is not None:
                caption = f"{fig.spec.caption} — reproduced over the sweeps: {fig.spec.name}"
                by_ref[fig.spec.paper_ref].append((caption, str(path.relative_to(out))))
        drawn[r.suite.suite] = dict(by_ref)
    return drawn


def _group(verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        groups[v.paper_ref].append(v)
    return groups


def _markdown(results: list[SuiteResults], figures: dict[str, list[tuple[str, str]]], sweeps: SweepFigures) -> str:
    lines = ["# Leaderboard", "",
             "What reproduced, target by target. Generated by `bench leaderboard` from the MLflow record;",
             "`profile` says how much of the paper's budget the runs spent (`smoke` < `cpu` < `paper`).", ""]
    overview = []
    for r in results:
        c = score(r.verdicts)
        overview.append([r.suite.paper.title, r.suite.suite, c[REPRODUCED] + c[HOLDS], c[CLOSE],
                         sum(n for k, n in c.items() if k not in (REPRODUCED, HOLDS, CLOSE)), len(r.verdicts)])
    lines += [tabulate(overview, headers=["paper", "suite", "reproduced / holds", "close", "other", "targets"],
                       tablefmt="github"), ""]
    for r in results:
        lines += [f"## {r.suite.paper.title} (`{r.suite.suite}`)", "", summary_line(r.verdicts), ""]
        beside = sweeps.get(r.suite.suite, {})
        groups = _group(r.verdicts)
        for ref, group in groups.items():
            lines += [f"### {ref}", "", summary_line(group), "", table(group, "github"), ""]
            lines += [f"![{caption}]({path})\n" for caption, path in beside.get(ref, [])]
        leftover = [f for ref, figs in beside.items() if ref not in groups for f in figs]
        for caption, path in leftover + figures.get(r.suite.suite, []):
            lines += [f"![{caption}]({path})", ""]
    return "\n".join(lines)


def _figure_html(figs: list[tuple[str, str]]) -> str:
    esc = html.escape
    return ("<div class='figs'>" + "".join(f"<figure><img src='{esc(p)}' loading='lazy'><figcaption>{esc(c)}"
                                           "</figcaption></figure>" for c, p in figs) + "</div>")


def _html(results: list[SuiteResults], figures: dict[str, list[tuple[str, str]]], sweeps: SweepFigures) -> str:
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>bench leaderboard</title><style>",
             "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
             ".reproduced,.claim-holds{background:#d8f5d0}.close{background:#fff3c4}"
             ".not-reproduced,.claim-fails{background:#f9d0d0}.not-run{background:#eee}"
             ".figs{display:flex;flex-wrap:wrap;gap:12px}.figs figure{margin:0;max-width:420px}"
             ".figs img{max-width:420px}</style></head><body><h1>bench leaderboard</h1>"]
    for r in results:
        parts.append(f"<h2>{esc(r.suite.paper.title)} <code>{esc(r.suite.suite)}</code></h2>"
                     f"<p>{esc(summary_line(r.verdicts))}</p>")
        beside = sweeps.get(r.suite.suite, {})
        groups = _group(r.verdicts)
        for ref, group in groups.items():
            parts.append(f"<h3>{esc(ref)}</h3><p>{esc(summary_line(group))}</p><table><tr>"
                         + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr>")
            for v in group:
                klass = _bucket(v.verdict).replace(" ", "-")
                parts.append("<tr>" + "".join(f"<td class='{klass}'>{esc(c)}</td>" for c in row(v)) + "</tr>")
            parts.append("</table>")
            if beside.get(ref):
                parts.append(_figure_html(beside[ref]))
        figs = [f for ref, fs in beside.items() if ref not in groups for f in fs] + figures.get(r.suite.suite, [])
        if figs:
            parts.append("<h3>Figures</h3>" + _figure_html(figs))
    parts.append("</body></html>")
    return "\n".join(parts)


def published_caption(captions: dict[str, str], figure_name: str) -> str | None:
    """The caption of the paper's figure this one reproduces: the longest matching name prefix wins."""
    matches = [prefix for prefix in captions if figure_name.startswith(prefix)]
    return captions[max(matches, key=len)] if matches else None


def _collect_figures(results: list[SuiteResults], out: Path, tracker: Tracker) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for r in results:
        root = out / "figures" / r.suite.suite
        if root.exists():
            shutil.rmtree(root)
        entries = []
        for (exp, method, dataset), run in sorted(r.figures.items()):
            with tempfile.TemporaryDirectory() as tmp:
                got = tracker.download_artifacts(run.run_id, "figures", Path(tmp))
                if got is None or not got.exists():
                    continue
                for png in sorted(got.glob("*.png")):
                    dest = root / exp / method / dataset / png.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(png, dest)
                    ours = (f"{exp} · {method} · {dataset} · {png.stem} (seed {run.seed}, "
                            f"{run.tags.get('profile')})")
                    published = published_caption(r.suite.figures, png.stem)
                    caption = f"{published} — reproduced by: {ours}" if published else ours
                    entries.append((caption, str(dest.relative_to(out))))
        found[r.suite.suite] = entries
    return found
