"""What the leaderboard shows of one paper, gathered once for the HTML and Markdown templates.

A ``PaperView`` holds, in reading order: the overview numbers (counted reproductions by outcome, at the
paper's budget and at reduced ones, what is shown but not counted), the paper-shaped tables with their
published-versus-reproduced plots, the remaining targets by paper reference (values as a compact table,
claims as sentences, the sweep figures of that reference), the reproduced figures beside the paper's
captions, and the targets without a result grouped by cause.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmark import report_causes, report_plots, report_tables
from benchmark.check import Verdict
from benchmark.report_outcomes import (
    LABELS,
    NOT_RUN,
    REPRODUCTION,
    Counts,
    budget_text,
    count,
    counted,
    outcome,
    profiles,
    ran,
    role,
)
from benchmark.results import SuiteResults
from benchmark.suite import Suite

MLFLOW_UI = "http://127.0.0.1:5000"  # where `bench ui` serves the MLflow UI
# MLflow 3's UI opens in its GenAI workspace unless told otherwise; these are training runs
WORKSPACE = "?workflowType=machine_learning"


@dataclass
class Figure:
    path: str  # relative to the leaderboard folder
    ours: str  # what produced it (job, seed, profile)
    name: str  # the figure's file name, without .png
    run_id: str  # the MLflow run it comes from


@dataclass
class FigureGroup:
    """The reproductions of one published figure, under the paper's caption."""

    caption: str | None  # the paper's caption; None for figures the suite ties to no caption
    figures: list[Figure]


@dataclass
class TableView:
    grid: report_tables.Grid
    plot: report_plots.PlotInfo | None
    plot_path: str | None  # relative to the leaderboard folder
    claims: list[Verdict]  # further claims of the table's paper reference
    counts: Counts
    seeds: int | None  # the number of seeds behind every cell, when they agree
    budget: str
    figures: list[tuple[str, str]]  # sweep figures drawn for the table's paper reference: (caption, path)


@dataclass
class Section:
    """The targets of one paper reference that no table shows."""

    ref: str
    key: str
    values: list[Verdict]
    claims: list[Verdict]
    figures: list[tuple[str, str]]  # sweep figures drawn for this reference: (caption, path)
    plot: report_plots.PlotInfo | None = None
    plot_path: str | None = None
    common: str = ""  # the id prefix the values share, left out where they are listed


@dataclass
class PaperView:
    results: SuiteResults
    suite: Suite
    anchor: str
    counts: Counts
    profiles: list[str]
    budget: str
    tables: list[TableView]
    sections: list[Section]
    figures: list[FigureGroup]
    causes: list[report_causes.Cause]
    experiment_id: str | None
    cause_of: dict[str, report_causes.Cause] = field(default_factory=dict)  # target -> why it has no result

    @property
    def verdicts(self) -> list[Verdict]:
        return self.results.verdicts

    @property
    def provenance(self) -> str:
        """Once per paper: what its verdicts' runs were trained with and where (each verdict has its own)."""
        keys = ("git_commit", "torch_version", "device", "gpu", "cpu_model", "cpu_capability")
        seen = {k: sorted({value for v in self.verdicts for value in v.provenance.get(k, {})}) for k in keys}
        seen["finished"] = sorted({v.provenance["finished"] for v in self.verdicts if "finished" in v.provenance})
        if not any(seen.values()):
            return ""
        commits = ", ".join(c[:7] if c not in ("unknown", "not recorded") else c for c in seen["git_commit"])
        clean = ("0", "unknown", "not recorded")
        edited = sum(any(value not in clean for value in v.provenance.get("git_uncommitted", {}))
                     for v in self.verdicts)
        if edited:
            commits += f" ({edited} verdicts read runs trained with uncommitted changes to it)"
        where = [f"device {', '.join(seen['device'])}"]
        if [g for g in seen["gpu"] if g != "not recorded"]:
            where.append(f"GPU {', '.join(g for g in seen['gpu'] if g != 'not recorded')}")
        where.append(f"processor {', '.join(seen['cpu_model'])} ({', '.join(seen['cpu_capability'])})")
        last = f"; last run finished {seen['finished'][-1]}" if seen["finished"] else ""
        return (f"Runs trained at commit {commits or 'not recorded'} with torch {', '.join(seen['torch_version'])}; "
                f"{'; '.join(where)}{last}.")

    @property
    def ran_share(self) -> float:
        n = self.counts.counted
        return (n - self.counts.by_outcome[NOT_RUN] - self.counts.by_outcome["failed"]) / n if n else 0.0

    def run_url(self, run_id: str) -> str | None:
        if self.experiment_id is None:
            return None
        return f"{MLFLOW_UI}/#/experiments/{self.experiment_id}/runs/{run_id}{WORKSPACE}"

    @property
    def experiment_url(self) -> str | None:
        return None if self.experiment_id is None else f"{MLFLOW_UI}/#/experiments/{self.experiment_id}{WORKSPACE}"

    def causes_among(self, verdicts: list[Verdict]) -> list[tuple[report_causes.Cause, int]]:
        """The causes some verdicts share, each with how many of them it holds back."""
        keys = [self.cause_of[v.target].key for v in verdicts if v.target in self.cause_of]
        return [(c, keys.count(c.key)) for c in self.causes if c.key in keys]


def build(r: SuiteResults, out: Path, figures: list[FigureGroup], sweeps: dict[str, list[tuple[str, str]]],
          experiment_id: str | None) -> PaperView:
    suite = r.suite
    grids, rest = report_tables.shape(suite, r.verdicts)
    checks = {t.id: t.check for t in suite.all_targets}
    plot_root = out / "figures" / suite.suite / "tables"
    tables = []
    for grid in grids:
        points = [report_plots.Point(v, block.name, checks.get(v.target)) for block in grid.blocks
                  for row in block.rows for v in row.cells if v is not None]
        points += [report_plots.Point(v, block.name, checks.get(v.target)) for block in grid.blocks
                   for _, v in block.extras]
        plot = report_plots.draw(points, grid.title, plot_root / f"{grid.key}.png")
        claims = [v for v in rest if v.kind == "claim" and v.paper_ref == grid.paper_ref]
        rest = [v for v in rest if v not in claims]
        seeds = {v.n for v in grid.cells if ran(v)}
        tables.append(TableView(grid, plot, _rel(plot.path, out) if plot else None, claims,
                                count(grid.verdicts + claims), seeds.pop() if len(seeds) == 1 else None,
                                budget_text(grid.verdicts), sweeps.get(grid.paper_ref, [])))
    sections = _sections(rest, sweeps, tables, checks, plot_root, out)
    every_id = [t.id for t in suite.all_targets]
    causes = report_causes.group(r.verdicts, suite.path, every_id, (profiles(r.verdicts) or [None])[0])
    cause_of = {v.target: c for c in causes for v in c.verdicts}
    return PaperView(r, suite, anchor=_slug(suite.suite), counts=count(r.verdicts), profiles=profiles(r.verdicts),
                     budget=budget_text([v for v in r.verdicts if counted(v)]), tables=tables, sections=sections,
                     figures=figures, causes=causes, experiment_id=experiment_id, cause_of=cause_of)


def _sections(rest: list[Verdict], sweeps: dict[str, list[tuple[str, str]]], tables: list[TableView],
              checks: dict, plot_root: Path, out: Path) -> list[Section]:
    refs = list(dict.fromkeys([v.paper_ref for v in rest] + [ref for ref in sweeps if ref]))
    table_refs = {t.grid.paper_ref for t in tables}
    sections = []
    for i, ref in enumerate(refs):
        values = [v for v in rest if v.paper_ref == ref and v.kind == "value"]
        claims = [v for v in rest if v.paper_ref == ref and v.kind == "claim"]
        figs = [] if ref in table_refs else sweeps.get(ref, [])  # a table's figures stand beside it
        if not values and not claims and not figs:
            continue
        section = Section(ref, f"ref-{i}-{_slug(ref)}", values, claims, figs, common=_common_id_prefix(values))
        judged = [v for v in values if v.reproduced is not None and v.published is not None]
        if len(judged) >= 4:
            points = [report_plots.Point(v, "", checks.get(v.target)) for v in values]
            section.plot = report_plots.draw(points, ref, plot_root / f"{section.key}.png")
            section.plot_path = _rel(section.plot.path, out) if section.plot else None
        sections.append(section)
    return sections


def order(papers: list[PaperView]) -> list[PaperView]:
    """Papers with results first (the share of counted targets that ran), then by title."""
    return sorted(papers, key=lambda p: (-round(p.ran_share, 6), p.suite.paper.title.lower()))


# ------------------------------------------------------------------------------ formatting


def num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def ours(v: Verdict, with_n: bool = True, digits: int = 4) -> str:
    """Our number as the verdict rests on it: mean [lo, hi] (n=...), the interval at the verdict's level, and the
    seeds that diverged; a verdict judged before intervals existed shows mean ± std."""
    if v.reproduced is None:
        return f"{v.diverged} of {v.diverged} diverged" if v.diverged else LABELS[outcome(v)]
    text = num(v.reproduced, digits)
    if v.interval is not None:
        text += f" [{num(v.interval[0], digits)}, {num(v.interval[1], digits)}]"
    elif v.level is not None:
        text += " [unbounded]"
    elif v.n and v.n > 1 and v.reproduced_std is not None:
        text += f" ± {num(v.reproduced_std, 2)}"
    if with_n and v.n:
        text += f" (n={v.n})"
    if v.diverged:
        text += f", {v.diverged} of {v.n + v.diverged} diverged"
    return text


def published(v: Verdict) -> str:
    if v.published is None:
        return "—"
    text = f"{v.published:g}"
    if v.published_std:
        text += f" ± {num(v.published_std, 2)}"
    return text


def p_value(v: Verdict) -> str:
    """The test a target's verdict used and its p-value ("pearson, p = 0.0069"); '' where none applies."""
    test = v.test or {}
    name = test.get("test")
    if not name:
        return ""
    p = test.get("p_value")
    return f"{name}, p = {p:.2g}" if p is not None else str(name)


def sentence(v: Verdict) -> str:
    """A claim as a sentence: its statement, or its id's last part in words."""
    if v.statement:
        return v.statement
    last = v.target.rstrip("/").split("/")[-1]
    words = re.sub(r"[_-]+", " ", last).strip()
    return words[:1].upper() + words[1:] if words else v.target


def anchor(v: Verdict, paper: str = "") -> str:
    """The element id of a target's detail row; ids repeat across papers, so the paper's anchor leads."""
    return f"{paper}--{_slug(v.target)}" if paper else _slug(v.target)


def oslug(o: str) -> str:
    """An outcome as a CSS class suffix: "not reproduced" -> "not-reproduced"."""
    return o.replace(" ", "-")


def short_id(v: Verdict, common: str) -> str:
    return v.target[len(common):] if common and v.target.startswith(common) else v.target


def role_note(v: Verdict) -> str:
    r = role(v)
    return "" if r == REPRODUCTION else r


def _common_id_prefix(verdicts: list[Verdict]) -> str:
    """The path segments every id shares ("section3.3.1/"), left out of the listed ids."""
    if len(verdicts) < 2:
        return ""
    split = [v.target.split("/") for v in verdicts]
    shared = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    shared = shared[: min(len(s) for s in split) - 1]
    return "/".join(shared) + "/" if shared else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def _rel(path: Path, out: Path) -> str:
    return path.resolve().relative_to(out.resolve()).as_posix()

