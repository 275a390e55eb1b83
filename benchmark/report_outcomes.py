"""What one verdict says, read the same way by every view: its outcome, role, cause and budget; and the counts.

The engine fills ``Verdict.outcome``, ``reason``, ``role`` and ``budget_fraction`` on read-back. Verdicts
written before those fields existed (or by tests) leave them empty, so each reader falls back to what the
older fields say: the outcome and the cause are parsed from ``verdict`` ("not run: needs GPU"), the role
is a reproduction, and a verdict without a budget fraction is at the paper's budget only when it ran at
the ``paper`` profile.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmark.check import CLOSE, FAILS, HOLDS, INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Verdict

NOT_RUN, FAILED = "not run", "failed"
# the order every view lists outcomes in: what agrees, what nearly does, what does not, what the evidence cannot
# decide yet, what has no answer
OUTCOMES = (REPRODUCED, CLOSE, NOT_REPRODUCED, HOLDS, FAILS, INCONCLUSIVE, NOT_RUN, FAILED)
AGREE = (REPRODUCED, HOLDS)
# plain words for headings and legends ("claim holds" reads as a sentence already)
LABELS = {REPRODUCED: "reproduced", CLOSE: "close", NOT_REPRODUCED: "not reproduced", HOLDS: "claim holds",
          FAILS: "claim fails", INCONCLUSIVE: "inconclusive", NOT_RUN: "not run", FAILED: "failed"}
# one character each, for the terminal and for Markdown, where colour is not available
MARKS = {REPRODUCED: "✅", CLOSE: "🟡", NOT_REPRODUCED: "❌", HOLDS: "✔️", FAILS: "✖️", INCONCLUSIVE: "❔",
         NOT_RUN: "⏸️", FAILED: "💥"}

# a glyph beside each coloured cell, so that the verdict does not rest on colour alone
GLYPHS = {REPRODUCED: "✓", CLOSE: "≈", NOT_REPRODUCED: "✗", HOLDS: "✓", FAILS: "✗", INCONCLUSIVE: "?", NOT_RUN: "–",
          FAILED: "!"}

REPRODUCTION, SANITY, CALIBRATION = "reproduction", "sanity", "calibration"
ROLE_WHY = {SANITY: "true by construction: checks the machinery, not the paper",
            CALIBRATION: "a constant was chosen to match it, so agreement is not evidence"}


def outcome(v: Verdict) -> str:
    """One of OUTCOMES; parsed from the verdict text where the engine left ``outcome`` empty."""
    if v.outcome:
        return v.outcome
    text = v.verdict or ""
    if text.startswith(NOT_RUN):
        return NOT_RUN
    if text.startswith(FAILED):
        return FAILED
    return text if text in OUTCOMES else NOT_RUN


def reason(v: Verdict) -> str:
    """Why a target has no result ("needs GPU"); empty for a judged target."""
    if v.reason:
        return v.reason
    if outcome(v) not in (NOT_RUN, FAILED):
        return ""
    head, _, rest = (v.verdict or "").partition(":")
    return rest.strip() if head.strip() in (NOT_RUN, FAILED) and rest.strip() else "no reason recorded"


def role(v: Verdict) -> str:
    return v.role or REPRODUCTION


def counted(v: Verdict) -> bool:
    """Only reproductions count in a score: sanity checks and calibrations are shown, not counted."""
    return role(v) == REPRODUCTION


# a target that is not counted still answers: does it hold? A sanity target is true by construction and a
# calibration was matched on purpose, so one that does not hold is a finding (about the machinery or the
# constant), shown first
HOLD, FAIL = "hold", "fail"


def role_answer(v: Verdict) -> str:
    """hold | fail | inconclusive | not run | failed: what a sanity or calibration target says."""
    o = outcome(v)
    if o in AGREE:
        return HOLD
    if o in (CLOSE, NOT_REPRODUCED, FAILS):
        return FAIL
    return o


def findings(verdicts: list[Verdict]) -> list[Verdict]:
    """The targets shown but not counted that do not hold."""
    return [v for v in verdicts if not counted(v) and role_answer(v) == FAIL]


def role_text(roles: dict[str, Counter]) -> str:
    """'15 sanity: 10 hold, 5 fail; 2 calibration: 2 fail'."""
    order = (HOLD, FAIL, INCONCLUSIVE, NOT_RUN, FAILED)
    return "; ".join(f"{sum(c.values())} {r}: " + ", ".join(f"{c[a]} {a}" for a in order if c[a])
                     for r, c in sorted(roles.items()))


def finding_text(verdicts: list[Verdict]) -> str:
    """'FINDING: 5 sanity targets do not hold (id, id, ...)', or '' where every one holds."""
    found = findings(verdicts)
    if not found:
        return ""
    by_role = Counter(role(v) for v in found)
    what = " and ".join(f"{n} {r} target{'s' if n != 1 else ''}" for r, n in sorted(by_role.items()))
    verb = "does" if len(found) == 1 else "do"
    return f"FINDING: {what} that should hold {verb} not ({', '.join(v.target for v in found)})"


def ran(v: Verdict) -> bool:
    return outcome(v) not in (NOT_RUN, FAILED)


UNSTATED = "the paper states no budget"  # how results.budget_of begins where the paper gives none


def budget_unstated(v: Verdict) -> bool:
    """Whether the paper (and its code) states no budget for the runs behind a verdict: neither at the paper's
    budget nor below it."""
    return v.budget.startswith(UNSTATED)


def at_paper_budget(v: Verdict) -> bool:
    """Whether the runs behind a verdict spent the paper's whole budget."""
    if v.budget_fraction is not None:
        return v.budget_fraction >= 1.0
    return not budget_unstated(v) and bool(v.profile) and set(v.profile.split(",")) == {"paper"}


def budget_text(verdicts: list[Verdict]) -> str:
    """The budget behind some verdicts in words: the engine's phrase when they share one, else the range of
    fractions, else the profiles."""
    judged = [v for v in verdicts if ran(v)]
    if not judged:
        return "nothing ran"
    words = {v.budget for v in judged if v.budget}
    if len(words) == 1 and all(v.budget for v in judged):
        return words.pop()
    fractions = sorted({v.budget_fraction for v in judged if v.budget_fraction is not None})
    if not fractions and all(budget_unstated(v) for v in judged):
        return f"{UNSTATED}; ours is the profile's"
    if fractions:
        low, high = _percent(fractions[0]), _percent(fractions[-1])
        text = f"{low} of the paper's budget" if low == high else f"{low}–{high} of the paper's budget"
        unknown = sum(v.budget_fraction is None for v in judged)
        return text + (f" ({unknown} with no stated budget)" if unknown else "")
    return "budget fraction not recorded"


def _percent(fraction: float) -> str:
    if fraction >= 1:
        return "100%" if fraction < 1.005 else f"{fraction:.0%}"
    return f"{fraction:.1%}" if fraction < 0.01 else f"{fraction:.0%}"


def profiles(verdicts: list[Verdict]) -> list[str]:
    """The profiles behind the judged verdicts, most used first."""
    c = Counter(p for v in verdicts if ran(v) and v.profile for p in v.profile.split(","))
    return [p for p, _ in c.most_common()]


@dataclass
class Counts:
    """The overview's numbers for one paper (or any set of verdicts)."""

    by_outcome: Counter = field(default_factory=Counter)  # reproductions only
    at_paper_budget: Counter = field(default_factory=Counter)  # reproductions that ran at the paper's budget
    reduced_budget: Counter = field(default_factory=Counter)  # reproductions that ran at a smaller one
    unstated_budget: Counter = field(default_factory=Counter)  # reproductions whose paper states no budget
    not_counted: Counter = field(default_factory=Counter)  # role -> how many (sanity, calibration)
    roles: dict = field(default_factory=dict)  # role -> Counter of role_answer (hold, fail, ...)
    total: int = 0  # every target, counted or not

    @property
    def counted(self) -> int:
        return sum(self.by_outcome.values())

    @property
    def agree(self) -> int:
        return sum(self.by_outcome[o] for o in AGREE)

    def as_dict(self) -> dict:
        return {"counted": self.counted, "by_outcome": {o: self.by_outcome[o] for o in OUTCOMES},
                "at_paper_budget": {o: self.at_paper_budget[o] for o in OUTCOMES if self.at_paper_budget[o]},
                "reduced_budget": {o: self.reduced_budget[o] for o in OUTCOMES if self.reduced_budget[o]},
                "unstated_budget": {o: self.unstated_budget[o] for o in OUTCOMES if self.unstated_budget[o]},
                "not_counted": dict(self.not_counted),
                "roles": {r: dict(c) for r, c in sorted(self.roles.items())}, "targets": self.total}


def count(verdicts: list[Verdict]) -> Counts:
    c = Counts(total=len(verdicts))
    for v in verdicts:
        if not counted(v):
            c.not_counted[role(v)] += 1
            c.roles.setdefault(role(v), Counter())[role_answer(v)] += 1
            continue
        o = outcome(v)
        c.by_outcome[o] += 1
        if ran(v):
            split = c.unstated_budget if budget_unstated(v) else (
                c.at_paper_budget if at_paper_budget(v) else c.reduced_budget)
            split[o] += 1
    return c
