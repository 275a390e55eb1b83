"""Torch CPU threads for a stretch of work: methods and metrics both bound them by the budget's ``threads``
(small convnets gain nothing from more, and on a shared machine extra threads mostly wait)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from benchmark.budget import ENGINE, read


@contextmanager
def limit(wanted: int | None) -> Iterator[None]:
    """Run with ``wanted`` torch threads (None: as they are), restoring the previous setting afterwards."""
    before = torch.get_num_threads()
    if wanted:
        torch.set_num_threads(int(wanted))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_threads(ctx: Any):
    """``budget.threads`` torch threads while a run's work is on the CPU."""
    return limit(read(ENGINE, ctx.budget)["threads"] if ctx.device.type == "cpu" else None)
