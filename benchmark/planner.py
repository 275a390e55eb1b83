"""From a suite and a profile to the jobs that the selected targets need."""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from benchmark import api
from benchmark.suite import GridSpec, RangeSpec, Suite, Target


@dataclass
class Job:
    """One experiment x method x dataset under one profile: one Optuna study, one parent MLflow run."""

    suite: str
    experiment: str
    method: str
    dataset: str
    profile: str
    method_name: str
    loader: str
    dataset_params: dict[str, Any]
    hparams: dict[str, Any]
    metrics: list[str]
    budget: dict[str, Any]
    seeds: list[int]
    sweep: dict[str, GridSpec | RangeSpec]
    n_trials: int
    objective: tuple[str, str] | None
    requires_gpu: bool
    targets: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)  # the measurements the targets read from this job
    # metrics left out because a file they need is missing: the job's runs are not the complete job,
    # so they live under their own key and a later run with the file trains the complete job
    skipped_metrics: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        base = f"{self.suite}/{self.experiment}/{self.method}/{self.dataset}/{self.profile}"
        return base + (f"/without-{'+'.join(self.skipped_metrics)}" if self.skipped_metrics else "")

    @property
    def is_grid(self) -> bool:
        return bool(self.sweep) and all(isinstance(s, GridSpec) for s in self.sweep.values())

    def grid_points(self) -> list[dict[str, Any]]:
        names = sorted(self.sweep)
        values = [self.sweep[n].grid for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]

    def run_key(self, params: dict[str, Any], seed: int) -> str:
        """Identity of one run: same key, same training, so a finished run is never trained twice."""
        blob = json.dumps({"job": self.key, "method": self.method_name, "loader": self.loader,
                           "data": self.dataset_params, "hparams": {**self.hparams, **params},
                           "budget": self.budget, "metrics": self.metrics, "seed": seed},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]


def select_targets(suite: Suite, only: list[str] | None) -> list[Target]:
    targets = suite.all_targets
    if not only:
        return targets
    return [t for t in targets if any(fnmatch.fnmatchcase(t.id, pattern) for pattern in only)]


def plan(suite: Suite, profile: str, only: list[str] | None = None) -> list[Job]:
    """Jobs in suite order. Without --only every job of every experiment runs (figures and
    measurements nobody targets yet are still worth recording); with it, only what targets need."""
    selected = select_targets(suite, only)
    wanted: dict[tuple[str, str, str], list[str]] = {}
    needs: dict[tuple[str, str, str], list[str]] = {}
    for target in selected:
        for job in target.jobs:
            wanted.setdefault(job, []).append(target.id)
        for ref in target.refs:
            if ref.measurement not in needs.setdefault(ref.job, []):
                needs[ref.job].append(ref.measurement)
    jobs: list[Job] = []
    for ename, exp in suite.experiments.items():
        for mname in exp.methods:
            for dname in exp.datasets:
                triple = (ename, mname, dname)
                if only and triple not in wanted:
                    continue
                method_spec = suite.methods[mname]
                dataset_spec = suite.datasets[dname]
                method_cls = api.METHODS[method_spec.method]
                hparams = {**method_cls.defaults, **method_spec.hparams, **exp.hparams}
                n_seeds = getattr(exp.seeds, profile)
                if exp.sweep and all(isinstance(s, GridSpec) for s in exp.sweep.values()):
                    n_trials = 1
                    for spec in exp.sweep.values():
                        n_trials *= len(spec.grid)
                elif exp.sweep:
                    n_trials = getattr(exp.trials, profile)
                else:
                    n_trials = 1
                objective = (exp.objective.measurement, exp.objective.direction) if exp.objective else None
                jobs.append(Job(
                    suite=suite.suite, experiment=ename, method=mname, dataset=dname, profile=profile,
                    method_name=method_spec.method, loader=dataset_spec.loader,
                    dataset_params=dict(dataset_spec.params), hparams=hparams, metrics=list(exp.metrics),
                    budget=dict(getattr(exp.budget, profile)), seeds=list(range(n_seeds)), sweep=dict(exp.sweep),
                    n_trials=n_trials, objective=objective, requires_gpu=exp.requires_gpu,
                    targets=wanted.get(triple, []), needs=needs.get(triple, []),
                ))
    return jobs
