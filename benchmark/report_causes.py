"""Targets without a result, grouped by cause: each cause stated once, with what it needs and the command that
would run its targets (``bench run <suite> --only '<glob>' ...``)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from benchmark.check import Verdict
from benchmark.report_outcomes import FAILED, NOT_RUN, outcome, reason

# how a reason says what it lacks; the engine's words (errors.DatasetMissing, runner._not_run_reason)
NEEDS_DATA = re.compile(r"needs dataset|<data dir>|data directory|--data-dir|BENCH_DATA", re.IGNORECASE)
NEEDS_GPU = re.compile(r"\b(GPU|CUDA)\b")
DATA_PLACEHOLDER = "DATA"  # what the command passes as --data-dir, and what the file list is relative to


@dataclass
class Cause:
    key: str  # anchor-safe, unique within a paper
    text: str  # the reason, as the engine states it
    headline: str  # its first clause ("needs dataset mnist")
    details: str  # the rest (the files, how to provide them)
    files: list[str]  # the exact files it names, "<data dir>" written as DATA
    kind: str  # not run | failed
    verdicts: list[Verdict] = field(default_factory=list)
    globs: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)  # argv of the command that would run them

    @property
    def hint(self) -> str:
        """The details without the paths ``files`` lists: how to provide them ("set --data-dir or BENCH_DATA")."""
        if not self.files:
            return self.details
        kept = [w for w in self.details.replace("<data dir>", DATA_PLACEHOLDER).split()
                if "/" not in w or "://" in w or w.startswith("-")]
        return " ".join(kept)

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[-1])

    @property
    def command_text(self) -> str:
        return " ".join(shlex.quote(a) if a != "bench" else a for a in self.command)

    @property
    def needs(self) -> str:
        if NEEDS_GPU.search(self.text):
            return "hardware"
        if NEEDS_DATA.search(self.text):
            return "files"
        return ""


def group(verdicts: list[Verdict], suite_path: str, every_id: list[str], profile: str | None) -> list[Cause]:
    """One Cause per distinct reason, largest first; each lists its targets and the command that runs them."""
    causes: dict[str, Cause] = {}
    for v in verdicts:
        o = outcome(v)
        if o not in (NOT_RUN, FAILED):
            continue
        text = reason(v)
        if text not in causes:
            headline, details = _split(text)
            causes[text] = Cause(key="", text=text, headline=headline, details=details, files=files_named(text),
                                 kind=o)
        causes[text].verdicts.append(v)
    ordered = sorted(causes.values(), key=lambda c: (-len(c.verdicts), c.text))
    for i, cause in enumerate(ordered, start=1):
        cause.key = f"cause-{i}"
        cause.globs = cover([v.target for v in cause.verdicts], every_id)
        cause.command = command(suite_path, cause, profile)
    return ordered


def command(suite_path: str, cause: Cause, profile: str | None) -> list[str]:
    argv = ["bench", "run", suite_path]
    if profile:
        argv += ["--profile", profile]
    if NEEDS_DATA.search(cause.text):
        argv += ["--data-dir", DATA_PLACEHOLDER]
    if NEEDS_GPU.search(cause.text):
        argv += ["--device", "cuda"]
    for pattern in cause.globs:
        argv += ["--only", pattern]
    return argv


def cover(wanted: list[str], every: list[str]) -> list[str]:
    """The fewest id globs, segment by segment, that select exactly ``wanted`` out of ``every``."""
    want = set(wanted)
    out: list[str] = []

    def visit(ids: list[str], depth: int) -> None:
        parts = ids[0].split("/")[:depth]
        pattern = "/".join(parts + ["*"])
        if depth and {i for i in every if fnmatchcase(i, pattern)} <= want:
            out.append(pattern)
            return
        buckets: dict[str, list[str]] = {}
        for i in ids:
            segments = i.split("/")
            buckets.setdefault(segments[depth] if len(segments) > depth + 1 else "\0" + i, []).append(i)
        for key, members in buckets.items():
            if key.startswith("\0") or len(members) == 1:
                out.extend(members)
            else:
                visit(members, depth + 1)

    if want:
        visit(sorted(want), 0)
    return out


def _split(text: str) -> tuple[str, str]:
    head, sep, rest = text.partition(": ")
    if sep and len(head) <= 80:
        return head, rest
    return text, ""


def files_named(text: str) -> list[str]:
    """The file paths a reason names, brace lists expanded: ``<data dir>/a/{x,y}`` -> DATA/a/x, DATA/a/y."""
    text = text.replace("<data dir>", DATA_PLACEHOLDER)
    found: list[str] = []
    for token in text.split():
        token = token.strip(",;:()'\"`")
        if "/" not in token or "://" in token or token.startswith("-"):
            continue
        m = re.fullmatch(r"([^{}]*)\{([^{}]+)\}([^{}]*)", token)
        expanded = [m.group(1) + x + m.group(3) for x in m.group(2).split(",")] if m else [token]
        found += [f for f in expanded if f not in found]
    return found
