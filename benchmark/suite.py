"""Loading a suite: `load_suite(path)` returns a validated `Suite` or raises `UserError` with one line
``FILE:LINE: field: what is wrong``.

The parts: ``schema`` (the pydantic models of the YAML), ``targets`` (targets and sweep figures with their
references resolved), ``validate`` (the checks against the plug-ins' declarations), ``claims`` (claim types and
their judges). The names most code needs are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from benchmark import tables, validate, yaml_lines
from benchmark.claims import (  # noqa: F401 (re-exported)
    CLAIM_TYPES,
    STATISTIC_TYPES,
    ApproxEqualClaim,
    BoundClaim,
    CorrelationClaim,
    CvClaim,
    FractionBeatsBestClaim,
    LowestClaim,
    OrderingClaim,
    PairedCorrelationClaim,
    RankDisagreement,
    RatioClaim,
)
from benchmark.schema import (  # noqa: F401 (re-exported)
    PROFILES,
    Budget,
    Check,
    Experiment,
    GridSpec,
    RangeSpec,
    Suite,
    SweepFigure,
    TargetSpec,
)
from benchmark.schema_base import pydantic_message
from benchmark.targets import (  # noqa: F401 (re-exported)
    Ref,
    ResolvedFigure,
    Target,
    parse_ref,
    resolve_figures,
    target_specs,
    unique_ids,
)


def load_suite(path: Path | str) -> Suite:
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
        if "seeds" in loc and loc.index("seeds") + 2 < len(loc) and loc[loc.index("seeds") + 2] in ("count", "range"):
            cut = loc.index("seeds") + 2  # seeds.<profile>.<count or range>: the user wrote a number or a mapping
            loc = loc[:cut] + loc[cut + 1:]
        # pydantic puts union-member names into locations; the user never wrote those
        loc = tuple(p for p in loc if p not in ("grid", "range", "str", "float") or p == loc[-1])
        raise located.error(loc, pydantic_message(err)) from None
    suite._path = located.file
    validate.check(suite, located)
    suite._targets = expand_targets(suite, located)
    suite._figures = resolve_figures(suite, located)
    validate.check_measurements(suite, located)
    return suite


def expand_targets(suite: Suite, located: yaml_lines.LocatedYaml) -> list[Target]:
    """Every target: the `targets:` entries, then each table's cells and bold-face claims, in file order."""
    return unique_ids(located, target_specs(suite, located) + tables.expand(suite, located))


def _display(path: Path | str) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def produced_measurements(suite: Suite, experiment: str, method: str) -> set[str]:
    return validate.produced_measurements(suite, experiment, method)


def find_suites(paths: list[str] | None) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(Path("suites").glob("*.yaml"))
