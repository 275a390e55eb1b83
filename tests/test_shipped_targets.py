"""The shipped suites' targets as the engine expands them, compared with golden files written before their
tables were rewritten in the table shorthand: a rewrite that changes an id, a published number, a spread, a
check, a role or a claim changes verdicts, and shows here.

After a deliberate change to a suite's targets, regenerate the files with ``python tests/test_shipped_targets.py``
and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO  # noqa: E402

from benchmark.suite import load_suite  # noqa: E402

GOLDEN = REPO / "tests" / "golden"
SHIPPED = sorted((REPO / "suites").glob("*.yaml"))


def expanded(path: Path) -> list[dict]:
    """Every target of the suite at ``path`` as plain data, in expansion order."""
    out = []
    for t in load_suite(path).all_targets:
        out.append({
            "id": t.id, "paper_ref": t.paper_ref, "kind": t.kind, "experiment": t.experiment,
            "measurement": t.measurement, "published": t.published, "published_std": t.published_std,
            "published_n": t.published_n, "check": t.check.model_dump() if t.check is not None else None,
            "claim": t.claim.model_dump() if t.claim is not None else None,
            "statistic": t.statistic.model_dump() if t.statistic is not None else None,
            "refs": [str(r) for r in t.refs], "role": t.role, "calibrates": t.calibrates, "note": t.note,
            "statement": t.statement, "source": t.source,
        })
    return out


def golden_path(suite: Path) -> Path:
    return GOLDEN / f"targets_{suite.stem}.json"


@pytest.mark.parametrize("suite", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_expanded_targets_match_the_golden_file(suite):
    if not golden_path(suite).exists():
        # a suite shipped without its expanded targets pinned: the entry point below writes the file, committed
        # with the suite (a skip here would leave the new suite's expansion unchecked for good)
        pytest.fail(f"no {golden_path(suite).name}: python tests/test_shipped_targets.py writes it; commit it with "
                    "the suite")
    golden = {t["id"]: t for t in json.loads(golden_path(suite).read_text())}
    current = {t["id"]: t for t in expanded(suite)}
    assert sorted(current) == sorted(golden), "target ids changed"
    for target_id, target in current.items():
        assert target == golden[target_id], target_id


def test_every_golden_file_has_its_suite():
    # a renamed or removed suite would leave its golden file comparing nothing
    assert {p.name for p in GOLDEN.glob("targets_*.json")} <= {golden_path(s).name for s in SHIPPED}


if __name__ == "__main__":
    for suite in SHIPPED:
        # one target a line: a deliberate change shows as a readable diff
        lines = ",\n".join(json.dumps(t, ensure_ascii=False) for t in expanded(suite))
        golden_path(suite).write_text(f"[\n{lines}\n]\n")
        print(f"wrote {golden_path(suite).relative_to(REPO)}")
