"""What `bench run` writes to a log: one line per finished run, and during long training a line at most every
interval that says how far the runs in training are."""

from __future__ import annotations

import io
from types import SimpleNamespace

from benchmark.progress import LineProgress


def _job(key: str, steps: int) -> SimpleNamespace:
    return SimpleNamespace(key=key, steps=steps, n_trials=1, seeds=[0, 1], experiment="synthetic", method="GAN",
                           dataset=key, sweep={})


def test_long_training_reports_its_share_at_the_interval_only():
    out = io.StringIO()
    jobs = [_job("gmm4", 100), _job("spirals", 300)]
    progress = LineProgress(jobs, out, interval=3600)
    a, b = progress.steps(jobs[0], 0), progress.steps(jobs[1], 0)
    a(50)
    b(50)
    assert out.getvalue() == ""  # within the interval: nothing
    progress.interval = 0
    a(50)
    line = out.getvalue().strip()
    assert line.startswith("... 2 runs in training: 38% of 400 model steps") and "left for them" in line
    progress.close_steps()
    progress.run_done(jobs[0], 0, "final", "trained", 2.0)
    assert out.getvalue().strip().splitlines()[-1].startswith("[1/6] synthetic · GAN · gmm4 · seed 0: trained in 2.0 s")


def test_time_left_counts_only_the_steps_trained_since_a_resume(monkeypatch):
    """A run resumed at 90 % jumps there at once; its time left comes from the steps it trains afterwards."""
    clock = [1000.0]
    monkeypatch.setattr("benchmark.progress.time.monotonic", lambda: clock[0])
    out = io.StringIO()
    job = _job("gmm4", 1000)
    progress = LineProgress([job], out, interval=3600)
    advance = progress.steps(job, 0)
    advance(900)  # restored from its checkpoint
    clock[0] += 60.0
    progress.interval = 0
    advance(10)  # 10 steps in a minute: the 90 left take 9 minutes
    line = out.getvalue().strip()
    assert "91% of 1,000 model steps" in line and "about 9:00 left for it" in line, line


def test_runs_trained_together_do_not_multiply_the_eta(monkeypatch):
    """Four runs of a batch end together after 100 s, each having taken the batch's 100 s: the eight left take
    about 8 × 25 s, not 8 × 100 s."""
    clock = [0.0]
    monkeypatch.setattr("benchmark.progress.time.monotonic", lambda: clock[0])
    out = io.StringIO()
    jobs = [_job(f"d{i}", 100) for i in range(4)]  # three units each: 12 runs
    progress = LineProgress(jobs, out)
    clock[0] = 100.0
    for job in jobs:
        progress.run_done(job, 0, "final", "trained", 100.0)
    assert out.getvalue().strip().splitlines()[-1].endswith("elapsed 1:40, ETA 3:20")


def test_the_first_line_of_a_batch_counts_the_members_that_ended_with_it(monkeypatch):
    """The first of four runs that trained together is reported while the other three, finished too, wait for
    their lines: the ETA counts four runs trained in the 100 s (seen: 21 hours for 5 minutes left)."""
    clock = [0.0]
    monkeypatch.setattr("benchmark.progress.time.monotonic", lambda: clock[0])
    out = io.StringIO()
    jobs = [_job(f"d{i}", 100) for i in range(4)]
    progress = LineProgress(jobs, out, interval=3600)
    advances = [progress.steps(job, 0) for job in jobs]
    clock[0] = 100.0
    for advance in advances:
        advance(100)
    progress.close_steps()  # the batch's training ends before its runs are measured and reported
    etas = []
    for job in jobs:
        progress.run_done(job, 0, "final", "trained", 100.0)
        etas.append(out.getvalue().strip().splitlines()[-1].rsplit("ETA ", 1)[1])
    assert etas == ["3:20"] * 4  # 8 runs left at 25 s each, from the first line on
