"""docs/adding-a-paper.md cannot rot: its templates, loaded as plug-in files through BENCH_PLUGINS into a suite
in a folder of its own, validate, run at smoke and render a leaderboard; the guide names every key of the suite
schema and every built-in capability, and every template file it points to exists."""

from __future__ import annotations

import json
import re
import shutil
import typing
from pathlib import Path

import pydantic
import pytest
import yaml
from conftest import REPO

from benchmark import api, contracts
from benchmark.cli import main
from benchmark.schema import Suite

GUIDE = REPO / "docs" / "adding-a-paper.md"
TEMPLATES = REPO / "docs" / "templates"


def schema_keys(model: type[pydantic.BaseModel] = Suite, seen: set[type] | None = None) -> set[str]:
    """Every field name a suite file may write, walking the schema's nested models (claim and statistic types
    included, through their unions)."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        for nested in _models_in(field.annotation):
            keys |= schema_keys(nested, seen)
    return keys


def _models_in(annotation: object) -> list[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def test_the_guide_names_every_suite_key_and_every_built_in_capability():
    guide = GUIDE.read_text()
    named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", guide))
    keys = schema_keys()
    assert {"figures", "sweep_figures", "caption", "published_std", "published_n", "role"} <= keys
    assert not keys - named, f"suite keys the guide does not name: {sorted(keys - named)}"
    built_in = {name for name, (_, _, where) in contracts.capability_origins().items()
                if where.startswith("benchmark.contracts.")}
    assert "mixture" in built_in and not built_in - named, sorted(built_in - named)
    for path in set(re.findall(r"`(docs/templates/[^`]+)`", guide)) | set(re.findall(r"`(tests/[^`]+\.py)`", guide)):
        assert (REPO / path).is_file(), path


def test_the_schema_walk_finds_keys_of_nested_models():
    keys = schema_keys()
    assert {"overrides", "close_factor", "more_than", "top_by", "best_n", "integer"} <= keys  # four levels deep


@pytest.fixture()
def templates(bench_home, monkeypatch) -> Path:
    """The templates as a user would have them: the suite in a folder of its own, the plug-ins named by
    BENCH_PLUGINS (the template folder itself, so that every test process imports each file once)."""
    monkeypatch.setenv("BENCH_PLUGINS", str(TEMPLATES))
    api.load_plugins()
    Path("suites").mkdir()
    shutil.copy(TEMPLATES / "ring_suite.yaml", "suites/template_ring.yaml")
    return bench_home


def test_the_templates_validate_run_at_smoke_and_render_a_leaderboard(templates, capsys):
    assert {"template_ring", "template_gan", "template_mode_coverage"} <= {
        *api.DATASETS, *api.METHODS, *api.METRICS}
    assert main(["validate", "suites/template_ring.yaml"]) == 0
    assert "ok (7 targets, 1 experiments)" in capsys.readouterr().out
    assert main(["run", "suites/template_ring.yaml", "--profile", "smoke", "--no-progress"]) == 0
    out = Path(".bench/leaderboard")
    (paper,) = json.loads((out / "results.json").read_text())["suites"]
    assert paper["suite"] == "template_ring"
    verdicts = {t["target"]: t for t in paper["targets"]}
    assert len(verdicts) == 7
    # every target was judged from finished runs: nothing failed or was left not run
    assert all(t["n"] >= 1 and t["outcome"] not in ("failed", "not run") for t in verdicts.values()), verdicts
    sanity = verdicts["sanity/ring/data-high-quality"]
    assert sanity["role"] == "sanity" and not sanity["counted"] and sanity["outcome"] == "reproduced", sanity
    # the table's cells: '7.5 ± 0.1' with `spread: se, n: 10` is a std of 0.1·√10; each column its own check
    spread = verdicts["table1/ring/GAN/modes.captured"]
    assert spread["published_std"] == pytest.approx(0.1 * 10 ** 0.5), spread
    assert verdicts["table1/ring/GAN-minimax/modes.high_quality"]["published_std"] == pytest.approx(0.04 * 10 ** 0.5)
    assert verdicts["table1-bold/ring/modes.captured"]["kind"] == "claim"
    html = (out / "index.html").read_text()
    assert "samples of each GAN over the eight component means" in html  # the `figures:` caption
    assert list((out / "figures" / "template_ring").rglob("samples_ring*.png"))
    assert (out / "figures" / "template_ring" / "sweeps" / "table1_lr.png").is_file()


def test_the_template_suite_is_a_paper_in_under_80_lines():
    """The exercise the guide is for: a table with a check per column and cells as printed ('7.5 ± 0.1'), a
    claim, a sanity target, figures and a sweep, in fewer than 80 lines of YAML."""
    text = (TEMPLATES / "ring_suite.yaml").read_text()
    assert len(text.splitlines()) < 80
    table = yaml.safe_load(text)["tables"][0]
    assert {column: spec["check"]["rule"] for column, spec in table["columns"].items()} == {
        "modes.captured": "tolerance", "modes.high_quality": "tolerance"}
    assert table["columns"]["modes.captured"]["check"] != table["columns"]["modes.high_quality"]["check"]
    assert all("±" in str(cell) for row in table["values"]["ring"].values() for cell in row.values())


def test_a_mistake_in_the_template_suite_is_one_line(templates, capsys):
    text = Path("suites/template_ring.yaml").read_text()
    Path("suites/template_ring.yaml").write_text(text.replace("coverage_samples: 400", "coverage_sample: 400"))
    assert main(["validate", "suites/template_ring.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "experiments.ring_gan.budget.smoke.coverage_sample" in err, err
    assert "unknown budget key" in err and "coverage_samples" in err, err
