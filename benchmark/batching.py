"""Runs trained together: a family of methods whose runs share a network shape and a training loop can train
many runs as one batched model (stacked parameters, batched products, one step updating every member), each
member still exactly its own run: its seed's initialisation and data order, its own optimiser state, learning
rate and update switching, its own losses and measurements, and its own MLflow run.

A family registers a trainer, ``@batch_trainer("family")``, taking the members' method names and run contexts and
returning, per member, its ``TrainResult`` or the exception that ended it (a divergence ends one member, not the
batch). The worker claims units of one family (``Method.batch_family``) from every pending job and hands them to
``train_together``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmark.api import RunContext

Trainer = Callable[[Sequence[tuple[str, RunContext]]], list[Any]]
TRAINERS: dict[str, Trainer] = {}


def batch_trainer(family: str) -> Callable[[Trainer], Trainer]:
    def register(fn: Trainer) -> Trainer:
        known = TRAINERS.get(family)
        if known is not None and known.__qualname__ != fn.__qualname__:
            raise ValueError(f"batch family '{family}' is registered twice")
        TRAINERS[family] = fn
        return fn

    return register


def train_together(family: str, members: Sequence[tuple[str, Any]], executors: Sequence[Any]) -> list[Any]:
    """Train started runs (``execute.Started``) of one family as one batch: their results or their exceptions,
    in order, each classified as a run trained alone would be (divergence, error)."""
    from benchmark.execute import RunError, RunFailed

    started = time.perf_counter()
    for _, begun in members:
        begun.started = started
    try:
        outcomes = TRAINERS[family]([(name, begun.ctx) for name, begun in members])
    except (RunFailed, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the batch itself failed: every member failed with it
        error = RunError(exc)
        outcomes = [error] * len(members)
    finally:
        for executor in executors:
            executor.progress.close_steps()
    trained = time.perf_counter()
    out = []
    for (_, begun), outcome in zip(members, outcomes, strict=True):
        # each member's share of the batch's time: what `bench plan` estimates later runs from
        begun.started, begun.trained = trained - (trained - started) / len(members), trained
        if isinstance(outcome, BaseException) and not isinstance(outcome, (RunFailed, RunError)):
            outcome = RunError(outcome)
        out.append(outcome)
    return out
