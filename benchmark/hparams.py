"""Declared hyper-parameters: what a method (or a metric) accepts, with its type, default and allowed values.

A method lists its hyper-parameters as ``hparams = {"lr": Float(1e-3, low=0), ...}``; the planner merges
the declared defaults under the suite's values once, and `bench validate` rejects a key the method does
not declare, a value of the wrong type and a value outside a choice list or range, each with the usual
one line ``FILE:LINE: field: problem``. Nothing here imports torch: the suite check reads declarations
without loading any network code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class _Required:
    """The default of a hyper-parameter that has none: the suite (or the dataset's settings) must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

_KIND_NAMES = {"float": "a number", "int": "a whole number", "bool": "true or false", "str": "a string"}


@dataclass(frozen=True)
class HParam:
    kinds: tuple[str, ...]  # any of float, int, bool, str
    default: Any = REQUIRED
    choices: tuple[Any, ...] = ()  # allowed values (for strings: the only ones)
    low: float | None = None
    high: float | None = None
    nullable: bool = False  # null (None) is a meaningful value
    doc: str = ""
    # a budget key only: the hyper-parameter whose value it replaces where it is set (``benchmark.budget.replacing``)
    replaces: str | None = None
    # declared after runs were recorded without it: absent from a run's settings (and so from its identity)
    # unless a suite or a sensitivity candidate sets it, the method then doing what it did before it existed
    absent_by_default: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None when it is."""
        if value is None:
            return None if self.nullable else f"must be {self.describe()}, not null"
        kind = _kind_of(value)
        if kind not in self.kinds and not (kind == "int" and "float" in self.kinds):
            return f"must be {self.describe()}, not {_show(value)}"
        if kind == "str" and self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, not {_show(value)}"
        if kind in ("int", "float"):
            if not math.isfinite(float(value)):
                return "must be a finite number"
            if self.low is not None and value < self.low:
                return f"must be at least {self.low:g}, not {value:g}"
            if self.high is not None and value > self.high:
                return f"must be at most {self.high:g}, not {value:g}"
        return None

    def describe(self) -> str:
        parts = [_KIND_NAMES[k] for k in self.kinds]
        if self.choices and "str" in self.kinds:
            parts = [p for p, k in zip(parts, self.kinds, strict=True) if k != "str"]
            parts.append("one of " + ", ".join(map(str, self.choices)))
        text = " or ".join(parts)
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low:g}"
            high = "" if self.high is None else f"{self.high:g}"
            text += f" in [{low}, {high}]"
        return text + (" or null" if self.nullable else "")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{_kind_of(value)} {value!r}"


def Float(default: Any = REQUIRED, *, low: float | None = None, high: float | None = None, nullable: bool = False,
          doc: str = "") -> HParam:
    return HParam(("float",), default, low=low, high=high, nullable=nullable or default is None, doc=doc)


def Int(default: Any = REQUIRED, *, low: float | None = None, high: float | None = None, nullable: bool = False,
        doc: str = "") -> HParam:
    return HParam(("int",), default, low=low, high=high, nullable=nullable or default is None, doc=doc)


def Bool(default: Any = REQUIRED, *, doc: str = "") -> HParam:
    return HParam(("bool",), default, doc=doc)


def Choice(default: Any, choices: tuple[str, ...], *, nullable: bool = False, doc: str = "") -> HParam:
    return HParam(("str",), default, choices=tuple(choices), nullable=nullable or default is None, doc=doc)


def defaults_of(declared: dict[str, HParam]) -> dict[str, Any]:
    return {name: h.default for name, h in declared.items() if not h.required and not h.absent_by_default}


def problems(declared: dict[str, HParam], values: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for every value that is not acceptable; keys not declared are 'unknown'."""
    out: list[tuple[str, str]] = []
    for key, value in values.items():
        if key not in declared:
            out.append((key, "unknown hyper-parameter"))
            continue
        problem = declared[key].problem(value)
        if problem is not None:
            out.append((key, problem))
    return out
