"""The suite schema: pydantic models for `suites/*.yaml`, checked without any plug-in.

Errors are mapped to YAML lines by ``benchmark.suite.load_suite``. Claim types and statistics are defined with
their judges in ``benchmark.claims``; the schema accepts every registered one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from benchmark.claims import CLAIM_TYPES, STATISTIC_TYPES
from benchmark.schema_base import Strict
from benchmark.schema_base import finite as _finite

PROFILES = ("smoke", "cpu", "paper")
Profile = Literal["smoke", "cpu", "paper"]
Scalar = Union[bool, int, float, str]
# at least one character that is not a dot: names become file and directory names, and "." or ".." would
# point elsewhere
NAME_PATTERN = r"^[A-Za-z0-9_.+\-]*[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*$"
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=NAME_PATTERN)]

class Paper(Strict):
    title: str = Field(min_length=1)
    authors: list[str] = Field(min_length=1)
    year: int | None = Field(default=None, ge=1900, le=2100)
    venue: str | None = None
    text: str | None = None
    code: str | None = None


class DatasetSpec(Strict):
    loader: Name
    params: dict[str, Any] = {}
    source: str | None = None


class MethodSpec(Strict):
    method: Name
    hparams: dict[str, Any] = {}
    source: str | None = None


class GridSpec(Strict):
    grid: list[Scalar] = Field(min_length=1, max_length=10_000)


class RangeSpec(Strict):
    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        _finite(self.low)
        _finite(self.high)
        if not self.low < self.high:
            raise ValueError("low must be smaller than high")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


def _sweep_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "grid" if "grid" in value else "range"
    return "grid" if isinstance(value, GridSpec) else "range"


SweepSpec = Annotated[Annotated[GridSpec, Tag("grid")] | Annotated[RangeSpec, Tag("range")],
                      Discriminator(_sweep_kind)]


class PerProfileInt(Strict):
    smoke: int = Field(ge=1, le=10_000)
    cpu: int = Field(ge=1, le=10_000)
    paper: int = Field(ge=1, le=10_000)


class SeedRange(Strict):
    """Adaptive seeds: train ``min``, judge, and add seeds to the jobs behind inconclusive targets and claims until
    each decides or has ``max`` (benchmark.adaptive)."""

    min: int = Field(ge=1, le=10_000)
    max: int = Field(ge=1, le=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> SeedRange:
        if self.min > self.max:
            raise ValueError(f"seed range upside down: min {self.min} > max {self.max}")
        return self


def _seeds_kind(value: Any) -> str:
    return "range" if isinstance(value, (dict, SeedRange)) else "count"


# a fixed count, or a range that grows while the evidence does not decide
Seeds = Annotated[Annotated[int, Field(ge=1, le=10_000), Tag("count")] | Annotated[SeedRange, Tag("range")],
                  Discriminator(_seeds_kind)]


class PerProfileSeeds(Strict):
    smoke: Seeds
    cpu: Seeds
    paper: Seeds

    def range(self, profile: str) -> tuple[int, int]:
        """The seeds a profile trains first, and the most it may grow to (the same for a fixed count)."""
        value = getattr(self, profile)
        return (value.min, value.max) if isinstance(value, SeedRange) else (value, value)


class BudgetOverride(Strict):
    """A budget for some of an experiment's models: the methods and/or datasets named (all when left out) take
    these settings over the experiment's, per profile (e.g. the original code trains some models longer)."""

    methods: list[Name] = []
    datasets: list[Name] = []
    smoke: dict[str, Any] | None = None
    cpu: dict[str, Any] | None = None
    paper: dict[str, Any] | None = None
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _says_something(self) -> BudgetOverride:
        if not (self.methods or self.datasets):
            raise ValueError("an override names methods, datasets or both")
        if self.smoke is None and self.cpu is None and self.paper is None:
            raise ValueError("an override sets smoke, cpu or paper")
        return self

    def applies(self, method: str, dataset: str) -> bool:
        return (not self.methods or method in self.methods) and (not self.datasets or dataset in self.datasets)


class Budget(Strict):
    """Per profile, the keys the engine, the experiment's methods and its metrics declare (benchmark.budget),
    checked against those declarations by benchmark.validate."""

    smoke: dict[str, Any]
    cpu: dict[str, Any]
    paper: dict[str, Any]
    # false where the paper and its code state no budget and `paper` is our reading: verdicts then say
    # "the paper states no budget" instead of a fraction of it
    paper_stated: bool = True
    # per method and per (method, dataset): later entries win
    overrides: list[BudgetOverride] = []
    source: str | None = None

    def of(self, profile: str, method: str, dataset: str) -> dict[str, Any]:
        """The budget of one model under one profile: the experiment's, then every override that applies."""
        budget = dict(getattr(self, profile))
        for override in self.overrides:
            if override.applies(method, dataset) and getattr(override, profile) is not None:
                budget.update(getattr(override, profile))
        return budget


class Objective(Strict):
    measurement: str
    direction: Literal["minimize", "maximize"]


class Curve(Strict):
    """Measure some of the experiment's metrics at log-spaced points of training (benchmark/curves.py)."""

    points: int = Field(ge=2, le=20)
    metrics: list[Name] = Field(min_length=1)
    source: str = Field(min_length=1)


class Experiment(Strict):
    methods: list[Name] = Field(min_length=1)
    datasets: list[Name] = Field(min_length=1)
    metrics: list[Name] = []
    hparams: dict[str, Any] = {}
    budget: Budget
    seeds: PerProfileSeeds
    sweep: dict[str, SweepSpec] = {}
    trials: PerProfileInt | None = None
    objective: Objective | None = None
    requires_gpu: bool = False
    curve: Curve | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _curve_metrics(self) -> Experiment:
        if self.curve is not None:
            unknown = [m for m in self.curve.metrics if m not in self.metrics]
            if unknown:
                raise ValueError(f"curve metrics {unknown} are not among the experiment's metrics")
        return self


class Check(Strict):
    """How a value target is judged; documented in the README ("How verdicts are decided")."""

    rule: Literal["tolerance", "at_most", "at_least"] = "tolerance"
    rel: float = Field(default=0.0, ge=0)
    abs: float = Field(default=0.0, ge=0)
    limit: float | None = None
    close_factor: float = Field(default=2.0, ge=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)

    @model_validator(mode="after")
    def _complete(self) -> Check:
        _finite(self.limit)
        if self.rule == "tolerance" and self.rel == 0 and self.abs == 0:
            raise ValueError("a tolerance rule needs rel or abs > 0")
        if self.rule in ("at_most", "at_least") and self.limit is None:
            raise ValueError(f"rule {self.rule} needs a limit")
        return self

Claim = Annotated[Union[tuple(CLAIM_TYPES.values())], Field(discriminator="type")]  # noqa: UP007
Statistic = Annotated[Union[tuple(STATISTIC_TYPES.values())], Field(discriminator="type")]  # noqa: UP007


class TargetSpec(Strict):
    id: str = Field(min_length=1, max_length=300)
    paper_ref: str = Field(min_length=1)
    kind: Literal["value", "claim"]
    source: str = Field(min_length=1)
    experiment: Name
    method: Name | None = None
    dataset: Name | None = None
    measurement: str | None = None
    published: float | None = None
    published_std: float | None = Field(default=None, ge=0)
    published_n: int = Field(default=1, ge=1)
    check: Check | None = None
    claim: Claim | None = None
    # a value target computed from many runs' measurements (e.g. a rank disagreement over a sweep)
    statistic: Statistic | None = None
    statement: str | None = None
    # reproduction: counts in the score; sanity: true by construction (checked and shown, never counted);
    # calibration: a constant was chosen to match it (shown with that constant, never counted)
    role: Literal["reproduction", "sanity", "calibration"] = "reproduction"
    calibrates: str | None = None  # calibration: the constant this target's published number fixed
    note: str | None = None  # e.g. another reading of the same published number
    # the paper reports that some of its runs diverged: a diverged seed of ours does not bar `reproduced`
    reports_divergence: bool = False
    # the paper contradicts itself about this number: the quote that shows it (a miss is then explained by it)
    paper_inconsistency: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _role_fields(self) -> TargetSpec:
        if self.role == "calibration" and not self.calibrates:
            raise ValueError("a calibration target names the constant it fixed in 'calibrates'")
        if self.role != "calibration" and self.calibrates:
            raise ValueError("'calibrates' is for role: calibration")
        return self

    @model_validator(mode="after")
    def _kind_fields(self) -> TargetSpec:
        _finite(self.published)
        _finite(self.published_std)
        if self.kind == "value":
            needed = ("published", "check") if self.statistic else ("method", "dataset", "measurement",
                                                                       "published", "check")
            for name in needed:
                if getattr(self, name) is None:
                    raise ValueError(f"a value target needs '{name}'")
            if self.statistic is not None and self.measurement is not None:
                raise ValueError("a value target has either 'measurement' or 'statistic', not both")
            if self.claim is not None:
                raise ValueError("a value target has no 'claim'")
        else:
            if self.claim is None:
                raise ValueError("a claim target needs 'claim'")
            if self.published is not None:
                raise ValueError("a claim target has no single 'published' number")
            if self.statistic is not None:
                raise ValueError("a claim target has no 'statistic' (use kind: value)")
        return self


class CellSettings(Strict):
    """What a table, one of its columns or one cell may set for its cells; the most specific one wins."""

    check: Check | None = None
    # how the paper's '±' reads: the standard deviation, or the standard error of a mean of n (std = se·√n)
    spread: Literal["std", "se"] | None = None
    n: int | None = Field(default=None, ge=1)
    source: str | None = Field(default=None, min_length=1)
    role: Literal["reproduction", "sanity"] | None = None  # a calibration target names what it calibrates: targets:


class TableColumn(CellSettings):
    # bold face in the paper: in every block (dataset), the extreme published value of this column is claimed
    # to be the extreme reproduced one too (a `lowest` claim)
    bold: Literal["lowest", "highest"] | None = None


class TableCell(CellSettings):
    """A cell with settings of its own; ``value`` as the paper prints it: 0.982, or '0.982 ± 0.006'."""

    value: float | str
    note: str | None = None
    # the paper contradicts itself about this number: the quote that shows it (a miss is then explained by it)
    paper_inconsistency: str | None = Field(default=None, min_length=1)


class TableSpec(CellSettings):
    """Many value targets at once, laid out as the paper's table (``benchmark.tables`` expands them)."""

    prefix: str = Field(min_length=1)
    paper_ref: str = Field(min_length=1)
    # how the bold-face claims name the table ("Table 2"); the paper_ref when left out
    name: str | None = Field(default=None, min_length=1)
    experiment: Name
    columns: dict[str, TableColumn] = {}
    # dataset -> method -> measurement -> cell: a number, 'value ± spread', or a TableCell mapping
    values: dict[Name, dict[Name, dict[str, Any]]] = Field(min_length=1)


class SweepFigure(Strict):
    """A figure of the paper drawn from whole sweeps (e.g. Figure 2's box plots) on the leaderboard.

    box: one box per job of ``measurement`` over its sweep, each run a dot, the best ``best_n`` runs of
    each job as black circles (best: highest, lowest, or closest to ``reference``, a measurement of the same
    runs that the figure also draws as a line). scatter: ``measurement`` (x) against ``y``, one dot per run."""

    name: Name
    paper_ref: str = Field(min_length=1)
    caption: str = Field(min_length=1)
    kind: Literal["box", "scatter"] = "box"
    jobs: list[str] = Field(min_length=1)  # experiment/method/dataset
    measurement: str = Field(min_length=1)
    y: str | None = None
    best: Literal["highest", "lowest", "closest"] = "highest"
    reference: list[str] = []
    best_n: int = Field(default=10, ge=1, le=1000)
    source: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> SweepFigure:
        if self.kind == "scatter" and self.y is None:
            raise ValueError("a scatter figure needs 'y'")
        if self.best == "closest" and not self.reference:
            raise ValueError("best: closest needs a 'reference' measurement")
        return self


SETTING_KINDS = ("hparam", "budget", "dataset", "reading")


class CandidateBudget(Strict):
    """Budget keys a candidate also changes, per profile (e.g. the original's epochs at another batch size)."""

    smoke: dict[str, Any] | None = None
    cpu: dict[str, Any] | None = None
    paper: dict[str, Any] | None = None


class SensitivityCandidate(Strict):
    """One value the paper's unstated or ambiguous setting might have had, with where it comes from."""

    value: Scalar
    label: str = Field(min_length=1, max_length=60)  # how verdicts name it: "under batch_size 1000 (<label>)"
    source: str = Field(min_length=1)  # released code at a commit, the first push, the paper's text, a commented line
    budget: CandidateBudget | None = None
    # a reading only: measurement -> the measurement the printed number is compared against instead (both ways)
    swap: dict[str, str] = {}


class SensitivityAxis(Strict):
    """A setting the paper leaves unstated or ambiguous (benchmark.sensitivity): its candidates are trained (or, for
    a reading of a printed table, judged) beside the headline setting, shown, and never counted."""

    axis: Name
    # kind:name: hparam:batch_size, budget:steps, dataset:noise, or reading (no training: another reading of the table)
    setting: str = Field(min_length=1)
    experiment: Name
    methods: list[Name] = []  # the models it applies to (all of the experiment's when left out)
    datasets: list[Name] = []
    headline: str = Field(min_length=1)  # what the suite uses, and its source
    candidates: list[SensitivityCandidate] = Field(min_length=1)

    @field_validator("setting")
    @classmethod
    def _setting_kind(cls, value: str) -> str:
        kind, _, name = value.partition(":")
        if not (value == "reading" or (kind in SETTING_KINDS[:-1] and name)):
            raise ValueError(f"unknown setting '{value}': hparam:<name>, budget:<key>, dataset:<param> or reading")
        return value

    @model_validator(mode="after")
    def _candidates_fit(self) -> SensitivityAxis:
        for c in self.candidates:
            if (self.setting == "reading") != bool(c.swap):
                raise ValueError("a reading's candidates each give 'swap'; a setting's candidates give none")
            if self.setting == "reading" and c.budget is not None:
                raise ValueError("a reading trains nothing: its candidates have no 'budget'")
        labels = [str(c.value) for c in self.candidates]
        if len(set(labels)) != len(labels):
            raise ValueError("two candidates with the same value")
        return self

    @property
    def kind(self) -> str:
        return self.setting.split(":")[0]

    @property
    def name(self) -> str:
        """The setting's own name (batch_size), or the axis's for a reading."""
        return self.setting.split(":", 1)[1] if ":" in self.setting else self.axis

    def applies(self, experiment: str, method: str, dataset: str) -> bool:
        return (experiment == self.experiment and (not self.methods or method in self.methods)
                and (not self.datasets or dataset in self.datasets))


class Suite(Strict):
    suite: Name
    paper: Paper
    datasets: dict[Name, DatasetSpec] = Field(min_length=1)
    methods: dict[Name, MethodSpec] = Field(min_length=1)
    experiments: dict[Name, Experiment] = Field(min_length=1)
    targets: list[TargetSpec] = []
    tables: list[TableSpec] = []
    # figure-name prefix -> the published caption the figure reproduces, shown beside it on the leaderboard
    figures: dict[str, str] = {}
    sweep_figures: list[SweepFigure] = []
    # the paper's unstated or ambiguous settings, with candidate values (benchmark.sensitivity); never counted
    sensitivity: list[SensitivityAxis] = []
    # filled by load_suite, never by the YAML
    _path: str = PrivateAttr(default="")
    _targets: list[Any] = PrivateAttr(default_factory=list)  # list[targets.Target]
    _figures: list[Any] = PrivateAttr(default_factory=list)
    # set on the copy of a suite that plans or judges one sensitivity candidate (benchmark.sensitivity.under)
    _candidate: Any = PrivateAttr(default=None)

    @property
    def candidate(self) -> Any:
        """The sensitivity candidate this copy of the suite stands for (``sensitivity.Applied``), None for the
        suite itself."""
        return self._candidate

    @property
    def path(self) -> str:
        return self._path

    @property
    def all_targets(self) -> list[Any]:
        """Every target, the table blocks expanded, in file order."""
        return self._targets

    @property
    def resolved_figures(self) -> list[Any]:
        """The sweep figures, their jobs' measurements resolved to references."""
        return self._figures

