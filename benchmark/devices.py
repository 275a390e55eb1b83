"""Device names as the command line and the run settings carry them: which of them are GPUs, and the one
default that every command planning runs starts from (`run`, `worker` and `plan` must plan the same identities,
and the device is part of a run's identity)."""

from __future__ import annotations

from benchmark.errors import UserError

CHOICES = ("auto", "cpu", "cuda")
DEFAULT = "auto"  # a GPU where torch sees one, else the CPU


def is_gpu(device: str | None) -> bool:
    """``cuda`` or ``cuda:N``: a process on a machine with several GPUs is handed its own ``cuda:N``, and it is
    as much a GPU as plain ``cuda``."""
    kind, colon, index = (device or "").partition(":")
    return kind == "cuda" and (not colon or index.isdigit())


def resolve_device(requested: str | None) -> str:
    """The device a command plans and trains on: ``auto`` (or nothing) becomes ``cuda`` where torch sees a GPU."""
    import torch

    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{requested}' (use cpu or cuda)", field="--device")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was requested but torch sees no GPU on this machine", field="--device")
    return requested
