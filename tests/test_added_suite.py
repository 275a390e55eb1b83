"""Adding a paper adds a suite file and nothing else: a shipped suite copied under another name into a suites
folder beside the shipped ones validates, trains and resumes as its own paper (its runs apart from the
original's), and the leaderboard shows it with every other paper. Nothing here names the shipped suites but the
one it copies."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from conftest import REPO

from benchmark.cli import main
from benchmark.tracking import Tracker, default_tracking_uri

COPIED = "gan_divergences"  # the cheapest shipped suite at smoke
ADDED = "gan_divergences_added"
ONLY = "section3.1.2/pair_same/GAN-D/dstar.mae"


def _run(capsys) -> tuple[int, int]:
    capsys.readouterr()
    assert main(["run", f"suites/{ADDED}.yaml", "--profile", "smoke", "--no-progress", "--only", ONLY]) == 0
    trained, reused = re.search(r"trained (\d+) runs, reused (\d+)", capsys.readouterr().err).groups()
    return int(trained), int(reused)


def test_a_copy_of_a_shipped_suite_under_another_name_is_a_paper_of_its_own(bench_home, capsys):
    shutil.copytree(REPO / "suites", Path("suites"))
    text = (REPO / "suites" / f"{COPIED}.yaml").read_text()
    assert re.search(rf"^suite: {COPIED}\b", text, re.M)
    Path(f"suites/{ADDED}.yaml").write_text(re.sub(rf"^suite: {COPIED}\b", f"suite: {ADDED}", text, flags=re.M))
    every = {p.stem for p in Path("suites").glob("*.yaml")}
    assert ADDED in every and len(every) == len(list((REPO / "suites").glob("*.yaml"))) + 1

    assert main(["validate", *sorted(f"suites/{name}.yaml" for name in every)]) == 0
    assert capsys.readouterr().out.count(": ok (") == len(every)

    trained, _ = _run(capsys)  # (the chosen setting's first seed is the trial's run, reused at once)
    assert trained > 0
    tracker = Tracker(default_tracking_uri())
    added_runs = [r for r in tracker.runs(ADDED) if r.tags.get("bench.kind") == "run"]
    assert len(added_runs) == trained and all(r.tags["suite"] == ADDED for r in added_runs)
    assert not tracker.runs(COPIED)  # the original paper has trained nothing

    # identity: the same command again finds its jobs complete and trains nothing
    assert _run(capsys) == (0, 0)
    assert len([r for r in tracker.runs(ADDED) if r.tags.get("bench.kind") == "run"]) == trained

    # the leaderboard: the added paper with its verdict, every other paper kept as not run
    mine = Path(".bench/leaderboard")
    data = json.loads((mine / "results.json").read_text())
    assert {s["suite"] for s in data["suites"]} == every
    (added,) = [s for s in data["suites"] if s["suite"] == ADDED]
    (verdict,) = [t for t in added["targets"] if t["target"] == ONLY]
    assert verdict["n"] >= 1 and not verdict["verdict"].startswith("not run"), verdict
    others = [t for s in data["suites"] if s["suite"] != ADDED for t in s["targets"]]
    assert others and all(t["verdict"].startswith("not run") for t in others)
    readme = (mine / "README.md").read_text()
    assert all(name in readme for name in every)
    html = (mine / "index.html").read_text()
    assert all(f'data-suite="{name}"' in html for name in every)
