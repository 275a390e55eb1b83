"""Renders verdicts: the terminal table of `bench compare`, and the leaderboard folder `bench leaderboard` writes.

The folder (``write``) works offline from disk: ``index.html`` (everything inline but the images),
``README.md`` for a code host, ``results.json`` with every target, and ``figures/`` (the runs' own figures,
the sweep figures, and one published-versus-reproduced plot per table). What each view shows is gathered
once per paper by ``report_model``; the HTML and Markdown are Jinja templates in ``templates/``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from tabulate import tabulate

from benchmark import (
    curve_figures,
    report_causes,
    report_model,
    report_outcomes,
    report_sensitivity,
    report_text,
    sweep_figures,
)
from benchmark.check import Verdict
from benchmark.release import STAMP
from benchmark.release import summary as release_summary
from benchmark.report_model import FigureGroup
from benchmark.report_outcomes import AGREE, FAILED, LABELS, NOT_RUN, OUTCOMES, counted, outcome, reason, role
from benchmark.results import SuiteResults
from benchmark.tracking import Tracker

TEMPLATES = Path(__file__).parent / "templates"
COLUMNS = ["target", "profile", "published", "reproduced", "verdict"]
# a 120-column terminal: 38 + 7 + 22 + 26 + 15 characters and two spaces between columns
TERMINAL_WIDTHS = [38, 7, 22, 26, 15]
CLAIM_LINES = 3  # a claim's statement and result are summarised to this many lines; the JSON has them whole
MARKDOWN_CELL = 90  # the longest text cell of `bench compare --format markdown`


# ----------------------------------------------------------------------------- terminal and Markdown table


def table(verdicts: list[Verdict], fmt: str = "simple") -> str:
    """Published against reproduced, one row per target. In a terminal (``simple``) it fits 120 columns: ids
    wrap at '/', claims are summarised, and each not-run cause is stated once under the table and referred to
    by number; other formats (``github``) keep every cell on one line, summarised."""
    if not verdicts:
        return "(no targets)"
    causes = list(dict.fromkeys(reason(v) for v in verdicts if outcome(v) in (NOT_RUN, FAILED)))
    wrapped = fmt in ("simple", "grid")
    rows = [_row(v, causes, wrapped) for v in verdicts]
    text = tabulate(rows, headers=COLUMNS, tablefmt=fmt, disable_numparse=True)
    notes = []
    for i, cause in enumerate(causes, start=1):
        kind = FAILED if any(outcome(v) == FAILED and reason(v) == cause for v in verdicts) else NOT_RUN
        n = sum(reason(v) == cause and outcome(v) in (NOT_RUN, FAILED) for v in verdicts)
        first = f"[{i}] {kind}: {cause} ({n} target{'s' if n != 1 else ''})"
        notes += report_text.wrap_text(first, 118) if wrapped else [f"- {first}"]
    if any(report_text.ELLIPSIS in c for r in rows for c in r):
        notes.append("Long claims are summarised (…); `bench compare --format json` has every statement and detail.")
    return text + ("\n\n" + "\n".join(notes) if notes else "")


def _row(v: Verdict, causes: list[str], wrapped: bool) -> list[str]:
    o = outcome(v)
    verdict = f"{o} [{causes.index(reason(v)) + 1}]" if o in (NOT_RUN, FAILED) else o
    if not counted(v):
        verdict += f" ({role(v)})"
    if v.moving.startswith("still"):  # at a reduced budget, the value had not settled (benchmark/curves.py)
        verdict += " (still moving)"
    if v.kind == "claim":
        published, reproduced = v.statement or "claim", v.detail or ("—" if o in (NOT_RUN, FAILED) else "")
    else:
        published = report_model.published(v)
        reproduced = report_model.ours(v) if v.reproduced is not None or v.diverged else "—"
    cells = [v.target, v.profile or "", published, reproduced, verdict]
    if not wrapped:
        return [report_text.summarise(c, MARKDOWN_CELL) for c in cells]
    widths = TERMINAL_WIDTHS
    return ["\n".join(report_text.wrap_id(cells[0], widths[0])),
            "\n".join(report_text.wrap_text(cells[1].replace(",", ", "), widths[1])),
            "\n".join(report_text.wrap_text(cells[2], widths[2], CLAIM_LINES)),
            "\n".join(report_text.wrap_text(cells[3], widths[3], CLAIM_LINES)),
            "\n".join(report_text.wrap_text(cells[4], widths[4]))]


def score(verdicts: list[Verdict]) -> Counter:
    """Counted targets (reproductions) by outcome; sanity checks and calibrations are left out."""
    return Counter(outcome(v) for v in verdicts if counted(v))


def summary_line(verdicts: list[Verdict]) -> str:
    c = score(verdicts)
    ok = sum(c[o] for o in AGREE)
    parts = [f"{ok}/{sum(c.values())} reproduced or holding"]
    parts += [f"{c[o]} {o}" for o in OUTCOMES if o not in AGREE and c[o]]
    roles = report_outcomes.count(verdicts).roles
    if roles:
        parts.append("not counted: " + report_outcomes.role_text(roles))
    finding = report_outcomes.finding_text(verdicts)
    return (finding + "\n" if finding else "") + ", ".join(parts)


def as_json(results: list[SuiteResults]) -> dict[str, Any]:
    """Every target with every field, the overview's counts, and the not-run causes with their commands."""
    suites = []
    for r in results:
        run_profiles = report_outcomes.profiles(r.verdicts)
        causes = report_causes.group(r.verdicts, r.suite.path, [t.id for t in r.suite.all_targets],
                                     run_profiles[0] if run_profiles else None)
        paper = r.suite.paper
        suites.append({
            "suite": r.suite.suite, "title": paper.title, "file": r.suite.path,
            "paper": {"title": paper.title, "authors": paper.authors, "year": paper.year, "venue": paper.venue},
            "summary": dict(score(r.verdicts)), "counts": report_outcomes.count(r.verdicts).as_dict(),
            "profiles": run_profiles, "budget": report_outcomes.budget_text([v for v in r.verdicts if counted(v)]),
            "mlflow_runs": r.runs_total,
            "causes": [{"reason": c.text, "outcome": c.kind, "files": c.files,
                        "targets": [v.target for v in c.verdicts], "only": c.globs, "command": c.command_text}
                       for c in causes],
            # per sensitivity axis, what each candidate moves; each target's candidate verdicts sit beside its own
            "sensitivity": r.axes,
            "explanations": dict(report_sensitivity.kinds(r.verdicts)),
            "targets": [_target_json(v) for v in r.verdicts]})
    return {"suites": suites}


def _target_json(v: Verdict) -> dict[str, Any]:
    d = v.as_dict()
    # the readings every view uses, filled where the engine left them empty
    d.update(outcome=outcome(v), reason=reason(v), role=role(v), counted=counted(v))
    return d


# ----------------------------------------------------------------------------------------- the folder


def write(results: list[SuiteResults], out: Path, tracker: Tracker, release: dict[str, Any] | None = None) -> Path:
    """Writes README.md, results.json, index.html and figures/ under ``out``; ``release``: the reference
    release's stamp (benchmark/release.py), stored in results.json and stated at the head of both pages."""
    out.mkdir(parents=True, exist_ok=True)
    figures = _collect_figures(results, out, tracker)
    sweeps = _sweep_figures(results, out)
    papers = report_model.order([
        report_model.build(r, out, figures.get(r.suite.suite, []), sweeps.get(r.suite.suite, {}),
                           tracker.experiment_id(r.suite.suite, create=False))
        for r in results])
    stamped = {STAMP: release} if release else {}
    (out / "results.json").write_text(json.dumps({**stamped, **as_json([p.results for p in papers])}, indent=2,
                                                 default=float) + "\n")
    env = _environment()
    context = {"papers": papers, "totals": report_outcomes.count([v for p in papers for v in p.verdicts]),
               "provenance": release_summary(release) if release else None}
    (out / "README.md").write_text(_tidy(env.get_template("README.md.j2").render(**context)))
    (out / "index.html").write_text(env.get_template("index.html.j2").render(**context))
    return out


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=lambda name: bool(name and ".html" in name),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(
        # what a verdict says (report_outcomes) and how numbers and claims read (report_model)
        LABELS=LABELS, OUTCOMES=OUTCOMES, MARKS=report_outcomes.MARKS, GLYPHS=report_outcomes.GLYPHS,
        ROLE_WHY=report_outcomes.ROLE_WHY, finding_text=report_outcomes.finding_text,
        role_text=report_outcomes.role_text,
        outcome=outcome, reason=reason, role=role, counted=counted, num=report_model.num, ours=report_model.ours,
        published=report_model.published, p_value=report_model.p_value, sentence=report_model.sentence,
        anchor=report_model.anchor, short_id=report_model.short_id, oslug=report_model.oslug,
        # Markdown and HTML pieces
        md_table=report_text.md_table, md_paragraph=report_text.md_paragraph, summarise=report_text.summarise,
        md_grid=_md_grid, legend=_legend, overview_table=_overview_table, value_rows=_value_rows, summary=_summary,
        command_lines=_command_lines, breakable=_breakable, shared_rule=_shared_rule,
        # sensitivity candidates beside verdicts, and why each counted miss misses (benchmark.report_sensitivity)
        explained=report_sensitivity.explained, explanation=report_sensitivity.explanation,
        beside=report_sensitivity.beside, axis_lines=report_sensitivity.axis_lines, marks=report_sensitivity.marks,
        kinds_text=report_sensitivity.kinds_text,
        css=(TEMPLATES / "leaderboard.css").read_text(), js=(TEMPLATES / "leaderboard.js").read_text())
    env.filters["tick"] = lambda text: f"`{text}`"
    env.filters["num"] = report_model.num
    return env


def _shared_rule(verdicts: list[Verdict]) -> dict[str, Any] | None:
    """The rule and source most of some targets share (a table's), so a list states it once, not per row."""
    if len(verdicts) < 3:
        return None
    (rule, source), n = Counter((v.rule, v.source) for v in verdicts).most_common(1)[0]
    if n * 2 <= len(verdicts):
        return None
    return {"rule": rule, "source": source, "all": n == len(verdicts)}


def _breakable(name: str) -> Markup:
    """A column name that may wrap after its underscores and dots in a narrow table header."""
    return Markup(re.sub(r"([_.])", r"\1<wbr>", str(escape(name))))


# ------------------------------------------------------------------------------------ Markdown pieces


def _legend() -> str:
    return " · ".join(f"{report_outcomes.MARKS[o]} {LABELS[o]}" for o in OUTCOMES)


def _summary(p: report_model.PaperView) -> str:
    c = p.counts.by_outcome
    parts = [f"{c[o]} {LABELS[o]}" for o in OUTCOMES if c[o]]
    if p.counts.roles:
        parts.append("shown, not counted: " + report_outcomes.role_text(p.counts.roles))
    return ", ".join(parts)


def _overview_table(papers: list[report_model.PaperView]) -> list[str]:
    headers = ["paper", "profile", "budget"] + [report_outcomes.MARKS[o] for o in OUTCOMES]
    headers += ["at paper's budget", "reduced", "no stated budget", "counted"]
    rows = []
    for p in papers:
        c = p.counts
        title = p.suite.paper.title
        if len(title) > 60 and ":" in title:
            title = title.split(":", 1)[0]  # "Entropic GANs meet VAEs", the subtitle is under its heading
        rows.append([f"[{title}](#{p.anchor})", ", ".join(p.profiles) or "—", p.budget]
                    + [str(c.by_outcome[o]) for o in OUTCOMES]
                    + [str(sum(c.at_paper_budget.values())), str(sum(c.reduced_budget.values())),
                       str(sum(c.unstated_budget.values())), str(c.counted)])
    return report_text.md_table(headers, rows, 200, shrink=[2])


def _value_rows(s: report_model.Section, p: report_model.PaperView) -> list[list[str]]:
    rows = []
    for v in s.values:
        o = outcome(v)
        why = v.detail
        if reason(v):
            cause = p.cause_of.get(v.target)
            why = f"[cause {cause.number}](#{p.anchor}-{cause.key})" if cause else reason(v)
        if v.sensitivity:
            why = f"beside it (never counted): {report_sensitivity.beside(v)}; {why}"
        if v.explanation and not reason(v):
            why = f"**{report_sensitivity.explanation(v)}**; {why}"
        if v.note:
            why += f"; note: {v.note}"
        verdict = f"{report_outcomes.MARKS[o]} {LABELS[o]}" + ("" if counted(v) else f" ({role(v)}, not counted)")
        rows.append([f"`{report_model.short_id(v, s.common)}`", report_model.published(v),
                     report_model.ours(v) if v.reproduced is not None or v.diverged else "—", verdict, why])
    return rows


def _command_lines(cause: report_causes.Cause, width: int = 100) -> list[str]:
    """The command over several shell lines (backslash continued), one ``--only`` per line when long."""
    argv = cause.command
    head_end = next((i for i, a in enumerate(argv) if a == "--only"), len(argv))
    head = " ".join(shlex.quote(a) if a != "bench" else a for a in argv[:head_end])
    rest = [f"--only {shlex.quote(argv[i + 1])}" for i in range(head_end, len(argv) - 1, 2)]
    if len(head) + sum(len(r) + 1 for r in rest) <= width:
        return [" ".join([head, *rest])]
    return [head + " \\"] + [f"  {r} \\" for r in rest[:-1]] + [f"  {rest[-1]}"] if rest else [head]


def _tidy(markdown: str) -> str:
    """At most one blank line in a row, and none at the end: what the templates' blocks leave behind."""
    lines, blank = [], False
    for line in markdown.splitlines():
        if not line.strip():
            if not blank:
                lines.append("")
            blank = True
            continue
        lines.append(line.rstrip())
        blank = False
    return "\n".join(lines).strip() + "\n"


def _md_grid(view: report_model.TableView, limit: int = 200) -> list[str]:
    """A paper-shaped table in Markdown: ``published / ours mark`` per cell, the columns split into several
    tables where one would be wider than ``limit``."""
    grid = view.grid
    with_n = view.seeds is None
    # a counted miss names its explanation, listed under the table (e1, e2, ...)
    why = report_sensitivity.marks(grid.verdicts + view.claims)

    def mark(v: Verdict) -> str:
        return f" ({why[v.target]})" if v.target in why else ""

    def cell(v: Verdict | None, bold: bool) -> str:
        if v is None:
            return ""
        pub = report_model.published(v)
        pub = f"**{pub}**" if bold else pub
        if v.reproduced is None:
            return f"{pub} / {report_outcomes.MARKS[outcome(v)]}{mark(v)}"
        return f"{pub} / {report_model.ours(v, with_n=with_n, digits=3)} {report_outcomes.MARKS[outcome(v)]}{mark(v)}"

    def claim(v: Verdict | None) -> str:
        return "" if v is None else f"{report_outcomes.MARKS[outcome(v)]} {LABELS[outcome(v)]}{mark(v)}"

    corner = (grid.row_label or "row") + (f" · columns {grid.column_prefix}*" if grid.column_prefix else "")
    columns = list(grid.columns) + grid.claim_columns
    rows_all: list[tuple[str, list[str]]] = []
    # the numbers the paper prints above each block, as a list: inside a row they would widen one column
    above = [f"- {block.name}: " + "; ".join(f"{label} {cell(v, False)}"
                                            + ("" if counted(v) else f" ({role(v)}, not counted)")
                                            for label, v in block.extras)
             for block in grid.blocks if block.extras]
    for block in grid.blocks:
        if block.name:
            rows_all.append((f"**{block.name}**", [""] * len(columns)))
        for row in block.rows:
            cells = [cell(c, b) for c, b in zip(row.cells, row.bold, strict=True)]
            cells += [claim(row.claims.get(label)) for label in grid.claim_columns]
            rows_all.append((row.label, cells))
        if block.column_claims and any(c is not None for c in block.column_claims):
            rows_all.append(("lowest (paper: bold)", [claim(c) for c in block.column_claims]
                             + [""] * len(grid.claim_columns)))
    # split the columns so that every line fits; the row labels repeat in each part
    widths = [min(60, max([len(columns[i])] + [len(cells[i]) for _, cells in rows_all])) + 3
              for i in range(len(columns))]
    first = max([len(corner)] + [len(label) for label, _ in rows_all]) + 4
    parts: list[list[int]] = [[]]
    for i, w in enumerate(widths):
        if parts[-1] and first + sum(widths[j] for j in parts[-1]) + w > limit:
            parts.append([])
        parts[-1].append(i)
    lines: list[str] = []
    if above:
        lines += ["Printed above the blocks (published / ours):", ""]
        lines += [wrapped for line in above for wrapped in report_text.md_paragraph(line[2:], 118, "- ")]
        lines.append("")
    for cols in parts:
        if len(parts) > 1:
            lines += ["", f"Columns {cols[0] + 1}–{cols[-1] + 1} of {len(columns)}:", ""]
        body = []
        for label, cells in rows_all:
            body.append([label] + [cells[i] for i in cols])
        lines += report_text.md_table([corner] + [columns[i] for i in cols], body, limit)
    return lines


# ---------------------------------------------------------------------------------------------- figures

SweepFigures = dict[str, dict[str, list[tuple[str, str]]]]  # suite -> paper_ref -> [(caption, path)]


def _sweep_figures(results: list[SuiteResults], out: Path) -> SweepFigures:
    """The suites' figures over whole sweeps (box plots, scatter plots) and their budget curves, by the paper
    reference they draw."""
    drawn: SweepFigures = {}
    for r in results:
        by_ref: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for fig in r.suite.resolved_figures:
            path = sweep_figures.draw(fig, r.sweeps, r.finals, out / "figures" / r.suite.suite / "sweeps" /
                                      f"{fig.spec.name}.png")
            if path is not None:
                caption = f"{fig.spec.caption} — reproduced over the sweeps: {fig.spec.name}"
                by_ref[fig.spec.paper_ref].append((caption, str(path.relative_to(out))))
        for paper_ref, caption, path in curve_figures.draw(r, out):
            by_ref[paper_ref].append((caption, str(path.relative_to(out))))
        drawn[r.suite.suite] = dict(by_ref)
    return drawn


def published_caption(captions: dict[str, str], figure_name: str) -> str | None:
    """The caption of the paper's figure this one reproduces: the longest matching name prefix wins."""
    matches = [prefix for prefix in captions if figure_name.startswith(prefix)]
    return captions[max(matches, key=len)] if matches else None


def _collect_figures(results: list[SuiteResults], out: Path, tracker: Tracker) -> dict[str, list[FigureGroup]]:
    """Each suite's run figures, copied from MLflow, grouped under the published caption they reproduce."""
    found: dict[str, list[FigureGroup]] = {}
    for r in results:
        root = out / "figures" / r.suite.suite
        if root.exists():
            shutil.rmtree(root)
        groups: dict[str | None, list[report_model.Figure]] = {}
        for (exp, method, dataset), run in sorted(r.figures.items()):
            with tempfile.TemporaryDirectory() as tmp:
                got = tracker.download_artifacts(run.run_id, "figures", Path(tmp))
                if got is None or not got.exists():
                    continue
                for png in sorted(got.glob("*.png")):
                    dest = root / exp / method / dataset / png.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(png, dest)
                    ours = f"{method} on {dataset} ({exp}; seed {run.seed}, {run.tags.get('profile')} profile)"
                    caption = published_caption(r.suite.figures, png.stem)
                    groups.setdefault(caption, []).append(
                        report_model.Figure(str(dest.relative_to(out)), ours, png.stem, run.run_id))
        # the paper's figures in caption order, then what no caption claims
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, _caption_order(r, kv[0])))
        found[r.suite.suite] = [FigureGroup(caption, figs) for caption, figs in ordered]
    return found


def _caption_order(r: SuiteResults, caption: str | None) -> int:
    captions = list(r.suite.figures.values())
    return captions.index(caption) if caption in captions else len(captions)
