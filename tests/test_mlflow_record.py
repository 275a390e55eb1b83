"""What a person finds in the MLflow UI after `bench run`: an experiment of the model-training kind (so the UI
opens on its runs), runs named like `SGD · narrow · seed 0`, each with its dataset as an MLflow input, each job's
parent run described with its targets and their verdicts, and no run left RUNNING."""

from __future__ import annotations

from pathlib import Path

from conftest import TESTS

from benchmark.cli import main
from benchmark.tracking import Tracker, default_tracking_uri

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()


def test_the_mlflow_record_reads_well(bench_home, capsys):
    # a not-run job (a dataset file missing) next to two that train
    text = ENGINE.replace("datasets: [narrow, wide]", "datasets: [narrow, wide, gone]").replace(
        "datasets:\n  narrow:", "datasets:\n  gone:\n    loader: test_needs_file\n  narrow:")
    Path("engine.yaml").write_text(text)
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    tracker = Tracker(default_tracking_uri())
    client = tracker.client
    experiment = client.get_experiment_by_name("bench/engine_test")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = tracker.runs("engine_test")
    assert runs and all(r.status in ("FINISHED", "FAILED", "KILLED") for r in runs)
    children = [r for r in runs if r.tags["bench.kind"] == "run"]
    names = {client.get_run(r.run_id).info.run_name for r in children}
    assert "SGD · narrow · seed 1" in names and "SGD · wide · seed 0 · search" in names
    inputs = client.get_run(children[0].run_id).inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.name in ("narrow", "wide")
    assert inputs[0].dataset.source.startswith("test_gaussian_1d(") and inputs[0].dataset.digest
    parents = {r.tags["dataset"]: r for r in runs if r.tags["bench.kind"] == "job"}
    narrow_note = parents["narrow"].tags["mlflow.note.content"]
    assert "mle/narrow/SGD/fit.mean" in narrow_note and "reproduced" in narrow_note
    assert parents["gone"].status == "KILLED" and parents["gone"].tags["job_status"] == "not_run"
    assert "needs dataset fixture" in parents["gone"].tags["mlflow.note.content"]
