"""The plug-ins' declarations, readable without importing torch: names, hyper-parameters, what each method
produces, provides and needs of its dataset, what each metric needs, produces and reads, what each dataset
offers, and versions.

`bench validate`, `bench targets` and `bench compare` need only these, not the networks behind them, so they
read a catalog: in a process that has imported the plug-ins (training, tests) it is built from the live
registries; otherwise from a cache under ``$BENCH_HOME/catalog/``, keyed by a hash of every plug-in source
file, the ``BENCH_PLUGINS`` files included (any edit makes a new one). A missing cache is written once by importing
the plug-ins. The cache also holds every capability's name and phrase, so that a plug-in's own capability
(``contracts.register_capability``) is known to ``bench validate`` without importing the plug-in.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark import plugin_files
from benchmark.hparams import REQUIRED, HParam

ROOT = Path(__file__).resolve().parent.parent
# the plug-ins, and the engine modules whose code decides what a declaration says
SOURCES = ("benchmark/data", "benchmark/metrics", "benchmark/features", "baselines", "benchmark/api.py",
           "benchmark/hparams.py", "benchmark/budget.py", "benchmark/contracts.py", "benchmark/catalog.py",
           "benchmark/plugin_files.py")


@dataclass(frozen=True)
class MethodDecl:
    name: str
    hparams: dict[str, HParam]
    dataset_defaults: dict[str, dict[str, Any]]
    produces: tuple[str, ...]
    provides: tuple[str, ...]
    version: str
    batch_family: str | None = None
    budget: dict[str, HParam] = field(default_factory=dict)  # budget keys it reads (benchmark.budget)
    needs: tuple[str, ...] = ()  # dataset capabilities it reads (benchmark.contracts)
    uses_if_offered: tuple[str, ...] = ()  # dataset capabilities it reads where offered

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: h.default for k, h in self.hparams.items() if not h.required and not h.absent_by_default}


@dataclass(frozen=True)
class MetricDecl:
    name: str
    produces: tuple[str, ...]
    params: dict[str, HParam]
    version: str
    needs_model: tuple[str, ...] = ()
    needs_dataset: tuple[str, ...] = ()
    needs_files: bool = False  # it reads files from the data directory (network weights)
    budget: dict[str, HParam] = field(default_factory=dict)  # budget keys it reads (benchmark.budget)


@dataclass(frozen=True)
class DatasetDecl:
    name: str
    version: str
    offers: tuple[str, ...] = ()  # capabilities, some with a condition on the params (benchmark.contracts)
    defaults: dict[str, Any] = field(default_factory=dict)  # the params a suite may leave out, with their values


@dataclass(frozen=True)
class Catalog:
    methods: dict[str, MethodDecl]
    metrics: dict[str, MetricDecl]
    datasets: dict[str, DatasetDecl]
    # every capability: name -> (kind, description, where it is defined) (benchmark.contracts)
    capabilities: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def catalog() -> Catalog:
    """The declarations of every registered plug-in."""
    if "benchmark.api" in sys.modules:  # the plug-ins' modules are (being) imported here: read them live
        return live()
    return _cached(source_hash() + plugin_files.content_hash())


_LIVE: dict[tuple[int, ...], Catalog] = {}


def live() -> Catalog:
    """From the registries (importing every plug-in first); rebuilt only when something new registered."""
    from benchmark import api, contracts

    api.load_plugins()
    key = (len(api.METHODS), len(api.METRICS), len(api.DATASETS), len(contracts.DESCRIPTIONS))
    if key not in _LIVE:
        _LIVE.clear()
        _LIVE[key] = _from_registries()
    return _LIVE[key]


def _from_registries() -> Catalog:
    from benchmark import api

    methods = {name: MethodDecl(name, dict(cls.hparams), {k: dict(v) for k, v in cls.dataset_defaults.items()},
                                tuple(cls.produces), tuple(cls.provides), str(cls.version), cls.batch_family,
                                dict(cls.budget), tuple(cls.needs), tuple(cls.uses_if_offered))
               for name, cls in api.METHODS.items()}
    metrics = {name: MetricDecl(name, tuple(m.produces), dict(m.params), str(m.version), tuple(m.needs_model),
                                tuple(m.needs_dataset), m.requires is not None, dict(m.budget))
               for name, m in api.METRICS.items()}
    from benchmark.contracts import capability_origins, constructor_defaults

    datasets = {name: DatasetDecl(name, str(cls.version), tuple(cls.offers),
                                  json.loads(json.dumps(constructor_defaults(cls), default=str)))
                for name, cls in api.DATASETS.items()}
    return Catalog(methods, metrics, datasets, capability_origins())


@lru_cache(maxsize=1)
def source_hash() -> str:
    """A hash of the plug-ins' source files: what the declarations are read from."""
    return _hash_files(SOURCES)


@lru_cache(maxsize=1)
def code_hash() -> str:
    """A hash of the engine's and the plug-ins' code: what decides plans, fingerprints and verdicts."""
    return _hash_files(("benchmark", "baselines"))


def _hash_files(entries: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for entry in entries:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


@lru_cache(maxsize=4)
def _cached(key: str) -> Catalog:
    from benchmark.tracking import bench_home

    path = bench_home() / "catalog" / f"{key}.json"
    try:
        found = from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    else:
        _declare_capabilities(found)
        return found
    found = live()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(to_json(found), sort_keys=True))
        os.replace(tmp, path)
    except OSError:  # an unwritable BENCH_HOME only costs speed here; the commands that write say so
        pass
    return found


def _declare_capabilities(found: Catalog) -> None:
    """Make the cached capabilities known by name and phrase, as their plug-ins would on import."""
    from benchmark import contracts

    for name, (kind, description, where) in found.capabilities.items():
        contracts.declare_capability(kind, name, None, description, where)


# --------------------------------------------------------------------------- serialisation


def _hparam_json(h: HParam) -> dict[str, Any]:
    return {"kinds": list(h.kinds), "default": "__REQUIRED__" if h.required else h.default,
            "choices": list(h.choices), "low": h.low, "high": h.high, "nullable": h.nullable, "doc": h.doc,
            "replaces": h.replaces, "absent_by_default": h.absent_by_default}


def _hparam(d: dict[str, Any]) -> HParam:
    default = REQUIRED if d["default"] == "__REQUIRED__" else d["default"]
    return HParam(tuple(d["kinds"]), default, tuple(d["choices"]), d["low"], d["high"], d["nullable"], d["doc"],
                  d["replaces"], d.get("absent_by_default", False))


def to_json(c: Catalog) -> dict[str, Any]:
    return {
        "methods": {n: {"hparams": {k: _hparam_json(h) for k, h in m.hparams.items()},
                        "dataset_defaults": m.dataset_defaults, "produces": list(m.produces),
                        "provides": list(m.provides), "version": m.version, "batch_family": m.batch_family,
                        "budget": {k: _hparam_json(h) for k, h in m.budget.items()},
                        "needs": list(m.needs), "uses_if_offered": list(m.uses_if_offered)}
                    for n, m in c.methods.items()},
        "metrics": {n: {"produces": list(m.produces), "params": {k: _hparam_json(h) for k, h in m.params.items()},
                        "version": m.version, "needs_model": list(m.needs_model),
                        "needs_dataset": list(m.needs_dataset), "needs_files": m.needs_files,
                        "budget": {k: _hparam_json(h) for k, h in m.budget.items()}}
                    for n, m in c.metrics.items()},
        "datasets": {n: {"version": d.version, "offers": list(d.offers), "defaults": d.defaults}
                     for n, d in c.datasets.items()},
        "capabilities": {n: list(entry) for n, entry in c.capabilities.items()},
    }


def from_json(data: dict[str, Any]) -> Catalog:
    methods = {n: MethodDecl(n, {k: _hparam(h) for k, h in m["hparams"].items()}, m["dataset_defaults"],
                             tuple(m["produces"]), tuple(m["provides"]), m["version"], m.get("batch_family"),
                             {k: _hparam(h) for k, h in m["budget"].items()}, tuple(m["needs"]),
                             tuple(m["uses_if_offered"]))
               for n, m in data["methods"].items()}
    metrics = {n: MetricDecl(n, tuple(m["produces"]), {k: _hparam(h) for k, h in m["params"].items()}, m["version"],
                             tuple(m["needs_model"]), tuple(m["needs_dataset"]), m["needs_files"],
                             {k: _hparam(h) for k, h in m["budget"].items()})
               for n, m in data["metrics"].items()}
    datasets = {n: DatasetDecl(n, d["version"], tuple(d["offers"]), d["defaults"])
                for n, d in data["datasets"].items()}
    capabilities = {n: (kind, description, where) for n, (kind, description, where) in data["capabilities"].items()}
    return Catalog(methods, metrics, datasets, capabilities)
