"""The checks of a suite that need the plug-ins' declarations: every name is registered, every hyper-parameter
and every budget key (``benchmark.budget_check``) is declared with a value of its type, every method gets the
capabilities it needs from each dataset of its experiment and every metric those it needs from each method
and dataset (``benchmark.contracts``), and every measurement a target or a figure reads is produced by the job
it names, and every sensitivity axis names a setting that exists (``benchmark.sensitivity_check``). Each problem is
one line ``FILE:LINE: field: problem``.
"""

from __future__ import annotations

import itertools
from typing import Any

from benchmark import budget_check, contracts, sensitivity_check, yaml_lines
from benchmark.catalog import catalog
from benchmark.hparams import problems as hparam_problems
from benchmark.schema import GridSpec, RangeSpec, Suite
from benchmark.settings import resolve_hparams
from benchmark.targets import Ref


def check(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    """Names, hyper-parameters and capabilities (before the targets are expanded)."""
    _check_names(suite, located)
    _check_capabilities(suite, located)
    sensitivity_check.check(suite, located)


def check_measurements(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    """Every measurement a target or a sweep figure reads is one its job produces."""
    for target in suite.all_targets:
        for ref, path in zip(target.refs, target.ref_paths, strict=True):
            _check_ref(suite, located, ref, path)
    for fig in suite.resolved_figures:
        for ref, path in fig.paths:
            _check_ref(suite, located, ref, path)


def produced_measurements(suite: Suite, experiment: str, method: str) -> set[str]:
    cat = catalog()
    exp = suite.experiments[experiment]
    produced = set(cat.methods[suite.methods[method].method].produces)
    for metric in exp.metrics:
        produced |= set(cat.metrics[metric].produces)
    return produced


def _check_names(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    cat = catalog()
    for ename, exp in suite.experiments.items():
        for i, override in enumerate(exp.budget.overrides):
            for field_name, allowed in (("methods", exp.methods), ("datasets", exp.datasets)):
                for j, name in enumerate(getattr(override, field_name)):
                    if name not in allowed:
                        raise located.error(("experiments", ename, "budget", "overrides", i, field_name, j),
                                            f"{field_name[:-1]} '{name}' is not part of experiment '{ename}'")
    for name, ds in suite.datasets.items():
        if ds.loader not in cat.datasets:
            raise located.error(("datasets", name, "loader"),
                                f"unknown dataset loader '{ds.loader}' (known: {', '.join(sorted(cat.datasets))})")
    for name, m in suite.methods.items():
        if m.method not in cat.methods:
            raise located.error(("methods", name, "method"),
                                f"unknown method '{m.method}' (known: {', '.join(sorted(cat.methods))})")
    for ename, exp in suite.experiments.items():
        for i, m in enumerate(exp.methods):
            if m not in suite.methods:
                raise located.error(("experiments", ename, "methods", i), f"method '{m}' is not defined under methods")
        for i, d in enumerate(exp.datasets):
            if d not in suite.datasets:
                raise located.error(("experiments", ename, "datasets", i),
                                    f"dataset '{d}' is not defined under datasets")
        for i, metric in enumerate(exp.metrics):
            if metric not in cat.metrics:
                raise located.error(("experiments", ename, "metrics", i),
                                    f"unknown metric '{metric}' (known: {', '.join(sorted(cat.metrics))})")
        searching = any(isinstance(s, RangeSpec) for s in exp.sweep.values()) or any(
            isinstance(s, GridSpec) and len(s.grid) > 1 for s in exp.sweep.values())
        if searching and exp.objective is None:
            raise located.error(("experiments", ename, "sweep"), "a sweep needs an objective to choose a setting")
        if any(isinstance(s, RangeSpec) for s in exp.sweep.values()) and exp.trials is None:
            raise located.error(("experiments", ename, "sweep"), "a range sweep needs 'trials' per profile")
        if exp.objective is not None:
            for m in exp.methods:
                if exp.objective.measurement not in produced_measurements(suite, ename, m):
                    raise located.error(("experiments", ename, "objective", "measurement"),
                                        f"no metric of this experiment produces '{exp.objective.measurement}' for {m}")
    _check_hparams(suite, located)
    budget_check.check(suite, located)


def _declared(suite: Suite, experiment: str, method: str) -> dict[str, Any]:
    """The hyper-parameters a method declares, with those of the experiment's metrics."""
    cat = catalog()
    declared: dict[str, Any] = {}
    for metric in suite.experiments[experiment].metrics:
        declared.update(cat.metrics[metric].params)
    declared.update(cat.methods[suite.methods[method].method].hparams)
    return declared


def _check_hparams(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    """Every hyper-parameter a suite sets is declared by the method (or by a metric) that reads it, with a value
    of the declared type and within its choices or range; every one without a default gets a value."""
    cat = catalog()
    for name, spec in suite.methods.items():
        declared = cat.methods[spec.method].hparams
        for key, problem in hparam_problems(declared, spec.hparams):
            raise located.error(("methods", name, "hparams", key),
                                f"{problem} of method '{spec.method}'" + _known(declared, problem))
    for ename, exp in suite.experiments.items():
        declared_by = {m: _declared(suite, ename, m) for m in exp.methods}
        for key, value in exp.hparams.items():
            readers = {m: d[key] for m, d in declared_by.items() if key in d}
            if not readers:
                known = sorted(set().union(*declared_by.values()))
                raise located.error(("experiments", ename, "hparams", key),
                                    f"unknown hyper-parameter: no method or metric of this experiment declares it "
                                    f"(declared: {', '.join(known)})")
            for m, declared in readers.items():
                problem = declared.problem(value)
                if problem is not None:
                    raise located.error(("experiments", ename, "hparams", key), f"{problem} (method {m})")
        for key, spec in exp.sweep.items():
            for m, declared in declared_by.items():
                if key not in declared:
                    raise located.error(("experiments", ename, "sweep", key),
                                        f"method {m} has no hyper-parameter '{key}' to sweep")
                values = spec.grid if isinstance(spec, GridSpec) else [spec.low, spec.high]
                for value in values:
                    problem = declared[key].problem(int(value) if isinstance(spec, RangeSpec) and spec.integer
                                                    else value)
                    if problem is not None:
                        raise located.error(("experiments", ename, "sweep", key), f"{problem} (method {m})")
        for i, m in enumerate(exp.methods):
            method_cls = cat.methods[suite.methods[m].method]
            for dname in exp.datasets:
                given = {**method_cls.dataset_defaults.get(suite.datasets[dname].loader, {}),
                         **suite.methods[m].hparams, **exp.hparams, **exp.sweep}
                missing = [k for k, h in declared_by[m].items() if h.required and k not in given]
                if missing:
                    raise located.error(("experiments", ename, "methods", i),
                                        f"method {m} on dataset {dname} needs hyper-parameters {', '.join(missing)}: "
                                        "they have no default and the dataset has no setting of its own")


def _hparam_settings(suite: Suite, experiment: str, method: str, loader: str) -> list[dict[str, Any]]:
    """The resolved hyper-parameters of a method on a dataset in an experiment (the planner's merge,
    ``settings.resolve_hparams``), once per value of every swept key a
    capability condition of the method reads (a capability must hold, and a need be met, for every setting a
    sweep may pick)."""
    exp, spec = suite.experiments[experiment], suite.methods[method]
    method_cls = catalog().methods[spec.method]
    base = resolve_hparams(method_cls, loader, list(exp.metrics), spec.hparams, exp.hparams)
    read = {key for entry in (*method_cls.provides, *method_cls.needs)
            for key, _, _ in contracts.parse(entry).conditions}
    swept = {k: (s.grid if isinstance(s, GridSpec) else [s.low, s.high]) for k, s in exp.sweep.items() if k in read}
    return [{**base, **dict(zip(swept, values, strict=True))} for values in itertools.product(*swept.values())]


def _check_capabilities(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    """Every method of an experiment gets what it needs of the data from each of the experiment's datasets, and
    every metric what it needs of the model from each method and of the data from each dataset: an impossible
    pairing is refused here rather than failing mid-run."""
    cat = catalog()
    for ename, exp in suite.experiments.items():
        _check_method_needs(suite, located, ename)
        for i, metric_name in enumerate(exp.metrics):
            metric = cat.metrics[metric_name]
            path = ("experiments", ename, "metrics", i)
            for dname in exp.datasets:
                ds_spec = suite.datasets[dname]
                ds_cls = cat.datasets[ds_spec.loader]
                offers = contracts.resolve(ds_cls.offers, {**ds_cls.defaults, **ds_spec.params}, "dataset")
                missing = sorted(set(metric.needs_dataset) - offers)
                if missing:
                    need = missing[0]
                    why = contracts.missing_reason(ds_cls.offers, need, "dataset", offers)
                    raise located.error(path, f"metric '{metric_name}' needs dataset capability '{need}' "
                                              f"({contracts.DESCRIPTIONS[need]}), which dataset '{dname}' "
                                              f"(loader {ds_spec.loader}) does not offer ({why})")
                for mname in exp.methods:
                    method_cls = cat.methods[suite.methods[mname].method]
                    for hp in _hparam_settings(suite, ename, mname, ds_spec.loader):
                        missing = sorted(set(metric.needs_model) - contracts.method_provides(method_cls, hp))
                        if missing:
                            need = missing[0]
                            why = contracts.missing_reason(method_cls.provides, need, "model",
                                                           contracts.method_provides(method_cls, hp))
                            raise located.error(path, f"metric '{metric_name}' needs model capability '{need}' "
                                                      f"({contracts.DESCRIPTIONS[need]}), which method "
                                                      f"'{mname}' ({method_cls.name}) does not provide ({why})")


def _check_method_needs(suite: Suite, located: yaml_lines.LocatedYaml, experiment: str) -> None:
    """Each method of the experiment, under every setting of its hyper-parameters a sweep may pick, gets from each
    of the experiment's datasets what it reads of them (``Method.needs``)."""
    cat = catalog()
    exp = suite.experiments[experiment]
    for i, mname in enumerate(exp.methods):
        method_cls = cat.methods[suite.methods[mname].method]
        for dname in exp.datasets:
            ds_spec = suite.datasets[dname]
            ds_cls = cat.datasets[ds_spec.loader]
            offers = contracts.resolve(ds_cls.offers, {**ds_cls.defaults, **ds_spec.params}, "dataset")
            for hp in _hparam_settings(suite, experiment, mname, ds_spec.loader):
                unmet = contracts.unmet_needs(method_cls, hp, offers)
                if unmet:
                    options = unmet[0]
                    wanted = " or ".join(f"'{o}' ({contracts.DESCRIPTIONS[o]})" for o in options)
                    # one reason per distinct answer: "it has: ..." once for alternatives it does not declare
                    why = "; ".join(dict.fromkeys(contracts.missing_reason(ds_cls.offers, o, "dataset", offers)
                                                  for o in options))
                    raise located.error(("experiments", experiment, "methods", i),
                                        f"method '{mname}' ({method_cls.name}) needs dataset capability {wanted}, "
                                        f"which dataset '{dname}' (loader {ds_spec.loader}) does not offer ({why})")


def _known(declared: dict[str, Any], problem: str) -> str:
    return f" (declared: {', '.join(sorted(declared))})" if problem.startswith("unknown") else ""


def _check_ref(suite: Suite, located: yaml_lines.LocatedYaml, ref: Ref, path: tuple) -> None:
    if ref.measurement not in produced_measurements(suite, ref.experiment, ref.method):
        raise located.error(path, f"no experiment produces measurement '{ref.measurement}' "
                                  f"({ref.experiment} with {ref.method} produces: "
                                  f"{', '.join(sorted(produced_measurements(suite, ref.experiment, ref.method)))})")


