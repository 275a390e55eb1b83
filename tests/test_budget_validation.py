"""Every shipped method and metric declares the budget keys it reads, and `bench validate` holds a suite's budgets
to those declarations and the engine's (``steps``, ``threads``): an unknown key, a value of the wrong type and a
missing required key each end with one line and exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_hparam_validation import loader_for

from benchmark import api, budget_check, yaml_lines
from benchmark.budget import ENGINE, read
from benchmark.catalog import catalog, from_json, to_json
from benchmark.cli import main
from benchmark.hparams import REQUIRED, HParam, Int
from benchmark.schema import Suite

api.load_plugins()
METHODS = sorted(name for name, cls in api.METHODS.items() if cls.__module__.startswith("baselines."))
METRICS = sorted(name for name, m in api.METRICS.items() if m.fn.__module__.startswith("benchmark.metrics."))
PLUGINS = [("method", name) for name in METHODS] + [("metric", name) for name in METRICS]
# the method a metric's suite trains: one that reads no budget key of its own and needs no hyper-parameter
PLAIN = "gan"
ONE_LINE = re.compile(r"^error: suites/x\.yaml:(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")
SMOKE = "      smoke: "


def declared(kind: str, name: str) -> dict[str, HParam]:
    return dict(api.METHODS[name].budget if kind == "method" else api.METRICS[name].budget)


def suite_text(kind: str, name: str, smoke: str) -> str:
    """A suite with one experiment that uses the plug-in, its smoke budget ``smoke`` (a YAML mapping's body)."""
    method = name if kind == "method" else PLAIN
    cls = api.METHODS[method]
    loader = loader_for(cls)
    required = [k for k, h in cls.hparams.items() if h.required and k not in cls.dataset_defaults.get(loader, {})]
    hparams = ", ".join(f"{k}: {_valid(cls.hparams[k])}" for k in required)
    metrics = f"[{name}]" if kind == "metric" else "[]"
    return f"""suite: x
paper: {{title: t, authors: [a]}}
datasets:
  d: {{loader: {loader}}}
methods:
  M:
    method: {method}
    hparams: {{{hparams}}}
experiments:
  e:
    methods: [M]
    datasets: [d]
    metrics: {metrics}
    budget:
{SMOKE}{{{smoke}}}
      cpu: {{steps: 1}}
      paper: {{steps: 1}}
    seeds: {{smoke: 1, cpu: 1, paper: 1}}
"""


def _valid(h: HParam) -> str:
    if h.default is not None and h.default is not REQUIRED:
        return str(h.default).lower() if isinstance(h.default, bool) else str(h.default)
    if "str" in h.kinds and h.choices:
        return str(h.choices[0])
    low = h.low if h.low is not None else 0
    return str(int(low) + 1) if "int" in h.kinds else str(float(low) + 0.5)


def _wrong_type(h: HParam) -> str:
    return "3" if h.kinds == ("str",) else "lots"


def validate(tmp_path: Path, monkeypatch, capsys, text: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    Path("suites").mkdir(exist_ok=True)
    Path("suites/x.yaml").write_text(text)
    code = main(["validate", "suites/x.yaml"])
    return code, capsys.readouterr().err.strip()


def one_line(code: int, err: str) -> re.Match:
    match = ONE_LINE.match(err)
    assert code == 2 and match and len(err.splitlines()) == 1, err
    return match


def smoke_line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(SMOKE))


def check_budgets(tmp_path: Path, text: str) -> None:
    """Only the budget check (a metric's suite need not pass the capability check for this)."""
    path = tmp_path / "x.yaml"
    path.write_text(text)
    located = yaml_lines.load(path)
    budget_check.check(Suite.model_validate(located.data), located)


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_every_declared_key_is_accepted_with_a_value_of_its_type(kind, name, tmp_path):
    keys = declared(kind, name)
    assert all(isinstance(h, HParam) and (h.required or h.problem(h.default) is None) for h in keys.values())
    given = ", ".join(["steps: 1", "threads: 1", *(f"{k}: {_valid(h)}" for k, h in keys.items())])
    check_budgets(tmp_path, suite_text(kind, name, given))


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_an_unknown_budget_key_is_one_line(kind, name, tmp_path, monkeypatch, capsys):
    text = suite_text(kind, name, "stpes: 200")
    match = one_line(*validate(tmp_path, monkeypatch, capsys, text))
    assert match["field"] == "experiments.e.budget.smoke.stpes" and int(match["line"]) == smoke_line(text)
    readable = set(declared(kind, name)) | set(api.METHODS[PLAIN].budget if kind == "metric" else ())
    assert match["msg"] == f"unknown budget key (declared: {', '.join([*ENGINE, *sorted(readable)])})"


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_a_mistyped_budget_key_is_one_line(kind, name, tmp_path, monkeypatch, capsys):
    keys = declared(kind, name)
    # a plug-in that reads no key of its own still takes the engine's, which it is held to
    who = f"{kind} {name}" if keys else "the engine"
    for key, h in (keys or {"steps": ENGINE["steps"]}).items():
        text = suite_text(kind, name, f"steps: 1, {key}: {_wrong_type(h)}" if key != "steps" else "steps: lots")
        match = one_line(*validate(tmp_path, monkeypatch, capsys, text))
        assert match["field"] == f"experiments.e.budget.smoke.{key}", match["field"]
        assert match["msg"].startswith("must be ") and match["msg"].endswith(f"(budget key of {who})"), match["msg"]


@pytest.mark.parametrize("kind,name", PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_a_missing_required_budget_key_is_one_line(kind, name, tmp_path, monkeypatch, capsys):
    required = [k for k, h in {**ENGINE, **declared(kind, name)}.items() if h.required]
    assert "steps" in required
    for key in required:
        given = ", ".join(f"{k}: 1" for k in required if k != key)
        text = suite_text(kind, name, given)
        match = one_line(*validate(tmp_path, monkeypatch, capsys, text))
        assert match["field"] == "experiments.e.budget.smoke" and int(match["line"]) == smoke_line(text)
        assert match["msg"].startswith(f"missing required budget key '{key}'"), match["msg"]


def test_the_issues_misspelt_steps_is_rejected(tmp_path, monkeypatch, capsys):
    text = (Path(__file__).parent.parent / "suites" / "gan_divergences.yaml").read_text()
    assert "      smoke: {steps: 200}\n" in text
    code, err = validate(tmp_path, monkeypatch, capsys, text.replace("smoke: {steps: 200}", "smoke: {stpes: 200}", 1))
    match = one_line(code, err)
    assert match["field"] == "experiments.optimal_discriminator.budget.smoke.stpes"
    assert match["msg"] == "unknown budget key (declared: steps, threads)"


def test_width_is_only_for_the_methods_that_read_it(tmp_path, monkeypatch, capsys):
    # the image networks of gan_cegan shrink with a budget's width; the 1-D GAN has no width to shrink
    assert "width" in api.METHODS["gan_cegan"].budget and "width" not in api.METHODS[PLAIN].budget
    check_budgets(tmp_path, suite_text("method", "gan_cegan", "steps: 1, width: 0.25"))
    match = one_line(*validate(tmp_path, monkeypatch, capsys, suite_text("method", PLAIN, "steps: 1, width: 0.25")))
    assert match["field"] == "experiments.e.budget.smoke.width" and "unknown budget key" in match["msg"]


def test_an_override_takes_the_keys_of_the_methods_it_names(tmp_path, monkeypatch, capsys):
    text = suite_text("method", "gan_cegan", "steps: 1").replace(
        "      paper: {steps: 1}\n", "      paper: {steps: 1}\n      overrides:\n        - methods: [M]\n"
                                     "          cpu: {width: 0.5}\n          source: s\n")
    check_budgets(tmp_path, text)
    plain = text.replace("method: gan_cegan", f"method: {PLAIN}")
    match = one_line(*validate(tmp_path, monkeypatch, capsys, plain))
    assert match["field"] == "experiments.e.budget.overrides[0].cpu.width" and "unknown budget key" in match["msg"]


def test_a_budget_shared_by_anchor_takes_the_keys_of_every_experiment_sharing_it(tmp_path, monkeypatch, capsys):
    # the alpha-GAN suite shares its budgets between experiments whose metrics differ: a key one of them reads
    # is not a mistake in the other's copy of the same budget (a budget of its own would change every identity)
    text = suite_text("metric", "latent_statistics", "steps: 1, latent_codes: 10")
    shared = text.replace("    budget:\n", "    budget: &shared\n") + (
        "  f:\n    methods: [M]\n    datasets: [d]\n    budget: *shared\n    seeds: {smoke: 1, cpu: 1, paper: 1}\n")
    check_budgets(tmp_path, shared)
    own = shared.replace("    budget: *shared\n", "    budget:\n      smoke: {steps: 1, latent_codes: 10}\n"
                                                   "      cpu: {steps: 1}\n      paper: {steps: 1}\n")
    with pytest.raises(Exception, match=r"experiments\.f\.budget\.smoke\.latent_codes: unknown budget key"):
        check_budgets(tmp_path, own)


def test_readers_get_the_declared_defaults_and_only_declared_keys():
    declared_keys = {"pairs": Int(1000, low=1), "top": Int(None, low=1), "steps": ENGINE["steps"]}
    assert read(declared_keys, {"pairs": 8, "other": 3}) == {"pairs": 8, "top": None}
    assert read(declared_keys, {"steps": 5}) == {"pairs": 1000, "top": None, "steps": 5}


def test_the_cached_catalog_keeps_the_budget_declarations():
    cat = catalog()
    again = from_json(to_json(cat))
    assert {n: m.budget for n, m in again.methods.items()} == {n: m.budget for n, m in cat.methods.items()}
    assert {n: m.budget for n, m in again.metrics.items()} == {n: m.budget for n, m in cat.metrics.items()}
    assert again.metrics["energy_ranking"].budget["rank_permutations"].default == 10_000


def test_a_plugin_cannot_redeclare_the_engines_keys():
    with pytest.raises(ValueError, match="the engine's"):
        type("Greedy", (api.Method,), {"budget": {"steps": Int(5)}})


def test_a_sweep_over_a_key_the_budget_replaces_is_one_line(tmp_path, monkeypatch, capsys):
    # gan_cegan's budget batch_size replaces the hyper-parameter: swept, every grid point would train the budget's
    assert api.METHODS["gan_cegan"].budget["batch_size"].replaces == "batch_size"
    swept = suite_text("method", "gan_cegan", "steps: 1").replace(
        "    metrics: []\n", "    metrics: [kl_grid]\n"
                          "    objective: {measurement: kl.pgen_pdata, direction: minimize}\n"
                          "    sweep:\n      batch_size: {grid: [32, 64]}\n")
    assert validate(tmp_path, monkeypatch, capsys, swept) == (0, "")  # no budget sets it: the sweep trains its values
    check_budgets(tmp_path, swept.replace("smoke: {steps: 1}", "smoke: {steps: 1, batch_size: null}"))
    text = swept.replace("cpu: {steps: 1}", "cpu: {steps: 1, batch_size: 16}")
    match = one_line(*validate(tmp_path, monkeypatch, capsys, text))
    sweep_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("      batch_size: {grid"))
    assert match["field"] == "experiments.e.sweep.batch_size" and int(match["line"]) == sweep_line
    assert match["msg"] == ("swept, but the cpu budget's 'batch_size' (16) replaces it for method M on dataset d: "
                            "every grid point would train that one value")
    # an override that sets it for the method does the same
    override = swept.replace("      paper: {steps: 1}\n", "      paper: {steps: 1}\n      overrides:\n"
                                                         "        - methods: [M]\n          paper: {batch_size: 8}\n"
                                                         "          source: s\n")
    match = one_line(*validate(tmp_path, monkeypatch, capsys, override))
    assert match["field"] == "experiments.e.sweep.batch_size" and "the paper budget's 'batch_size' (8)" in match["msg"]
