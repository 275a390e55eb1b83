"""Image parts of the Dai et al. (ICLR 2017) suite: B.1 networks, Inception score, digit ranking, probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.cegan_image_networks import ImageDiscriminator, make_image_generator
from benchmark import settings
from benchmark.api import DATASETS, METHODS, METRICS, RunContext, load_plugins
from benchmark.features.scores import score_from_probs
from benchmark.metrics.energy_ranking import permutation_p, rank_by_energy, spearman
from benchmark.metrics.linear_probe import probe_errors

load_plugins()


def test_inception_score_of_uniform_predictions_is_one():
    probs = torch.full((1000, 10), 0.1)
    assert score_from_probs(probs, splits=10) == pytest.approx(1.0, abs=1e-9)


def test_inception_score_of_confident_balanced_predictions_is_the_number_of_classes():
    probs = torch.eye(10).repeat(100, 1)  # every split holds each class equally often
    assert score_from_probs(probs, splits=10) == pytest.approx(10.0, rel=1e-9)


@pytest.mark.parametrize("name,shape", [("digits28", (1, 28, 28)), ("cifar32", (3, 32, 32)),
                                        ("celeba64", (3, 64, 64))])
def test_b1_networks_have_the_published_shapes(name, shape):
    gen = make_image_generator(name, noise_dim=10, width=0.125)
    x = gen(torch.randn(4, 10))
    assert x.shape == (4, *shape)
    disc = ImageDiscriminator(name, out=1, width=0.125)
    assert disc(x).shape == (4, 1)
    assert disc.features(x).shape == (4, disc.n_features)


def test_full_width_digit_networks_match_appendix_b1():
    gen = make_image_generator("digits28", noise_dim=10)
    assert gen[0].out_features == 512 * 7 * 7  # FC(10, 512*7*7)
    disc = ImageDiscriminator("digits28")
    assert disc.n_features == 256 * 7 * 7  # FC(256*7*7, 1)
    assert ImageDiscriminator("digits28", out=20).head.out_features == 10 * 2  # inference net


def test_ranking_by_distance_to_the_mean_gives_rho_one():
    rng = np.random.default_rng(0)
    images = rng.random((40, 16))
    mean = images.mean(0)
    dist = np.linalg.norm(images - mean, axis=1)
    energy = 3.0 * dist + 1.0  # any increasing function of the distance
    assert spearman(energy, dist) == pytest.approx(1.0)
    assert permutation_p(energy, dist, np.random.default_rng(1), 999) == pytest.approx(1 / 1000)
    assert permutation_p(-energy, dist, np.random.default_rng(1), 999) == pytest.approx(1.0)


def test_real_share_in_top_and_bottom():
    energy = np.arange(10.0)
    is_real = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], bool)
    out = rank_by_energy(energy, is_real, top=2)
    assert out == {"rank.real_share_top": 1.0, "rank.real_share_bottom": 0.5}


def test_probe_on_raw_pixels_of_the_embedded_digits_is_below_15_percent():
    ds = DATASETS["sklearn_digits"](upsample=28, test_fraction=0.3, dissimilar=None)
    xtr, ytr = ds.labelled("train")
    xte, yte = ds.labelled("test")
    errors = probe_errors(xtr, ytr, xte, yte, [torch.Generator().manual_seed(s) for s in range(2)], epochs=5)
    assert len(errors) == 2 and max(errors) < 15.0


def test_image_egan_trains_and_ranks_end_to_end():
    ds = DATASETS["sklearn_digits"](digits=[1], upsample=28, test_fraction=0.5, dissimilar=None)
    hp = {**METHODS["egan_ent_nn"].defaults, "net": "digits28", "noise_dim": 10, "init_d": 0.005,
          "init_g": 0.005, "init_conv_d": 0.05, "init_conv_g": 0.05, "lr": 1e-4, "multiplier": 25.0,
          "lbound": -1.2, "rbound": 0.1, "margin": None, "knn_scale": 0.02, "knn_normalise": "unit",
          "all_first_epoch": True, "niter": 0, "niter_decay": 20, "lr_decay": 0.8, "lr_min": 1e-7}
    written = {"steps": 3, "width": 0.125, "batch_size": 16, "rank_permutations": 50}
    ctx = RunContext.of(settings.of_values("egan_ent_nn", hp, written, 0, metrics=["energy_ranking"]), ds,
                        torch.device("cpu"))
    result = METHODS["egan_ent_nn"]().train(ctx)
    out = METRICS["energy_ranking"].fn(result, ctx)
    assert out["rank.n_real"] == out["rank.n_generated"] == 91
    assert -1.0 <= out["rank.rho_real"] <= 1.0 and 0.0 < out["rank.rho_real_p"] <= 1.0
    assert result.model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 1, 28, 28)
