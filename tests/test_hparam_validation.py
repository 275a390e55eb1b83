"""Every shipped method declares its hyper-parameters, and `bench validate` holds a suite to them: an unknown
key, a value of the wrong type and a value outside a choice list each end with one line and exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmark import api, contracts
from benchmark.cli import main
from benchmark.hparams import HParam

api.load_plugins()
SHIPPED = sorted(name for name, cls in api.METHODS.items() if cls.__module__.startswith("baselines."))
ONE_LINE = re.compile(r"^error: suites/x\.yaml:(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")


def loader_for(cls) -> str:
    """A dataset the method can be paired with: the first it has defaults for, else the first (in a fixed order,
    files-free loaders first) that offers what it needs under its default hyper-parameters."""
    if cls.dataset_defaults:
        return next(iter(cls.dataset_defaults))
    defaults = {k: h.default for k, h in cls.hparams.items()}
    order = ("cegan_gmm4", "gaussian_pair_1d", "color_digits", "sklearn_digits", *sorted(api.DATASETS))
    offers = {name: [contracts.parse(o).name for o in api.DATASETS[name].offers] for name in order}
    return next(name for name in order if not contracts.unmet_needs(cls, defaults, offers[name]))


def suite_text(method: str, hparams: str) -> str:
    cls = api.METHODS[method]
    loader = loader_for(cls)
    required = {k: h for k, h in cls.hparams.items() if h.required and k not in cls.dataset_defaults.get(loader, {})}
    given = ", ".join(f"{k}: {_valid(h)}" for k, h in required.items())
    experiment_hparams = f"\n    hparams: {{{given}}}" if given else ""
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
    datasets: [d]{experiment_hparams}
    budget: {{smoke: {{steps: 1}}, cpu: {{steps: 1}}, paper: {{steps: 1}}}}
    seeds: {{smoke: 1, cpu: 1, paper: 1}}
"""


def _valid(h: HParam) -> str:
    if "str" in h.kinds and h.choices:
        return str(h.choices[0])
    if "bool" in h.kinds:
        return "true"
    low = h.low if h.low is not None else 0
    return str(int(low) + 1) if "int" in h.kinds else str(float(low) + 0.5)


def _wrong_type(h: HParam) -> str:
    if h.kinds == ("int",):
        return "1.5"
    if "float" in h.kinds or "int" in h.kinds:
        return "fast"
    if h.kinds == ("bool",):
        return "sometimes"
    return "3"


def validate(tmp_path: Path, monkeypatch, capsys, text: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    Path("suites").mkdir(exist_ok=True)
    Path("suites/x.yaml").write_text(text)
    code = main(["validate", "suites/x.yaml"])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("method", SHIPPED)
def test_every_shipped_method_declares_its_hparams(method):
    cls = api.METHODS[method]
    assert cls.hparams, f"{method} declares no hyper-parameters"
    assert all(isinstance(h, HParam) for h in cls.hparams.values())
    for name, h in cls.hparams.items():
        if not h.required:
            assert h.problem(h.default) is None, f"{method}.{name}: its own default {h.default!r} is not allowed"


@pytest.mark.parametrize("method", SHIPPED)
def test_a_suite_using_each_method_validates(method, tmp_path, monkeypatch, capsys):
    code, err = validate(tmp_path, monkeypatch, capsys, suite_text(method, ""))
    assert code == 0, err


@pytest.mark.parametrize("method", SHIPPED)
def test_unknown_key_is_one_line(method, tmp_path, monkeypatch, capsys):
    text = suite_text(method, "learning_rat: 0.001")
    code, err = validate(tmp_path, monkeypatch, capsys, text)
    match = ONE_LINE.match(err)
    assert code == 2 and match and len(err.splitlines()) == 1, err
    assert match["field"] == "methods.M.hparams.learning_rat" and "unknown hyper-parameter" in match["msg"]
    assert int(match["line"]) == text.splitlines().index("    hparams: {learning_rat: 0.001}") + 1


@pytest.mark.parametrize("method", SHIPPED)
def test_wrong_type_is_one_line(method, tmp_path, monkeypatch, capsys):
    name, h = next((k, h) for k, h in sorted(api.METHODS[method].hparams.items()) if not h.nullable)
    code, err = validate(tmp_path, monkeypatch, capsys, suite_text(method, f"{name}: {_wrong_type(h)}"))
    match = ONE_LINE.match(err)
    assert code == 2 and match, err
    assert match["field"] == f"methods.M.hparams.{name}" and "must be" in match["msg"], err


@pytest.mark.parametrize("method", SHIPPED)
def test_value_outside_a_choice_list_is_one_line(method, tmp_path, monkeypatch, capsys):
    choices = [(k, h) for k, h in sorted(api.METHODS[method].hparams.items()) if h.choices]
    if not choices:  # then a bounded number stands for the allowed values
        name, h = next((k, h) for k, h in sorted(api.METHODS[method].hparams.items()) if h.low is not None)
        value, words = str(h.low - 1), "must be at least"
    else:
        name, h = choices[0]
        value, words = "nonsaturating", "must be one of"
    code, err = validate(tmp_path, monkeypatch, capsys, suite_text(method, f"{name}: {value}"))
    match = ONE_LINE.match(err)
    assert code == 2 and match, err
    assert match["field"] == f"methods.M.hparams.{name}" and words in match["msg"], err


def test_the_issues_misspelt_generator_loss_is_rejected(tmp_path, monkeypatch, capsys):
    text = (Path(__file__).parent.parent / "suites" / "gan_divergences.yaml").read_text()
    assert "generator_loss: non_saturating" in text
    code, err = validate(tmp_path, monkeypatch, capsys, text.replace("generator_loss: non_saturating",
                                                                     "generator_loss: nonsaturating", 1))
    match = ONE_LINE.match(err)
    assert code == 2 and match, err
    assert match["field"] == "methods.GAN.hparams.generator_loss"
    assert "must be one of non_saturating, saturating, not 'nonsaturating'" in match["msg"]


def test_experiment_hparams_go_to_the_methods_that_declare_them(tmp_path, monkeypatch, capsys):
    text = suite_text("gan_cegan", "")
    # lbound is declared by the EGANs, not by the GAN: an experiment with only the GAN must not accept it
    code, err = validate(tmp_path, monkeypatch, capsys, text.replace("    datasets: [d]", "    datasets: [d]\n"
                                                                     "    hparams: {lbound: -1.0}"))
    assert code == 2 and "experiments.e.hparams.lbound: unknown hyper-parameter" in err, err


def test_a_required_hparam_without_a_value_is_one_line(tmp_path, monkeypatch, capsys):
    # the EGANs' per-dataset settings have no default: a dataset the original code has no state for needs them
    text = suite_text("egan_const", "").replace("loader: cegan_gmm4", "loader: ring_mixture_2d")
    code, err = validate(tmp_path, monkeypatch, capsys, text)
    match = ONE_LINE.match(err)
    assert code == 2 and match, err
    assert match["field"] == "experiments.e.methods[0]" and "needs hyper-parameters" in match["msg"]
    assert "lbound" in match["msg"] and "init_d" in match["msg"]
