"""The base of every suite schema model: unknown fields are errors, numbers must be finite; and pydantic's errors
as the one-line message a user reads."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def pydantic_message(err: dict[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as the message of a one-line error."""
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg.splitlines()[0]
