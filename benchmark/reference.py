"""Your run beside the reference: `bench compare --reference FILE` sets each verdict of the user's store beside
the reference release's (``leaderboard/results.json``) and asks whether the per-seed values agree.

Two questions, answered apart:
- **Do the verdicts agree?** Target by target, the outcome here against the reference's.
- **Do the numbers agree?** On the same platform (the same processor model and vector capability, device, GPU and
  its CUDA and cuDNN, and torch version for every run on both sides) and the same profile, a run's identity fixes
  its numbers: the values must be bit-identical, and a difference is a defect of bench, reported as such. On
  another platform, CPU kernels differ in the last bits and adversarial training amplifies them, so the seeds of
  the two sides are two samples: a Welch t-test per measurement compares their means, with Holm's correction over every
  measurement compared, and a difference beyond run-to-run spread is reported with its p-value.

The reference's platform is read from its release stamp (``release.papers[suite].trained_on``); a reference
without one has an unknown platform, compared in distribution.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy import stats

from benchmark.errors import UserError
from benchmark.evidence import holm
from benchmark.release import REFERENCE_DIR

DEFAULT = REFERENCE_DIR / "results.json"
# "platform" (numerics.platform_of) also names the GPU's compute capability, CUDA and cuDNN
PLATFORM_KEYS = ("device", "gpu", "cpu_model", "cpu_capability", "torch_version", "platform")


def load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise UserError(f"cannot read the reference: {err.strerror}", field="--reference") from err
    except ValueError as err:
        raise UserError(f"{path} is not a results.json (invalid JSON: {err})", field="--reference") from err
    if "suites" not in data:
        raise UserError(f"{path} is not a results.json (no 'suites')", field="--reference")
    return data


def platform_of(targets: list[dict[str, Any]]) -> tuple[tuple[str, str], ...] | None:
    """The one platform every run behind these judged targets (results.json-shaped) shares, or None."""
    merged: dict[str, set[str]] = {}
    for t in targets:
        for key in PLATFORM_KEYS:
            merged.setdefault(key, set()).update((t.get("provenance") or {}).get(key, {}))
    return platform({key: dict.fromkeys(values, 1) for key, values in merged.items() if values})


def platform(trained_on: dict[str, dict[str, int]] | None) -> tuple[tuple[str, str], ...] | None:
    """The one platform every run shares, or None where runs differ or it was not recorded."""
    if not trained_on:
        return None
    out = []
    for key in PLATFORM_KEYS:
        values = set(trained_on.get(key, {"not recorded": 1}))
        if len(values) != 1 or (values == {"not recorded"} and key != "gpu"):  # a CPU run has no GPU tag
            return None
        out.append((key, values.pop()))
    return tuple(out)


OTHER_PROFILE = "not comparable: profile"


@dataclass
class Row:
    suite: str
    target: str
    mine: str
    theirs: str
    values: str  # identical | within spread | differ | DIFFER on the same platform | not comparable: ...
    p_values: dict[str, float] = field(default_factory=dict)  # per measurement, Holm-adjusted
    worst: str = ""  # the measurement that differs most, for the summary

    @property
    def verdicts_agree(self) -> bool:
        return self.mine == self.theirs

    @property
    def same_profile(self) -> bool:
        """Judged at one profile on both sides: verdicts at another budget are shown, not compared."""
        return not self.values.startswith(OTHER_PROFILE)


@dataclass
class Comparison:
    rows: list[Row]
    same_platform: dict[str, bool]
    alpha: float

    @property
    def compared(self) -> list[Row]:
        return [r for r in self.rows if r.same_profile]

    @property
    def disagreeing(self) -> list[Row]:
        return [r for r in self.compared if not r.verdicts_agree]

    @property
    def defects(self) -> list[Row]:
        return [r for r in self.rows if r.values.startswith("DIFFER")]

    @property
    def differing(self) -> list[Row]:
        return [r for r in self.rows if r.values == "differ"]

    def summary(self) -> str:
        n, other = len(self.compared), len(self.rows) - len(self.compared)
        text = f"{n - len(self.disagreeing)} of {n} verdicts agree with the reference"
        if other:
            text += f" ({other} more judged at another profile there, shown, not compared)"
        if self.defects:
            text += (f"; {len(self.defects)} targets' values differ bit-wise on the same platform, a defect of "
                     f"bench: {', '.join(r.target for r in self.defects[:5])}")
        text += (f"; {len(self.differing)} differ beyond run-to-run spread (Welch, Holm-adjusted p < {self.alpha})"
                 + (": " + ", ".join(f"{r.target} ({r.worst}, p = {min(r.p_values.values()):.2g})"
                                     for r in self.differing[:5]) if self.differing else ""))
        return text

    def as_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "same_platform": self.same_platform,
                "targets": [{"suite": r.suite, "target": r.target, "verdict": r.mine, "reference_verdict": r.theirs,
                             "verdicts_agree": r.verdicts_agree, "compared": r.same_profile, "values": r.values,
                             "p_values": r.p_values}
                            for r in self.rows]}


def _welch(a: list[float], b: list[float]) -> float:
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if a == b:
        return 1.0
    if len(set(a)) == 1 and len(set(b)) == 1:  # no spread on either side (deterministic), and the values differ
        return 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


JUDGED = ("reproduced", "close", "not reproduced", "claim holds", "claim fails", "inconclusive")


def compare(mine: dict[str, Any], reference: dict[str, Any], platforms: dict[str, tuple | None],
            alpha: float = 0.05) -> Comparison:
    """``mine``: results.json-shaped (leaderboard.as_json) for the user's store; ``platforms``: the user's platform
    per suite (``platform(release.trained_on(...))``)."""
    stamp = reference.get("release", {})
    theirs = {(s["suite"], t["target"]): t for s in reference["suites"] for t in s["targets"]}
    same_platform = {s["suite"]: platforms.get(s["suite"]) is not None
                     and platforms.get(s["suite"]) == platform(stamp.get("papers", {}).get(s["suite"], {})
                                                               .get("trained_on"))
                     for s in mine["suites"]}
    rows, tests = [], []  # tests: (row, measurement, p)
    for s in mine["suites"]:
        for t in s["targets"]:
            ref = theirs.get((s["suite"], t["target"]))
            if ref is None or t["verdict"] not in JUDGED or ref["verdict"] not in JUDGED:
                continue
            row = Row(s["suite"], t["target"], t["verdict"], ref["verdict"], "within spread")
            rows.append(row)
            if t.get("profile") != ref.get("profile"):
                row.values = f"{OTHER_PROFILE} {t.get('profile')} here, {ref.get('profile')} in the reference"
                continue
            shared = sorted(set(t.get("values") or {}) & set(ref.get("values") or {}))
            if same_platform[s["suite"]]:
                bad = [m for m in shared if t["values"][m] != ref["values"][m]]
                row.values = f"DIFFER on the same platform: {', '.join(bad)}" if bad else "identical"
                continue
            if shared and all(t["values"][m] == ref["values"][m] for m in shared):
                row.values = "identical"
                continue
            for m in shared:
                p = _welch(list(t["values"][m]), list(ref["values"][m]))
                if not math.isnan(p):
                    tests.append((row, m, p))
            if not any(r is row for r, _, _ in tests):
                row.values = "not comparable: fewer than 2 seeds on a side"
    for (row, m, _), p in zip(tests, holm([p for _, _, p in tests]), strict=True):
        row.p_values[m] = p
    for row in rows:
        if row.p_values and min(row.p_values.values()) < alpha:
            row.values = "differ"
            row.worst = min(row.p_values, key=row.p_values.get)
    return Comparison(rows, same_platform, alpha)


def table(comparison: Comparison) -> str:
    from tabulate import tabulate

    body = [[r.target, r.mine, r.theirs, ("yes" if r.verdicts_agree else "NO") if r.same_profile else "-", r.values
             + (f" (Holm-adjusted p = {min(r.p_values.values()):.2g})" if r.p_values else "")] for r in comparison.rows]
    return tabulate(body, headers=["target", "yours", "reference", "agree", "values"], tablefmt="simple")
