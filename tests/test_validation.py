"""Every user mistake in a suite ends with one line `FILE:LINE: field: what is wrong` and exit code 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TESTS

from benchmark.cli import main

GOOD = (TESTS / "suites" / "engine.yaml").read_text()
ONE_LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.endswith(needle) or needle + " " in line
                or needle in line)


# (name, old text, new text, needle on the line the error must point at, words the message must contain)
CASES = [
    ("unknown method", "method: test_gaussian_fit", "method: no_such_method", "no_such_method", "unknown method"),
    ("unknown loader", "loader: test_gaussian_1d\n    params: {mean: 1.5", "loader: mnist_typo\n    params: {mean: 1.5",
     "mnist_typo", "unknown dataset loader"),
    ("unknown metric", "metrics: [test_fit_error]", "metrics: [test_fit_eror]", "test_fit_eror", "unknown metric"),
    ("measurement nobody produces", "measurement: fit.mean\n", "measurement: fit.median\n", "fit.median",
     "no experiment produces"),
    ("missing published value", "    published: 1.5\n", "", "- id: mle/narrow/SGD/fit.mean", "needs 'published'"),
    ("wrong type", "seeds: {smoke: 2, cpu: 3, paper: 3}", "seeds: {smoke: two, cpu: 3, paper: 3}", "seeds:",
     "integer"),
    ("seed range upside down", "seeds: {smoke: 2, cpu: 3, paper: 3}",
     "seeds: {smoke: 2, cpu: {min: 5, max: 3}, paper: 3}", "seeds:", "seed range upside down"),
    ("yaml syntax", "    methods: [SGD]\n", "    methods: [SGD\n", None, "YAML syntax error"),
    ("undefined dataset in experiment", "datasets: [narrow, wide]", "datasets: [narrow, medium]",
     "datasets: [narrow, medium]", "not defined under datasets"),
    ("undefined method in experiment", "    methods: [SGD]\n", "    methods: [Adam]\n", "methods: [Adam]",
     "not defined under methods"),
    ("unknown field", "    source: chosen for the test\nexperiments:", "    sorce: chosen for the test\nexperiments:",
     "sorce:", "unknown field"),
    ("duplicate target id", "id: mle/narrow/SGD/fit.mean_error", "id: mle/narrow/SGD/fit.mean",
     None, "duplicate target id"),
    ("negative tolerance", "check: {rule: tolerance, abs: 0.1}", "check: {rule: tolerance, abs: -0.1}",
     "abs: -0.1", "greater than or equal"),
    ("at_most without limit", "check: {rule: at_most, limit: 0.1}", "check: {rule: at_most}", "rule: at_most",
     "needs a limit"),
    ("claim with unknown relation", 'relation: "<"', 'relation: "<<"', 'relation: "<<"', "Input should be"),
    ("claim reference to a dataset outside the experiment", "refs: [narrow/fit.std, wide/fit.std]",
     "refs: [narrow/fit.std, huge/fit.std]", "huge/fit.std", "not part of experiment"),
    ("sweep without objective", "    objective: {measurement: fit.final_nll, direction: minimize}\n", "", "sweep:",
     "needs an objective"),
    ("range with low >= high", "lr: {grid: [0.02, 0.05]}", "lr: {low: 0.5, high: 0.1}", "lr: {low", "smaller"),
    ("table value not a number", "SGD: {fit.std: 0.5}", "SGD: {fit.std: half}", "fit.std: half", "number"),
    ("top level not a mapping", None, "- just\n- a list\n", "- just", "mapping"),
    ("duplicate key", "    source: chosen for the test\nexperiments:",
     "    source: chosen for the test\n    method: test_gaussian_fit\nexperiments:", None, "duplicate key"),
    ("profile missing in budget", "      paper: {steps: 2000}\n", "", "budget:", "required field is missing"),
    ("paired correlation across two jobs",
     'claim: {type: ordering, refs: [narrow/fit.std, wide/fit.std], relation: "<"}',
     "claim: {type: paired_correlation, over: sweep, lhs: narrow/fit.std, rhs: wide/fit.std, min_r: 0.5}",
     "paired_correlation", "not a measurement of the same job"),
    ("claim over an unknown scope", 'relation: "<"}', 'relation: "<", over: settings}', "over: settings",
     "Input should be"),
    ("value target with a measurement and a statistic", "    measurement: fit.mean\n    published: 1.5",
     "    measurement: fit.mean\n    statistic: {type: rank_disagreement, top_by: [narrow/fit.std], "
     "bottom_by: [narrow/fit.mean]}\n    published: 1.5", "- id: mle/narrow/SGD/fit.mean", "not both"),
    ("statistic with unequal lists", "    measurement: fit.mean\n    published: 1.5",
     "    statistic: {type: rank_disagreement, top_by: [narrow/fit.std, wide/fit.std], "
     "bottom_by: [narrow/fit.mean]}\n    published: 1.5", "statistic:", "top_by has 2 entries"),
    ("sweep figure of a job outside the suite", "tables:",
     "sweep_figures:\n  - name: f\n    paper_ref: X\n    caption: c\n    jobs: [fit/SGD/huge]\n"
     "    measurement: fit.std\ntables:", "jobs: [fit/SGD/huge]", "not part of experiment"),
    ("scatter figure without y", "tables:",
     "sweep_figures:\n  - name: f\n    paper_ref: X\n    caption: c\n    kind: scatter\n"
     "    jobs: [fit/SGD/narrow]\n    measurement: fit.std\ntables:", "- name: f", "needs 'y'"),
]


@pytest.mark.parametrize("name,old,new,needle,words", CASES, ids=[c[0] for c in CASES])
def test_malformed_suite_gives_one_line_and_exit_2(tmp_path, monkeypatch, capsys, name, old, new, needle, words):
    if old is None:
        text = new
    else:
        assert old in GOOD, f"test case {name!r} no longer matches the engine suite"
        text = GOOD.replace(old, new, 1)
    monkeypatch.chdir(tmp_path)
    Path("suites").mkdir()
    Path("suites/x.yaml").write_text(text)
    code = main(["validate", "suites/x.yaml"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    match = ONE_LINE.match(err)
    assert match, err
    assert match["file"] == "suites/x.yaml"
    assert words.lower() in match["msg"].lower(), err
    if needle is not None:
        assert int(match["line"]) == line_of(text, needle), err


def test_good_suite_validates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(GOOD)
    assert main(["validate", "x.yaml"]) == 0
    assert "5 targets" in capsys.readouterr().out


def test_subprocess_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("    methods: [SGD]\n", "    methods: [SGD\n", 1))
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", "validate", str(bad)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "YAML syntax error" in proc.stderr


def test_missing_file_is_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "nope.yaml"]) == 2
    assert capsys.readouterr().err.strip() == "error: nope.yaml: no such file"


def test_yaml_cannot_construct_python_objects(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text("suite: !!python/object/apply:os.system ['echo pwned']\n")
    assert main(["validate", "x.yaml"]) == 2
    assert "YAML" in capsys.readouterr().err
