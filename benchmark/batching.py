"""Runs trained together: a family of methods whose runs share a network shape and a training loop can train
many runs as one batched model (stacked parameters, batched products, one step updating every member), each
member still exactly its own run: its seed's initialisation and data order, its own optimiser state, learning
rate and update switching, its own losses and measurements, and its own MLflow run.

A method declares its family (``Method.batch_family``); ``FAMILIES`` says which settings the family's trainer
covers (a run outside them trains alone) and ``SHARED`` which ones the members of one batch share; the
family's module registers the trainer (``@batch_trainer``), which takes one batch (the members' method names
and run contexts, and the batch's checkpoint) and returns, per member, its ``TrainResult`` or the exception
that ended it (a divergence ends one member, not the batch). The planner marks a job's runs as
``batched:<family>`` in their identity; the worker claims units of one family, steps and device from every
pending job and hands them to ``train_together``, which splits them into batches by the shared settings (and by
method where that is faster) and gives each batch its checkpoint: grouping and checkpointing are the engine's,
the trainer only trains.

Which settings a family covers is declared in ``benchmark.batch_families`` (the planner reads it without
importing this module).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmark.batch_families import FAMILIES, SHARED, covers, methods_apart, shared_values
from benchmark.execute import Checkpoints, RunError, RunFailed
from benchmark.identity import digest
from benchmark.registry import Registry, origin
from benchmark.run_settings import RunSettings

__all__ = ["FAMILIES", "SHARED", "TRAINERS", "BatchCheckpoint", "Relay", "batch_trainer", "batches", "covers",
           "train_together"]

Trainer = Callable[..., list[Any]]  # (runs: [(method name, RunContext)], checkpoint=BatchCheckpoint) -> outcomes
TRAINERS: Registry[Trainer] = Registry("batch trainer")


def batch_trainer(family: str) -> Callable[[Trainer], Trainer]:
    def register(fn: Trainer) -> Trainer:
        if family not in FAMILIES:
            raise ValueError(f"batch family '{family}' is not declared in benchmark.batch_families.FAMILIES")
        return TRAINERS.add(family, fn, origin(fn))

    return register


class Relay:
    """What a batch trainer reports of its members goes to each member's own run (its context): losses at the
    run's cadence, where a non-finite one ends that member alone as diverged and the others go on (they never
    see it); progress; budget-curve points."""

    def __init__(self, contexts: Sequence[Any]) -> None:
        self.contexts = list(contexts)
        self.failed: dict[int, BaseException] = {}

    def log(self, k: int, step: int, values: dict[str, float]) -> None:
        if k in self.failed:
            return
        try:
            self.contexts[k].log_losses(step, values)
        except RunFailed as divergence:
            self.failed[k] = divergence

    def progress(self, k: int, n: int) -> None:
        self.contexts[k].advance(n)

    def curve(self, k: int, step: int, result: Callable[[], Any]) -> None:
        if k not in self.failed:
            self.contexts[k].curve_point(step, result)

    def outcome(self, k: int, result: Callable[[], Any]) -> Any:
        """Member k's ``TrainResult``, or the divergence that ended it."""
        return self.failed.get(k) or result()


class BatchCheckpoint:
    """Where a batch keeps its checkpoint: one file for the whole batch, named after its members' run keys in
    order, so that the same batch formed again (the same units, claimed in the same order) resumes from it.
    Besides the trainer's state it holds each run's record so far (logged losses, budget-curve points), which a
    resumed batch starts from instead of logging them again."""

    def __init__(self, settings: RunSettings, begun: Sequence[Any], every: int) -> None:
        self.store = Checkpoints(settings, f"batch-{digest([b.key for b in begun])}")
        self.begun = list(begun)
        self.every = every
        self.restored_from: int | None = None

    def save(self, step: int, state: dict[str, Any]) -> None:
        self.store.write(step, {"trainer": state, "records": [list(b.losses) for b in self.begun]})

    def load(self) -> tuple[int, dict[str, Any]] | None:
        saved = self.store.read()
        self.restored_from = saved[0] if saved is not None else None
        if saved is None:
            return None
        step, state = saved
        for begun, record in zip(self.begun, state["records"], strict=True):
            begun.losses[:] = [tuple(row) for row in record]
        return step, state["trainer"]

    def clear(self) -> None:
        self.store.clear()


def batches(family: str, contexts: Sequence[Any], methods: Sequence[str] | None = None) -> list[list[int]]:
    """The members (indices into ``contexts``, run by ``methods``) that train as one batch: those sharing the
    family's ``SHARED`` settings, and their method on a device where the family trains methods apart
    (``METHODS_APART``), in order of first appearance (the same units claimed in the same order form the same
    batches, which is what finds their checkpoints again)."""
    groups: dict[tuple, list[int]] = {}
    for j, ctx in enumerate(contexts):
        by_method = methods is not None and methods_apart(family, str(ctx.device))
        key = (repr(shared_values(family, ctx.hparams, ctx.budget)), methods[j] if by_method else None)
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def train_together(family: str, members: Sequence[tuple[str, Any]], executors: Sequence[Any]) -> list[Any]:
    """Train started runs (``execute.Started``) of one family in as few batches as its shared settings allow:
    their results or their exceptions, in order, each classified as a run trained alone would be (divergence,
    error)."""
    outcomes: list[Any] = [None] * len(members)
    for ids in batches(family, [begun.ctx for _, begun in members], [name for name, _ in members]):
        trained = _train_batch(family, [members[j] for j in ids], [executors[j] for j in ids])
        for j, outcome in zip(ids, trained, strict=True):
            outcomes[j] = outcome
    return outcomes


def _train_batch(family: str, members: Sequence[tuple[str, Any]], executors: Sequence[Any]) -> list[Any]:
    started = time.perf_counter()
    settings, steps = executors[0].settings, members[0][1].ctx.steps
    every = settings.checkpoint_every or max(1, steps // 10)
    checkpoint = BatchCheckpoint(settings, [begun for _, begun in members], every)
    try:
        outcomes = TRAINERS[family]([(name, begun.ctx) for name, begun in members], checkpoint=checkpoint)
    except (RunFailed, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # the batch itself failed: every member failed with it
        error = RunError(exc)
        outcomes = [error] * len(members)
    finally:
        for executor in executors:
            executor.progress.close_steps()
    trained = time.perf_counter()
    checkpoint.clear()
    for executor, (_, begun) in zip(executors, members, strict=True):
        tags = {"batch": str(len(members))}  # how many runs this one trained with
        if checkpoint.restored_from is not None:
            tags["resumed_from_step"] = str(checkpoint.restored_from)
        executor.tracker.set_tags(begun.run_id, tags)
    out = []
    for (_, begun), outcome in zip(members, outcomes, strict=True):
        # each member's share of the batch's time: what `bench plan` estimates later runs from
        begun.started, begun.trained = trained - (trained - started) / len(members), trained
        if isinstance(outcome, BaseException) and not isinstance(outcome, (RunFailed, RunError)):
            outcome = RunError(outcome)
        out.append(outcome)
    return out
