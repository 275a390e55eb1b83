"""Targets over whole sweeps, sweep figures, and metrics whose files are missing, through `bench run`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import TESTS

from benchmark.cli import main
from benchmark.tracking import Tracker, default_tracking_uri

SUITE = TESTS / "suites" / "engine.yaml"


def write_suite(extra: str, **changes) -> None:
    """engine.yaml with the targets, experiments and sweep figures of ``extra`` added."""
    suite = yaml.safe_load(SUITE.read_text())
    add = yaml.safe_load(extra)
    suite["targets"] += add.get("targets", [])
    suite["experiments"].update(add.get("experiments", {}))
    suite["sweep_figures"] = add.get("sweep_figures", [])
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = suite
        for key in parents:
            node = node[key]
        node[last] = value
    Path("suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True))


def children(experiment: str | None = None) -> list:
    return [r for r in Tracker(default_tracking_uri()).runs("engine_test")
            if r.tags.get("bench.kind") == "run" and r.status == "FINISHED"
            and (experiment is None or r.tags.get("experiment") == experiment)]


def compare(capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["compare", "suite.yaml", "--format", "json"]) == 0
    return {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}


SWEEP_TARGETS = """
targets:
  - id: sweep/narrow-std-below-every-wide
    paper_ref: Section 3
    kind: claim
    experiment: fit
    method: SGD
    claim: {type: fraction_beats_best, over: sweep, lhs: narrow/fit.std, rhs: wide/fit.std, relation: "<",
            more_than: 0.5}
    source: the data's own std
  - id: sweep/nll-tracks-std
    paper_ref: Section 3
    kind: claim
    experiment: fit
    method: SGD
    dataset: narrow
    claim: {type: paired_correlation, over: sweep, lhs: fit.std, rhs: fit.final_nll, min_r: 0.5}
    source: a wider fitted Gaussian has a larger NLL on narrow data
  - id: sweep/rank-disagreement
    paper_ref: Section 3
    kind: value
    experiment: fit
    statistic: {type: rank_disagreement, top_by: [SGD/narrow/fit.std, SGD/wide/fit.std],
                bottom_by: [SGD/narrow/fit.std, SGD/wide/fit.std]}
    published: 0.0
    check: {rule: tolerance, abs: 0.01}
    source: a ranking never disagrees with itself
sweep_figures:
  - name: std_over_the_sweep
    paper_ref: Section 3
    caption: fitted std over the learning-rate sweep
    jobs: [fit/SGD/narrow, fit/SGD/wide]
    measurement: fit.std
    best: closest
    reference: [fit.mean]
  - name: nll_against_std
    paper_ref: Section 3
    kind: scatter
    caption: NLL against the fitted std
    jobs: [fit/SGD/narrow, fit/SGD/wide]
    measurement: fit.std
    y: fit.final_nll
"""


def test_sweep_targets_read_every_setting_and_the_figures_are_drawn(bench_home, capsys):
    # a short budget so that the learning rate matters: the slower rates stop further from the MLE
    write_suite(SWEEP_TARGETS, experiments__fit__sweep={"lr": {"grid": [0.005, 0.01, 0.02, 0.05]}},
                experiments__fit__budget__smoke={"steps": 60})
    assert main(["run", "suite.yaml", "--profile", "smoke", "--no-progress"]) == 0
    by_id = compare(capsys)
    fraction = by_id["sweep/narrow-std-below-every-wide"]
    assert fraction["verdict"] == "claim holds"
    assert "4 of 4 SGD values < the lowest of 4 SGD values" in fraction["detail"]
    assert len(fraction["values"]["fit/SGD/narrow/fit.std"]) == 4  # every grid point, not the 2 seeds
    corr = by_id["sweep/nll-tracks-std"]
    assert corr["test"]["n"] == 4 and corr["verdict"] in ("claim holds", "claim fails")
    stat = by_id["sweep/rank-disagreement"]
    assert stat["reproduced"] == 0.0 and stat["verdict"] == "reproduced" and "0 of 8 runs" in stat["detail"]
    # seed-scope targets still read the chosen setting's seeds
    assert len(by_id["mle/narrow/SGD/fit.mean"]["values"]["fit/SGD/narrow/fit.mean"]) == 2
    mine = bench_home / ".bench" / "leaderboard"  # the user's own leaderboard, beside the store
    readme = (mine / "README.md").read_text()
    for name in ("std_over_the_sweep", "nll_against_std"):
        png = mine / "figures" / "engine_test" / "sweeps" / f"{name}.png"
        assert png.stat().st_size > 5000
        assert f"figures/engine_test/sweeps/{name}.png" in readme
    # the figures stand in the section of their paper reference, after its table
    section = readme.split("### Section 3")[1]
    assert "std_over_the_sweep.png" in section.split("###")[0]


PREREQUISITE_SUITE_EXTRA = """
experiments:
  weighted:
    methods: [SGD]
    datasets: [narrow]
    metrics: [test_weighted_mean]
    budget: {smoke: {steps: 300}, cpu: {steps: 300}, paper: {steps: 300}}
    seeds: {smoke: 1, cpu: 1, paper: 1}
    source: chosen for the test
  late:
    methods: [SGD]
    datasets: [narrow]
    metrics: [test_fit_error, test_late_file]
    budget: {smoke: {steps: 300}, cpu: {steps: 300}, paper: {steps: 300}}
    seeds: {smoke: 1, cpu: 1, paper: 1}
    sweep:
      lr: {grid: [0.02, 0.05]}
    objective: {measurement: fit.late, direction: minimize}
    source: chosen for the test
targets:
  - id: weights/weighted-mean
    paper_ref: Section 4
    kind: value
    experiment: weighted
    method: SGD
    dataset: narrow
    measurement: fit.weighted_mean
    published: 3.0
    check: {rule: tolerance, abs: 0.2}
    source: 2 x the MLE of the mean
  - id: weights/weighted-mean-beside-the-rest
    paper_ref: Section 4
    kind: value
    experiment: fit
    method: SGD
    dataset: narrow
    measurement: fit.weighted_mean
    published: 3.0
    check: {rule: tolerance, abs: 0.2}
    source: 2 x the MLE of the mean
  - id: weights/late
    paper_ref: Section 4
    kind: value
    experiment: late
    method: SGD
    dataset: narrow
    measurement: fit.mean
    published: 1.5
    check: {rule: tolerance, abs: 0.1}
    source: needs a file only the metric opens"""


def test_a_metric_without_its_file_is_left_out_and_its_targets_say_which_file(bench_home, capsys):
    write_suite(PREREQUISITE_SUITE_EXTRA, experiments__fit__metrics=["test_fit_error", "test_weighted_mean"])
    Path("data").mkdir()
    assert main(["run", "suite.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard",
                 "--data-dir", "data"]) == 0
    by_id = compare(capsys)
    # the job that needs nothing but the missing file is not trained at all
    assert by_id["weights/weighted-mean"]["verdict"] == (
        "not run: needs dataset fixture weights: fixture/weights.txt under the data directory")
    assert children("weighted") == []
    # the job with other work to do runs without the metric; only the metric's target is not run
    assert by_id["mle/narrow/SGD/fit.mean"]["verdict"] == "reproduced"
    assert by_id["weights/weighted-mean-beside-the-rest"]["verdict"] == (
        "not run: needs dataset fixture weights: fixture/weights.txt under the data directory")
    fit_runs = children("fit")
    assert fit_runs and all(json.loads(r.tags["missing_measurements"]) == {
        "fit.weighted_mean": "needs dataset fixture weights: fixture/weights.txt under the data directory"}
        for r in fit_runs)
    # a metric that finds its file missing only while it runs: its job's objective cannot be measured, so the
    # job is not run (not "diverged"), with the file named
    assert by_id["weights/late"]["verdict"] == (
        "not run: needs dataset late file: fixture/late.txt under the data directory")

    # with the files present, the same command trains the complete jobs and every target gets a verdict
    Path("data/fixture").mkdir()
    Path("data/fixture/weights.txt").write_text("2.0")
    Path("data/fixture/late.txt").write_text("0.0")
    assert main(["run", "suite.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard",
                 "--data-dir", "data"]) == 0
    by_id = compare(capsys)
    # each lands in its band; where a job trains one seed at smoke the interval is unbounded, so inconclusive
    for name, tol in (("weights/weighted-mean", 0.2), ("weights/weighted-mean-beside-the-rest", 0.2),
                      ("weights/late", 0.1)):
        t = by_id[name]
        assert abs(t["reproduced"] - t["published"]) <= tol, t
        assert t["verdict"] == ("reproduced" if t["n"] > 1 else "inconclusive"), t
    assert not [t for t, v in by_id.items() if v["verdict"].startswith("not run")]
