"""Targets as the engine uses them: every target of a suite with its measurement references resolved (claim
references completed from the target's own experiment, method and dataset; tables are expanded by
``benchmark.tables``), and the sweep figures likewise. Structure only: whether a job can produce a measurement is
checked by ``benchmark.validate``, which finds each reference's place in the YAML in ``Target.ref_paths``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmark import yaml_lines
from benchmark.schema import Check, SweepFigure, TargetSpec

if TYPE_CHECKING:
    from benchmark.schema import Suite


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
    reports_divergence: bool = False  # the paper reports diverged runs: ours do not bar `reproduced`
    paper_inconsistency: str | None = None  # the quote where the paper contradicts itself about this number
    ref_paths: list[tuple] = field(default_factory=list, repr=False)  # where each reference stands in the YAML

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
                    f"close within {c.close_factor:g}x tol"
                    + (f", not below published / {1 + c.close_factor * c.rel:g} where rel sets tol" if c.rel else "")
                    + "; TOST equivalence p within tol shown")
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


def unique_ids(located: yaml_lines.LocatedYaml, placed: list[tuple[Target, tuple]]) -> list[Target]:
    """The targets of ``placed`` (each with its place in the YAML), in order, once each id is known unique."""
    where: dict[str, tuple] = {}
    for target, path in placed:
        if target.id in where:
            raise located.error(path, f"duplicate target id '{target.id}' (first at line "
                                      f"{located.line_of(where[target.id])})")
        where[target.id] = path
    return [target for target, _ in placed]


def target_specs(suite: Suite, located: yaml_lines.LocatedYaml) -> list[tuple[Target, tuple]]:
    """The `targets:` entries, their references resolved, each with its place in the YAML (tables: benchmark.tables)."""
    targets: list[tuple[Target, tuple]] = []
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
            for field_name, text in getattr(spec, holder).references():
                base = field_name.split("[")[0]
                sub = (base, int(field_name.split("[")[1][:-1])) if "[" in field_name else (base,)
                try:
                    refs.append(parse_ref(text, spec.experiment, spec.method, spec.dataset))
                except ValueError as exc:
                    raise located.error(path + (holder,) + sub, str(exc)) from None
                ref_paths.append(path + (holder,) + sub)
        for ref, ref_path in zip(refs, ref_paths, strict=True):
            check_place(suite, located, ref, ref_path)
        _check_pairs(spec, refs, ref_paths, located)
        measurement = spec.statistic.type if spec.statistic is not None else spec.measurement
        targets.append((Target(id=spec.id, paper_ref=spec.paper_ref, kind=spec.kind, source=spec.source,
                               experiment=spec.experiment, measurement=measurement, published=spec.published,
                               published_std=spec.published_std, published_n=spec.published_n, check=spec.check,
                               claim=spec.claim, refs=refs, statement=spec.statement, statistic=spec.statistic,
                               role=spec.role, calibrates=spec.calibrates, note=spec.note, ref_paths=ref_paths,
                               paper_inconsistency=spec.paper_inconsistency,
                               reports_divergence=spec.reports_divergence), path))
    return targets


def _check_pairs(spec: TargetSpec, refs: list[Ref], paths: list[tuple], located: yaml_lines.LocatedYaml) -> None:
    """Measurements that are compared run by run must come from the same job's runs."""
    holder = spec.claim if spec.claim is not None else spec.statistic
    for a, b in holder.paired() if holder is not None else []:
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
    paths: list[tuple[Ref, tuple]] = field(default_factory=list, repr=False)  # every reference and its place


def resolve_figures(suite: Suite, located: yaml_lines.LocatedYaml) -> list[ResolvedFigure]:
    out: list[ResolvedFigure] = []
    names: set[str] = set()
    for i, fig in enumerate(suite.sweep_figures):
        base = ("sweep_figures", i)
        if fig.name in names:
            raise located.error(base + ("name",), f"duplicate sweep figure name '{fig.name}'")
        names.add(fig.name)
        refs, ys, references, paths = [], [], [], []
        for j, job in enumerate(fig.jobs):
            where = base + ("jobs", j)
            if len(job.split("/")) != 3:
                raise located.error(where, f"job '{job}' is not experiment/method/dataset")

            def resolve(measurement: str, job: str = job, where: tuple = where, paths: list = paths) -> Ref:
                try:
                    ref = parse_ref(f"{job}/{measurement}", "", None, None)
                except ValueError as exc:
                    raise located.error(where, str(exc)) from None
                check_place(suite, located, ref, where)
                paths.append((ref, where))
                return ref

            refs.append(resolve(fig.measurement))
            if fig.y is not None:
                ys.append(resolve(fig.y))
            references.append([resolve(m) for m in fig.reference])
        out.append(ResolvedFigure(fig, refs, ys, references, paths))
    return out




def check_place(suite: Suite, located: yaml_lines.LocatedYaml, ref: Ref, path: tuple) -> None:
    """The reference names an experiment of the suite, and a method and a dataset of that experiment."""
    if ref.experiment not in suite.experiments:
        raise located.error(path, f"experiment '{ref.experiment}' is not defined")
    exp = suite.experiments[ref.experiment]
    if ref.method not in exp.methods:
        raise located.error(path, f"method '{ref.method}' is not part of experiment '{ref.experiment}'")
    if ref.dataset not in exp.datasets:
        raise located.error(path, f"dataset '{ref.dataset}' is not part of experiment '{ref.experiment}'")
