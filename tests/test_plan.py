"""`bench plan` and per-model budgets: the paper profile of Table 2 is the original code's budget for every model,
a budget override is part of exactly the runs it changes, and the estimate comes from earlier runs or a short
calibration."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import REPO, TESTS

from benchmark.cli import main

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()


def plan_json(capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    assert main(["plan", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_table2_paper_plan_has_the_original_codes_budget_per_model(bench_home, capsys):
    jobs = plan_json(capsys, str(REPO / "suites" / "calibrating_ebgan.yaml"), "--profile", "paper", "--only",
                     "table2*", "--no-calibrate")
    assert len(jobs) == 12
    for job in jobs:
        assert {"method", "dataset", "seeds", "steps", "done", "estimated_seconds"} <= set(job)
        short = job["method"] != "GAN" and job["dataset"] in ("gmm4", "biased")
        assert job["steps"] == (20_000 if short else 100_000), job
        assert job["seeds"] == 3 and job["done"] == 0
        assert job["max_seeds"] == 10  # adaptive seeds: up to 10 where 3 leave a target inconclusive


def test_a_fresh_store_is_planned_without_creating_an_mlflow_store(bench_home, capsys):
    """A fresh store has no runs to read back: creating its MLflow database (schema migrations) would cost the
    plan seconds and leave a store behind that nothing ran in."""
    jobs = plan_json(capsys, str(REPO / "suites" / "calibrating_ebgan.yaml"), "--profile", "paper", "--only",
                     "table2*", "--no-calibrate")
    assert len(jobs) == 12 and all(j["done"] == 0 for j in jobs)
    assert not (bench_home / ".bench" / "mlflow.db").exists()


def test_this_machines_calibration_takes_the_place_of_the_committed_table(bench_home, capsys, monkeypatch):
    from benchmark import calibration, estimate, planner
    from benchmark.suite import load_suite

    Path("engine.yaml").write_text(ENGINE)
    shapes = {planner.shape_of(j) for j in planner.plan(load_suite("engine.yaml"), "smoke", None, device="cpu")}
    table = {s: calibration.Throughput(1.0, 0.0, "step-cost table (somewhere, then)") for s in shapes}
    monkeypatch.setattr(estimate, "committed", lambda: table)
    from_table = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert all(j["basis"] == "step-cost table (somewhere, then)" for j in from_table)
    assert all(j["estimated_seconds"] == j["runs"] * j["steps"] * 1.0 for j in from_table)
    calibration.save(sorted(shapes)[0], calibration.Throughput(0.5, 0.0, "short calibration (9 steps)"))
    mixed = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert sum(j["basis"] == "short calibration (9 steps)" for j in mixed) >= 1


def test_a_budget_override_changes_only_the_runs_it_names(bench_home, capsys):
    Path("engine.yaml").write_text(ENGINE)
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    longer = ENGINE.replace("      paper: {steps: 2000}\n", "      paper: {steps: 2000}\n      overrides:\n"
                            "        - {datasets: [wide], smoke: {steps: 350}, source: the test}\n")
    Path("engine.yaml").write_text(longer)
    jobs = {j["dataset"]: j for j in plan_json(capsys, "engine.yaml", "--profile", "smoke", "--no-calibrate")}
    assert jobs["narrow"]["steps"] == 300 and jobs["narrow"]["done"] == jobs["narrow"]["runs"] == 3
    assert jobs["wide"]["steps"] == 350 and jobs["wide"]["done"] == 0
    # the narrow job's runs are the same runs; the wide one's have another budget, hence another identity
    assert jobs["wide"]["estimated_seconds"] is not None and jobs["wide"]["basis"] != "no earlier runs"
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"trained 3 runs", err), err


def test_estimates_come_from_history_or_a_calibration(bench_home, capsys, monkeypatch):
    from benchmark import calibration

    monkeypatch.setattr(calibration, "PLAN_SECONDS", 600.0)  # every shape, however busy the machine
    Path("engine.yaml").write_text(ENGINE)
    fresh = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert all(j["basis"].startswith("short calibration") and j["estimated_seconds"] > 0 for j in fresh)
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    done = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert all(j["done"] == j["runs"] and j["estimated_seconds"] == 0 for j in done)
    # the cpu profile differs only in steps: the smoke runs' seconds per step carry over
    cpu = plan_json(capsys, "engine.yaml", "--profile", "cpu", "--no-calibrate")
    assert all(j["basis"].startswith("history") and j["estimated_seconds"] > 0 for j in cpu)
    capsys.readouterr()
    assert main(["plan", "engine.yaml", "--profile", "cpu", "--no-calibrate"]) == 0
    assert "runs to train" in capsys.readouterr().out


def test_runs_that_train_together_are_calibrated_as_their_batch(bench_home, capsys, monkeypatch):
    from benchmark import batching, calibration

    sizes: list[int] = []
    trainer = batching.TRAINERS["cegan_2d"]

    def spy(runs, **kwargs):
        sizes.append(len(runs))
        return trainer(runs, **kwargs)

    monkeypatch.setitem(batching.TRAINERS, "cegan_2d", spy)
    monkeypatch.setattr(calibration, "PLAN_SECONDS", 600.0)  # every shape, however busy the machine
    Path("curve.yaml").write_text((TESTS / "suites" / "curve.yaml").read_text())
    found = plan_json(capsys, "curve.yaml", "--profile", "smoke")
    assert all(j["basis"].startswith("short calibration") and j["estimated_seconds"] > 0 for j in found)
    # the two batched jobs (2 seeds each) form one batch of 4 when they run: calibrated as such, each charged
    # its share; the loop-trained jobs never reach the batch trainer
    assert sizes and set(sizes) == {4}
    # two batched shapes (with and without a curve), one or two timed trainings each, and perhaps the
    # process's one untimed warm-up step
    assert 2 <= len(sizes) <= 5


def test_a_plan_calibrates_within_its_time_and_the_next_plan_goes_on(bench_home, capsys, monkeypatch):
    """Calibrating is bounded per plan: with its time spent after the first shape, the other jobs say so
    (instead of a figure), and the next `bench plan` calibrates more, keeping what the first one found."""
    from benchmark import calibration

    monkeypatch.setattr(calibration, "PLAN_SECONDS", 0.0)
    Path("engine.yaml").write_text(ENGINE)
    first = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    calibrated = [j for j in first if j["basis"].startswith("short calibration")]
    assert len(calibrated) == 1 and calibrated[0]["estimated_seconds"] > 0
    waiting = [j for j in first if j not in calibrated]
    assert waiting and all(j["basis"] == calibration.NOT_YET and j["estimated_seconds"] is None for j in waiting)
    second = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert second[first.index(calibrated[0])] == calibrated[0]  # kept, not calibrated again
    assert sum(j["basis"].startswith("short calibration") for j in second) == 2
    calibration._cache_file().unlink()  # forget them: calibrate again, within a share of nothing
    monkeypatch.setattr(calibration, "MAX_SHAPE_SECONDS", 0.0)  # one timed step per shape
    monkeypatch.setattr(calibration, "MIN_SHAPE_SECONDS", 0.0)
    monkeypatch.setattr(calibration, "PLAN_SECONDS", 60.0)
    third = plan_json(capsys, "engine.yaml", "--profile", "smoke")
    assert all(j["basis"].startswith("short calibration") for j in third)
    assert all(j["basis"] == "short calibration (1 steps)" for j in third)


def test_the_summary_never_reads_as_nothing_left_when_nothing_is_known():
    from benchmark.estimate import JobEstimate, summary

    def job(seconds, basis):
        return JobEstimate("s", "e", "m", "d", "cpu", "cpu", 3, 100, 3, 0, seconds, basis)

    fresh = summary([job(None, "no earlier runs")] * 2)
    assert fresh.endswith("no estimate yet (no earlier runs; `bench plan` calibrates)")
    mixed = summary([job(90.0, "history (3 runs)"), job(None, "needs GPU")])
    assert "estimated 0:01:30 on this machine for 1 jobs (+ 1 jobs without an estimate: needs GPU)" in mixed
    assert summary([job(3700.0, "short calibration (40 steps)")]).endswith("estimated 1:01:40 on this machine")


def test_a_batched_runs_identity_carries_its_trainers_version(monkeypatch):
    """A batched run's key names the version of its family's arithmetic (``batch_families.VERSIONS``), so that
    runs stored before the trainer computed other numbers are not taken for new ones; loop runs do not."""
    from benchmark import batch_families
    from benchmark.planner import plan
    from benchmark.suite import load_suite

    suite = load_suite(REPO / "suites" / "calibrating_ebgan.yaml")

    def keys() -> dict[str, tuple[str, str]]:
        return {job.key: (job.trainer, job.run_key({}, 0)) for job in plan(suite, "smoke", ["table2*"])}

    before = keys()
    assert {trainer for trainer, _ in before.values()} == {"batched:cegan_2d"}
    loop = {job.key: job for job in plan(suite, "smoke", ["table2*"], batched=False)}
    assert all(job.trainer == "loop" and "trainer" not in job.versions for job in loop.values())
    monkeypatch.setitem(batch_families.VERSIONS, "cegan_2d", "next")
    after = keys()
    assert before.keys() == after.keys()
    assert all(before[k][1] != after[k][1] for k in before)


def test_a_plan_counts_the_runs_of_the_thread_count_it_is_told(bench_home, capsys):
    """Runs trained with one thread per worker are another platform's: a plain plan (this machine's cores) has
    them to train, a plan told the same count has them done."""
    from benchmark import numerics

    Path("engine.yaml").write_text(ENGINE)
    try:
        assert main(["run", "engine.yaml", "--profile", "smoke", "--threads", "1", "--no-progress",
                     "--no-leaderboard"]) == 0
        told = plan_json(capsys, "engine.yaml", "--profile", "smoke", "--threads", "1", "--no-calibrate")
        plain = plan_json(capsys, "engine.yaml", "--profile", "smoke", "--no-calibrate")
    finally:
        numerics.use_workers(1)
    assert all(j["done"] == j["runs"] for j in told)
    if numerics.training_threads() != 1:  # a one-core machine trains with one thread either way
        assert all(j["done"] == 0 for j in plain)
