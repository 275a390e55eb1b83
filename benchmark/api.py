"""The contracts between the engine and the things it runs: datasets, methods, metrics.

A *method* (``baselines/``) trains on a *dataset* (``benchmark/data/``) and returns a trained
model; *metrics* (``benchmark/metrics/``) turn the trained model into named measurements.
All three are found by name in the registries below, never by import strings, so a suite
file can only name what the project registered.

Contract, in one place:

- ``Dataset``: constructed as ``cls(**params, data_dir=Path|None)``; raises
  ``benchmark.errors.DatasetMissing`` from ``__init__`` when files are absent.
- budgets: a method declares the budget keys it reads in ``budget``, a metric in ``register_metric(budget=...)``
  (``benchmark.budget``: the engine's own keys, ``steps`` and ``threads``, are declared there once); each reads
  them through ``benchmark.budget.read``, which fills in the declared defaults.
- ``Method``: declares its hyper-parameters (``hparams``), what it measures itself (``produces``) and what its
  trained model provides the metrics (``provides``); ``setup(ctx)`` builds a ``benchmark.loop.Program``
  (networks, optimisers, random streams and one ``step``), and the engine's loop (``benchmark.loop``) runs
  it: seeding, threads, step counting, progress, loss logging every ``ctx.log_every`` steps, non-finite
  detection, checkpoints and resume. ``ctx.hparams`` arrives resolved (``benchmark.settings``: declared
  defaults < the dataset's settings < the suite's values < the sweep point, then what a budget key declared with
  ``benchmark.budget.replacing`` replaces); a method merges nothing and seeds nothing itself.
- metric functions ``fn(result: TrainResult, ctx: RunContext) -> dict[str, float]``; a metric that needs
  files from the data directory (network weights) names a ``requires(data_dir)`` check that raises
  ``DatasetMissing``. The runner calls it before training: a job whose targets need only what such a
  metric would measure is not run; otherwise the job runs without that metric, and its measurements
  say why they are missing. A ``DatasetMissing`` raised while a metric runs is treated the same way.
- checkpoints: the loop calls ``ctx.restore()`` before the first step, which returns ``(steps_done, state)``
  saved by an earlier, killed attempt at the same run (or None), and ``ctx.checkpoint(steps_done, state_fn)``
  after each step, which saves ``state_fn()`` every ``ctx.checkpoint_every`` steps.

Every random draw takes its randomness from ``ctx.seed`` through a named stream (``ctx.rng("data")`` for
torch, ``ctx.np_rng("order")`` for numpy) so that on CPU the same seed gives the same numbers, and two
streams never share numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from benchmark import budget as budgets
from benchmark.hparams import HParam, defaults_of
from benchmark.registry import Registry, origin
from benchmark.streams import stream_seed

if TYPE_CHECKING:
    from benchmark.settings import ResolvedSettings

# ---------------------------------------------------------------------------------- datasets


class Dataset:
    """A named data source. Subclasses set ``name`` and implement what their experiments use; what it offers the
    metrics is declared in ``offers`` (capabilities of ``benchmark.contracts``, some with a condition on the
    params, e.g. ``"validation_split if n_valid!=0"``)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # part of every run's identity: bump it when a change to the class changes the data it yields
    version: ClassVar[str] = "1"
    # the capabilities it offers the metrics (benchmark.contracts), e.g. ("samples", "density")
    offers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, data_dir: Path | None = None, **params: Any) -> None:
        self.data_dir = data_dir
        self.params = params


DATASETS: Registry[type[Dataset]] = Registry("dataset")


def register_dataset(cls: type[Dataset]) -> type[Dataset]:
    return DATASETS.add(cls.name, cls, origin(cls))


# ----------------------------------------------------------------------------------- running


@dataclass
class TrainResult:
    """What a method hands to the metrics: its trained model, which provides what the method declares in
    ``provides`` (capabilities of ``benchmark.contracts``), and any measurements that only training itself can
    take (e.g. a bound tracked over all steps)."""

    model: Any
    measurements: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointStore:
    """Where the runner keeps one run's checkpoint; methods see it only through RunContext."""

    save: Callable[[int, dict[str, Any]], None]
    load: Callable[[], tuple[int, dict[str, Any]] | None]


@dataclass
class RunContext:
    """Everything one run needs, and the hooks through which it reports."""

    dataset: Dataset
    hparams: dict[str, Any]
    seed: int
    device: torch.device
    budget: dict[str, Any]
    profile: str = "cpu"
    log_every: int = 50
    loss_sink: Callable[[int, dict[str, float]], None] | None = None
    figure_sink: Callable[[Any, str], None] | None = None
    step_sink: Callable[[int], None] | None = None
    checkpoint_every: int = 0
    checkpoint_store: CheckpointStore | None = None
    # budget curve (benchmark/curves.py): the steps before the last at which the run is measured, and where
    # the model of that moment goes (``curve_point``)
    curve_steps: tuple[int, ...] = ()
    curve_sink: Callable[[int, Callable[[], TrainResult]], None] | None = None
    # what the metrics of one run share (e.g. Inception features of the samples, computed once): keyed by
    # what was computed; lives as long as the run
    run_cache: dict[str, Any] = field(default_factory=dict)
    # the run's settings as resolved once (benchmark.settings), where the engine made the context: ``hparams``,
    # ``budget``, ``seed`` and ``profile`` are theirs
    settings: ResolvedSettings | None = None

    @classmethod
    def of(cls, settings: ResolvedSettings, dataset: Dataset, device: torch.device, **hooks: Any) -> RunContext:
        """The context of a run with these resolved settings: what it trains with, each setting under one name
        (a budget key that replaces a hyper-parameter is in ``hparams`` only)."""
        return cls(dataset=dataset, hparams=dict(settings.hparams), seed=settings.seed, device=device,
                   budget=dict(settings.budget), profile=settings.profile, settings=settings, **hooks)

    @property
    def steps(self) -> int:
        return budgets.steps(self.budget)

    def hp(self, key: str, default: Any = None) -> Any:
        """A hyper-parameter from the suite, or the method's default."""
        return self.hparams.get(key, default)

    def rng(self, name: str, device: torch.device | str | None = None) -> torch.Generator:
        """The run's random stream ``name`` (e.g. "data", "noise", "metric/kl_grid/samples"): a torch generator
        seeded from the run's seed and the name, independent of every other name. On the CPU unless a
        device is given (a generator on the device draws there, without a host copy)."""
        g = torch.Generator(device=device or "cpu")
        g.manual_seed(stream_seed(self.seed, name))
        return g

    def np_rng(self, name: str) -> np.random.Generator:
        """The numpy twin of ``rng``: the same name gives a stream of its own, seeded the same way."""
        return np.random.default_rng(stream_seed(self.seed, name))

    def log_losses(self, step: int, values: dict[str, float]) -> None:
        if self.loss_sink is not None:
            self.loss_sink(step, {k: float(v) for k, v in values.items()})

    def log_figure(self, fig: Any, name: str) -> None:
        if self.figure_sink is not None:
            self.figure_sink(fig, name)
        else:  # nobody keeps it: release it (pyplot holds every open figure)
            import matplotlib.pyplot as plt

            plt.close(fig)

    def advance(self, n: int = 1) -> None:
        if self.step_sink is not None:
            self.step_sink(n)

    def curve_point(self, step: int, result: Callable[[], TrainResult]) -> bool:
        """At a curve step (before the last), measure the model ``result()`` gives as it is now; ``result`` is
        only called then. The caller keeps training as if nothing happened (see ``loop.train``). True when
        measured."""
        if self.curve_sink is None or step not in self.curve_steps or step >= self.steps:
            return False
        self.curve_sink(step, result)
        return True

    def restore(self) -> tuple[int, dict[str, Any]] | None:
        """``(steps_done, state)`` from the last checkpoint of this same run, or None to start at step 0."""
        if self.checkpoint_store is None:
            return None
        return self.checkpoint_store.load()

    def checkpoint(self, steps_done: int, state: Callable[[], dict[str, Any]]) -> bool:
        """Save ``state()`` when ``steps_done`` is a multiple of ``checkpoint_every`` (and the run is not
        over); ``state`` is only called then, so calling this every step is cheap. True when saved."""
        every = self.checkpoint_every
        if self.checkpoint_store is None or every <= 0 or steps_done % every or steps_done >= self.steps:
            return False
        self.checkpoint_store.save(steps_done, state())
        return True


class Method:
    """A training algorithm. Subclasses set ``name``, ``hparams`` (every hyper-parameter it reads, declared
    with type, allowed values and the default the paper or its code uses), optionally ``dataset_defaults``
    (settings the original code gives per dataset, by loader name), ``produces`` (measurements ``train``
    itself returns), ``provides`` (what its model gives the metrics) and ``needs`` (what it reads of the
    dataset). ``defaults`` is derived from ``hparams``. The planner hands ``train`` the declared
    defaults < the dataset's settings < the suite's values, merged once, in ``ctx.hparams``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # part of every run's identity: bump it when a change alters the numbers
    hparams: ClassVar[dict[str, HParam]] = {}
    # the budget keys it reads besides the engine's (benchmark.budget), declared as ``hparams`` are; read them
    # with ``benchmark.budget.read(cls.budget, ctx.budget)``
    budget: ClassVar[dict[str, HParam]] = {}
    dataset_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    defaults: ClassVar[dict[str, Any]] = {}
    produces: ClassVar[tuple[str, ...]] = ()
    # what its trained model (TrainResult.model) provides the metrics (benchmark.contracts), e.g. ("sampler",)
    provides: ClassVar[tuple[str, ...]] = ()
    # what it reads of its dataset: capabilities the dataset must offer (benchmark.contracts), with conditions on
    # the hyper-parameters and alternatives, e.g. ("model_distribution", "train_set or image_splits if net");
    # it reads nothing else of the dataset, and never probes it (getattr, hasattr): bench validate has checked
    needs: ClassVar[tuple[str, ...]] = ()
    # capabilities it reads only where the dataset offers them (contracts.offered(dataset) says), doing without
    # them otherwise, e.g. ("latent_dim",) for a default latent width
    uses_if_offered: ClassVar[tuple[str, ...]] = ()
    # the family of methods whose runs can train together as one batched model (benchmark.batch_families.FAMILIES),
    # for the settings the family's trainer covers; None: every run trains alone through its program
    batch_family: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.defaults = defaults_of(cls.hparams)
        _own_budget_keys(cls.__qualname__, cls.budget)
        for loader, values in cls.dataset_defaults.items():
            unknown = sorted(set(values) - set(cls.hparams))
            if unknown:
                raise ValueError(f"{cls.__qualname__}: dataset_defaults[{loader!r}] sets undeclared {unknown}")

    def setup(self, ctx: RunContext) -> Any:  # pragma: no cover - interface
        """Build the run's training: networks (torch's global generator is already seeded from the run's
        ``init`` stream), optimisers, random streams (``ctx.rng(name)``); return a ``benchmark.loop.Program``."""
        raise NotImplementedError

    def threads(self, ctx: RunContext) -> int | None:
        """Torch CPU threads for the run (None: leave the process's setting); the budget may set ``threads``."""
        threads = budgets.read(budgets.ENGINE, ctx.budget)["threads"]
        return int(threads) if threads else None

    def train(self, ctx: RunContext) -> TrainResult:
        """Train through the engine's loop (``benchmark.loop.train``): what every method does."""
        from benchmark import loop

        return loop.train(self, ctx)


METHODS: Registry[type[Method]] = Registry("method")


def _own_budget_keys(who: str, declared: dict[str, HParam]) -> None:
    """A plug-in declares only keys of its own: the engine's (``steps``, ``threads``) have one declaration."""
    taken = sorted(set(declared) & set(budgets.ENGINE))
    if taken:
        raise ValueError(f"{who}: budget keys {taken} are the engine's (benchmark.budget.ENGINE)")


def register_method(cls: type[Method]) -> type[Method]:
    return METHODS.add(cls.name, cls, origin(cls))


# ----------------------------------------------------------------------------------- metrics


MetricFn = Callable[[TrainResult, RunContext], dict[str, float]]


@dataclass(frozen=True)
class Metric:
    name: str
    produces: tuple[str, ...]
    fn: MetricFn
    description: str = ""
    requires: Callable[[Path | None], Any] | None = None  # raises DatasetMissing when a file is absent
    params: dict[str, HParam] = field(default_factory=dict)  # hyper-parameters it reads (ctx.hp)
    version: str = "1"  # part of every run's identity: bump it when a change alters the numbers
    needs_model: tuple[str, ...] = ()  # capabilities the trained model must provide (benchmark.contracts)
    needs_dataset: tuple[str, ...] = ()  # capabilities the dataset must offer
    budget: dict[str, HParam] = field(default_factory=dict)  # budget keys it reads (benchmark.budget)


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, produces: tuple[str, ...] | list[str], description: str = "",
                    requires: Callable[[Path | None], Any] | None = None, params: dict[str, HParam] | None = None,
                    version: str = "1", needs_model: tuple[str, ...] = (), needs_dataset: tuple[str, ...] = (),
                    budget: dict[str, HParam] | None = None):
    """Decorator: ``@register_metric("kl_grid", produces=["kl.pgen_pdata", ...])``."""

    _own_budget_keys(name, budget or {})

    def wrap(fn: MetricFn) -> MetricFn:
        metric = Metric(name=name, produces=tuple(produces), fn=fn, description=description, requires=requires,
                        params=dict(params or {}), version=version, needs_model=tuple(needs_model),
                        needs_dataset=tuple(needs_dataset), budget=dict(budget or {}))
        METRICS.add(name, metric, origin(fn))
        return fn

    return wrap


_SHIPPED_IMPORTED = False


def load_plugins() -> None:
    """Import every dataset, metric and method module so that the registries are filled: the shipped ones (their
    folders listed once per process: the catalog asks for every name it reads, thousands of times per suite),
    then the files ``BENCH_PLUGINS`` names (``benchmark.plugin_files``), which may change between calls."""
    global _SHIPPED_IMPORTED
    from benchmark import plugin_files

    if not _SHIPPED_IMPORTED:
        import importlib
        import pkgutil

        import baselines
        import benchmark.data
        import benchmark.metrics

        for package in (benchmark.data, benchmark.metrics, baselines):
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package.__name__}.{info.name}")
        _SHIPPED_IMPORTED = True
    plugin_files.import_named()
