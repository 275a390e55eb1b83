"""The suite schema: pydantic models for `suites/*.yaml`, and the checks that need the registries.

`load_suite(path)` returns a validated `Suite` or raises `UserError` with one line
``FILE:LINE: field: what is wrong``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from benchmark import api, yaml_lines
from benchmark.hparams import problems as hparam_problems

PROFILES = ("smoke", "cpu", "paper")
Profile = Literal["smoke", "cpu", "paper"]
Scalar = Union[bool, int, float, str]
# at least one character that is not a dot: names become file and directory names, and "." or ".." would
# point elsewhere
NAME_PATTERN = r"^[A-Za-z0-9_.+\-]*[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]*$"
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=NAME_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


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


class Budget(Strict):
    smoke: dict[str, Any]
    cpu: dict[str, Any]
    paper: dict[str, Any]
    # false where the paper and its code state no budget and `paper` is our reading: verdicts then say
    # "the paper states no budget" instead of a fraction of it
    paper_stated: bool = True
    source: str | None = None

    @field_validator("smoke", "cpu", "paper")
    @classmethod
    def _steps_positive(cls, value: dict[str, Any]) -> dict[str, Any]:
        steps = value.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0
                                  or steps > 100_000_000):
            raise ValueError("steps must be a whole number between 0 and 100000000")
        return value


class Objective(Strict):
    measurement: str
    direction: Literal["minimize", "maximize"]


class Experiment(Strict):
    methods: list[Name] = Field(min_length=1)
    datasets: list[Name] = Field(min_length=1)
    metrics: list[Name] = []
    hparams: dict[str, Any] = {}
    budget: Budget
    seeds: PerProfileInt
    sweep: dict[str, SweepSpec] = {}
    trials: PerProfileInt | None = None
    objective: Objective | None = None
    requires_gpu: bool = False
    source: str | None = None


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


class ClaimBase(Strict):
    # seeds: each reference's values are the seeds of the job's chosen setting (the default);
    # sweep: they are the search runs, one per hyper-parameter setting the sweep tried (first seed)
    over: Literal["seeds", "sweep"] = "seeds"


class OrderingClaim(ClaimBase):
    type: Literal["ordering"]
    refs: list[str] = Field(min_length=2)
    relation: Literal["<", ">"] = "<"


class LowestClaim(ClaimBase):
    type: Literal["lowest"]
    refs: list[str] = Field(min_length=2)
    expected: str
    highest: bool = False

    @model_validator(mode="after")
    def _expected_in_refs(self) -> LowestClaim:
        if self.expected not in self.refs:
            raise ValueError(f"expected '{self.expected}' is not one of refs")
        return self


class BoundClaim(ClaimBase):
    type: Literal["bound"]
    lhs: str
    rhs: str | float
    relation: Literal["<=", ">="] = "<="
    slack: float = Field(default=0.0, ge=0)


class RatioClaim(ClaimBase):
    type: Literal["ratio_at_least"]
    lhs: str
    rhs: str
    factor: float = Field(gt=0)


class ApproxEqualClaim(ClaimBase):
    type: Literal["approx_equal"]
    lhs: str
    rhs: str
    abs: float = Field(default=0.0, ge=0)
    rel: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _has_tolerance(self) -> ApproxEqualClaim:
        if self.abs == 0 and self.rel == 0:
            raise ValueError("approx_equal needs abs or rel > 0")
        return self


class CorrelationClaim(ClaimBase):
    type: Literal["correlation"]
    refs: list[str] = Field(min_length=3)
    x: list[float] = Field(min_length=3)
    min_r: float = Field(ge=-1, le=1)

    @model_validator(mode="after")
    def _same_length(self) -> CorrelationClaim:
        if len(self.refs) != len(self.x):
            raise ValueError(f"refs has {len(self.refs)} entries but x has {len(self.x)}")
        return self


class CvClaim(ClaimBase):
    type: Literal["cv_at_most"]
    ref: str
    limit: float = Field(gt=0)


class FractionBeatsBestClaim(ClaimBase):
    """More than ``more_than`` of lhs's values beat the best of rhs's ("most settings beat the best X")."""

    type: Literal["fraction_beats_best"]
    lhs: str
    rhs: str
    relation: Literal[">", "<"] = ">"
    more_than: float = Field(ge=0, lt=1)


class PairedCorrelationClaim(ClaimBase):
    """Pearson r between two measurements of the same runs (paired by seed, or by setting over a sweep)."""

    type: Literal["paired_correlation"]
    lhs: str
    rhs: str
    min_r: float = Field(ge=-1, le=1)


Claim = Annotated[
    OrderingClaim | LowestClaim | BoundClaim | RatioClaim | ApproxEqualClaim | CorrelationClaim | CvClaim
    | FractionBeatsBestClaim | PairedCorrelationClaim,
    Field(discriminator="type"),
]


CLAIM_TYPES = ("ordering", "lowest", "bound", "ratio_at_least", "approx_equal", "correlation", "cv_at_most",
               "fraction_beats_best", "paired_correlation")


class RankDisagreement(Strict):
    """The fraction of sweep runs (pooled over the jobs) ranked in the top half by one measurement and in
    the bottom half by another; higher is better for both. ``top_by[i]`` and ``bottom_by[i]`` name the same
    job. With n runs, the top half is ranks 1..floor(n/2) and the bottom half ranks ceil(n/2)+1..n."""

    type: Literal["rank_disagreement"]
    top_by: list[str] = Field(min_length=1)
    bottom_by: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_length(self) -> RankDisagreement:
        if len(self.top_by) != len(self.bottom_by):
            raise ValueError(f"top_by has {len(self.top_by)} entries but bottom_by has {len(self.bottom_by)}")
        return self


Statistic = Annotated[RankDisagreement, Field(discriminator="type")]
STATISTIC_TYPES = ("rank_disagreement",)


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


class TableSpec(Strict):
    prefix: str = Field(min_length=1)
    paper_ref: str = Field(min_length=1)
    experiment: Name
    check: Check
    source: str = Field(min_length=1)
    values: dict[Name, dict[Name, dict[str, float]]] = Field(min_length=1)


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
    # filled by load_suite, never by the YAML
    _path: str = PrivateAttr(default="")
    _targets: list[Target] = PrivateAttr(default_factory=list)
    _figures: list[Any] = PrivateAttr(default_factory=list)

    @property
    def path(self) -> str:
        return self._path

    @property
    def all_targets(self) -> list[Target]:
        """Every target, the table blocks expanded, in file order."""
        return self._targets

    @property
    def resolved_figures(self) -> list[ResolvedFigure]:
        """The sweep figures, their jobs' measurements resolved to references."""
        return self._figures


# ------------------------------------------------------------------------ resolved targets


@dataclass(frozen=True)
class Ref:
    """One measurement of one job: what claims and value targets point at."""

    experiment: str
    method: str
    dataset: str
    measurement: str

    @property
    def job(self) -> tuple[str, str, str]:
        return (self.experiment, self.method, self.dataset)

    def __str__(self) -> str:
        return f"{self.experiment}/{self.method}/{self.dataset}/{self.measurement}"


@dataclass
class Target:
    id: str
    paper_ref: str
    kind: str
    source: str
    experiment: str
    measurement: str | None
    published: float | None
    published_std: float | None
    published_n: int
    check: Check | None
    claim: Any
    refs: list[Ref]
    statement: str | None = None
    statistic: Any = None
    role: str = "reproduction"
    calibrates: str | None = None
    note: str | None = None

    @property
    def counted(self) -> bool:
        """Only reproductions count in a score; sanity and calibration targets are shown, not counted."""
        return self.role == "reproduction"

    @property
    def scope(self) -> str:
        """'sweep' when the target reads every setting a sweep tried, 'seeds' when the chosen setting's seeds."""
        if self.statistic is not None:
            return "sweep"
        return getattr(self.claim, "over", "seeds") if self.claim is not None else "seeds"

    @property
    def jobs(self) -> list[tuple[str, str, str]]:
        return sorted({ref.job for ref in self.refs})

    def rule_text(self) -> str:
        if self.kind == "claim":
            fields = self.claim.model_dump(exclude={"type"})
            return f"{self.claim.type}: " + ", ".join(f"{k}={v}" for k, v in fields.items())
        c = self.check
        prefix = f"{self.statistic.type} over the sweeps; " if self.statistic is not None else ""
        return prefix + self._value_rule(c)

    @staticmethod
    def _value_rule(c: Check) -> str:
        if c.rule == "tolerance":
            return (f"|reproduced - published| <= max({c.abs:g}, {c.rel:g}*|published|); "
                    f"close within {c.close_factor:g}x tol; TOST equivalence p within tol shown")
        sign = "<=" if c.rule == "at_most" else ">="
        return f"reproduced {sign} {c.limit:g}; close within {c.close_factor:g}x of the margin"


def parse_ref(text: str, experiment: str, method: str | None, dataset: str | None) -> Ref:
    parts = text.split("/")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        raise ValueError(f"reference '{text}' is not [[experiment/]method/]dataset/measurement")
    defaults = [experiment, method, dataset]
    filled = defaults[: 4 - len(parts)] + parts[:-1]
    if any(part is None for part in filled):
        raise ValueError(f"reference '{text}' leaves out a method or dataset the target does not give")
    return Ref(filled[0], filled[1], filled[2], parts[-1])


def _claim_refs(claim: Any) -> list[tuple[str, str]]:
    """(field, reference string) for every measurement reference in a claim."""
    out: list[tuple[str, str]] = []
    for name in ("refs", "top_by", "bottom_by"):
        for i, value in enumerate(getattr(claim, name, []) or []):
            out.append((f"{name}[{i}]", value))
    for name in ("lhs", "rhs", "ref", "expected"):
        value = getattr(claim, name, None)
        if isinstance(value, str):
            out.append((name, value))
    return out


# --------------------------------------------------------------------------------- loading


def load_suite(path: Path | str) -> Suite:
    api.load_plugins()
    located = yaml_lines.load(path, display_name=_display(path))
    if not isinstance(located.data, dict):
        raise located.error((), "a suite file must be a mapping at the top level")
    try:
        suite = Suite.model_validate(located.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        for field_name, tags in (("claim", CLAIM_TYPES), ("statistic", STATISTIC_TYPES)):
            if field_name in loc and loc.index(field_name) + 1 < len(loc) and loc[loc.index(field_name) + 1] in tags:
                cut = loc.index(field_name) + 1
                loc = loc[:cut] + loc[cut + 1:]
        # pydantic puts union-member names into locations; the user never wrote those
        loc = tuple(p for p in loc if p not in ("grid", "range", "str", "float") or p == loc[-1])
        raise located.error(loc, _pydantic_message(err)) from None
    suite._path = located.file
    _check_names(suite, located)
    _expand_targets(suite, located)
    suite._figures = _resolve_figures(suite, located)
    return suite


def _display(path: Path | str) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _pydantic_message(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg.splitlines()[0]


def produced_measurements(suite: Suite, experiment: str, method: str) -> set[str]:
    exp = suite.experiments[experiment]
    produced = set(api.METHODS[suite.methods[method].method].produces)
    for metric in exp.metrics:
        produced |= set(api.METRICS[metric].produces)
    return produced


def _check_names(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    for name, ds in suite.datasets.items():
        if ds.loader not in api.DATASETS:
            raise located.error(("datasets", name, "loader"),
                                f"unknown dataset loader '{ds.loader}' (known: {', '.join(sorted(api.DATASETS))})")
    for name, m in suite.methods.items():
        if m.method not in api.METHODS:
            raise located.error(("methods", name, "method"),
                                f"unknown method '{m.method}' (known: {', '.join(sorted(api.METHODS))})")
    for ename, exp in suite.experiments.items():
        for i, m in enumerate(exp.methods):
            if m not in suite.methods:
                raise located.error(("experiments", ename, "methods", i), f"method '{m}' is not defined under methods")
        for i, d in enumerate(exp.datasets):
            if d not in suite.datasets:
                raise located.error(("experiments", ename, "datasets", i),
                                    f"dataset '{d}' is not defined under datasets")
        for i, metric in enumerate(exp.metrics):
            if metric not in api.METRICS:
                raise located.error(("experiments", ename, "metrics", i),
                                    f"unknown metric '{metric}' (known: {', '.join(sorted(api.METRICS))})")
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


def _declared(suite: Suite, experiment: str, method: str) -> dict[str, Any]:
    """The hyper-parameters a method declares, with those of the experiment's metrics."""
    declared: dict[str, Any] = {}
    for metric in suite.experiments[experiment].metrics:
        declared.update(api.METRICS[metric].params)
    declared.update(api.METHODS[suite.methods[method].method].hparams)
    return declared


def _check_hparams(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    """Every hyper-parameter a suite sets is declared by the method (or by a metric) that reads it, with a value
    of the declared type and within its choices or range; every one without a default gets a value."""
    for name, spec in suite.methods.items():
        declared = api.METHODS[spec.method].hparams
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
            method_cls = api.METHODS[suite.methods[m].method]
            for dname in exp.datasets:
                given = {**method_cls.dataset_defaults.get(suite.datasets[dname].loader, {}),
                         **suite.methods[m].hparams, **exp.hparams, **exp.sweep}
                missing = [k for k, h in declared_by[m].items() if h.required and k not in given]
                if missing:
                    raise located.error(("experiments", ename, "methods", i),
                                        f"method {m} on dataset {dname} needs hyper-parameters {', '.join(missing)}: "
                                        "they have no default and the dataset has no setting of its own")


def _known(declared: dict[str, Any], problem: str) -> str:
    return f" (declared: {', '.join(sorted(declared))})" if problem.startswith("unknown") else ""


def _expand_targets(suite: Suite, located: yaml_lines.LocatedYaml) -> None:
    targets: list[Target] = []
    where: dict[str, tuple] = {}

    def add(target: Target, path: tuple) -> None:
        if target.id in where:
            raise located.error(path, f"duplicate target id '{target.id}' (first at line "
                                      f"{located.line_of(where[target.id])})")
        where[target.id] = path
        targets.append(target)

    for i, spec in enumerate(suite.targets):
        path = ("targets", i)
        if spec.experiment not in suite.experiments:
            raise located.error(path + ("experiment",), f"experiment '{spec.experiment}' is not defined")
        exp = suite.experiments[spec.experiment]
        for field_name, allowed in (("method", exp.methods), ("dataset", exp.datasets)):
            value = getattr(spec, field_name)
            if value is not None and value not in allowed:
                raise located.error(path + (field_name,),
                                    f"{field_name} '{value}' is not part of experiment '{spec.experiment}'")
        refs: list[Ref] = []
        if spec.kind == "value" and spec.statistic is None:
            refs.append(Ref(spec.experiment, spec.method, spec.dataset, spec.measurement))
            ref_paths = [path + ("measurement",)]
        else:
            holder = "claim" if spec.kind == "claim" else "statistic"
            ref_paths = []
            for field_name, text in _claim_refs(getattr(spec, holder)):
                base = field_name.split("[")[0]
                sub = (base, int(field_name.split("[")[1][:-1])) if "[" in field_name else (base,)
                try:
                    refs.append(parse_ref(text, spec.experiment, spec.method, spec.dataset))
                except ValueError as exc:
                    raise located.error(path + (holder,) + sub, str(exc)) from None
                ref_paths.append(path + (holder,) + sub)
        for ref, ref_path in zip(refs, ref_paths, strict=True):
            _check_ref(suite, located, ref, ref_path)
        _check_pairs(spec, refs, ref_paths, located)
        measurement = spec.statistic.type if spec.statistic is not None else spec.measurement
        add(Target(id=spec.id, paper_ref=spec.paper_ref, kind=spec.kind, source=spec.source,
                   experiment=spec.experiment, measurement=measurement, published=spec.published,
                   published_std=spec.published_std, published_n=spec.published_n, check=spec.check,
                   claim=spec.claim, refs=refs, statement=spec.statement, statistic=spec.statistic,
                   role=spec.role, calibrates=spec.calibrates, note=spec.note), path)

    for t, table in enumerate(suite.tables):
        base = ("tables", t)
        if table.experiment not in suite.experiments:
            raise located.error(base + ("experiment",), f"experiment '{table.experiment}' is not defined")
        for dataset, by_method in table.values.items():
            for method, by_measurement in by_method.items():
                for measurement, published in by_measurement.items():
                    path = base + ("values", dataset, method, measurement)
                    if not math.isfinite(published):
                        raise located.error(path, "published value must be a finite number")
                    ref = Ref(table.experiment, method, dataset, measurement)
                    _check_ref(suite, located, ref, path)
                    add(Target(id=f"{table.prefix}/{dataset}/{method}/{measurement}", paper_ref=table.paper_ref,
                               kind="value", source=table.source, experiment=table.experiment,
                               measurement=measurement, published=published, published_std=None,
                               published_n=1, check=table.check, claim=None, refs=[ref]), path)
    suite._targets = targets


def _check_pairs(spec: TargetSpec, refs: list[Ref], paths: list[tuple], located: yaml_lines.LocatedYaml) -> None:
    """Measurements that are compared run by run must come from the same job's runs."""
    pairs: list[tuple[int, int]] = []
    if spec.claim is not None and spec.claim.type == "paired_correlation":
        pairs = [(0, 1)]
    elif spec.statistic is not None:
        n = len(spec.statistic.top_by)
        pairs = [(i, n + i) for i in range(n)]
    for a, b in pairs:
        if refs[a].job != refs[b].job:
            raise located.error(paths[b], f"'{refs[b]}' is not a measurement of the same job as '{refs[a]}' "
                                          "(they are compared run by run)")


@dataclass(frozen=True)
class ResolvedFigure:
    """A sweep figure with its references resolved: ``refs[i]`` is ``measurement`` of job i, ``ys[i]`` its y."""

    spec: SweepFigure
    refs: list[Ref]
    ys: list[Ref]
    references: list[list[Ref]]


def _resolve_figures(suite: Suite, located: yaml_lines.LocatedYaml) -> list[ResolvedFigure]:
    out: list[ResolvedFigure] = []
    names: set[str] = set()
    for i, fig in enumerate(suite.sweep_figures):
        base = ("sweep_figures", i)
        if fig.name in names:
            raise located.error(base + ("name",), f"duplicate sweep figure name '{fig.name}'")
        names.add(fig.name)
        refs, ys, references = [], [], []
        for j, job in enumerate(fig.jobs):
            where = base + ("jobs", j)
            if len(job.split("/")) != 3:
                raise located.error(where, f"job '{job}' is not experiment/method/dataset")

            def resolve(measurement: str, job: str = job, where: tuple = where) -> Ref:
                try:
                    ref = parse_ref(f"{job}/{measurement}", "", None, None)
                except ValueError as exc:
                    raise located.error(where, str(exc)) from None
                _check_ref(suite, located, ref, where)
                return ref

            refs.append(resolve(fig.measurement))
            if fig.y is not None:
                ys.append(resolve(fig.y))
            references.append([resolve(m) for m in fig.reference])
        out.append(ResolvedFigure(fig, refs, ys, references))
    return out


def _check_ref(suite: Suite, located: yaml_lines.LocatedYaml, ref: Ref, path: tuple) -> None:
    if ref.experiment not in suite.experiments:
        raise located.error(path, f"experiment '{ref.experiment}' is not defined")
    exp = suite.experiments[ref.experiment]
    if ref.method not in exp.methods:
        raise located.error(path, f"method '{ref.method}' is not part of experiment '{ref.experiment}'")
    if ref.dataset not in exp.datasets:
        raise located.error(path, f"dataset '{ref.dataset}' is not part of experiment '{ref.experiment}'")
    if ref.measurement not in produced_measurements(suite, ref.experiment, ref.method):
        raise located.error(path, f"no experiment produces measurement '{ref.measurement}' "
                                  f"({ref.experiment} with {ref.method} produces: "
                                  f"{', '.join(sorted(produced_measurements(suite, ref.experiment, ref.method)))})")


def find_suites(paths: list[str] | None) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(Path("suites").glob("*.yaml"))
