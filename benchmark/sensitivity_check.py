"""`bench validate`'s check of a suite's sensitivity axes (``benchmark.sensitivity``) against the declarations: the
setting exists for every model the axis applies to (a hyper-parameter its method or a metric declares, a budget key
a reader declares, a parameter of the dataset), every candidate's value has the declared type, and a reading swaps
measurements the experiment produces. One line ``FILE:LINE: field: problem`` each.
"""

from __future__ import annotations

from benchmark import yaml_lines
from benchmark.budget_check import readers_of
from benchmark.catalog import catalog
from benchmark.schema import PROFILES, SensitivityAxis, Suite


def check(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    seen: set[str] = set()
    for i, axis in enumerate(suite.sensitivity):
        path = ("sensitivity", i)
        if axis.axis in seen:
            raise located.error(path + ("axis",), f"a second axis named '{axis.axis}'")
        seen.add(axis.axis)
        exp = suite.experiments.get(axis.experiment)
        if exp is None:
            raise located.error(path + ("experiment",), f"unknown experiment '{axis.experiment}' "
                                                        f"(known: {', '.join(suite.experiments)})")
        for field_name, allowed in (("methods", exp.methods), ("datasets", exp.datasets)):
            for j, name in enumerate(getattr(axis, field_name)):
                if name not in allowed:
                    raise located.error(path + (field_name, j),
                                        f"{field_name[:-1]} '{name}' is not part of experiment '{axis.experiment}'")
        models = [(m, d) for m in exp.methods for d in exp.datasets if axis.applies(axis.experiment, m, d)]
        checks = {"hparam": _hparam, "budget": _budget, "dataset": _dataset, "reading": _reading}
        checks[axis.kind](suite, located, axis, path, models)


def _hparam(suite, located, axis: SensitivityAxis, path: tuple, models: list[tuple[str, str]]) -> None:
    cat = catalog()
    for method in sorted({m for m, _ in models}):
        declared = dict(cat.methods[suite.methods[method].method].hparams)
        for metric in suite.experiments[axis.experiment].metrics:
            declared.update(cat.metrics[metric].params)
        if axis.name not in declared:
            raise located.error(path + ("setting",), f"unknown setting: method {method} declares no hyper-parameter "
                                                     f"'{axis.name}' (declared: {', '.join(sorted(declared))})")
        for j, candidate in enumerate(axis.candidates):
            problem = declared[axis.name].problem(candidate.value)
            if problem is not None:
                raise located.error(path + ("candidates", j, "value"), f"{problem} (method {method})")
    _candidate_budgets(suite, located, axis, path, models)


def _budget(suite, located, axis: SensitivityAxis, path: tuple, models: list[tuple[str, str]]) -> None:
    exp = suite.experiments[axis.experiment]
    for method in sorted({m for m, _ in models}):
        declared = readers_of(suite, exp, method).get(axis.name)
        if not declared:
            raise located.error(path + ("setting",), f"unknown setting: no reader of method {method}'s budget "
                                                     f"declares '{axis.name}'")
        for j, candidate in enumerate(axis.candidates):
            for who, h in declared:
                problem = h.problem(candidate.value)
                if problem is not None:
                    raise located.error(path + ("candidates", j, "value"), f"{problem} (budget key of {who})")
    _candidate_budgets(suite, located, axis, path, models)


def _dataset(suite, located, axis: SensitivityAxis, path: tuple, models: list[tuple[str, str]]) -> None:
    cat = catalog()
    for dataset in sorted({d for _, d in models}):
        spec = suite.datasets[dataset]
        known = {**cat.datasets[spec.loader].defaults, **spec.params}
        if axis.name not in known:
            raise located.error(path + ("setting",), f"unknown setting: dataset {dataset} (loader {spec.loader}) has "
                                                     f"no parameter '{axis.name}' (has: {', '.join(sorted(known))})")
    _candidate_budgets(suite, located, axis, path, models)


def _reading(suite, located, axis: SensitivityAxis, path: tuple, models: list[tuple[str, str]]) -> None:
    cat = catalog()
    produced = {name for metric in suite.experiments[axis.experiment].metrics for name in cat.metrics[metric].produces}
    for method in {m for m, _ in models}:
        produced |= set(cat.methods[suite.methods[method].method].produces)
    for j, candidate in enumerate(axis.candidates):
        for a, b in candidate.swap.items():
            for name in (a, b):
                if name not in produced:
                    raise located.error(path + ("candidates", j, "swap", a),
                                        f"no model of experiment '{axis.experiment}' produces measurement '{name}'")


def _candidate_budgets(suite, located, axis: SensitivityAxis, path: tuple, models: list[tuple[str, str]]) -> None:
    """A candidate's own budget keys are read by every model the axis applies to."""
    exp = suite.experiments[axis.experiment]
    for j, candidate in enumerate(axis.candidates):
        if candidate.budget is None:
            continue
        for profile in PROFILES:
            values = getattr(candidate.budget, profile) or {}
            for key, value in values.items():
                for method in sorted({m for m, _ in models}):
                    declared = readers_of(suite, exp, method).get(key)
                    where = path + ("candidates", j, "budget", profile, key)
                    if not declared:
                        raise located.error(where, f"unknown budget key for method {method}")
                    for who, h in declared:
                        problem = h.problem(value)
                        if problem is not None:
                            raise located.error(where, f"{problem} (budget key of {who})")
