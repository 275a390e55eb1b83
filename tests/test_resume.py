"""Every method family resumes after SIGKILL from its last checkpoint and ends with the same numbers as an
uninterrupted run: the engine's loop saves networks, optimisers, schedulers, data streams, random generators
(named streams and torch's global one, which dropout draws from) and the values a step carries; the budget-curve
points taken before the kill are kept (a loop-trained and a batched job have curves)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TESTS

from benchmark.tracking import Tracker

SUITE = TESTS / "suites" / "resume.yaml"


def bench(home: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "BENCH_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_args() -> list[str]:
    return ["run", str(SUITE), "--profile", "smoke", "--no-progress", "--no-leaderboard"]


def finished_runs(home: Path) -> dict[str, object]:
    tracker = Tracker(f"sqlite:///{home / 'mlflow.db'}")
    runs = [r for r in tracker.runs("resume_test") if r.tags.get("bench.kind") == "run" and r.status == "FINISHED"]
    by_key = {r.tags["run_key"]: r for r in runs}
    # each run trains once: a fixed setting's search run is its first seed's run, in a batch too
    assert len(by_key) == len(runs), sorted(r.tags["run_key"] for r in runs)
    return by_key


def histories(home: Path, run) -> dict[str, list[tuple[int, float]]]:
    client = Tracker(f"sqlite:///{home / 'mlflow.db'}").client
    keys = [k for k in client.get_run(run.run_id).data.metrics if k.startswith(("loss.", "curve."))]
    return {k: sorted((m.step, m.value) for m in client.get_metric_history(run.run_id, k)) for k in keys}


@pytest.mark.slow  # end to end: a run of each family killed and resumed in subprocesses: minutes
def test_every_family_resumes_after_sigkill_to_the_same_numbers(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    proc = bench(whole, *run_args())
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]

    # Kill the run in training as soon as its first checkpoint is on disk, once per run, until a rerun finishes
    # the plan by itself.
    checkpoints = killed / "checkpoints"
    seen: set[str] = set()
    kills = 0
    for _ in range(30):
        proc = bench(killed, *run_args())
        while proc.poll() is None:
            fresh = {p.name for p in checkpoints.glob("*.pt")} - seen if checkpoints.exists() else set()
            if fresh:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                seen |= fresh
                kills += 1
                break
            time.sleep(0.005)
        else:
            assert proc.returncode == 0, proc.stderr.read()[-3000:]
            break
    assert kills >= 7, f"only {kills} runs were killed mid-training"

    reference, resumed = finished_runs(whole), finished_runs(killed)
    assert set(resumed) == set(reference) and len(reference) == 7
    interrupted = {key for key, run in resumed.items() if "resumed_from_step" in run.tags}
    families = {resumed[key].tags["experiment"] for key in interrupted}
    assert families == {"gan", "wgan", "infogan", "entropic", "ebgan", "alpha"}, families
    for key, run in resumed.items():
        assert run.measurements == reference[key].measurements, run.tags["experiment"]
        assert histories(killed, run) == histories(whole, reference[key]), run.tags["experiment"]
        assert run.tags.get("curve") == reference[key].tags.get("curve"), run.tags["experiment"]
        assert bool(run.tags.get("curve")) == (run.tags["experiment"] in ("wgan", "ebgan"))
    assert not list(checkpoints.glob("*.pt")), "a finished run leaves no checkpoint behind"


def test_a_killed_batch_forms_again_whole_and_resumes_from_its_checkpoint(tmp_path):
    """Four runs of two jobs train as one batch; killed after its first checkpoint, the rerun claims the same
    four (their trials failed by the kill) into one batch again and every member resumes from that checkpoint,
    rather than training them one by one from the start."""
    suite = TESTS / "suites" / "resume_batch.yaml"
    args = ["run", str(suite), "--profile", "smoke", "--no-progress", "--no-leaderboard"]
    checkpoints = tmp_path / "checkpoints"
    proc = bench(tmp_path, *args)
    while proc.poll() is None and not (checkpoints.exists() and list(checkpoints.glob("*.pt"))):
        time.sleep(0.005)
    assert proc.poll() is None, "the batch finished before its first checkpoint"
    first = {p.name for p in checkpoints.glob("*.pt")}
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc = bench(tmp_path, *args)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = [r for r in tracker.runs("resume_batch_test") if r.tags.get("bench.kind") == "run"
            and r.status == "FINISHED"]
    assert len({r.tags["run_key"] for r in runs}) == len(runs) == 4
    assert all(r.tags.get("batch") == "4" for r in runs), [r.tags.get("batch") for r in runs]
    assert all("resumed_from_step" in r.tags for r in runs), [r.tags.get("resumed_from_step") for r in runs]
    assert len(first) == 1 and not list(checkpoints.glob("*.pt"))
