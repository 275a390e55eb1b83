"""Tables in the paper's shape: the targets of one published table laid out as the paper prints it.

Two sources of shape:

- a suite's ``tables:`` block (``TableSpec``): rows are the methods, grouped by dataset, columns the
  measurements, as in Table 2 of Dai et al. 2017. Value targets whose ids extend the table's prefix
  (``<prefix>/<dataset>/<what>/<measurement>``, the numbers printed above each block) are shown in their
  dataset's header row;
- any other group of value targets of one paper reference whose ids differ in two path segments (or in
  more, when the grid they make is at least half full): rows are the first varying part, columns the last
  (``tightness/gauss_d<d>/EntropicGAN-linear/loglik.{exact,surrogate}``: dimension x measurement).

Claims that are statements about cells join the grid: a ``lowest`` claim over one column of one block is
the paper's bold face (the expected winner's published value is bold, the claim's verdict sits under the
column); a claim over cells of one row is shown at the end of that row.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from benchmark.check import Verdict
from benchmark.suite import Ref, Suite, Target


@dataclass
class Row:
    label: str
    cells: list[Verdict | None]
    bold: list[bool]
    claims: dict[str, Verdict] = field(default_factory=dict)  # claim column -> the claim over this row's cells


@dataclass
class Block:
    """One group of rows (a dataset in Table 2), with what the paper prints beside it."""

    name: str
    rows: list[Row]
    extras: list[tuple[str, Verdict]] = field(default_factory=list)  # (label, verdict) printed above the block
    column_claims: list[Verdict | None] = field(default_factory=list)  # one per column: the bold-face claim


@dataclass
class Grid:
    key: str  # unique within a suite, for anchors and file names
    title: str  # what the heading says: the paper reference, or the table's name where two share one
    paper_ref: str  # the paper reference ("Table 2 (Appendix B.2)"), which claims and figures are filed under
    columns: list[str]  # column labels, their common prefix removed
    column_prefix: str  # that prefix ("kl."), shown in the corner
    row_label: str  # what a row is ("method", "dataset"), "" when the rows mix things
    blocks: list[Block]
    pattern: str = ""  # the id pattern of the cells, e.g. "table2/<dataset>/<method>/<measurement>"
    claim_columns: list[str] = field(default_factory=list)  # families of claims over each row's cells

    @property
    def cells(self) -> list[Verdict]:
        return [c for b in self.blocks for r in b.rows for c in r.cells if c is not None]

    @property
    def verdicts(self) -> list[Verdict]:
        """Everything the grid shows: cells, the values above blocks, and the claims it absorbed."""
        out = self.cells + [v for b in self.blocks for _, v in b.extras]
        out += [c for b in self.blocks for c in b.column_claims if c is not None]
        out += [c for b in self.blocks for r in b.rows for c in r.claims.values()]
        return out

    @property
    def has_column_claims(self) -> bool:
        return any(c is not None for b in self.blocks for c in b.column_claims)


def shape(suite: Suite, verdicts: list[Verdict]) -> tuple[list[Grid], list[Verdict]]:
    """The paper-shaped grids of a suite, and the verdicts none of them shows (in their original order)."""
    by_id = {v.target: v for v in verdicts}
    targets = {t.id: t for t in suite.all_targets}
    grids: list[Grid] = []
    taken: set[str] = set()
    tables_per_ref = Counter(t.paper_ref for t in suite.tables)
    for i, table in enumerate(suite.tables):
        # two tables printed under one reference (one section's two experiments) are told apart by name
        title = (table.name or f"{table.paper_ref} ({table.experiment})") if tables_per_ref[table.paper_ref] > 1 \
            else table.paper_ref
        grid = _from_table_spec(i, table, title, by_id, targets, taken)
        if grid is not None:
            grids.append(grid)
            taken |= {v.target for v in grid.verdicts}
    refs_in_order = list(dict.fromkeys(v.paper_ref for v in verdicts))
    for ref in refs_in_order:
        group = [v for v in verdicts if v.paper_ref == ref and v.kind == "value" and v.target not in taken
                 and v.target in targets and len(targets[v.target].refs) == 1]
        grid = _inferred(ref, group, targets, len(grids))
        if grid is not None:
            grids.append(grid)
            taken |= {v.target for v in grid.verdicts}
    for grid in grids:
        _absorb_claims(grid, verdicts, targets, taken)
        taken |= {v.target for v in grid.verdicts}
    return grids, [v for v in verdicts if v.target not in taken]


def _from_table_spec(index: int, table, title: str, by_id: dict[str, Verdict], targets: dict[str, Target],
                     taken: set[str]) -> Grid | None:
    columns: list[str] = []
    for by_method in table.values.values():
        for by_measurement in by_method.values():
            columns += [m for m in by_measurement if m not in columns]
    prefix = _common_prefix(columns)
    blocks = []
    for dataset, by_method in table.values.items():
        rows = []
        for method, by_measurement in by_method.items():
            cells = [by_id.get(f"{table.prefix}/{dataset}/{method}/{m}") if m in by_measurement else None
                     for m in columns]
            rows.append(Row(method, cells, [False] * len(columns)))
        extras = []
        for target_id, v in by_id.items():
            parts = target_id.split("/")
            t = targets.get(target_id)
            if (len(parts) == 4 and parts[0] == table.prefix and parts[1] == dataset and v.kind == "value"
                    and target_id not in taken and t is not None and t.experiment == table.experiment
                    and parts[3] not in by_method.get(parts[2], {})):
                extras.append((f"{parts[2]} · {parts[3]}", v))
        blocks.append(Block(dataset, rows, extras, [None] * len(columns)))
    grid = Grid(key=f"table-{_slug(table.prefix)}-{index}", title=title, paper_ref=table.paper_ref,
                columns=_strip(columns, prefix), column_prefix=prefix, row_label="method", blocks=blocks,
                pattern=f"{table.prefix}/<dataset>/<method>/<measurement>")
    return grid if grid.cells else None


def _inferred(ref: str, group: list[Verdict], targets: dict[str, Target], index: int) -> Grid | None:
    """A 2-D grid from ids that differ in two path segments (or more, when the grid is dense)."""
    if len(group) < 4:
        return None
    split = [v.target.split("/") for v in group]
    if len({len(s) for s in split}) != 1:
        return None
    varying = [i for i in range(len(split[0])) if len({s[i] for s in split}) > 1]
    if len(varying) < 2:
        return None
    row_keys = ["/".join(s[i] for i in varying[:-1]) for s in split]
    col_keys = [s[varying[-1]] for s in split]
    rows = list(dict.fromkeys(row_keys))
    columns = list(dict.fromkeys(col_keys))
    if len(rows) < 2 or len(columns) < 2 or len(set(zip(row_keys, col_keys, strict=True))) != len(group):
        return None
    if len(varying) > 2 and len(group) < 0.5 * len(rows) * len(columns):
        return None  # a sparse grid reads worse than the list
    at = {(r, c): v for r, c, v in zip(row_keys, col_keys, group, strict=True)}
    prefix = _common_prefix(columns)
    table_rows = [Row(r, [at.get((r, c)) for c in columns], [False] * len(columns)) for r in rows]
    names = {i: _name_of(group, targets, i) for i in varying}
    pattern = "/".join(f"<{names[i] or f'part {varying.index(i) + 1}'}>" if i in varying else part
                       for i, part in enumerate(split[0]))
    row_label = names[varying[0]] if len(varying) == 2 else ""
    return Grid(key=f"grid-{_slug(ref)}-{index}", title=ref, paper_ref=ref, columns=_strip(columns, prefix),
                column_prefix=prefix, row_label=row_label, blocks=[Block("", table_rows, [], [None] * len(columns))],
                pattern=pattern)


def _name_of(group: list[Verdict], targets: dict[str, Target], index: int) -> str:
    """What an id segment is (dataset, method, measurement) when every target's reference says so; else ''."""
    keys = [v.target.split("/")[index] for v in group]
    for name in ("dataset", "method", "measurement"):
        if all(getattr(targets[v.target].refs[0], name) == k for v, k in zip(group, keys, strict=True)):
            return name
    return ""


def _absorb_claims(grid: Grid, verdicts: list[Verdict], targets: dict[str, Target], taken: set[str]) -> None:
    """Bold face (a ``lowest`` claim over one column of one block) and claims over the cells of one row."""
    where: dict[Ref, tuple[int, int, int]] = {}  # measurement reference -> (block, row, column)
    for b, block in enumerate(grid.blocks):
        for r, row in enumerate(block.rows):
            for c, cell in enumerate(row.cells):
                if cell is not None and cell.target in targets and len(targets[cell.target].refs) == 1:
                    where[targets[cell.target].refs[0]] = (b, r, c)
    row_claims: dict[str, list[tuple[Verdict, int, int] | None]] = {}  # claim kind -> where each one goes
    for v in verdicts:
        t = targets.get(v.target)
        if v.kind != "claim" or t is None or v.target in taken or not t.refs:
            continue
        spots = {where.get(ref) for ref in t.refs}
        inside = None not in spots and len({s[0] for s in spots}) == 1
        if inside and t.claim.type == "lowest" and len({s[2] for s in spots}) == 1:
            b, _, c = next(iter(spots))
            if grid.blocks[b].column_claims[c] is None:
                grid.blocks[b].column_claims[c] = v
                _, r, _ = where[t.refs[len(t.claim.refs)]]  # the expected winner, parsed after the list
                grid.blocks[b].rows[r].bold[c] = True
            continue
        kind = f"{t.paper_ref}\0{v.target.rsplit('/', 1)[-1]}"
        one_row = inside and len({s[1] for s in spots}) == 1 and len(t.refs) >= 2
        b, r, _ = next(iter(spots)) if one_row else (0, 0, 0)
        row_claims.setdefault(kind, []).append((v, b, r) if one_row else None)
    # a family of claims (same reference, same last id part) becomes a column at the end of the rows only when
    # every one of them can join, so that the table never shows part of a family and lists the rest below it
    for kind, members in row_claims.items():
        rows = [(m[1], m[2]) for m in members if m is not None]
        if None in members or len(set(rows)) != len(rows):
            continue
        label = re.sub(r"[_-]+", " ", kind.split("\0", 1)[1])
        grid.claim_columns.append(label)
        for v, b, r in members:
            grid.blocks[b].rows[r].claims[label] = v


def _common_prefix(names: list[str]) -> str:
    """The shared leading part of column names up to a separator ("kl." of kl.pgen_pemp, kl.pemp_pgen)."""
    if len(names) < 2:
        return ""
    first = names[0]
    cut = 0
    for i, ch in enumerate(first):
        if any(len(n) <= i or n[i] != ch for n in names):
            break
        if ch in "._/-":
            cut = i + 1
    return first[:cut] if all(len(n) > cut for n in names) else ""


def _strip(names: list[str], prefix: str) -> list[str]:
    return [n[len(prefix):] for n in names]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"
