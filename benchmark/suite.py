"""Loading a suite: `load_suite(path)` returns a validated `Suite` or raises `UserError` with one line
``FILE:LINE: field: what is wrong``.

The parts: ``schema`` (the pydantic models of the YAML), ``targets`` (targets and sweep figures with their
references resolved), ``validate`` (the checks against the plug-ins' declarations), ``claims`` (claim types and
their judges). The names most code needs are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark import validate, yaml_lines
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
from benchmark.targets import Ref, ResolvedFigure, Target, expand_targets, parse_ref, resolve_figures  # noqa: F401


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
        raise located.error(loc, _pydantic_message(err)) from None
    suite._path = located.file
    validate.check(suite, located)
    suite._targets = expand_targets(suite, located)
    suite._figures = resolve_figures(suite, located)
    validate.check_measurements(suite, located)
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
    return validate.produced_measurements(suite, experiment, method)


def find_suites(paths: list[str] | None) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(Path("suites").glob("*.yaml"))
