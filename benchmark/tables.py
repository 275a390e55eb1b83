"""The `tables:` shorthand: a paper's table written as the paper prints it, expanded into value targets (one per
cell) and bold-face claims (one per bold column and block).

A cell is a number, the paper's text ``'0.982 ± 0.006'``, or a mapping with ``value`` and settings of its own. A
setting (``check``, ``spread``, ``n``, ``source``) comes from the cell, else its column (``columns:``), else the
table. ``spread: se`` reads a '±' as the standard error of a mean of ``n`` and converts it to the standard deviation
the checker compares (std = se·√n); ``spread: std`` takes it as it is. Every problem is a one-line error at the
cell, column or key it is about.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from benchmark import yaml_lines
from benchmark.claims import LowestClaim
from benchmark.schema import Check, TableCell
from benchmark.schema_base import pydantic_message
from benchmark.targets import Ref, Target, check_place

if TYPE_CHECKING:
    from benchmark.schema import CellSettings, Suite, TableSpec

# '±' as papers print it, and as people type it
PLUS_MINUS = re.compile(r"\s*(?:±|\+/-|\+-)\s*")
COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


@dataclass(frozen=True)
class Published:
    """One cell as published: its value, and its spread as a standard deviation over ``n`` (None: not given)."""

    value: float
    std: float | None
    n: int


def parse_printed(text: str) -> tuple[float, float | None]:
    """'0.982 ± 0.006' -> (0.982, 0.006); '0.982' -> (0.982, None). Raises ValueError saying what is wrong."""
    parts = PLUS_MINUS.split(text.strip())
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"'{text}' is not a number or 'value ± spread'")
    value, spread = (_number(p, text) for p in parts) if len(parts) == 2 else (_number(parts[0], text), None)
    if spread is not None and spread < 0:
        raise ValueError(f"'{text}': the spread after '±' is negative")
    return value, spread


def _number(part: str, text: str) -> float:
    try:
        # papers print minus signs as U+2212
        number = float(part.replace("\u2212", "-"))
    except ValueError:
        raise ValueError(f"'{text}' is not a number or 'value ± spread'") from None
    if not math.isfinite(number):
        raise ValueError(f"'{text}' is not a finite number")
    return number


def published(printed: float | str, spread: str | None, n: int | None) -> Published:
    """A cell's value and spread as the checker reads them; ``spread`` and ``n`` as the settings give them."""
    if isinstance(printed, bool) or not isinstance(printed, (int, float, str)):
        raise ValueError("a cell is a number, 'value ± spread' or a mapping with 'value'")
    value, given = parse_printed(printed) if isinstance(printed, str) else (float(printed), None)
    if not math.isfinite(value):
        raise ValueError("published value must be a finite number")
    if given is None:
        return Published(value, None, n or 1)
    if spread is None:
        raise ValueError("a '±' cell needs 'spread: std' or 'spread: se' (on the table, its column or the cell)")
    if spread == "se":
        if n is None:
            raise ValueError("'spread: se' needs 'n', the count the standard error is over (std = se·√n)")
        return Published(value, given * math.sqrt(n), n)
    return Published(value, given, n or 1)


def expand(suite: Suite, located: yaml_lines.LocatedYaml) -> list[tuple[Target, tuple]]:
    """Every table's targets, each with its place in the YAML: the cells in order, then the bold-face claims."""
    out: list[tuple[Target, tuple]] = []
    for t, table in enumerate(suite.tables):
        out += _expand_table(suite, located, table, ("tables", t))
    return out


def _expand_table(suite: Suite, located: yaml_lines.LocatedYaml, table: TableSpec,
                  base: tuple) -> list[tuple[Target, tuple]]:
    if table.experiment not in suite.experiments:
        raise located.error(base + ("experiment",), f"experiment '{table.experiment}' is not defined")
    measured = {m for by_method in table.values.values() for cells in by_method.values() for m in cells}
    for measurement in table.columns:
        if measurement not in measured:
            raise located.error(base + ("columns", measurement), f"no cell of the table has measurement "
                                                                 f"'{measurement}'")
    out: list[tuple[Target, tuple]] = []
    cells: dict[tuple[str, str, str], tuple[Target, tuple]] = {}  # (dataset, method, measurement) -> its target
    for dataset, by_method in table.values.items():
        for method, by_measurement in by_method.items():
            for measurement, raw in by_measurement.items():
                path = base + ("values", dataset, method, measurement)
                target = _cell_target(suite, located, table, dataset, method, measurement, raw, path)
                cells[(dataset, method, measurement)] = (target, path)
                out.append((target, path))
    for measurement, column in table.columns.items():
        if column.bold is not None:
            out += _bold_claims(table, measurement, column.bold, cells, located, base + ("columns", measurement))
    return out


def _cell_target(suite: Suite, located: yaml_lines.LocatedYaml, table: TableSpec, dataset: str, method: str,
                 measurement: str, raw: Any, path: tuple) -> Target:
    cell = _cell(raw, located, path)
    levels: list[CellSettings] = [s for s in (cell, table.columns.get(measurement), table) if s is not None]

    def setting(name: str) -> Any:
        return next((getattr(s, name) for s in levels if getattr(s, name) is not None), None)

    printed = cell.value if cell is not None else raw
    try:
        value = published(printed, setting("spread"), setting("n"))
    except ValueError as exc:
        raise located.error(path + (("value",) if cell is not None else ()), str(exc)) from None
    check: Check | None = setting("check")
    if check is None:
        raise located.error(path, "no check: give the table, the column or the cell a 'check'")
    source = setting("source")
    if source is None:
        raise located.error(path, "no source: give the table, the column or the cell a 'source'")
    ref = Ref(table.experiment, method, dataset, measurement)
    check_place(suite, located, ref, path)
    return Target(id=f"{table.prefix}/{dataset}/{method}/{measurement}", paper_ref=table.paper_ref, kind="value",
                  source=source, experiment=table.experiment, measurement=measurement, published=value.value,
                  published_std=value.std, published_n=value.n, check=check, claim=None, refs=[ref],
                  note=cell.note if cell is not None else None, ref_paths=[path],
                  paper_inconsistency=cell.paper_inconsistency if cell is not None else None,
                  role=setting("role") or "reproduction")


def _cell(raw: Any, located: yaml_lines.LocatedYaml, path: tuple) -> TableCell | None:
    """The cell's own settings when it is a mapping; None when it is only the printed value."""
    if not isinstance(raw, dict):
        return None
    try:
        return TableCell.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        # pydantic names the union member it tried ('float', 'str'); the user wrote only 'value'
        loc = tuple(p for p in err["loc"] if p not in ("float", "str"))
        raise located.error(path + loc, pydantic_message(err)) from None


def _bold_claims(table: TableSpec, measurement: str, word: str, cells: dict[tuple[str, str, str], tuple],
                 located: yaml_lines.LocatedYaml, path: tuple) -> list[tuple[Target, tuple]]:
    """In each block, the method the paper prints in bold (its extreme published value) is the extreme one."""
    name = table.name or table.paper_ref
    out = []
    for dataset, by_method in table.values.items():
        entries = [(method, cells[(dataset, method, measurement)][0]) for method in by_method
                   if measurement in by_method[method]]
        if len(entries) < 2:
            raise located.error(path + ("bold",), f"bold face needs two or more cells of '{measurement}' in "
                                                  f"block '{dataset}' (it has {len(entries)})")
        values = [t.published for _, t in entries]
        extreme = min(values) if word == "lowest" else max(values)
        if values.count(extreme) > 1:
            raise located.error(path + ("bold",), f"block '{dataset}': {values.count(extreme)} cells share the "
                                                  f"{word} published {measurement} ({extreme:g}); bold face "
                                                  "names one")
        winner = entries[values.index(extreme)][0]
        refs = [f"{method}/{dataset}/{measurement}" for method, _ in entries]
        claim = LowestClaim(type="lowest", refs=refs, expected=f"{winner}/{dataset}/{measurement}",
                            highest=word == "highest")
        resolved = [t.refs[0] for _, t in entries]
        count = COUNT_WORDS.get(len(entries), str(len(entries)))
        listing = ", ".join(f"{method} {t.published:g}" for method, t in entries)
        out.append((Target(
            id=f"{table.prefix}-bold/{dataset}/{measurement}", paper_ref=f"{name} (bold face)", kind="claim",
            source=f"{name}, {dataset} block, column {measurement}: bold = {word} of the {count} ({listing})",
            experiment=table.experiment, measurement=None, published=None, published_std=None, published_n=1,
            check=None, claim=claim, refs=resolved + [resolved[values.index(extreme)]],
            statement=f"{winner} has the {word} {measurement} on {dataset} (bold in {name})",
            ref_paths=[cells[(dataset, m, measurement)][1] for m, _ in entries] + [path + ("bold",)]), path))
    return out
