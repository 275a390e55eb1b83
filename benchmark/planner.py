"""From a suite and a profile to the jobs that the selected targets need, each with its identity."""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
from dataclasses import dataclass, field
from typing import Any

from benchmark.batch_families import VERSIONS as FAMILY_VERSIONS
from benchmark.batch_families import covers
from benchmark.budget import steps as budget_steps
from benchmark.catalog import Catalog, catalog
from benchmark.curves import curve_steps
from benchmark.identity import ENGINE_VERSION, digest, setting_digest
from benchmark.numerics import Numerics, platform_of
from benchmark.settings import ResolvedSettings, resolve, resolve_hparams
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
    device: str = "cpu"
    # declared versions of the method, the dataset, each metric and the engine: part of every run key
    versions: dict[str, str] = field(default_factory=dict)
    paper_budget: dict[str, Any] = field(default_factory=dict)
    budget_stated: bool = True  # the paper (or its code) states the `paper` profile's budget
    numerics: Numerics = field(default_factory=Numerics)  # precision and determinism (benchmark.numerics)
    # how its runs train: "loop" (the method's program, alone) or "batched:<family>" (benchmark.batching): the
    # same computation to float rounding, which GAN training amplifies, so it is part of every run's identity
    trainer: str = "loop"
    # budget curve (benchmark/curves.py): the steps at which these metrics are also measured; () without one
    curve_steps: tuple[int, ...] = ()
    curve_metrics: tuple[str, ...] = ()
    # the machine's arithmetic (numerics.platform_of): another processor or GPU gives other last bits, which GAN
    # training amplifies, so runs of two platforms are two runs; "" (unrecorded) keeps a job's older key
    platform: str = ""
    # adaptive seeds (benchmark.adaptive): the most seeds the job may grow to while its targets are inconclusive,
    # and the count it was planned with. Neither is part of any identity: each seed count is a job of its own
    # (``with_seeds``), and every count shares the first one's search study and the runs of the seeds it has
    max_seeds: int | None = None
    first_seeds: int | None = None
    # a sensitivity candidate's job (benchmark.sensitivity): "axis=value", part of its key and so of every identity;
    # "" for the suite's own (headline) setting, whose keys stay what they were
    variant: str = ""

    @property
    def key(self) -> str:
        """The job's name: which experiment, method, dataset and profile (not what it trains: see fingerprint)."""
        base = f"{self.suite}/{self.experiment}/{self.method}/{self.dataset}/{self.profile}"
        base += f"/under-{self.variant}" if self.variant else ""
        return base + (f"/without-{'+'.join(self.skipped_metrics)}" if self.skipped_metrics else "")

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.experiment, self.method, self.dataset)

    def _run_basis(self) -> dict[str, Any]:
        basis = {"job": self.key, "method": self.method_name, "loader": self.loader, "data": self.dataset_params,
                 "hparams": self.hparams, "budget": self.budget, "metrics": self.metrics, "device": self.device,
                 "numerics": self.numerics.mode, "trainer": self.trainer, "versions": self.versions}
        if self.curve_metrics:  # a run with a curve measures more; runs without one keep their keys
            basis["curve"] = {"steps": list(self.curve_steps), "metrics": list(self.curve_metrics)}
        if self.platform:
            basis["platform"] = self.platform
        return basis

    @property
    def fingerprint(self) -> str:
        """Everything that decides which runs the job has and what each trains and measures."""
        sweep = {name: spec.model_dump() for name, spec in sorted(self.sweep.items())}
        return digest({**self._run_basis(), "seeds": self.seeds, "sweep": sweep, "n_trials": self.n_trials,
                       "objective": self.objective}, 16)

    @property
    def study_name(self) -> str:
        """The search study. Its units train the first seed only, so every seed count of the job shares the first
        count's: adding seeds never searches again (a TPE search would propose other settings)."""
        return f"{self.key}@{self.with_seeds(self.first_seed_count).fingerprint}"

    def seeds_study_name(self, params: dict[str, Any]) -> str:
        """The seeds of one chosen setting: a grown grid that chooses another setting gets another study, and so
        does another seed count (Optuna keeps a categorical's choices fixed within a study); a grown count's
        first seeds are the same runs, read back by their run keys."""
        return f"{self.key}@{self.fingerprint}/seeds/{setting_digest(params)}"

    @property
    def first_seed_count(self) -> int:
        return self.first_seeds or len(self.seeds)

    @property
    def seed_limit(self) -> int:
        """The most seeds adaptive seeding may give the job (its own count when it has no range)."""
        return max(self.max_seeds or 0, len(self.seeds))

    def with_seeds(self, n: int) -> Job:
        """The job with seeds 0 .. n-1: a job of its own (fingerprint, parent run, seeds study) whose runs of the
        seeds it shares with other counts are the same runs (a run key depends on the seed, not on the count)."""
        if n == len(self.seeds):
            return self
        return dataclasses.replace(self, seeds=list(range(n)), first_seeds=self.first_seed_count)

    def seed_variants(self) -> list[Job]:
        """The job at every seed count it may have, from the first to the limit."""
        return [self.with_seeds(n) for n in range(self.first_seed_count, self.seed_limit + 1)]

    def without_metrics(self, skipped: tuple[str, ...]) -> Job:
        """The job without metrics whose files are missing: a job of its own (key and fingerprint), so that a
        later run with the files trains the complete job."""
        if not skipped:
            return self
        return dataclasses.replace(self, metrics=[m for m in self.metrics if m not in skipped],
                                   skipped_metrics=skipped,
                                   curve_metrics=tuple(m for m in self.curve_metrics if m not in skipped))

    def grid_points(self) -> list[dict[str, Any]]:
        names = sorted(self.sweep)
        values = [self.sweep[n].grid for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]

    def run_settings(self, params: dict[str, Any], seed: int) -> ResolvedSettings:
        """The settings of one run, resolved once: what it trains with, what MLflow records, what its key hashes."""
        return resolve(self, params, seed)

    def run_key(self, params: dict[str, Any], seed: int) -> str:
        """Identity of one run: same key, same training, so a finished run is never trained twice."""
        return self.key_of(self.run_settings(params, seed))

    def key_of(self, settings: ResolvedSettings) -> str:
        """The run key of the run with these settings (of this job)."""
        return digest({**self._run_basis(), **settings.identity()})

    @property
    def steps(self) -> int:
        return budget_steps(self.budget)

    @property
    def budget_fraction(self) -> float | None:
        """The share of the paper's steps this profile spends; None where the paper states no budget."""
        paper = budget_steps(self.paper_budget)
        if not self.budget_stated or paper <= 0:
            return None
        return self.steps / paper


def shape_of(job: Job) -> str:
    """What decides the time of a step: everything of the run's identity but the number of steps and the seed.
    Each run records it (tag ``shape``), and `bench plan` estimates a job from the runs of its shape."""
    budget = {k: v for k, v in job.budget.items() if k != "steps"}
    basis = {"method": job.method_name, "loader": job.loader, "data": job.dataset_params, "hparams": job.hparams,
             "budget": budget, "metrics": job.metrics, "device": job.device}
    if job.trainer != "loop":  # a batched run's time is its share of its batch's
        basis["trainer"] = job.trainer
    if job.curve_metrics:
        basis["curve"] = [len(job.curve_steps), job.curve_metrics]
    return digest(basis, 16)


def select_targets(suite: Suite, only: list[str] | None) -> list[Target]:
    targets = suite.all_targets
    if not only:
        return targets
    return [t for t in targets if any(fnmatch.fnmatchcase(t.id, pattern) for pattern in only)]


def family_applies(family: str, hparams: dict[str, Any], budget: dict[str, Any]) -> bool:
    """A batch family covers only the settings its trainer implements (``batch_families.FAMILIES``)."""
    return covers(family, hparams, budget)


def run_hparams(method_name: str, loader: str = "", metrics: tuple[str, ...] = (), **values: Any) -> dict[str, Any]:
    """The hyper-parameters a run of this method on this dataset gets when a suite sets ``values`` (the same
    merge the planner does): for calling a method directly, in tests and scripts."""
    return resolve_hparams(catalog().methods[method_name], loader, list(metrics), values, {})


def versions_of(method_name: str, loader: str, metrics: list[str], cat: Catalog | None = None) -> dict[str, str]:
    cat = cat or catalog()
    versions = {"engine": ENGINE_VERSION, "method": cat.methods[method_name].version,
                "dataset": cat.datasets[loader].version}
    versions.update({f"metric:{m}": cat.metrics[m].version for m in metrics})
    return versions


def plan(suite: Suite, profile: str, only: list[str] | None = None, device: str = "cpu",
         numerics: Numerics | None = None, batched: bool = True, platform: str | None = None) -> list[Job]:
    """Jobs in suite order. Without --only every job of every experiment runs (figures and
    measurements nobody targets yet are still worth recording); with it, only what targets need.
    ``platform``: whose runs (``numerics.platform_of``); by default this host's for ``device``."""
    cat = catalog()
    if platform is None:
        platform = platform_of(device)
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
                method_cls = cat.methods[method_spec.method]
                hparams = resolve_hparams(method_cls, dataset_spec.loader, list(exp.metrics), method_spec.hparams,
                                          exp.hparams)
                n_seeds, max_seeds = exp.seeds.range(profile)
                if exp.sweep and all(isinstance(s, GridSpec) for s in exp.sweep.values()):
                    n_trials = 1
                    for spec in exp.sweep.values():
                        n_trials *= len(spec.grid)
                elif exp.sweep:
                    n_trials = getattr(exp.trials, profile)
                else:
                    n_trials = 1
                objective = (exp.objective.measurement, exp.objective.direction) if exp.objective else None
                budget = exp.budget.of(profile, mname, dname)
                data_params = dict(dataset_spec.params)
                variant = ""
                if suite.candidate is not None and suite.candidate.applies(ename, mname, dname):
                    hparams, budget, data_params = suite.candidate.apply(profile, hparams, budget, data_params)
                    variant = suite.candidate.variant
                family = method_cls.batch_family if batched else None
                trainer = f"batched:{family}" if family and family_applies(family, hparams, budget) else "loop"
                versions = versions_of(method_spec.method, dataset_spec.loader, list(exp.metrics), cat)
                if trainer != "loop":
                    versions["trainer"] = FAMILY_VERSIONS[family]
                jobs.append(Job(
                    suite=suite.suite, experiment=ename, method=mname, dataset=dname, profile=profile,
                    method_name=method_spec.method, loader=dataset_spec.loader,
                    dataset_params=data_params, hparams=hparams, metrics=list(exp.metrics),
                    budget=budget, seeds=list(range(n_seeds)), max_seeds=max_seeds, sweep=dict(exp.sweep),
                    n_trials=n_trials, objective=objective, requires_gpu=exp.requires_gpu,
                    targets=wanted.get(triple, []), needs=needs.get(triple, []), device=device,
                    versions=versions,
                    paper_budget=exp.budget.of("paper", mname, dname), budget_stated=exp.budget.paper_stated,
                    numerics=numerics or Numerics(),
                    trainer=trainer,
                    curve_steps=curve_steps(budget_steps(budget), exp.curve.points) if exp.curve else (),
                    curve_metrics=tuple(exp.curve.metrics) if exp.curve else (),
                    platform=platform, variant=variant,
                ))
    return jobs
