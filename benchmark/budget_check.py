"""`bench validate`'s check of budgets against the declarations (``benchmark.budget``): every key a profile's
budget (or an override of it) sets is declared by the engine or by a method or metric that reads it, with a
value of the declared type, and every required key is set. One line ``FILE:LINE: field: problem`` each."""

from __future__ import annotations

from typing import Any

from benchmark import yaml_lines
from benchmark.budget import ENGINE
from benchmark.catalog import catalog
from benchmark.hparams import HParam
from benchmark.schema import PROFILES, Experiment, Suite

Readers = dict[str, list[tuple[str, HParam]]]  # key -> (who declares it, its declaration)


def check(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    for ename, exp in suite.experiments.items():
        _check_sweep_not_replaced(suite, located, ename)
        readers = {m: readers_of(suite, exp, m) for m in exp.methods}
        path = ("experiments", ename, "budget")
        for profile in PROFILES:
            _check_values(located, path + (profile,), getattr(exp.budget, profile),
                          _sharing_readers(suite, located, ename, profile))
        for i, override in enumerate(exp.budget.overrides):
            # an override's keys need only be read by the methods it applies to
            applies = {m: r for m, r in readers.items() if not override.methods or m in override.methods}
            for profile in PROFILES:
                values = getattr(override, profile)
                if values is not None:
                    _check_values(located, path + ("overrides", i, profile), values, applies)
        for profile in PROFILES:
            # overrides may replace keys but never remove one: the experiment's own budget must set them all
            given = getattr(exp.budget, profile)
            for keys in readers.values():
                for key, declared in keys.items():
                    required = [(who, h) for who, h in declared if h.required]
                    if required and key not in given:
                        who, h = required[0]
                        raise located.error(path + (profile,), f"missing required budget key '{key}' "
                                                               f"({who}: {h.doc or h.describe()})")


def _check_sweep_not_replaced(suite: Suite, located: yaml_lines.LocatedYaml, experiment: str) -> None:
    """A swept hyper-parameter that a profile's budget replaces (``budget.replacing``) would train the budget's
    value at every grid point of that profile: the sweep would try nothing, yet count as tried."""
    exp = suite.experiments[experiment]
    for method in exp.methods:
        replacing = {key: h.replaces for key, declared in readers_of(suite, exp, method).items()
                     for _, h in declared if h.replaces in exp.sweep}
        for profile in PROFILES:
            for dataset in exp.datasets:
                budget = exp.budget.of(profile, method, dataset)
                for key, hparam in replacing.items():
                    if budget.get(key) is not None:
                        raise located.error(("experiments", experiment, "sweep", hparam),
                                            f"swept, but the {profile} budget's '{key}' ({budget[key]}) replaces "
                                            f"it for method {method} on dataset {dataset}: every grid point would "
                                            "train that one value")


def readers_of(suite: Suite, exp: Experiment, method: str) -> Readers:
    """The budget keys a run of ``method`` in ``exp`` reads: the engine's, the method's, its metrics'."""
    cat = catalog()
    method_name = suite.methods[method].method
    sources = [("the engine", ENGINE), (f"method {method_name}", cat.methods[method_name].budget)]
    sources += [(f"metric {m}", cat.metrics[m].budget) for m in exp.metrics]
    readers: Readers = {}
    for who, declared in sources:
        for key, h in declared.items():
            readers.setdefault(key, []).append((who, h))
    return readers


def _sharing_readers(suite: Suite, located: yaml_lines.LocatedYaml, experiment: str, profile: str
                     ) -> dict[str, Readers]:
    """The readers of a profile's budget: the experiment's methods and metrics, and, where that budget is one
    YAML anchor shared by several experiments (the alpha-GAN suite's), those of every experiment sharing it.
    A shared budget carries keys only some of its experiments read; writing one budget per experiment instead
    would change what every run's identity hashes, and so retrain every run."""
    experiments = located.data["experiments"]
    mine = experiments[experiment]["budget"][profile]
    readers: dict[str, Readers] = {}
    for ename, exp in suite.experiments.items():
        if ename == experiment or experiments[ename]["budget"][profile] is mine:
            readers.update({f"{ename}/{m}": readers_of(suite, exp, m) for m in exp.methods})
    return readers


def _check_values(located: yaml_lines.LocatedYaml, path: tuple, values: dict[str, Any],
                  readers: dict[str, Readers]) -> None:
    for key, value in values.items():
        declarations = [d for keys in readers.values() for d in keys.get(key, [])]
        if not declarations:
            raise located.error(path + (key,), f"unknown budget key (declared: {_known(readers)})")
        for who, h in dict(declarations).items():
            problem = h.problem(value)
            if problem is not None:
                raise located.error(path + (key,), f"{problem} (budget key of {who})")


def _known(readers: dict[str, Readers]) -> str:
    """The keys these methods may be given: the engine's first, then the others in order."""
    keys = set().union(*readers.values())
    return ", ".join([k for k in ENGINE if k in keys] + sorted(keys - set(ENGINE)))
