"""Progress of a `bench run`: bars in a terminal, one line per finished run anywhere else (CI, nohup, a log file).

A redrawn bar writes a carriage return per update, thousands of them into a log; without a terminal each
finished run prints one line instead, with the time it took, the time so far and an estimate of what is left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Hooks the worker calls; this base reports nothing (``--no-progress``, worker processes of a pool)."""

    def job_started(self, job: Any) -> None:
        pass

    def job_done(self, job: Any, outcome: Any) -> None:
        pass

    def run_done(self, job: Any, seed: int, phase: str, how: str, seconds: float) -> None:
        pass

    def steps(self, job: Any, seed: int) -> Callable[[int], None] | None:
        return None

    def close_steps(self) -> None:
        pass

    def close(self) -> None:
        pass


def units(job: Any) -> int:
    """Units of work a job holds: one per search unit and one per seed of the chosen setting (whose first
    seed is its search run, read back)."""
    return job.n_trials + len(job.seeds)


def total_runs(jobs: list[Any]) -> int:
    return sum(units(j) for j in jobs)


@dataclass
class _Training:
    """A run in training as the progress lines see it. The first advance of a resumed run is the jump to its
    checkpoint, which the rate must not count as trained in this process: the rate counts from that advance."""

    steps: float
    since: float  # when it began here
    done: float = 0.0
    first_at: float | None = None  # when the first advance came
    done_at_first: float = 0.0  # steps done then


class LineProgress(Progress):
    """One line per finished run: what, how long, elapsed and ETA from the wall time per run trained so far.
    While runs train for long (a paper budget, a batch of runs trained together), a line every ``interval``
    seconds says how far they are and how long they have left."""

    def __init__(self, jobs: list[Any], stream: TextIO | None = None, interval: float = 300.0) -> None:
        self.total = total_runs(jobs)
        self.done = 0
        self.per_job: dict[str, int] = {}
        self.trained_seconds: list[float] = []
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.interval = interval
        self.training: dict[tuple[str, int], _Training] = {}  # by (job, seed)
        self.reported = time.monotonic()
        # runs whose training ended (a batch's members end together) and whose lines are still to come
        self.ended: set[tuple[str, int]] = set()

    def steps(self, job: Any, seed: int) -> Callable[[int], None]:
        entry = self.training[(job.key, seed)] = _Training(float(job.steps or 0), time.monotonic())

        def advance(n: int) -> None:
            entry.done += n
            if entry.first_at is None:
                entry.first_at, entry.done_at_first = time.monotonic(), entry.done
            if time.monotonic() - self.reported >= self.interval:
                self._report()

        return advance

    def close_steps(self) -> None:
        self.ended |= {key for key, e in self.training.items() if e.steps > 0 and e.done >= e.steps}
        self.training.clear()

    def _report(self) -> None:
        now = time.monotonic()
        self.reported = now
        entries = list(self.training.values())
        done = sum(e.done for e in entries)
        total = sum(e.steps for e in entries)
        if not total or not done:
            return
        since = min(e.since for e in entries)
        share = min(1.0, done / total)
        advanced = [e for e in entries if e.first_at is not None]
        first = min(e.first_at for e in advanced)
        trained = sum(e.done - e.done_at_first for e in advanced)
        if trained <= 0 or now <= first:
            return
        left = (total - done) * (now - first) / trained
        runs = len(self.training)
        print(f"  ... {runs} run{'s' if runs != 1 else ''} in training: {share:.0%} of {total:,.0f} model steps, "
              f"{_clock(now - since)} so far, about {_clock(left)} left for {'them' if runs != 1 else 'it'}; "
              f"elapsed {_clock(now - self.started)}", file=self.stream, flush=True)

    def run_done(self, job: Any, seed: int, phase: str, how: str, seconds: float) -> None:
        self.done += 1
        self.per_job[job.key] = self.per_job.get(job.key, 0) + 1
        if how == "trained":
            self.trained_seconds.append(seconds)
        self.ended.discard((job.key, seed))
        elapsed = time.monotonic() - self.started
        ended = len(self.ended)  # the other members of the batch this run ended with: their lines follow at once
        left = max(0, self.total - self.done - ended)
        eta = ""
        if self.trained_seconds and left:
            # wall time per trained run so far, not each run's own duration: runs trained together as a batch
            # each took the whole batch's time, and all of them count as trained in it
            eta = f", ETA {_clock(left * elapsed / (len(self.trained_seconds) + ended))}"
        what = f"{job.experiment} · {job.method} · {job.dataset} · seed {seed}"
        if phase == "search" and job.sweep:
            what += " (search)"
        took = f" in {seconds:.1f} s" if how in ("trained", "failed", "diverged") else ""
        print(f"[{self.done}/{self.total}] {what}: {how}{took}; elapsed {_clock(elapsed)}{eta}",
              file=self.stream, flush=True)

    def job_done(self, job: Any, outcome: Any) -> None:
        # a job that ends early (not run, failed) or was complete already leaves units nobody will do
        self.total -= max(0, units(job) - self.per_job.get(job.key, 0))
        if outcome.status != "done":
            print(f"  {job.key}: {outcome.status}: {outcome.reason}", file=self.stream, flush=True)


class BarProgress(Progress):
    """tqdm bars for jobs, runs and the steps of the run in training, for an interactive terminal."""

    def __init__(self, jobs: list[Any]) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.jobs_bar = tqdm(total=len(jobs), desc="jobs", unit="job", position=0)
        self.runs_bar = tqdm(total=total_runs(jobs), desc=" runs", unit="run", leave=False, position=1)
        self.steps_bar = None

    def job_started(self, job: Any) -> None:
        self.jobs_bar.set_postfix_str(f"{job.experiment}/{job.method}/{job.dataset}")

    def job_done(self, job: Any, outcome: Any) -> None:
        self.jobs_bar.update(1)

    def run_done(self, job: Any, seed: int, phase: str, how: str, seconds: float) -> None:
        self.runs_bar.update(1)

    def steps(self, job: Any, seed: int) -> Callable[[int], None]:
        self.steps_bar = self._tqdm(total=job.steps or None, leave=False, position=2, unit="step",
                                    desc=f"  {job.method}/{job.dataset} seed {seed}", mininterval=0.5)
        return self.steps_bar.update

    def close_steps(self) -> None:
        if self.steps_bar is not None:
            self.steps_bar.close()
            self.steps_bar = None

    def close(self) -> None:
        self.close_steps()
        self.runs_bar.close()
        self.jobs_bar.close()


def for_terminal(jobs: list[Any], show: bool, stream: TextIO | None = None) -> Progress:
    """Bars in an interactive terminal, lines elsewhere, nothing when progress is off."""
    stream = stream or sys.stderr
    if not show:
        return Progress()
    if stream.isatty():
        return BarProgress(jobs)
    return LineProgress(jobs, stream)
