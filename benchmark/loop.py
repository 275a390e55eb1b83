"""The engine's training loop, shared by every method.

A method builds its training in ``Method.setup(ctx) -> Program`` (networks, optimisers, random streams) and
says what one step does in ``Program.step``; the loop owns everything else:

- seeding: torch's global generator is seeded from the run's ``init`` stream before ``setup`` (network
  initialisation, dropout), so no method seeds anything itself;
- CPU threads for the run (``Method.threads``), restored afterwards;
- step counting, progress, and the loss-logging cadence: ``step`` returns its losses as tensors, the loop turns
  them into numbers only at logged steps, so a step never waits for the device otherwise;
- non-finite detection (a logged loss that is not finite ends the run as diverged);
- checkpoints: every ``ctx.checkpoint_every`` steps the program's state (its stateful parts: networks,
  optimisers, schedulers, data streams; its random generators; its plain values) and torch's global
  generator states are saved, and a run killed mid-way resumes from there to the same numbers as an
  uninterrupted run;
- budget curves: at ``ctx.curve_steps`` the model of that moment (``Program.result``) is measured, training
  modes kept, before the checkpoint of that step (``benchmark/curves.py``).

Runs trained together as one batched model (``benchmark.batching``) go through ``train_batch``, the same loop
for a ``BatchProgram``: it steps in chunks (a batch reads its logged losses back from the device once per
chunk, not once per step) and owns the same things for every member: step counting and progress, the logging
cadence, budget-curve points, and the batch's checkpoint and resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmark.streams import stream_seed
from benchmark.threads import limit

if TYPE_CHECKING:  # the plug-in contracts (benchmark.api) call this loop; it needs their types only to annotate
    from benchmark.api import RunContext, TrainResult


class Program:
    """One run's training as a method sets it up. Subclasses fill the dictionaries in ``__init__`` (or the
    method's ``setup``) and implement ``step`` and ``result``.

    - ``parts``: objects with ``state_dict``/``load_state_dict`` (modules, optimisers, schedulers, a
      ``BatchStream``), saved and restored whole;
    - ``streams``: torch or numpy generators, their states saved and restored;
    - ``values``: anything else a step carries to the next (counters, a running maximum), saved as is.
    """

    def __init__(self) -> None:
        self.parts: dict[str, Any] = {}
        self.streams: dict[str, torch.Generator | np.random.Generator] = {}
        self.values: dict[str, Any] = {}

    def step(self, step: int, log: bool) -> dict[str, Any] | None:  # pragma: no cover - interface
        """Step number ``step`` (1-based). Returns the losses to log (tensors or numbers), read only when
        ``log`` is true; a step may skip work that only feeds the log when it is false."""
        raise NotImplementedError

    def result(self) -> TrainResult:  # pragma: no cover - interface
        """The trained model (and any measurement only training can take), after the last step."""
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict[str, Any]:
        streams = {}
        for name, g in self.streams.items():
            streams[name] = g.get_state() if isinstance(g, torch.Generator) else g.bit_generator.state
        return {"parts": {name: part.state_dict() for name, part in self.parts.items()}, "streams": streams,
                "values": dict(self.values), "global": global_rng_state()}

    def load_state(self, saved: dict[str, Any]) -> None:
        for name, part in self.parts.items():
            part.load_state_dict(saved["parts"][name])
        for name, g in self.streams.items():
            state = saved["streams"][name]
            if isinstance(g, torch.Generator):
                g.set_state(state)
            else:
                g.bit_generator.state = state
        self.values.update(saved["values"])
        set_global_rng_state(saved["global"])


def global_rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_global(seed: int, name: str) -> None:
    """Seed torch's (every device) and numpy's global generators from the run's stream ``name``."""
    value = stream_seed(seed, name)
    torch.manual_seed(value)
    np.random.seed(value % (2**32))


def train(method: Any, ctx: RunContext) -> TrainResult:
    """Run ``method`` for ``ctx.steps`` steps through its program: the loop every method uses."""
    threads = method.threads(ctx) if ctx.device.type == "cpu" else None
    with limit(threads):
        seed_global(ctx.seed, "init")
        program = method.setup(ctx)
        steps = program_steps(program, ctx)
        if steps == 0 and ctx.steps:
            ctx.advance(ctx.steps)  # a program that trains nothing is done at once
        start = 0
        saved = ctx.restore()
        if saved is not None:
            start, state = saved
            program.load_state(state)
        for step in range(start + 1, steps + 1):
            log = step % ctx.log_every == 0 or step == steps
            losses = program.step(step, log)
            ctx.advance()
            if log and losses:
                ctx.log_losses(step, {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v)
                                      for k, v in losses.items()})
            if step in ctx.curve_steps:
                with _modes_kept(program):
                    ctx.curve_point(step, program.result)
            ctx.checkpoint(step, program.state)
        return program.result()


@contextmanager
def _modes_kept(program: Program) -> Iterator[None]:
    """Training goes on after a curve point exactly as before it: ``result()`` may switch the networks to
    evaluation mode (the metrics restore what they change themselves)."""
    modules = [m for part in program.parts.values() if isinstance(part, torch.nn.Module) for m in part.modules()]
    flags = [m.training for m in modules]
    try:
        yield
    finally:
        for m, flag in zip(modules, flags, strict=True):
            m.training = flag


def program_steps(program: Program, ctx: RunContext) -> int:
    """How many steps the program takes: the budget's, unless it trains nothing (``steps = 0`` on the program)."""
    return int(getattr(program, "steps", ctx.steps))


class BatchProgram:
    """The training of several runs ("members") as one batched model, as a batch trainer sets it up; the loop
    (``train_batch``) calls ``chunk`` for consecutive ranges of steps and owns everything else."""

    size: int  # members

    def chunk(self, start: int, count: int, logged: Sequence[int]) -> list[tuple[int, list[dict[str, float]]]]:
        """Steps ``start`` … ``start + count - 1`` (1-based) of every member; for each step in ``logged`` (in
        order), every member's losses as numbers."""
        raise NotImplementedError  # pragma: no cover - interface

    def results(self, step: int) -> list[Any]:  # pragma: no cover - interface
        """Every member's model as it is after ``step``, training unchanged (a budget curve's point)."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:  # pragma: no cover - interface
        """Everything a resumed batch needs to continue to the numbers of an uninterrupted one."""
        raise NotImplementedError

    def load_state(self, saved: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def train_batch(program: BatchProgram, steps: int, log_every: int, chunk: int = 50, checkpoint: Any = None,
                curve_steps: Sequence[int] = (),
                on_log: Callable[[int, int, dict[str, float]], None] | None = None,
                on_progress: Callable[[int], None] | None = None,
                on_curve: Callable[[int, int, Any], None] | None = None) -> list[list[tuple[int, dict[str, float]]]]:
    """Train a batch for ``steps`` steps, ``chunk`` at a time; returns each member's logged losses.

    Losses are logged every ``log_every`` steps and at the last, relayed as ``on_log(member, step, values)`` up
    to a chunk late; ``on_progress(n)``: every member did n more steps. A chunk ends at each of ``curve_steps``
    before the last, where ``on_curve(member, step, result)`` receives each member's model of that moment.
    ``checkpoint`` (``benchmark.batching.BatchCheckpoint``, or an object with ``every``, ``save(step, state)``
    and ``load()``): the program's state and the logged losses are saved at the end of the chunk that passes
    a multiple of ``every``, and a batch of the same members resumes from the last one."""
    logs: list[list[tuple[int, dict[str, float]]]] = [[] for _ in range(program.size)]
    chunk = max(1, int(chunk))
    curve_steps = sorted(s for s in set(curve_steps) if 0 < s < steps)
    start = 1
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        done, state = saved
        program.load_state(state)
        logs, start = state["logs"], done + 1
        if on_progress is not None:
            on_progress(done)
    while start <= steps:
        # a chunk ends at the next curve point, so that the networks are read exactly there (chunking changes
        # no number: a program draws its data and noise per step, in order)
        upcoming = [s for s in curve_steps if s >= start]
        count = min(chunk, steps - start + 1, (upcoming[0] - start + 1) if upcoming else chunk)
        logged = [s for s in range(start, start + count) if s % log_every == 0 or s == steps]
        for step, per_member in program.chunk(start, count, logged):
            for j, values in enumerate(per_member):
                logs[j].append((step, values))
                if on_log is not None:
                    on_log(j, step, values)
        if on_progress is not None:
            on_progress(count)
        end = start + count - 1
        if on_curve is not None and end in curve_steps:
            for j, result in enumerate(program.results(end)):
                on_curve(j, end, result)
        if checkpoint is not None and checkpoint.every > 0 and end < steps and \
                end // checkpoint.every > (start - 1) // checkpoint.every:
            checkpoint.save(end, {**program.state(), "logs": logs})
        start = end + 1
    return logs
