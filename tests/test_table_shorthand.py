"""The `tables:` shorthand (benchmark/tables.py): cells as the paper prints them, spreads as std or standard error,
a check and a source per table, column or cell, bold-face claims per column; every malformed cell or key is one
line `FILE:LINE: field: problem` and exit 2 from `python -m benchmark.cli validate`."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from benchmark.suite import load_suite
from benchmark.tables import parse_printed

# real plug-ins only, so that `python -m benchmark.cli validate` (without the test learner) reads it
HEAD = """\
suite: shorthand
paper: {title: "Parallel lines", authors: [bench]}
datasets:
  lines_025: {loader: parallel_lines, params: {theta: 0.25}, source: ours}
  lines_05: {loader: parallel_lines, params: {theta: 0.5}, source: ours}
methods:
  WGAN-GP: {method: wgan_critic, hparams: {lipschitz: gradient_penalty, penalty: 10.0}, source: ours}
  WGAN-clip: {method: wgan_critic, hparams: {lipschitz: weight_clipping, clip: 0.01}, source: ours}
experiments:
  lines:
    methods: [WGAN-GP, WGAN-clip]
    datasets: [lines_025, lines_05]
    metrics: [critic_estimate]
    budget: {smoke: {steps: 10}, cpu: {steps: 20}, paper: {steps: 30}}
    seeds: {smoke: 1, cpu: 1, paper: 1}
"""

TABLE = """\
tables:
  - prefix: table1
    paper_ref: Table 1 (Appendix A)
    name: Table 1
    experiment: lines
    check: {rule: tolerance, rel: 0.1}
    spread: se
    n: 10
    source: the table's source
    columns:
      w.estimate: {bold: highest, source: the column's source}
      w.estimate_normalized: {check: {rule: tolerance, abs: 0.05}, bold: lowest}
    values:
      lines_025:
        WGAN-GP: {w.estimate: 0.25 ± 0.01, w.estimate_normalized: 0.26 +- 0.02}
        WGAN-clip: {w.estimate: 0.0011, w.estimate_normalized: "−0.1"}
      lines_05:
        WGAN-GP: {w.estimate: .5, w.estimate_normalized: 0.49}
        WGAN-clip:
          w.estimate: {value: 0.4 ± 0.03, spread: std, n: 3, check: {rule: at_least, limit: 0.3}}
          w.estimate_normalized: {value: 0.52, source: the cell's source, note: read off a figure}
"""


def write(tmp_path: Path, table: str = TABLE) -> Path:
    path = tmp_path / "shorthand.yaml"
    path.write_text(HEAD + table)
    return path


@pytest.fixture()
def targets(tmp_path):
    return {t.id: t for t in load_suite(write(tmp_path)).all_targets}


@pytest.mark.parametrize("text,value,spread", [
    ("0.982 ± 0.006", 0.982, 0.006), ("0.982±0.006", 0.982, 0.006), ("7.07 +- .10", 7.07, 0.10),
    ("1.5 +/- 0.5", 1.5, 0.5), ("−16.38", -16.38, None), ("-2 ± 0", -2.0, 0.0), (" 3 ", 3.0, None),
])
def test_printed_cells_parse(text, value, spread):
    assert parse_printed(text) == (value, spread)


@pytest.mark.parametrize("text", ["half", "0.9 ±", "± 0.1", "0.9 ± 0.1 ± 0.1", "0.9 ± -0.1", "nan", "1 ± inf"])
def test_malformed_printed_cells_are_refused(text):
    with pytest.raises(ValueError):
        parse_printed(text)


def test_standard_errors_become_standard_deviations(targets):
    cell = targets["table1/lines_025/WGAN-GP/w.estimate"]
    assert cell.published == 0.25
    assert cell.published_std == pytest.approx(0.01 * math.sqrt(10))
    assert cell.published_n == 10
    # a cell's own spread: std, as printed, over its own n
    own = targets["table1/lines_05/WGAN-clip/w.estimate"]
    assert (own.published, own.published_std, own.published_n) == (0.4, 0.03, 3)
    # no '±': no spread, the table's n still stands
    plain = targets["table1/lines_05/WGAN-GP/w.estimate"]
    assert (plain.published, plain.published_std, plain.published_n) == (0.5, None, 10)
    assert targets["table1/lines_025/WGAN-clip/w.estimate_normalized"].published == -0.1


def test_checks_come_from_the_cell_then_the_column_then_the_table(targets):
    assert targets["table1/lines_025/WGAN-GP/w.estimate"].check.rel == 0.1  # the table's
    column = targets["table1/lines_025/WGAN-GP/w.estimate_normalized"].check
    assert (column.rule, column.abs, column.rel) == ("tolerance", 0.05, 0.0)
    cell = targets["table1/lines_05/WGAN-clip/w.estimate"].check
    assert (cell.rule, cell.limit) == ("at_least", 0.3)


def test_sources_and_notes_come_from_the_most_specific_level(targets):
    assert targets["table1/lines_025/WGAN-GP/w.estimate"].source == "the column's source"
    assert targets["table1/lines_025/WGAN-GP/w.estimate_normalized"].source == "the table's source"
    cell = targets["table1/lines_05/WGAN-clip/w.estimate_normalized"]
    assert (cell.source, cell.note) == ("the cell's source", "read off a figure")


def test_bold_columns_become_lowest_and_highest_claims_per_block(targets):
    high = targets["table1-bold/lines_025/w.estimate"]
    assert high.kind == "claim" and high.paper_ref == "Table 1 (bold face)"
    assert high.claim.type == "lowest" and high.claim.highest
    assert high.claim.refs == ["WGAN-GP/lines_025/w.estimate", "WGAN-clip/lines_025/w.estimate"]
    assert high.claim.expected == "WGAN-GP/lines_025/w.estimate"
    assert [str(r) for r in high.refs][-1] == "lines/WGAN-GP/lines_025/w.estimate"
    assert high.statement == "WGAN-GP has the highest w.estimate on lines_025 (bold in Table 1)"
    assert high.source == ("Table 1, lines_025 block, column w.estimate: bold = highest of the two "
                           "(WGAN-GP 0.25, WGAN-clip 0.0011)")
    low = targets["table1-bold/lines_025/w.estimate_normalized"]
    assert not low.claim.highest and low.claim.expected == "WGAN-clip/lines_025/w.estimate_normalized"
    assert targets["table1-bold/lines_05/w.estimate_normalized"].claim.expected == \
        "WGAN-GP/lines_05/w.estimate_normalized"
    # 8 cells, 2 bold columns x 2 blocks
    assert len(targets) == 12


# (name, old text of TABLE, new text, text on the line the error must point at, words the message must contain)
MALFORMED = [
    ("cell not a number", "0.0011,", "tiny,", "tiny,", "not a number or 'value ± spread'"),
    ("dangling plus-minus", "0.25 ± 0.01,", "0.25 ±,", "0.25 ±,", "not a number"),
    ("negative spread", "0.25 ± 0.01,", "0.25 ± -0.01,", "0.25 ± -0.01,", "negative"),
    ("cell neither number nor text", "w.estimate: .5,", "w.estimate: [0.5],", "w.estimate: [0.5],",
     "a cell is a number"),
    ("plus-minus without a spread kind", "    spread: se\n", "", "0.25 ± 0.01,", "needs 'spread: std'"),
    ("standard error without n", "    n: 10\n", "", "0.25 ± 0.01,", "needs 'n'"),
    ("unknown spread kind", "    spread: se\n", "    spread: sem\n", "spread: sem", "Input should be 'std' or 'se'"),
    ("unknown key in a cell", "value: 0.52,", "value: 0.52, sorce: x,", "value: 0.52, sorce: x,", "unknown field"),
    ("cell mapping without value", "{value: 0.52, ", "{", "w.estimate_normalized: {source", "required field"),
    ("bad value in a cell mapping", "{value: 0.52,", "{value: fifty,", "value: fifty,", "not a number"),
    ("bad check in a cell", "check: {rule: at_least, limit: 0.3}", "check: {rule: at_least}", "check: {rule: at_least}",
     "needs a limit"),
    ("column of no cell", "      w.estimate: {bold", "      w.estimat: {bold", "w.estimat: {bold",
     "no cell of the table"),
    ("unknown bold word", "bold: highest", "bold: best", "bold: best", "Input should be 'lowest' or 'highest'"),
    ("no check anywhere", "    check: {rule: tolerance, rel: 0.1}\n", "", "WGAN-GP: {w.estimate: 0.25",
     "no check"),
    ("no source anywhere", "    source: the table's source\n", "", "w.estimate_normalized: 0.26 +- 0.02",
     "no source"),
    ("bold with a tie", "w.estimate: 0.0011,", "w.estimate: 0.25,", "w.estimate: {bold", "share the highest"),
    ("bold over one cell", "WGAN-GP: {w.estimate: .5, w.estimate_normalized: 0.49}",
     "WGAN-GP: {w.estimate_normalized: 0.49}", "w.estimate: {bold", "two or more cells"),
    ("method outside the experiment", "WGAN-clip: {w.estimate: 0.0011", "WGAN: {w.estimate: 0.0011",
     "WGAN: {w.estimate: 0.0011", "not part of experiment"),
]

ONE_LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")

# `python -m benchmark.cli validate FILE` for every file named on the command line, in one interpreter (one start
# instead of one per case): runpy runs the module as `-m` does; each file's exit code and stderr come back as JSON
VALIDATE_EACH = """
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    sys.argv = ["benchmark.cli", "validate", path]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            runpy.run_module("benchmark.cli", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    out[path] = [code, err.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """Each malformed case's (exit code, stderr) from `python -m benchmark.cli validate`."""
    root = tmp_path_factory.mktemp("malformed")
    files = []
    for i, (name, old, new, _, _) in enumerate(MALFORMED):
        assert old in TABLE, f"case {name!r} no longer matches the table"
        (root / f"case{i}").mkdir()
        write(root / f"case{i}", TABLE.replace(old, new, 1))
        files.append(f"case{i}/shorthand.yaml")
    proc = subprocess.run([sys.executable, "-c", VALIDATE_EACH, *files], cwd=root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    return {name: tuple(json.loads(proc.stdout)[f"case{i}/shorthand.yaml"]) for i, (name, *_) in enumerate(MALFORMED)}


@pytest.mark.parametrize("name,old,new,needle,words", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_table_gives_one_line_and_exit_2(validated, name, old, new, needle, words):
    code, err = validated[name]
    err = err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    match = ONE_LINE.match(err)
    assert match, err
    assert match["file"].endswith("shorthand.yaml")
    assert words in match["msg"], err
    text = HEAD + TABLE.replace(old, new, 1)
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
    assert int(match["line"]) == expected, err


def test_the_shorthand_suite_validates_through_the_cli(tmp_path):
    write(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", "validate", "shorthand.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert "12 targets" in proc.stdout
