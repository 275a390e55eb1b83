"""One feature pass per run for the Inception-score family, and the test split's statistics cached under
$BENCH_HOME by content: counted forward passes of a randomly initialised Inception written to a temporary data
directory (pytorch-fid's layout, the file name the metrics read; ``-m slow``), and of the dataset-trained
classifier (fast, the same code path)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from benchmark import api
from benchmark.api import METRICS, RunContext, TrainResult
from benchmark.features import classifiers, inception
from benchmark.features.scores import frechet, gaussian_fit

api.load_plugins()


class NoiseImages:
    """A stand-in model: uniform noise images of the colour-digits shape, drawn from the stream it is given."""

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.rand(n, 3, 28, 28, generator=rng) * 2 - 1


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "weights").mkdir()
    torch.manual_seed(0)
    torch.save(inception.build_inception().state_dict(), root / "weights" / inception.WEIGHTS)
    return root


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / ".bench"))
    return tmp_path / ".bench"


def _ctx(data_dir: Path, **budget) -> RunContext:
    ds = api.DATASETS["color_digits"](data_dir=data_dir, n_eval=4)
    return RunContext(dataset=ds, hparams={}, seed=3, device=torch.device("cpu"),
                      budget={"is_samples": 4, "is_splits": 1, "threads": 1, **budget}, profile="smoke")


def _count_forward(net: torch.nn.Module) -> list[int]:
    calls: list[int] = []
    net.register_forward_hook(lambda _m, inputs, _out: calls.append(len(inputs[0])))
    return calls


@pytest.mark.slow  # Inception at 299×299 and a 2048-wide matrix square root: ~30 s on two cores
def test_inception_score_and_fid_share_one_pass_and_the_second_run_reads_the_cache(data_dir, home):
    net = inception.load_inception(inception.inception_weights_path(data_dir), torch.device("cpu"))
    calls = _count_forward(net)
    result = TrainResult(model=NoiseImages())

    ctx = _ctx(data_dir)
    first = {**METRICS["inception_score"].fn(result, ctx), **METRICS["fid"].fn(result, ctx)}
    assert calls == [4, 4], calls  # the samples once, the test split once, for both metrics
    assert all(math.isfinite(v) for v in first.values())
    # the distance really is between the samples' features and the test split's
    probs, feats = ctx.run_cache[("image_features", "inception", 4)]
    test_probs, test_feats = inception.inception_outputs(net, ctx.dataset.split("test")[:4], ctx.device)
    calls.clear()
    assert first["fid.inception"] == pytest.approx(frechet(gaussian_fit(feats), gaussian_fit(test_feats)), rel=1e-6)
    files = sorted((home / "cache" / "features").glob("*.npz"))
    assert len(files) == 1

    second = METRICS["inception_score"].fn(result, _ctx(data_dir))  # a new run: the test split from the cache
    assert calls == [4], calls
    assert second == {k: v for k, v in first.items() if k in second}  # same seed, same stream, same samples
    assert sorted((home / "cache" / "features").glob("*.npz")) == files


def test_the_cache_key_follows_what_determines_the_statistics(data_dir, home):
    result = TrainResult(model=NoiseImages())
    METRICS["inception_score"].fn(result, _ctx(data_dir))
    METRICS["inception_score"].fn(result, _ctx(data_dir, is_splits=2))  # another split count
    ds_ctx = _ctx(data_dir)
    ds_ctx.dataset = api.DATASETS["color_digits"](data_dir=data_dir, n_eval=4, eval_seed=1)  # another test set
    METRICS["inception_score"].fn(result, ds_ctx)
    assert len(list((home / "cache" / "features").glob("*.npz"))) == 3
    assert not list((home / "cache" / "features").glob("*.tmp"))  # written atomically, nothing left over


def test_classifier_score_and_fid_share_one_pass_and_the_classifier_lives_in_the_home(data_dir, home, monkeypatch):
    seen: list[int] = []
    classify = classifiers.classify

    def counting(net, kind, images, device, batch=500):
        seen.append(len(images))
        return classify(net, kind, images, device, batch)

    monkeypatch.setattr(classifiers, "classify", counting)
    result = TrainResult(model=NoiseImages())
    global_state = torch.get_rng_state()
    ctx = _ctx(data_dir, classifier_steps=3)
    out = {**METRICS["classifier_score"].fn(result, ctx), **METRICS["fid_classifier"].fn(result, ctx)}
    assert torch.equal(torch.get_rng_state(), global_state)  # training the classifier left the global generator
    assert seen == [4, 4], seen
    assert set(out) == {"inception_score.classifier", "inception_score.classifier_test",
                        "classifier.test_accuracy", "fid.classifier"}
    assert len(list((home / "cache" / "classifiers").glob("*.pt"))) == 1
    assert not list(data_dir.rglob("cifar10_vgg*")) and sorted(p.name for p in data_dir.rglob("*.*")) == [
        inception.WEIGHTS]  # the data directory stays input only

    seen.clear()
    classifiers._TRAINED.clear()  # a new process: the classifier comes back from the home, not from training
    again = _ctx(data_dir, classifier_steps=3)
    second = {**METRICS["fid_classifier"].fn(result, again), **METRICS["classifier_score"].fn(result, again)}
    assert seen == [4]  # one pass over the run's samples; the test split's statistics were cached
    assert second == out
    assert second["inception_score.classifier_test"] == out["inception_score.classifier_test"]
