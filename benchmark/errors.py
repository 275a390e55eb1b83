"""Errors a user can cause: they end the command with one line and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input (suite file, command line, data directory).

    ``str(err)`` is the one line the CLI prints: ``FILE:LINE: field: what is wrong``
    when the location is known.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class DatasetMissing(Exception):
    """A dataset's files are not in the data directory; its targets become `not run`."""

    def __init__(self, dataset: str, needed: str) -> None:
        self.dataset = dataset
        self.needed = needed
        super().__init__(f"needs dataset {dataset}: {needed}")


class DeviceBroken(Exception):
    """The process's GPU context is unusable after a sticky CUDA error (an illegal memory access, a device-side
    assert): every later run in the process would fail too, so the worker process starts again and resumes."""
