"""Adaptive seeds: a profile's ``seeds: {min, max}`` trains the minimum, judges, and gives the jobs behind
inconclusive targets and claims more seeds until each decides or has the maximum.

A job at another seed count is a job of its own (``Job.with_seeds``): its own fingerprint, parent run and seeds
study in the same Optuna storage (so workers sharing a storage share its units), the search study and the runs
of the seeds it already has reused. Read-back judges each job at its largest complete count
(``results._Index.record``), so a later `bench run` or `bench compare` sees the grown job.

How many seeds: the count ``seeds_to_decide`` estimates for a value target at its observed spread; where there
is no such estimate (one seed and no spread, a claim's test, a spread at which no count would likely decide)
twice the seeds the job has. A job behind several inconclusive targets takes the most any of them asks for, so a
round adds what every target asks at once (trained together where the family batches), always capped at the
profile's ``max``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmark.check import Verdict
from benchmark.planner import Job
from benchmark.values import INCONCLUSIVE

if TYPE_CHECKING:
    from benchmark.worker import JobOutcome


@dataclass
class Growth:
    """One job given more seeds: at the count it was judged on, the count it grows to, and why."""

    job: Job
    to: int
    targets: list[str] = field(default_factory=list)

    @property
    def now(self) -> int:
        return len(self.job.seeds)

    @property
    def more(self) -> int:
        return self.to - self.now

    @property
    def grown(self) -> Job:
        return self.job.with_seeds(self.to)


def wanted_seeds(verdict: Verdict, now: int) -> int:
    """The seed count that would likely decide an inconclusive verdict on a job that has ``now`` seeds."""
    if verdict.seeds_to_decide is not None and verdict.seeds_to_decide > now:
        return verdict.seeds_to_decide
    return 2 * now


def growth(verdicts: list[Verdict], jobs: list[Job]) -> list[Growth]:
    """Which jobs get how many seeds: ``jobs`` at the seed counts their verdicts were judged on; a job grows when
    a target it serves is inconclusive and it has fewer seeds than its profile's maximum."""
    undecided = {v.target: v for v in verdicts if v.verdict == INCONCLUSIVE}
    out = []
    for job in jobs:
        behind = [undecided[t] for t in job.targets if t in undecided]
        if not behind or len(job.seeds) >= job.seed_limit:
            continue
        to = min(job.seed_limit, max(wanted_seeds(v, len(job.seeds)) for v in behind))
        out.append(Growth(job, to, [v.target for v in behind]))
    return out


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(verdicts: list[Verdict], steps: list[Growth]) -> str:
    """One line for the run's output: '2 targets inconclusive at 3 seeds: adding 2 seeds to 1 job'."""
    undecided = [v for v in verdicts if v.verdict == INCONCLUSIVE]
    if not steps:
        if not undecided:
            return "every target decided"
        return f"{_plural(len(undecided), 'target')} inconclusive at the most seeds the profile allows"
    grown = sorted({t for g in steps for t in g.targets})
    seeds = "seed" if max(g.now for g in steps) == 1 else "seeds"
    more = [g.more for g in steps]
    added = f"{_span(more)} {'seed' if max(more) == 1 else 'seeds'}"
    return (f"{_plural(len(grown), 'target')} inconclusive at {_span([g.now for g in steps])} {seeds}: adding "
            f"{added} to {_plural(len(steps), 'job')}")


def combined(outcomes: list[JobOutcome]) -> list[JobOutcome]:
    """One outcome per job over every round: runs trained and reused add up, the last round's status stands."""
    merged: dict[str, JobOutcome] = {}
    for o in outcomes:
        m = merged.get(o.key)
        if m is None:
            merged[o.key] = dataclasses.replace(o)
            continue
        m.trained, m.reused, m.seconds = m.trained + o.trained, m.reused + o.reused, m.seconds + o.seconds
        m.status, m.reason = o.status, o.reason
    return list(merged.values())


@dataclass
class Rounds:
    """What adaptive seeding did: the last verdicts, every round's outcomes, and a line per round that grew."""

    verdicts: list[Verdict]
    outcomes: list[JobOutcome]
    lines: list[str] = field(default_factory=list)
    grown: dict[str, int] = field(default_factory=dict)  # job key -> the seed count it grew to


def grow_until_decided(jobs: list[Job], train: Callable[[list[Job]], list[JobOutcome]],
                       judge: Callable[[], tuple[list[Verdict], dict[str, int]]],
                       say: Callable[[str], None] = lambda line: None,
                       trained: list[JobOutcome] | None = None) -> Rounds:
    """Train ``jobs`` (at their minimum; ``trained``: their outcomes where that is done already), judge, and train
    the grown jobs until nothing inconclusive can grow. ``judge`` returns the verdicts and, per job key, the seed
    count they were judged on. A count once asked for is never asked for again: a grown job that could not finish
    does not make the loop spin."""
    outcomes = list(train(jobs) if trained is None else trained)
    verdicts, counts = judge()
    rounds = Rounds(verdicts, outcomes)
    if all(job.seed_limit <= len(job.seeds) for job in jobs):
        return rounds
    asked = {job.key: len(job.seeds) for job in jobs}
    while True:
        current = [job.with_seeds(max(counts.get(job.key, len(job.seeds)), len(job.seeds))) for job in jobs]
        steps = [g for g in growth(verdicts, current) if g.to > asked[g.job.key]]
        line = describe(verdicts, steps)
        if not steps:
            if rounds.lines:
                rounds.lines.append(line)
                say(line)
            break
        rounds.lines.append(line)
        say(line)
        for g in steps:
            asked[g.job.key] = g.to
            rounds.grown[g.job.key] = g.to
        rounds.outcomes += train([g.grown for g in steps])
        verdicts, counts = judge()
        rounds.verdicts = verdicts
    return rounds


def worst_case(jobs: list[Job]) -> list[Job]:
    """Every job at the most seeds its profile allows: what `bench plan` shows as the worst case."""
    return [job.with_seeds(job.seed_limit) for job in jobs]
