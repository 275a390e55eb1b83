"""Where a leaderboard goes, and what makes one the project's reference release.

The ``leaderboard/`` committed in the repository is the reference: the results the project publishes, rendered
from one store that holds every shipped suite's runs. Only ``bench leaderboard --release`` writes it, and stamps
it (``results.json``'s ``release``): the commit that rendered it, when, the profiles behind each paper, and the
commits, versions and machines its runs were trained on, read from the runs' own tags. Everything else a user
renders (``bench run``, a plain ``bench leaderboard``) goes to ``$BENCH_HOME/leaderboard/`` or ``--leaderboard
DIR``, so a user's first run never replaces the reference it is meant to be compared with.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import UserError
from benchmark.tracking import CHILD, SUPERSEDED_TAG, bench_home, provenance_of

if TYPE_CHECKING:
    from benchmark.results import SuiteResults
    from benchmark.tracking import Tracker

STAMP = "release"  # the key of results.json that marks a folder as the reference release
REPOSITORY = Path(__file__).resolve().parents[1]  # a checkout of bench (an editable install runs from it)
REFERENCE_DIR = REPOSITORY / "leaderboard"  # the committed release


def user_dir() -> Path:
    """A user's own leaderboard: beside the store it was rendered from."""
    return bench_home() / "leaderboard"


def is_reference(folder: Path) -> bool:
    """Whether ``folder`` is the repository's reference leaderboard, or any folder holding a stamped release."""
    if folder.resolve() == REFERENCE_DIR.resolve() and (REPOSITORY / "suites").is_dir():
        return True
    try:
        return STAMP in json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return False


def output_dir(requested: str | None, release: bool, field: str) -> Path:
    """The folder to render into: the reference with ``release``, else ``requested`` or the user's own; the
    reference release is written only with ``release``."""
    if release:
        if not (REPOSITORY / "suites").is_dir():
            raise UserError(f"a release is written into a checkout of bench; {REPOSITORY} is not one", field=field)
        if requested and Path(requested).resolve() != REFERENCE_DIR:
            raise UserError(f"a release is written to {REFERENCE_DIR}/, not {requested}", field=field)
        if Path.cwd().resolve() != REPOSITORY:
            raise UserError(f"a release renders every suite of the repository: run it in {REPOSITORY}", field=field)
        return REFERENCE_DIR
    out = Path(requested) if requested else user_dir()
    if is_reference(out):
        raise UserError(f"{out}/ is the project's reference release; render your own elsewhere (the default is "
                        f"{user_dir()}/) or regenerate the reference with `bench leaderboard --release`", field=field)
    return out


def require_every_suite(results: list[SuiteResults]) -> None:
    """A release is rendered from one store holding every suite: refuse a store where a paper has no runs."""
    empty = [r.suite.suite for r in results if not r.runs_total]
    if empty:
        raise UserError(f"the store holds no runs of {', '.join(empty)}: a release is rendered from one store that "
                        "holds every suite's runs", field="--release")


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def trained_on(tracker: Tracker, suite: str) -> dict[str, Any]:
    """The provenance (``tracking.provenance_of``) of every current finished run of the suite."""
    return provenance_of([r for r in tracker.runs(suite) if r.tags.get("bench.kind") == CHILD
                          and r.status == "FINISHED" and r.tags.get(SUPERSEDED_TAG) != "1"])


def stamp(results: list[SuiteResults], tracker: Tracker) -> dict[str, Any]:
    """The release's provenance: what rendered it and what its runs were trained with, paper by paper."""
    from benchmark import __version__, report_outcomes
    from benchmark.numerics import machine

    changes = [line for line in _git("status", "--porcelain").splitlines()
               if not line[3:].startswith("leaderboard/")]
    return {
        "commit": _git("rev-parse", "HEAD") or "unknown",
        "uncommitted_changes": len(changes),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "bench_version": __version__,
        "rendered_on": machine(),
        "papers": {r.suite.suite: {"profiles": report_outcomes.profiles(r.verdicts), "runs": r.runs_total,
                                   "trained_on": trained_on(tracker, r.suite.suite)} for r in results},
    }


def summary(release: dict[str, Any]) -> str:
    """One sentence for the leaderboard's head."""
    commits, machines = Counter(), Counter()
    for paper in release["papers"].values():
        commits.update({c[:7]: n for c, n in paper["trained_on"]["git_commit"].items()})
        machines.update(paper["trained_on"]["cpu_model"])
    unrecorded = machines.pop("not recorded", 0)
    profiles = sorted({p for paper in release["papers"].values() for p in paper["profiles"]})
    dirty = f" with {release['uncommitted_changes']} uncommitted changes" if release["uncommitted_changes"] else ""
    where = ", ".join(f"{m} ({n} runs)" for m, n in machines.most_common())
    if unrecorded:
        where += ("; " if where else "") + f"processor not recorded for {unrecorded} runs"
    return (f"Reference release, rendered at commit {release['commit'][:7]}{dirty} on {release['date']} from one store "
            f"holding every paper's runs (profiles {', '.join(profiles) or 'none'}); runs trained at commits "
            f"{', '.join(commits) or 'none recorded'}; machines: {where or 'none recorded'}.")
