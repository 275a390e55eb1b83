"""A capability declared in a plug-in file of its own (tests/capability_plugin.py, loaded through BENCH_PLUGINS):
`bench validate` knows it, pairs it like a built-in one, and a suite using it runs; its name cannot be taken twice;
a process that reads the declarations from the catalog's cache knows it without importing the plug-in."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest
from conftest import TESTS

from benchmark import api, contracts
from benchmark.cli import main

PLUGIN = TESTS / "capability_plugin.py"
ONE_LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")

SUITE = """\
suite: plugin_capability_test
paper: {title: A plug-in's own capability, authors: [bench], year: 2026}
datasets:
  shifted: {loader: test_plugin_shifted_gaussian, params: {mean: -0.5, std: 0.25}, source: chosen for the test}
methods:
  SGD: {method: test_gaussian_fit, hparams: {lr: 0.05}, source: chosen for the test}
experiments:
  fit:
    methods: [SGD]
    datasets: [shifted]
    metrics: [test_plugin_moment_gap]
    budget: {smoke: {steps: 300}, cpu: {steps: 300}, paper: {steps: 300}}
    seeds: {smoke: 2, cpu: 2, paper: 2}
    source: chosen for the test
targets:
  - id: fit/shifted/SGD/moments.mean_gap
    paper_ref: Section 1
    kind: value
    experiment: fit
    method: SGD
    dataset: shifted
    measurement: moments.mean_gap
    published: 0.0
    check: {rule: at_most, limit: 0.1}
    source: the maximum-likelihood mean is the data mean
"""


@pytest.fixture()
def plugged(bench_home, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_PLUGINS", str(PLUGIN))
    api.load_plugins()
    Path("suite.yaml").write_text(SUITE)
    return bench_home


def test_a_suite_using_a_plug_in_capability_validates_and_runs(plugged, capsys):
    assert contracts.DATASET_CAPABILITIES["known_moments"].__module__.startswith("bench_plugin_capability_plugin")
    assert main(["validate", "suite.yaml"]) == 0, capsys.readouterr().err
    assert main(["run", "suite.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    capsys.readouterr()
    assert main(["compare", "suite.yaml", "--format", "json"]) == 0
    (target,) = json.loads(capsys.readouterr().out)["suites"][0]["targets"]
    assert target["outcome"] == "reproduced", target
    assert target["n"] == 2 and 0 <= target["reproduced"] <= 0.1


def test_a_dataset_without_the_plug_in_capability_is_refused_with_its_description(plugged, capsys):
    Path("suite.yaml").write_text(SUITE.replace("loader: test_plugin_shifted_gaussian", "loader: test_gaussian_1d"))
    assert main(["validate", "suite.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    match = ONE_LINE.match(err)
    assert match and len(err.splitlines()) == 1, err
    assert match["field"] == "experiments.fit.metrics[0]"
    assert "'test_plugin_moment_gap' needs dataset capability 'known_moments'" in match["msg"]
    assert "the data's exact mean and standard deviation" in match["msg"]


def test_a_capability_name_is_taken_once_whatever_its_kind():
    class Impostor(Protocol):
        means: object

    with pytest.raises(ValueError, match="dataset capability 'mixture' is registered twice"):
        contracts.register_capability("dataset", "mixture", "another mixture")(Impostor)
    with pytest.raises(ValueError, match="capability 'sampler' is already a model capability"):
        contracts.register_capability("dataset", "sampler", "samples of a dataset")(Impostor)
    with pytest.raises(ValueError, match="kind 'model' or 'dataset'"):
        contracts.register_capability("metric", "new_one", "anything")(Impostor)
    assert contracts.DATASET_CAPABILITIES["mixture"] is contracts.Mixture
    assert "sampler" not in contracts.DATASET_CAPABILITIES


def test_the_cached_catalog_knows_a_plug_in_capability_without_importing_the_plug_in(tmp_path):
    """Twice in fresh processes: the first writes the catalog (importing the plug-ins), the second reads it and
    must still accept, and refuse, by the plug-in's capability, importing neither torch nor the plug-in."""
    Path(tmp_path / "suite.yaml").write_text(SUITE)
    Path(tmp_path / "other.yaml").write_text(SUITE.replace("loader: test_plugin_shifted_gaussian",
                                                           "loader: test_gaussian_1d"))
    probe = ("import sys\nfrom benchmark.cli import main\ncode = main(sys.argv[1:])\n"
             "print('IMPORTED', 'torch' in sys.modules, any(m.startswith('bench_plugin_') for m in sys.modules))\n"
             "sys.exit(code)\n")
    # the test learner the suite trains with is a plug-in file too, for a process that is not pytest's
    env = {**os.environ, "BENCH_HOME": str(tmp_path / ".bench"),
           "BENCH_PLUGINS": os.pathsep.join([str(TESTS / "engine_plugins.py"), str(PLUGIN)])}

    def validate(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", probe, "validate", name], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    first = validate("suite.yaml")
    assert first.returncode == 0 and "IMPORTED True True" in first.stdout, first.stderr
    again = validate("suite.yaml")
    assert again.returncode == 0 and "IMPORTED False False" in again.stdout, again.stderr
    refused = validate("other.yaml")
    assert refused.returncode == 2 and "IMPORTED False False" in refused.stdout
    assert "needs dataset capability 'known_moments' (the data's exact mean" in refused.stderr, refused.stderr


def test_a_plug_in_path_that_is_not_there_is_one_line(bench_home, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_PLUGINS", f"{PLUGIN}{os.pathsep}{bench_home / 'missing.py'}")
    Path("suite.yaml").write_text(SUITE)
    assert main(["validate", "suite.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: BENCH_PLUGINS: {bench_home / 'missing.py'}: neither a .py file nor a folder", err


def test_the_catalog_s_cache_keeps_every_capability_with_its_phrase_and_origin():
    from benchmark.catalog import catalog, from_json, to_json

    cat = catalog()
    again = from_json(json.loads(json.dumps(to_json(cat))))
    assert again.capabilities == cat.capabilities
    assert cat.capabilities["mixture"] == ("dataset", contracts.DESCRIPTIONS["mixture"], "benchmark.contracts.Mixture")
    assert cat.capabilities["sampler"][0] == "model"
