"""How sensitivity candidates and explanations read in every view (``benchmark.sensitivity`` computes them): beside a
headline verdict its candidates' ('under batch_size 1000 (first push): reproduced'), per axis what each candidate
moves, and the explanation of each counted miss, numbered under the paper's table that holds it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from benchmark.check import Verdict


def beside(v: Verdict) -> str:
    """Each candidate's verdict on this target, in words: never counted."""
    return "; ".join(f"{e['words']}: {e['outcome']}" for e in v.sensitivity)


def explanation(v: Verdict) -> str:
    return (v.explanation or {}).get("text", "")


def kinds(verdicts: list[Verdict]) -> Counter:
    """The counted misses by kind of explanation (explained, budget, unexplained, paper)."""
    return Counter(v.explanation["kind"] for v in verdicts if v.explanation)


def kinds_text(verdicts: list[Verdict]) -> str:
    found = kinds(verdicts)
    return ", ".join(f"{n} {kind}" for kind, n in found.most_common())


def explained(verdicts: list[Verdict]) -> list[tuple[int, Verdict]]:
    """The verdicts with an explanation, numbered in order (the marks ``e1``, ``e2`` … of a table's cells)."""
    return list(enumerate((v for v in verdicts if v.explanation), start=1))


def marks(verdicts: list[Verdict]) -> dict[str, str]:
    """target id -> its explanation's mark in a table: ``e3``."""
    return {v.target: f"e{i}" for i, v in explained(verdicts)}


def axis_lines(axes: list[dict[str, Any]]) -> list[str]:
    """Per axis: its headline setting, then what each candidate moves."""
    lines = []
    for axis in axes:
        lines.append(f"{axis['axis']} ({axis['setting']}); headline {axis['headline']}")
        lines += [f"  {c['text']}" for c in axis["candidates"]]
    return lines


SHOWN_ALONE = 3  # targets sharing an explanation listed one per line; more share one line


def terminal_lines(verdicts: list[Verdict], axes: list[dict[str, Any]]) -> list[str]:
    """`bench run` and `bench compare`: the axes, each touched target's candidates beside its verdict, and the
    counted misses' explanations."""
    lines: list[str] = []
    if axes:
        lines += ["Sensitivity axes (candidates beside the headline; never counted):"]
        lines += [f"  {line}" for line in axis_lines(axes)]
    touched = [v for v in verdicts if v.sensitivity]
    if touched:
        lines += ["", "Beside each verdict (headline, then each candidate):"]
        lines += [f"  {v.target}: {v.outcome}; {beside(v)}" for v in touched]
    missed = [v for v in verdicts if v.explanation]
    if missed:
        lines += ["", f"Why the counted misses miss ({kinds_text(missed)}):"]
        # many targets share one reason (a dataset not on this machine, no axis touching them): one line each
        by_reason: dict[str, list[str]] = {}
        for v in missed:
            by_reason.setdefault(explanation(v), []).append(v.target)
        for reason, ids in by_reason.items():
            if len(ids) <= SHOWN_ALONE:
                lines += [f"  {target}: {reason}" for target in ids]
            else:
                lines.append(f"  {len(ids)} targets ({', '.join(ids[:2])}, ...): {reason}")
    return lines
