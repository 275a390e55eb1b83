"""Faults a user meets before or during a run: a killed long run resumes from its checkpoint; an unwritable
home, a locked database and a server that is down end with one line and exit 2 before training; suite
fields cannot steer files out of their directory; the UI listens on loopback; real suites are repeatable."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, TESTS

from benchmark.cli import main
from benchmark.tracking import Tracker, default_tracking_uri, safe_child

SUITE = TESTS / "suites" / "engine.yaml"
ENGINE = SUITE.read_text()
CLI = [sys.executable, str(TESTS / "engine_cli.py")]
ONE_LINE = re.compile(r"^error: \S.*: .+$")


def one_job_suite(path: Path, steps: int, extra: str = "") -> Path:
    """The engine suite cut to a single run: one dataset, one setting, one seed."""
    text = (ENGINE.replace("datasets: [narrow, wide]", "datasets: [narrow]")
            .replace("lr: {grid: [0.02, 0.05]}", "lr: {grid: [0.02]}")
            .replace("seeds: {smoke: 2, cpu: 3, paper: 3}", "seeds: {smoke: 1, cpu: 3, paper: 3}")
            .replace("smoke: {steps: 300}", f"smoke: {{steps: {steps}}}")
            .replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05" + extra + "}"))
    text = text[: text.index("  - id: mle/wider-has-larger-std")] + text[text.index("tables:"):]
    text = text.replace("      wide:\n        SGD: {fit.std: 2.0}\n", "")
    path.write_text(text)
    return path


def finished_runs() -> list:
    return [r for r in Tracker(default_tracking_uri()).runs("engine_test")
            if r.tags.get("bench.kind") == "run" and r.status == "FINISHED"]


def assert_one_line_exit_2(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and ONE_LINE.match(err.strip()), err
    for word in words:
        assert word in err, err


# ------------------------------------------------------------------------------ checkpoints


@pytest.mark.slow  # end to end: a long run killed at a checkpoint and resumed in subprocesses: minutes
def test_killed_long_run_resumes_from_its_last_checkpoint(bench_home, monkeypatch):
    """SIGKILL mid-run; the rerun starts at the last checkpoint and ends with the uninterrupted run's numbers."""
    slow = one_job_suite(Path("slow.yaml"), steps=1500, extra=", step_delay: 0.004")
    command = [*CLI, "run", str(slow), "--profile", "smoke", "--no-progress", "--no-leaderboard",
               "--checkpoint-every", "100"]
    env = {**os.environ, "BENCH_HOME": str(bench_home / ".bench")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = bench_home / ".bench" / "checkpoints"
    deadline = time.monotonic() + 180
    step = 0
    while time.monotonic() < deadline and proc.poll() is None and step < 500:
        time.sleep(0.2)
        for saved in checkpoints.glob("*.pt"):
            try:
                step = torch.load(saved, weights_only=False)["step"]
            except Exception:  # replaced under us: read it next time
                continue
    assert proc.poll() is None and step >= 500, f"the run ended (or never saved) before the kill: step {step}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [resumed] = finished_runs()
    assert int(resumed.tags["resumed_from_step"]) >= step
    assert not list(checkpoints.glob("*.pt")), "a finished run's checkpoint was left behind"
    history = Tracker(default_tracking_uri()).client.get_metric_history(resumed.run_id, "loss.nll")
    assert sorted(m.step for m in history) == list(range(0, 1500, 50)), "the loss history has gaps or repeats"

    # the same run without interruption (and without the delay, which only sleeps) gives the same numbers
    monkeypatch.setenv("BENCH_HOME", str(bench_home / "reference"))
    one_job_suite(Path("fast.yaml"), steps=1500)
    assert main(["run", "fast.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    [reference] = finished_runs()
    assert "resumed_from_step" not in reference.tags
    assert resumed.measurements == reference.measurements


# ------------------------------------------------------------------- disk, locks, servers


def test_unwritable_bench_home_is_one_line_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("file").write_text("not a directory")
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "file" / "home"))  # fails for root too, unlike chmod
    assert_one_line_exit_2(main(["run", str(SUITE), "--profile", "smoke", "--no-progress"]),
                           capsys.readouterr().err, "BENCH_HOME is not writable")


@pytest.mark.parametrize("database", ["optuna.db", "mlflow.db"])
def test_locked_sqlite_file_is_one_line_before_training(bench_home, capsys, database):
    home = bench_home / ".bench"
    home.mkdir()
    holder = sqlite3.connect(home / database, timeout=0)
    holder.execute("CREATE TABLE IF NOT EXISTS hold (x)")
    holder.execute("BEGIN EXCLUSIVE")  # another process writing: nobody else may read or write
    started = time.monotonic()
    try:
        code = main(["run", str(SUITE), "--profile", "smoke", "--no-progress", "--no-leaderboard"])
    finally:
        holder.rollback()
        holder.close()
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err, "locked")
    assert ("--storage" if database == "optuna.db" else "--tracking-uri") in err
    assert time.monotonic() - started < 90
    assert not (home / "checkpoints").exists()
    if database == "optuna.db":
        assert not finished_runs()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tracking_server_down_is_one_line_before_training(bench_home, capsys):
    uri = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    code = main(["run", str(SUITE), "--profile", "smoke", "--tracking-uri", uri, "--no-progress"])
    assert_one_line_exit_2(code, capsys.readouterr().err, "cannot reach the MLflow tracking server", uri)
    assert time.monotonic() - started < 30, "MLflow's own retries were waited out"


def test_storage_server_down_is_one_line_before_training(bench_home, capsys):
    url = f"postgresql://bench:secret@127.0.0.1:{_free_port()}/optuna"
    code = main(["run", str(SUITE), "--profile", "smoke", "--storage", url, "--no-progress"])
    err = capsys.readouterr().err
    assert_one_line_exit_2(code, err, "cannot open the Optuna storage", "--storage")
    assert "secret" not in err, "the password was printed"
    assert not finished_runs()


# ------------------------------------------------------------------------------- security


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "/abs/path", "a/../../b", "..\\..\\x", "ünï/cödé",
                                  "nul\x00byte", "." * 300, ""])
def test_names_from_suites_cannot_escape_their_directory(tmp_path, name):
    root = tmp_path / "runs" / "r1"
    root.mkdir(parents=True)
    path = safe_child(root, name, ".png")
    assert path.parent == root.resolve() and path.name.endswith(".png") and not path.name.startswith(".")


def test_figures_and_experiment_artifacts_stay_inside_their_roots(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from benchmark.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")
    exp = tracker.client.get_experiment(tracker.experiment_id("../../outside"))
    assert Path(exp.artifact_location.removeprefix("file://")).parent == (tmp_path / "artifacts").resolve()
    assert not (tmp_path.parent / "outside").exists()


def test_suite_names_that_are_only_dots_are_rejected(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(ENGINE.replace("suite: engine_test", "suite: .."))
    line = ENGINE.splitlines().index("suite: engine_test") + 1
    assert_one_line_exit_2(main(["validate", "x.yaml"]), capsys.readouterr().err, f"x.yaml:{line}: suite: ")


def test_ui_binds_loopback_unless_told_otherwise(monkeypatch, capsys):
    execs: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: execs.append(list(argv)))
    assert main(["ui"]) == 0
    assert main(["ui", "--host", "0.0.0.0", "--port", "5055"]) == 0
    default, wide = execs
    assert default[default.index("--host") + 1] == "127.0.0.1" and default[default.index("--port") + 1] == "5000"
    assert wide[wide.index("--host") + 1] == "0.0.0.0" and wide[wide.index("--port") + 1] == "5055"
    assert "reachable from other machines" in capsys.readouterr().err


# ---------------------------------------------------------------------------- determinism


def test_real_suite_smoke_job_is_bit_identical_across_runs(tmp_path, monkeypatch, capsys):
    values = []
    for name in ("a", "b"):
        monkeypatch.setenv("BENCH_HOME", str(tmp_path / name))
        monkeypatch.chdir(tmp_path)
        assert main(["run", str(REPO / "suites" / "gan_divergences.yaml"), "--only", "section3.1.2/pair_same/*",
                     "--profile", "smoke", "--device", "cpu", "--no-progress", "--no-leaderboard"]) == 0
        runs = [r for r in Tracker(default_tracking_uri()).runs("gan_divergences")
                if r.tags.get("bench.kind") == "run" and r.status == "FINISHED"]
        assert runs
        values.append(sorted((r.tags["run_key"], tuple(sorted(r.measurements.items()))) for r in runs))
    assert values[0] == values[1]


def test_two_workers_logging_one_dataset_at_once_do_not_fail_a_run(monkeypatch):
    """MLflow inserts a dataset it has not seen without a lock: the worker that loses the race gets a unique-key
    error (seen with PostgreSQL in the three-worker scale-out test) and must find the dataset on a second try."""
    from mlflow.exceptions import MlflowException

    from benchmark.tracking import Tracker

    calls = []

    class Client:
        def log_inputs(self, run_id, inputs):
            calls.append(run_id)
            if len(calls) == 1:
                raise MlflowException("(psycopg2.errors.UniqueViolation) duplicate key value violates unique "
                                      "constraint \"dataset_pk\"")

    monkeypatch.setattr("benchmark.tracking.time.sleep", lambda s: None)
    tracker = Tracker("sqlite:///unused.db", _client=Client())
    tracker.log_dataset("run1", "narrow", "018cdb5ff361", "test_gaussian_1d(mean=1.5)", {"loader": "x"})
    assert calls == ["run1", "run1"]

    class Broken:
        def log_inputs(self, run_id, inputs):
            raise MlflowException("RESOURCE_DOES_NOT_EXIST: run not found")

    with pytest.raises(MlflowException, match="not found"):
        Tracker("sqlite:///unused.db", _client=Broken()).log_dataset("run2", "n", "d", "s", {})
