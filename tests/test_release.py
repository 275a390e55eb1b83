"""The reference release (benchmark/release.py): the committed leaderboard/ is written only by
`bench leaderboard --release`, from a store holding every suite, and stamped; a user's leaderboard goes elsewhere."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import REPO
from test_leaderboard import NoStore, calibrating, entropic

from benchmark import leaderboard, release
from benchmark.errors import UserError
from benchmark.numerics import provenance
from benchmark.tracking import CHILD, SUPERSEDED_TAG


@dataclass
class Run:
    tags: dict[str, str]
    status: str = "FINISHED"
    measurements: dict[str, float] = field(default_factory=dict)
    end_time: int | None = None


class TaggedStore(NoStore):
    """A tracker whose runs carry provenance tags: two machines, one run older than the processor tags, one
    superseded run (left out) and one parent (left out)."""

    def runs(self, suite: str, filter_string: str = "") -> list[Run]:
        child = {"bench.kind": CHILD, "git_commit": "abcdef1234", "torch_version": "2.14.1", "device": "cpu"}
        return [Run({**child, "cpu_model": "Xeon A", "cpu_capability": "AVX512"}),
                Run({**child, "cpu_model": "Xeon A", "cpu_capability": "AVX512"}),
                Run({**child, "cpu_model": "EPYC B", "cpu_capability": "AVX2"}),
                Run(child),
                Run({**child, "cpu_model": "gone", SUPERSEDED_TAG: "1"}),
                Run({"bench.kind": "job", "cpu_model": "parent"})]


def test_a_users_leaderboard_goes_beside_their_store(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "store"))
    assert release.output_dir(None, False, "--out") == tmp_path / "store" / "leaderboard"
    assert release.output_dir(str(tmp_path / "mine"), False, "--out") == tmp_path / "mine"


def test_the_reference_folder_is_refused_without_release():
    with pytest.raises(UserError, match="is the project's reference release") as err:
        release.output_dir(str(REPO / "leaderboard"), False, "--leaderboard")
    assert str(err.value).startswith("--leaderboard: ")  # the command prints it after "error: "


def test_a_stamped_release_states_where_its_runs_came_from_and_is_protected(tmp_path):
    results = [entropic(), calibrating()]
    stamp = release.stamp(results, TaggedStore())
    trained = stamp["papers"]["calibrating_ebgan"]["trained_on"]
    assert trained["cpu_model"] == {"Xeon A": 2, "EPYC B": 1, "not recorded": 1}
    assert trained["cpu_capability"] == {"AVX512": 2, "AVX2": 1, "not recorded": 1}
    assert trained["git_commit"] == {"abcdef1234": 4}
    assert stamp["commit"] and stamp["rendered_on"]["cpu_capability"]
    out = tmp_path / "release"
    leaderboard.write(results, out, NoStore(), release=stamp)
    assert json.loads((out / "results.json").read_text())["release"] == json.loads(json.dumps(stamp))
    sentence = release.summary(stamp)
    assert "runs trained at commits abcdef1" in sentence
    assert "Xeon A (4 runs), EPYC B (2 runs); processor not recorded for 2 runs" in sentence
    readme = " ".join((out / "README.md").read_text().split())
    assert sentence in readme
    assert "Reference release, rendered at commit" in (out / "index.html").read_text()
    # once stamped, a folder is the reference wherever it lies
    assert release.is_reference(out)
    with pytest.raises(UserError, match="reference release"):
        release.output_dir(str(out), False, "--out")
    # a user's own leaderboard says it is not the reference
    mine = tmp_path / "mine"
    leaderboard.write(results, mine, NoStore())
    assert "release" not in json.loads((mine / "results.json").read_text())
    assert not release.is_reference(mine)
    assert "Your own leaderboard" in (mine / "README.md").read_text()


def test_a_release_needs_every_suite_in_the_store():
    empty = entropic()
    empty.runs_total = 0
    full = calibrating()
    full.runs_total = 12
    release.require_every_suite([full])
    with pytest.raises(UserError, match="holds no runs of entropic_gan_vae"):
        release.require_every_suite([full, empty])


def test_every_run_records_its_processor():
    tags = provenance("cpu")
    assert tags["cpu_model"] and tags["cpu_model"] != "unknown"
    assert tags["cpu_capability"] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "VSX", "NEON", "SVE256", "SVE")


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "results.json").read_bytes()).hexdigest()


def bench(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "BENCH_HOME": str(home)}, timeout=300)


def test_commands_never_overwrite_the_reference(tmp_path):
    before = _digest(REPO / "leaderboard")
    suite = str(REPO / "suites" / "gan_divergences.yaml")
    proc = bench("run", suite, "--profile", "smoke", "--leaderboard", str(REPO / "leaderboard"), cwd=tmp_path,
                 home=tmp_path / "store")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --leaderboard: ")
    assert not (tmp_path / "store" / "mlflow.db").exists()  # refused before anything trained
    # a release from a store that lacks suites is refused before anything is written
    proc = bench("leaderboard", "--release", cwd=REPO, home=tmp_path / "empty")
    assert proc.returncode == 2, proc.stderr
    assert "holds no runs of" in proc.stderr
    assert _digest(REPO / "leaderboard") == before


def test_every_verdict_says_what_its_runs_were_trained_with(tmp_path):
    from benchmark.tracking import RunRecord, provenance_of

    tags = {"git_commit": "abcdef1234", "torch_version": "2.14.1", "device": "cpu", "cpu_model": "Xeon A",
            "cpu_capability": "AVX512"}
    runs = [RunRecord("1", "FINISHED", tags, {}, {}, end_time=1_764_806_400_000),
            RunRecord("2", "FINISHED", {**tags, "cpu_model": "EPYC B"}, {}, {}, end_time=1_764_810_000_000)]
    got = provenance_of(runs)
    assert got["cpu_model"] == {"Xeon A": 1, "EPYC B": 1} and got["git_commit"] == {"abcdef1234": 2}
    assert got["gpu"] == {"not recorded": 2} and got["finished"] == "2025-12-04 01:00 UTC"
    results = [calibrating()]
    for v in results[0].verdicts:
        v.provenance = got
    from benchmark import report_model

    view = report_model.build(results[0], tmp_path, [], {}, None)
    assert view.provenance == ("Runs trained at commit abcdef1 with torch 2.14.1; device cpu; processor EPYC B, "
                               "Xeon A (AVX512); last run finished 2025-12-04 01:00 UTC.")


def test_a_run_from_an_edited_checkout_says_so(tmp_path):
    """git_uncommitted counts the tracked files that differ from the commit: 0 on a clean clone, 1 after an edit;
    the paper's provenance line then says how many verdicts read such runs."""
    from benchmark import report_model
    from benchmark.tracking import RunRecord, git_uncommitted, provenance_of

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    assert git_uncommitted(clone) == "0"
    suite = clone / "suites" / "gan_divergences.yaml"
    suite.write_text(suite.read_text() + "\n")
    (clone / "an_untracked_note.txt").write_text("not code bench runs\n")
    assert git_uncommitted(clone) == "1"
    assert git_uncommitted(tmp_path / "no_checkout_here") == "unknown"

    tags = {"git_commit": "abcdef1234", "torch_version": "2.14.1", "device": "cpu", "cpu_model": "Xeon A",
            "cpu_capability": "AVX512"}
    edited = provenance_of([RunRecord("1", "FINISHED", {**tags, "git_uncommitted": "1"}, {}, {})])
    clean = provenance_of([RunRecord("2", "FINISHED", {**tags, "git_uncommitted": "0"}, {}, {})])
    result = calibrating()
    for i, v in enumerate(result.verdicts):
        v.provenance = edited if i < 2 else clean
    view = report_model.build(result, tmp_path, [], {}, None)
    assert "Runs trained at commit abcdef1 (2 verdicts read runs trained with uncommitted changes to it)" in \
        view.provenance
