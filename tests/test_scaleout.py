"""Many workers on a real PostgreSQL server and a real `mlflow server` (both on loopback, started here):
every run is done exactly once, the studies complete, verdicts match the sqlite default, and workers
killed at random points lose and duplicate nothing.

PostgreSQL comes from Debian's package (`.ci/run` installs it); without it these tests skip, unless
BENCH_REQUIRE_POSTGRES=1 (set by CI), where its absence is a failure."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import TESTS

from benchmark import numerics
from benchmark.cli import main
from benchmark.planner import plan
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, database_url

servers = pytest.importorskip("servers")

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()
CLI = [sys.executable, str(TESTS / "engine_cli.py")]


def is_final(run) -> bool:
    """A run the current version of its job reads as one of the chosen setting's seeds."""
    return any(k.startswith("job.") and "final" in v.split(",") for k, v in run.tags.items())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(PostgreSQL URL for Optuna, MLflow server URL): one of each for the module, ~20 s to start."""
    if servers.postgres_bin() is None:
        if os.environ.get("BENCH_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed but BENCH_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL server programs not installed (apt-get install postgresql)")
    artifacts = tmp_path_factory.mktemp("shared") / "artifacts"
    with servers.postgres(("optuna", "mlflow")) as pg:
        with servers.mlflow_server(pg.replace("postgresql://", "postgresql+psycopg2://") + "/mlflow",
                                   artifacts) as uri:
            yield f"{pg}/optuna", uri


def sweep_suite(path: Path, name: str, grid: list[float], seeds: int, extra_hparams: str = "") -> Path:
    """The engine suite with a bigger grid: 2 jobs x (len(grid) + seeds - 1) runs."""
    text = (ENGINE.replace("suite: engine_test", f"suite: {name}")
            .replace("lr: {grid: [0.02, 0.05]}", "lr: {grid: [" + ", ".join(f"{v:.3f}" for v in grid) + "]}")
            .replace("seeds: {smoke: 2, cpu: 3, paper: 3}", f"seeds: {{smoke: {seeds}, cpu: 3, paper: 3}}")
            .replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05" + extra_hparams + "}"))
    path.write_text(text)
    return path


def planned_keys(suite_path: Path, best: dict[str, float], threads: int | None = None) -> set[str]:
    """Every run the plan calls for: each grid point with the first seed, the best point with every seed (trained
    by processes of ``threads`` threads each, a part of every run's platform)."""
    keys: set[str] = set()
    numerics.use_workers(1, threads)
    try:
        jobs = plan(load_suite(suite_path), "smoke")
    finally:
        numerics.use_workers(1)
    for job in jobs:
        keys |= {job.run_key(point, job.seeds[0]) for point in job.grid_points()}
        keys |= {job.run_key({"lr": best[job.dataset]}, seed) for seed in job.seeds}
    return keys


def child_runs(uri: str, suite: str) -> list:
    return [r for r in Tracker(uri).runs(suite) if r.tags.get("bench.kind") == "run"]


def best_lr(runs: list) -> dict[str, float]:
    return {r.tags["dataset"]: float(r.params["lr"]) for r in runs
            if is_final(r) and r.status == "FINISHED"}


def worker(suite: Path, storage: str, uri: str, env: dict, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "worker", str(suite), "--profile", "smoke", "--storage", storage,
                             "--tracking-uri", uri, "--heartbeat", "1", "--no-progress", *extra],
                            env=env, stdout=log.open("a"), stderr=subprocess.STDOUT)


def verdicts(argv: list[str], capsys) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    return sorted((t["target"], t["verdict"]) for t in data["suites"][0]["targets"])


@pytest.mark.slow  # end to end: worker processes on a PostgreSQL and MLflow server stack: minutes
def test_three_workers_run_every_run_once_and_agree_with_sqlite(stack, tmp_path, monkeypatch, capsys):
    storage, uri = stack
    monkeypatch.chdir(tmp_path)
    grid = [0.01 + 0.005 * i for i in range(13)]
    suite = sweep_suite(tmp_path / "scale.yaml", "scale_three", grid, seeds=3)  # 2 x (13 + 2) = 30 runs
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home")}

    started = time.monotonic()
    sqlite = subprocess.run([*CLI, "run", str(suite), "--profile", "smoke", "--no-progress", "--no-leaderboard"],
                            env=env, capture_output=True, text=True, timeout=600)
    sqlite_s = time.monotonic() - started
    assert sqlite.returncode == 0, sqlite.stderr

    started = time.monotonic()
    procs = [worker(suite, storage, uri, env, tmp_path / f"worker{i}.log") for i in range(3)]
    for proc in procs:
        assert proc.wait(timeout=600) == 0, (tmp_path / "worker0.log").read_text()[-3000:]
    shared_s = time.monotonic() - started
    print(f"\n30-run smoke suite: sqlite, 1 process {sqlite_s:.1f} s; PostgreSQL + mlflow server, "
          f"3 workers {shared_s:.1f} s")

    runs = child_runs(uri, "scale_three")
    finished = Counter(r.tags["run_key"] for r in runs if r.status == "FINISHED")
    assert len(finished) == 30 and set(finished.values()) == {1}, "a run was lost or trained twice"
    assert Counter(r.status for r in runs) == {"FINISHED": 30}
    assert set(finished) == planned_keys(suite, best_lr(runs))
    assert len({r.tags["worker"] for r in runs}) >= 2, "the work was not shared"
    for log in tmp_path.glob("worker*.log"):
        assert "Traceback" not in log.read_text()

    import optuna

    best = best_lr(runs)
    for job in plan(load_suite(suite), "smoke"):
        search = optuna.load_study(study_name=job.study_name, storage=database_url(storage))
        seeds = optuna.load_study(study_name=job.seeds_study_name({"lr": best[job.dataset]}),
                                  storage=database_url(storage))
        assert Counter(t.state.name for t in search.trials) == {"COMPLETE": 13}
        assert Counter(t.state.name for t in seeds.trials) == {"COMPLETE": 3}

    shared = verdicts(["compare", str(suite), "--format", "json", "--tracking-uri", uri], capsys)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    assert shared == verdicts(["compare", str(suite), "--format", "json"], capsys)
    assert [v for _, v in shared].count("reproduced") >= 4


@pytest.mark.slow  # end to end: worker processes on a PostgreSQL and MLflow server stack: minutes
def test_workers_killed_at_random_points_lose_and_duplicate_nothing(stack, tmp_path, monkeypatch):
    """20 grid points x 2 datasets; two workers at a time, one SIGKILLed at a random moment 6 times."""
    storage, uri = stack
    monkeypatch.chdir(tmp_path)
    grid = [0.01 + 0.003 * i for i in range(20)]
    suite = sweep_suite(tmp_path / "kill.yaml", "scale_kill", grid, seeds=2, extra_hparams=", step_delay: 0.002")
    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home")}
    rng = random.Random(7)
    log = tmp_path / "workers.log"
    # every process trains with one thread, `bench run --workers 2` below too: the same platform, the same runs
    live = [worker(suite, storage, uri, env, log, "--threads", "1") for _ in range(2)]
    kills: list[str] = []
    deadline = time.monotonic() + 300
    for _ in range(6):
        time.sleep(rng.uniform(1.5, 6.0))
        running = [p for p in live if p.poll() is None]
        if not running or time.monotonic() > deadline:
            break
        victim = rng.choice(running)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        kills.append(f"t={time.monotonic() - deadline + 300:.1f}s pid {victim.pid} with "
                     f"{sum(r.status == 'RUNNING' for r in child_runs(uri, 'scale_kill'))} runs RUNNING")
        live = [p for p in live if p is not victim] + [worker(suite, storage, uri, env, log, "--threads", "1")]
    print("\nkills (seed 7): " + "; ".join(kills))
    assert len(kills) >= 3, f"the sweep ended before the kills landed: {kills}"

    # what the kills left behind is finished by `bench run` with worker processes here, alongside the survivors;
    # its workers wait for every job, so its verdicts see the whole sweep
    done = subprocess.run([*CLI, "run", str(suite), "--profile", "smoke", "--storage", storage, "--tracking-uri",
                           uri, "--workers", "2", "--threads", "1", "--heartbeat", "1", "--no-progress",
                           "--no-leaderboard"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "5/5 reproduced or holding" in done.stdout and "jobs not run" in done.stderr
    assert "0 jobs not run" in done.stderr, done.stderr[-3000:]
    for proc in live:
        assert proc.wait(timeout=300) == 0
    runs = child_runs(uri, "scale_kill")
    finished = Counter(r.tags["run_key"] for r in runs if r.status == "FINISHED")
    planned = planned_keys(suite, best_lr(runs), threads=1)
    killed = sum(r.status == "KILLED" for r in runs)
    print(f"planned {len(planned)} runs, finished {len(finished)}, duplicated "
          f"{sum(n - 1 for n in finished.values())}, killed mid-run and redone {killed}")
    assert set(finished) == planned and len(planned) == 2 * (20 + 1)
    assert set(finished.values()) == {1}, "a run was trained twice"
    assert not [r for r in runs if r.status == "RUNNING"], "a run stayed RUNNING"
    assert set(Counter(r.status for r in runs)) <= {"FINISHED", "KILLED"}
    assert "Traceback" not in log.read_text()
