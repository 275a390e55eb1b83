"""Declared capabilities: `bench validate` refuses a metric paired with a method or a dataset that lacks what it
needs (one line, exit 2), accepts every pairing of the shipped suites, and what each plug-in declares is really
there (runtime-checkable protocols over the datasets that build offline and the models of smoke-sized runs)."""

from __future__ import annotations

import ast
import math
import re
import sys
import typing
from pathlib import Path

import pytest
import torch
from conftest import REPO

from benchmark import api, contracts, settings
from benchmark.api import RunContext
from benchmark.cli import main
from benchmark.errors import DatasetMissing
from benchmark.planner import plan
from benchmark.suite import load_suite

api.load_plugins()
ONE_LINE = re.compile(r"^error: (?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")
SUITES = sorted((REPO / "suites").glob("*.yaml"))


def _validate_edited(tmp_path: Path, monkeypatch, capsys, suite: str, old: str, new: str) -> re.Match:
    text = (REPO / "suites" / suite).read_text()
    assert old in text, f"the test's anchor {old!r} is no longer in {suite}"
    text = text.replace(old, new, 1)
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(text)
    code = main(["validate", "x.yaml"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    match = ONE_LINE.match(err)
    assert match, err
    assert int(match["line"]) == text[:text.index(new)].count("\n") + 1, err
    return match


def test_kl_grid_on_an_image_dataset_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    match = _validate_edited(tmp_path, monkeypatch, capsys, "calibrating_ebgan.yaml",
                             "    metrics: [energy_ranking]\n", "    metrics: [energy_ranking, kl_grid]\n")
    assert match["field"] == "experiments.digit_ranking.metrics[1]"
    assert "'kl_grid' needs dataset capability 'canvas'" in match["msg"]
    assert "dataset 'digits1' (loader sklearn_digits)" in match["msg"]


def test_a_metric_needing_an_encoder_is_refused_for_a_method_without_one(tmp_path, monkeypatch, capsys):
    match = _validate_edited(tmp_path, monkeypatch, capsys, "alpha_gan.yaml",
                             "    metrics: [independent_critic, classifier_score]\n",
                             "    metrics: [independent_critic, classifier_score, latent_statistics]\n")
    assert match["field"] == "experiments.colormnist_gan.metrics[2]"
    assert "'latent_statistics' needs model capability 'encoder'" in match["msg"]
    assert "method 'DCGAN' (dcgan) does not provide" in match["msg"]


def test_a_capability_that_depends_on_a_hyper_parameter_says_when_it_holds(tmp_path, monkeypatch, capsys):
    # the EBGAN models have the discriminator's image features only with an image network (hparam net)
    anchor = ("    metrics: [linear_probe]\n    hparams:  # knn_nist/exp_state.py egan_state() and "
              "knn_nist/network.py, shared by every model here\n      net: digits28 ")
    match = _validate_edited(tmp_path, monkeypatch, capsys, "calibrating_ebgan.yaml", anchor,
                             anchor.replace("net: digits28 ", "net: null     "))
    assert match["field"] == "experiments.probe_digits.metrics[0]"
    assert "needs model capability 'features'" in match["msg"] and "only when net is set" in match["msg"]


def test_a_dataset_capability_that_depends_on_its_parameters_says_when_it_holds(tmp_path, monkeypatch, capsys):
    # calibrating_ebgan trains on all of CIFAR-10's training images (n_valid 0): no validation split for a critic
    match = _validate_edited(tmp_path, monkeypatch, capsys, "calibrating_ebgan.yaml",
                             "    metrics: [inception_score, fid]\n",
                             "    metrics: [inception_score, fid, independent_critic]\n")
    assert "needs dataset capability 'validation_split'" in match["msg"]
    assert "only when n_valid!=0" in match["msg"]


def test_every_pairing_of_the_shipped_suites_is_accepted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["validate", *map(str, SUITES)]) == 0, capsys.readouterr().err


def test_every_declaration_names_a_known_capability():
    for cls in api.DATASETS.values():
        contracts.declared(cls.offers, "dataset")
    for cls in api.METHODS.values():
        contracts.declared(cls.provides, "model")
        contracts.declared_needs((*cls.needs, *cls.uses_if_offered))
    for metric in api.METRICS.values():
        contracts.declared(metric.needs_model, "model")
        contracts.declared(metric.needs_dataset, "dataset")
    with pytest.raises(ValueError, match="unknown dataset capabilities"):
        contracts.declared(("canvass",), "dataset")


def test_a_method_paired_with_a_dataset_lacking_what_it_needs_is_refused_with_one_line(tmp_path, monkeypatch,
                                                                                        capsys):
    # the GAN's MLPs read flat samples; colour digits are (C, H, W) images. Its metric needs nothing of the data,
    # so the method's own need is what refuses the pairing.
    text = (REPO / "suites" / "gan_divergences.yaml").read_text()
    edits = [("datasets:\n", "datasets:\n  colour:\n    loader: color_digits\n    source: planted\n"),
             ("    methods: [GAN]\n    datasets: [far_data]\n", "    methods: [GAN]\n    datasets: [colour]\n")]
    for old, new in edits:
        assert text.count(old) == 1, f"the test's anchor {old!r} is no longer once in gan_divergences.yaml"
        text = text.replace(old, new)
    monkeypatch.chdir(tmp_path)
    Path("x.yaml").write_text(text)
    assert main(["validate", "x.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    match = ONE_LINE.match(err)
    assert match and len(err.splitlines()) == 1, err
    assert int(match["line"]) == text[:text.index("    methods: [GAN]\n    datasets: [colour]")].count("\n") + 1
    assert match["field"] == "experiments.saturation.methods[0]"
    assert "method 'GAN' (gan) needs dataset capability 'flat_samples'" in match["msg"]
    assert "dataset 'colour' (loader color_digits) does not offer (it has: " in match["msg"]


def test_a_method_need_holds_under_its_conditions_and_any_alternative_meets_it():
    egan = api.METHODS["egan_const"]  # 2-D points: their training set; an image network: that or the image splits
    assert contracts.method_needs(egan, {"net": None}) == [("train_set",)]
    assert contracts.method_needs(egan, {"net": "cifar32"}) == [("train_set", "image_splits")]
    assert contracts.unmet_needs(egan, {"net": "cifar32"}, {"samples", "image_splits"}) == []
    assert contracts.unmet_needs(egan, {"net": None}, {"samples", "image_splits"}) == [("train_set",)]
    assert contracts.unmet_needs(egan, {"net": "digits28"}, {"samples", "images"}) == [("train_set", "image_splits")]
    with pytest.raises(ValueError, match="unknown dataset capabilities"):
        contracts.declared_needs(("train_set or image_split if net",))


def test_conditions_read_like_yaml_scalars():
    d = contracts.parse("features if net and loss=squared and n_valid!=0 and net2=null")
    assert d.name == "features"
    assert d.holds({"net": "digits28", "loss": "squared", "n_valid": 5, "net2": None})
    assert not d.holds({"net": None, "loss": "squared", "n_valid": 5, "net2": None})
    assert not d.holds({"net": "x", "loss": "squared", "n_valid": 0.0, "net2": None})
    assert contracts.resolve(("sampler", "encoder if encoder=true"), {"encoder": False}, "model") == {"sampler"}


# ------------------------------------------------------------------------ declarations are true


def _datasets_of_the_suites() -> list[tuple[str, dict]]:
    seen: list[tuple[str, dict]] = [(name, {}) for name in sorted(api.DATASETS)]
    for path in SUITES:
        for spec in load_suite(path).datasets.values():
            if (spec.loader, dict(spec.params)) not in seen:
                seen.append((spec.loader, dict(spec.params)))
    return seen


@pytest.fixture(scope="module")
def plugin_files(tmp_path_factory) -> Path:
    """The file the engine tests' plug-in dataset ``test_needs_file`` reads (tests/engine_plugins.py), kept apart
    from the shared stand-ins, where the engine tests rely on its absence."""
    root = tmp_path_factory.mktemp("plugin_files")
    (root / "fixture").mkdir()
    (root / "fixture" / "data.txt").write_text("present\n")
    return root


def _load(loader: str, params: dict, stand_ins: Path, plugin_files: Path):
    """The dataset from the embedded data, or, when it reads files, from the stand-ins of those files (the shipped
    datasets) or the test plug-ins' own files; a dataset none of them can build is a gap in the stand-ins."""
    for data_dir in (None, stand_ins, plugin_files):
        try:
            return api.DATASETS[loader](data_dir=data_dir, **params)
        except DatasetMissing as missing:
            why = missing
    pytest.fail(f"{loader}: no stand-in for {why}")


DATASETS_OF_THE_SUITES = _datasets_of_the_suites()  # read once: each read loads every shipped suite


@pytest.mark.parametrize("loader,params", DATASETS_OF_THE_SUITES,
                         ids=[f"{n}{p or ''}" for n, p in DATASETS_OF_THE_SUITES])
def test_each_dataset_offers_what_it_declares(loader, params, stand_ins, plugin_files):
    ds = _load(loader, params, stand_ins, plugin_files)
    offers = contracts.offered(ds)
    for name in offers:
        assert isinstance(ds, contracts.DATASET_CAPABILITIES[name]), f"{loader} declares {name} but lacks it"
    rng = torch.Generator().manual_seed(0)
    if "flat_samples" in offers:
        assert ds.sample(3, torch.Generator().manual_seed(0)).shape == (3, ds.dim), loader
    if "images" in offers:
        c, h, w = ds.image_shape  # (C, H, W) everywhere
        assert c in (1, 3) and h == w
        assert math.prod(ds.sample(2, rng).shape[1:]) == c * h * w
    if "image_splits" in offers:
        test = ds.split("test")
        assert test.shape[1:] == ds.image_shape and test.min() >= -1 and test.max() <= 1
    if "validation_split" in offers:
        assert len(ds.split("valid")) > 0
    if "labelled_images" in offers:
        x, y = ds.labelled("test")
        assert len(x) == len(y) and x.ndim == 2 and 0 <= x.min() and x.max() <= 1
    if "classifier" in offers:
        assert len(ds.split_labels("test")) == len(ds.split("test"))


def _jobs_per_method() -> list:
    """One smoke job of each method and loader of the shipped suites."""
    chosen: dict[tuple[str, str, str], object] = {}
    for path in SUITES:
        for job in plan(load_suite(path), "smoke"):
            key = (job.method_name, job.loader, str(job.hparams.get("net", "")))
            chosen.setdefault(key, job)
    return list(chosen.values())


# what every dataset has (api.Dataset), needed or not
DATASET_BASICS = {"name", "description", "version", "offers", "params", "data_dir"}


def _members(capability: type) -> set[str]:
    """The attributes a capability's protocol names."""
    return {n for k in capability.__mro__[:-1] if k.__name__ != "Protocol" and k is not typing.Generic
            for n in (*vars(k).get("__annotations__", {}), *vars(k)) if not n.startswith("_")}


def _record_reads_by_methods(ds) -> set[str]:
    """Swap the dataset's class for a subclass that notes every attribute code in baselines/ reads of it (the
    dataset's own code, the engine's and typing's checks are not the method reading it)."""
    reads: set[str] = set()
    methods_dir = str(REPO / "baselines")
    cls = type(ds)

    def __getattribute__(self, name):
        if sys._getframe(1).f_code.co_filename.startswith(methods_dir):
            reads.add(name)
        return cls.__getattribute__(self, name)

    ds.__class__ = type(cls.__name__, (cls,), {"__getattribute__": __getattribute__})
    return reads


def test_the_recorder_sees_what_a_method_reads():
    ds = api.DATASETS["gaussian_pair_1d"]()
    reads = _record_reads_by_methods(ds)
    ctx = RunContext(dataset=ds, hparams=dict(api.METHODS["gan_discriminator"].defaults), seed=0,
                     device=torch.device("cpu"), budget={"steps": 1}, profile="smoke")
    api.METHODS["gan_discriminator"]().train(ctx)
    assert {"dim", "sample_data", "sample_model"} <= reads and "log_density" not in reads, reads
    assert contracts.offered(ds) == contracts.dataset_offers(api.DATASETS["gaussian_pair_1d"])


@pytest.mark.parametrize("job", _jobs_per_method(), ids=lambda j: f"{j.method_name}-{j.dataset}")
def test_each_trained_model_provides_what_its_method_declares(job, stand_ins, plugin_files):
    ds = _load(job.loader, job.dataset_params, stand_ins, plugin_files)
    reads = _record_reads_by_methods(ds)
    # what a model provides does not depend on its size: narrow networks on small batches, a few steps
    budget = {**job.budget, "steps": min(int(job.budget.get("steps", 2)), 4), "width": 0.25,
              "batch_size": min(int(job.budget.get("batch_size", 16)), 16)}
    ctx = RunContext.of(settings.of_values(job.method_name, job.hparams, budget, 0, "smoke", job.metrics), ds,
                        torch.device("cpu"))
    model = api.METHODS[job.method_name]().train(ctx).model
    method_cls = api.METHODS[job.method_name]
    provided = contracts.method_provides(method_cls, job.hparams)
    for name in provided:
        assert isinstance(model, contracts.MODEL_CAPABILITIES[name]), f"{job.method_name} declares {name}"
    # and it read of the dataset only what it declares it needs (or uses where offered)
    offers = contracts.offered(ds)
    read_through = {o for options in contracts.method_needs(method_cls, job.hparams) for o in options} | {
        d.name for d in contracts.declared_needs(method_cls.uses_if_offered)}
    allowed = DATASET_BASICS.union(*(_members(contracts.DATASET_CAPABILITIES[c]) for c in read_through & offers))
    assert reads <= allowed, f"{job.method_name} reads {sorted(reads - allowed)} of {job.loader} undeclared"


# ----------------------------------------------------------------------------- static contracts


def _sources(package: str) -> list[Path]:
    return sorted((REPO / "benchmark" / package).glob("*.py"))


def test_no_metric_imports_a_method_module():
    for path in _sources("metrics") + _sources("features") + _sources("nets"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "baselines" or n.startswith("baselines.") for n in names), path


def test_metrics_and_datasets_draw_only_from_named_streams():
    # ctx.rng(7_001), ctx.rng(_SAMPLES + k): hand-picked offsets; fixed_rng(seed, <not a literal name>)
    integer_stream = re.compile(r"\.(rng|np_rng)\(\s*(\d|_[A-Z])|fixed_(np_)?rng\([^,]+,\s*[^\s\"f]")
    for path in _sources("metrics") + _sources("data") + _sources("features"):
        text = path.read_text()
        assert not integer_stream.search(text), f"{path.name}: an integer stream"
        assert "sum(ord(" not in text and "1_000_003" not in text, path.name
        if path.name != "cegan_synthetic.py":  # RandomState(5) etc. are the original code's own seeds
            assert "manual_seed(0)" not in text and "default_rng(int(" not in text, path.name
        if path.parent.name == "metrics":
            # a metric may reseed torch's global generator only inside fork_rng, from a named stream
            assert "torch.manual_seed(" not in text or "fork_rng" in text, path.name


# a method reads its dataset through what it declares it needs (contracts.as_offered, contracts.offered): asking
# the object what it has (getattr, hasattr) is what Method.needs replaced
PROBES = {"getattr", "hasattr"}


def dataset_probes(source: str) -> list[tuple[int, str]]:
    """Calls of getattr/hasattr on a dataset: a name ``dataset``/``ds`` (or ending in ``dataset``), an attribute
    ``.dataset`` (``ctx.dataset``), or a name bound from one of these (``hp, ds = ctx.hparams, ctx.dataset``)."""
    tree = ast.parse(source)

    def ident(node: ast.AST) -> str | None:
        return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None

    aliases = {"dataset", "ds"}

    def is_dataset(node: ast.AST) -> bool:
        name = ident(node)
        return name is not None and (name in aliases or name.endswith("dataset"))

    for _ in range(3):  # aliases of aliases
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    pairs = (zip(target.elts, node.value.elts, strict=False)
                             if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                             else [(target, node.value)])
                    aliases |= {ident(t) for t, v in pairs if is_dataset(v) and ident(t)}
    return sorted((node.lineno, node.func.id) for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PROBES
                  and node.args and is_dataset(node.args[0]))


def test_the_check_finds_a_probed_dataset():
    planted = ("def setup(self, ctx):\n"
               "    hp, data, self.device = ctx.hparams, ctx.dataset, ctx.device\n"
               "    dim = getattr(data, 'dim', 1)\n"
               "    if hasattr(ctx.dataset, 'train_samples'):\n"
               "        pass\n"
               "    parts = getattr(self.entropy, 'parts', {})\n"  # not a dataset: allowed
               "    return getattr(self.train_dataset, 'x')\n")
    assert dataset_probes(planted) == [(3, "getattr"), (4, "hasattr"), (7, "getattr")]


def test_no_method_module_probes_its_dataset():
    offenders = {}
    for path in sorted((REPO / "baselines").glob("*.py")):
        text = path.read_text()
        found = dataset_probes(text) + [(i, "type: ignore") for i, line in enumerate(text.splitlines(), 1)
                                        if "dataset" in line and "type: ignore" in line]
        if found:
            offenders[path.name] = found
    assert not offenders, f"declare the capability in Method.needs and read it through contracts: {offenders}"
