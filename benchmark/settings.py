"""A run's settings, resolved once: what it trains with, what MLflow records, what its identity hashes.

A job's part is resolved when the planner plans it (``resolve_hparams``: declared defaults < the method's
per-dataset settings < the suite's method hparams < the experiment's; the profile's budget with its per-method
and per-dataset overrides; `bench validate` checks capabilities on the same merge); ``resolve`` adds the run's
sweep point and seed, and applies the budget keys declared as replacing a hyper-parameter
(``benchmark.budget.replacing``: a ``cpu`` profile's ``batch_size`` or ``width``). The method reads the result
through its ``RunContext`` (``RunContext.of``), and merges nothing itself; MLflow logs ``params()``.

The run's identity hashes the settings as the suite writes them (``identity``: the hyper-parameters before a
budget replaced any, and the budget as written), so that every store recorded before settings were resolved
here keeps its runs: the budget is part of the identity either way, so what trains is decided by it all the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from benchmark.catalog import Catalog, MethodDecl, catalog
from benchmark.hparams import HParam

if TYPE_CHECKING:
    from benchmark.planner import Job


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class ResolvedSettings:
    """Every setting of one run, each under one name."""

    method: str
    profile: str
    seed: int
    # the suite's hyper-parameters with the sweep point, before a budget key replaced any (what identity hashes)
    written_hparams: Mapping[str, Any]
    # the profile's budget for this method and dataset, as the suite writes it (what identity hashes)
    written_budget: Mapping[str, Any]
    point: Mapping[str, Any] = field(default_factory=dict)  # the sweep point alone (a subset of written_hparams)
    # budget key -> the hyper-parameter it replaces where set (``benchmark.budget.replacing``), of the keys it reads
    replaces: Mapping[str, str] = field(default_factory=dict)
    hparams: Mapping[str, Any] = field(init=False)  # what the run trains with
    budget: Mapping[str, Any] = field(init=False)  # the budget the run reads: no key that replaces a hyper-parameter

    def __post_init__(self) -> None:
        for name in ("written_hparams", "written_budget", "point", "replaces"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        replaced = {hp: self.written_budget[k] for k, hp in self.replaces.items()
                    if self.written_budget.get(k) is not None}
        object.__setattr__(self, "hparams", _frozen({**self.written_hparams, **replaced}))
        object.__setattr__(self, "budget",
                           _frozen({k: v for k, v in self.written_budget.items() if k not in self.replaces}))

    def params(self) -> dict[str, Any]:
        """What MLflow logs as the run's params: exactly what trained, one name per setting (a budget key that
        replaces a hyper-parameter appears under the hyper-parameter's name only, with the value that trained)."""
        return {**self.hparams, **{f"budget.{k}": v for k, v in self.budget.items()}, "seed": self.seed}

    def identity(self) -> dict[str, Any]:
        """The run's part of its run key (``Job.run_key`` adds the job's)."""
        return {"hparams": dict(self.written_hparams), "seed": self.seed}

    def with_steps(self, steps: int) -> ResolvedSettings:
        """The same settings for ``steps`` steps (a calibration's short run)."""
        return dataclasses.replace(self, written_budget={**self.written_budget, "steps": steps})


def declared_keys(method_cls: MethodDecl, metrics: list[str], cat: Catalog | None = None) -> dict[str, Any]:
    """The hyper-parameters a job of this method with these metrics reads: the method's and its metrics'."""
    cat = cat or catalog()
    keys: dict[str, Any] = {}
    for name in metrics:
        metric = cat.metrics.get(name)
        if metric is not None:
            keys.update(metric.params)
    keys.update(method_cls.hparams)
    return keys


def resolve_hparams(method_cls: MethodDecl, loader: str, metrics: list[str], method_values: dict[str, Any],
                    experiment_values: dict[str, Any]) -> dict[str, Any]:
    """The one merge of hyper-parameters: declared defaults < the method's per-dataset settings < the suite's
    method hparams < the experiment's. An experiment's hparams are shared by its methods: each takes the
    keys it (or one of the experiment's metrics) declares."""
    declared = declared_keys(method_cls, metrics)
    defaults = {k: h.default for k, h in declared.items() if not h.required and not h.absent_by_default}
    shared = {k: v for k, v in experiment_values.items() if k in declared}
    return {**defaults, **method_cls.dataset_defaults.get(loader, {}), **method_values, **shared}


# (method, metrics) -> {budget key: the hyper-parameter it replaces}. A registry refuses a second plug-in of a name,
# so what a name declares never changes within a process; looking it up in the catalog for every run key made
# planning a large sweep several times slower.
_REPLACES: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}


def replaced_by_budget(method: str, metrics: tuple[str, ...] | list[str] = ()) -> dict[str, str]:
    """{budget key: the hyper-parameter it replaces} for a run of ``method`` with these metrics: the keys its method
    and metrics declare with ``budget.replacing``."""
    key = (method, tuple(metrics))
    if key not in _REPLACES:
        cat = catalog()
        declared: dict[str, HParam] = {}
        for name in metrics:
            if name in cat.metrics:
                declared.update(cat.metrics[name].budget)
        declared.update(cat.methods[method].budget)
        _REPLACES[key] = {k: h.replaces for k, h in declared.items() if h.replaces is not None}
    return _REPLACES[key]


def of_values(method: str, hparams: Mapping[str, Any], budget: Mapping[str, Any], seed: int = 0,
              profile: str = "cpu", metrics: tuple[str, ...] | list[str] = (),
              point: Mapping[str, Any] | None = None) -> ResolvedSettings:
    """The settings of a run of ``method`` given its written hyper-parameters and budget directly (in tests and
    scripts that call a method without a suite)."""
    return ResolvedSettings(method, profile, seed, hparams, budget, point or {}, replaced_by_budget(method, metrics))


def resolve(job: Job, params: Mapping[str, Any], seed: int) -> ResolvedSettings:
    """The settings of the run of ``job`` at sweep point ``params`` with ``seed``."""
    return of_values(job.method_name, {**job.hparams, **params}, job.budget, seed, job.profile, job.metrics, params)
