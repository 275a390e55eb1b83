"""The runner end to end on the engine-test learner: results land in MLflow, reruns resume, kills lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import TESTS

from benchmark.cli import main
from benchmark.errors import UserError
from benchmark.tracking import Tracker, default_tracking_uri

SUITE = TESTS / "suites" / "engine.yaml"


def is_final(run) -> bool:
    """A run the current version of its job reads as one of the chosen setting's seeds."""
    return any(k.startswith("job.") and "final" in v.split(",") for k, v in run.tags.items())


def runs(home: Path) -> list:
    return Tracker(default_tracking_uri()).runs("engine_test")


def children(home: Path, status: str | None = "FINISHED") -> list:
    return [r for r in runs(home) if r.tags.get("bench.kind") == "run" and (status is None or r.status == status)]


def test_run_logs_everything_and_a_rerun_trains_nothing(bench_home, capsys):
    assert main(["run", str(SUITE), "--profile", "smoke", "--no-progress"]) == 0
    out = capsys.readouterr()
    assert "5/5 reproduced or holding" in out.out
    first = runs(bench_home)
    kids = [r for r in first if r.tags["bench.kind"] == "run"]
    parents = [r for r in first if r.tags["bench.kind"] == "job"]
    # 2 jobs x (2 grid points searched + 1 extra seed) = 6 runs, plus one parent per job
    assert len(kids) == 6 and len(parents) == 2
    for tag in ("suite", "experiment", "method", "dataset", "seed", "profile", "git_commit", "bench_version",
                "torch_version", "device", "mlflow.parentRunId"):
        assert all(tag in r.tags for r in kids), tag
    assert all(r.status == "FINISHED" for r in first)
    client = Tracker(default_tracking_uri()).client
    history = client.get_metric_history(kids[0].run_id, "loss.nll")
    assert len(history) == 300 // 50  # per-step losses, every log_every steps
    assert sorted({r.tags["phase"] for r in kids}) == ["final", "search"]
    mine = bench_home / ".bench" / "leaderboard"  # the user's own, beside the store; never ./leaderboard
    assert (mine / "README.md").exists() and (mine / "results.json").exists() and not Path("leaderboard").exists()

    started = time.monotonic()
    assert main(["run", str(SUITE), "--profile", "smoke", "--no-progress"]) == 0
    assert time.monotonic() - started < 20
    assert "trained 0 runs" in capsys.readouterr().err
    assert len(runs(bench_home)) == len(first)


def test_compare_json_fields_and_strict(bench_home, capsys):
    assert main(["run", str(SUITE), "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    capsys.readouterr()
    assert main(["compare", str(SUITE), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    targets = data["suites"][0]["targets"]
    assert {t["target"] for t in targets} == {"mle/narrow/SGD/fit.mean", "mle/narrow/SGD/fit.mean_error",
                                               "mle/wider-has-larger-std", "table1/narrow/SGD/fit.std",
                                               "table1/wide/SGD/fit.std"}
    for field in ("published", "reproduced", "reproduced_std", "n", "difference", "verdict", "profile"):
        assert all(field in t for t in targets)
    mean = next(t for t in targets if t["target"] == "mle/narrow/SGD/fit.mean")
    assert abs(mean["reproduced"] - 1.5) < 0.1 and mean["n"] == 2 and mean["profile"] == "smoke"
    assert main(["compare", str(SUITE), "--strict"]) == 0


def test_only_plans_just_what_the_selected_targets_need(bench_home, capsys):
    assert main(["run", str(SUITE), "--profile", "smoke", "--only", "table1/wide/*", "--no-progress",
                 "--no-leaderboard"]) == 0
    assert {r.tags["dataset"] for r in runs(bench_home)} == {"wide"}
    assert main(["run", str(SUITE), "--only", "nothing/*", "--no-progress"]) == 2


def test_same_seed_gives_identical_measurements(tmp_path, monkeypatch, capsys):
    values = []
    for name in ("a", "b"):
        monkeypatch.setenv("BENCH_HOME", str(tmp_path / name))
        monkeypatch.chdir(tmp_path)
        assert main(["run", str(SUITE), "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
        values.append(sorted((r.tags["run_key"], tuple(sorted(r.measurements.items())))
                             for r in children(tmp_path)))
    assert values[0] == values[1]


def test_a_diverged_run_is_recorded_and_the_sweep_goes_on(bench_home, capsys):
    text = SUITE.read_text().replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, poison_at: 100}")
    Path("poison.yaml").write_text(text)
    assert main(["run", "poison.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    failed = children(bench_home, "FAILED")
    assert failed and all("loss 'nll' became nan" in r.tags["failure"] for r in failed)
    assert all(r.tags["failure_step"] == "100" for r in failed)
    # 2 grid points searched with seed 0, both diverge: nothing to re-run over seeds. Every seed diverged is a
    # result: the value targets are not reproduced, and say why
    capsys.readouterr()
    assert main(["compare", "poison.yaml", "--format", "json"]) == 0
    targets = {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}
    for name in ("mle/narrow/SGD/fit.mean", "table1/narrow/SGD/fit.std"):
        assert targets[name]["verdict"] == "not reproduced", targets[name]
        assert targets[name]["diverged"] == 2 and "every seed diverged" in targets[name]["detail"]
    assert main(["compare", "poison.yaml"]) == 0
    unwrapped = " ".join(capsys.readouterr().out.split())
    assert "2 of 2 diverged" in unwrapped, unwrapped
    # `bench compare` counts inconclusive apart: the ordering of two wholly diverged jobs decides nothing
    assert "0/5 reproduced or holding, 4 not reproduced, 1 inconclusive" in unwrapped, unwrapped


def test_a_diverged_seed_stays_in_its_targets(bench_home, capsys):
    """Seed 1 of the chosen setting diverges in both jobs: the job is done, the parent names the seed, and every
    target counts it (not dropped, as it was, which made a method that diverges one run in two look as good as
    one that never does)."""
    text = SUITE.read_text().replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, poison_at: 10, poison_seed: 1}")
    Path("seed1.yaml").write_text(text)
    assert main(["run", "seed1.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    parents = [r for r in runs(bench_home) if r.tags["bench.kind"] == "job"]
    assert [r.tags.get("diverged_seeds") for r in parents] == ["1", "1"]
    capsys.readouterr()
    assert main(["compare", "seed1.yaml", "--format", "json"]) == 0
    targets = {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}
    mean = targets["mle/narrow/SGD/fit.mean"]
    assert mean["n"] == 1 and mean["diverged"] == 1 and "1 of 2 seeds diverged" in mean["detail"]
    assert mean["verdict"] != "reproduced" and mean["diverged_rate"][1] > 0.5
    assert targets["mle/wider-has-larger-std"]["diverged"] == 2


def test_one_diverged_grid_point_does_not_stop_the_sweep(bench_home, capsys):
    text = SUITE.read_text().replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, poison_at: 10, poison_lr: 0.05}")
    Path("half.yaml").write_text(text)
    assert main(["run", "half.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    assert "5/5 reproduced or holding" in capsys.readouterr().out
    failed = children(bench_home, "FAILED")
    assert len(failed) == 2 and {r.params["lr"] for r in failed} == {"0.05"}
    assert {r.params["lr"] for r in children(bench_home) if is_final(r)} == {"0.02"}


@pytest.mark.slow  # end to end: a sweep killed mid-job and run again in subprocesses: a minute or more
def test_kill_mid_job_then_rerun_loses_and_duplicates_nothing(bench_home):
    """SIGKILL the `bench run` process while a run is training; the rerun completes the plan exactly once."""
    text = SUITE.read_text().replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, step_delay: 0.004}")
    Path("slow.yaml").write_text(text)
    command = [sys.executable, str(TESTS / "engine_cli.py"), "run", "slow.yaml", "--profile", "smoke",
               "--no-progress", "--no-leaderboard"]
    env = {**os.environ, "BENCH_HOME": str(bench_home / ".bench")}
    errors = Path("killed-run.err")
    with errors.open("w") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:  # the child may still be creating the database tables
            if len(children(bench_home)) >= 2:
                break
        except UserError:
            continue
    assert proc.poll() is None, f"the run finished before it could be killed: {errors.read_text()[-2000:]}"
    # land inside a run: wait until one is RUNNING
    while time.monotonic() < deadline and not children(bench_home, "RUNNING"):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    before = children(bench_home)
    assert children(bench_home, "RUNNING"), "expected a run left RUNNING by the kill"

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    finished = children(bench_home)
    keys = Counter(r.tags["run_key"] for r in finished)
    assert all(n == 1 for n in keys.values()), "a finished run was trained twice"
    assert {r.run_id for r in before} <= {r.run_id for r in finished}, "a finished run was lost"
    assert not children(bench_home, "RUNNING")
    assert all(r.status in ("FINISHED", "KILLED") for r in children(bench_home, None))
    # the plan: 2 jobs x (2 grid points + 1 more seed) distinct runs
    assert len(keys) == 6
    final = Counter((r.tags["dataset"], r.tags["seed"]) for r in finished if is_final(r))
    assert sorted(final) == [("narrow", "0"), ("narrow", "1"), ("wide", "0"), ("wide", "1")]


def test_missing_data_gives_not_run_with_the_file_and_the_rest_still_runs(bench_home, capsys):
    text = SUITE.read_text().replace("loader: test_gaussian_1d\n    params: {mean: -1.0",
                                     "loader: test_needs_file\n    params: {mean: -1.0")
    Path("data.yaml").write_text(text)
    assert main(["run", "data.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the terminal table wraps long verdicts
    assert "not run: needs dataset fixture: fixture/data.txt under the data directory" in out
    assert "table1/narrow/SGD/fit.std" in out and "reproduced" in out
    # with the file present the same command trains the missing job and keeps the rest
    Path("data/fixture").mkdir(parents=True)
    Path("data/fixture/data.txt").write_text("present")
    assert main(["run", "data.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard",
                 "--data-dir", "data"]) == 0
    assert "5/5 reproduced or holding" in capsys.readouterr().out


def test_missing_data_dir_is_a_user_error(bench_home, capsys):
    assert main(["run", str(SUITE), "--data-dir", "nowhere", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "error: nowhere: --data-dir: data directory does not exist"
