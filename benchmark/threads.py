"""Torch CPU threads for a stretch of work: methods and metrics both bound them by the budget's ``threads``
(small convnets gain nothing from more, and on a shared machine extra threads mostly wait)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def cpu_threads(ctx: Any) -> Iterator[None]:
    """Run with ``budget.threads`` torch threads on CPU, restoring the previous setting afterwards."""
    wanted = ctx.budget.get("threads") if ctx.device.type == "cpu" else None
    before = torch.get_num_threads()
    if wanted:
        torch.set_num_threads(int(wanted))
    try:
        yield
    finally:
        torch.set_num_threads(before)
