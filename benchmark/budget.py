"""Budget keys: what a profile's ``budget:`` may set, declared by whoever reads it.

The engine declares its own keys here (``ENGINE``); a method declares the keys it reads in ``budget`` (as it
declares ``hparams``), a metric in ``register_metric(..., budget=...)``. The keys an experiment's budget may
set are the engine's and those of its methods and metrics; `bench validate` rejects any other key, a value
of the wrong type and a missing required key. Readers take a budget through ``read`` with their own
declaration, so every default lives in its declaration and nowhere else.

What a run's identity hashes is the budget as the suite writes it, not the defaults filled in here: filling
them in would change the identity of every unchanged suite, and a default that changes is a code change
(bump the reader's ``version``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from benchmark.hparams import HParam, Int, defaults_of

ENGINE: dict[str, HParam] = {
    "steps": Int(low=0, high=100_000_000,
                 doc="training steps of every run (required); the verdicts compare them with the paper profile's"),
    "threads": Int(None, low=1, doc="torch CPU threads while a run's work is on the CPU; null: the process's"),
}


def read(declared: Mapping[str, HParam], budget: Mapping[str, Any]) -> dict[str, Any]:
    """The declared keys of ``budget``, each the suite's value or the declared default. Only declared keys: a
    reader that looks up a key it did not declare fails at once instead of reading an unchecked value (a
    required key that the budget lacks is absent too)."""
    return {**defaults_of(dict(declared)), **{k: budget[k] for k in declared if k in budget}}


def replacing(hparam: str, declared: HParam) -> HParam:
    """A budget key that, where a profile sets it (not null), replaces the hyper-parameter ``hparam``: e.g. a
    ``cpu`` profile's smaller ``batch_size`` or ``width``. The one place such a replacement is declared;
    ``benchmark.settings`` applies it, so a run trains, and MLflow records, one value under the hyper-parameter's
    name, and the method reads it from its hyper-parameters like any other."""
    return dataclasses.replace(declared, replaces=hparam)


def steps(budget: Mapping[str, Any]) -> int:
    """The budget's ``steps``, which every validated budget sets."""
    if "steps" not in budget:
        raise ValueError("the budget sets no 'steps' (a required budget key)")
    return int(budget["steps"])
