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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from benchmark.api import RunContext, TrainResult, stream_seed
from benchmark.threads import limit


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
