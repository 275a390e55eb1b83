"""Fast checks, with hand-computed numbers, of the methods, metrics and datasets of suites/alpha_gan.yaml."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from baselines import age, alpha_gan, alpha_gan_kl, dcgan, wgan_gp
from baselines import alpha_gan_networks as nets
from benchmark import settings
from benchmark.api import DATASETS, METHODS, METRICS, RunContext, TrainResult, load_plugins
from benchmark.errors import DatasetMissing
from benchmark.features.classifiers import Table5VGG
from benchmark.features.scores import score_from_probs
from benchmark.metrics.independent_critic import train_independent_critic
from benchmark.metrics.latent_statistics import code_statistics
from benchmark.metrics.sample_diversity import diversity, pairwise_diversity
from benchmark.planner import run_hparams
from benchmark.threads import cpu_threads

load_plugins()
LOG = math.log
D_REAL = math.log(3.0)  # a logit with sigmoid = 0.75
D_FAKE = -math.log(3.0)  # sigmoid = 0.25


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feature metrics cache under $BENCH_HOME: keep each test's cache to itself."""
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / ".bench"))


@pytest.fixture(scope="module")
def digits():
    return DATASETS["color_digits"]()


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def make_ctx(dataset, steps: int = 2, seed: int = 0, method: str = "dcgan", **budget) -> RunContext:
    # resolved as the engine resolves a run's settings: the budget's width replaces the hyper-parameter
    written = {"steps": steps, "width": 0.25, "threads": 1, **budget}
    return RunContext.of(settings.of_values(method, run_hparams(method, dataset.name), written, seed, "smoke"),
                         dataset, torch.device("cpu"))


# ------------------------------------------------------------------------- losses by hand


def test_dcgan_losses_are_eqs_1_and_2() -> None:
    # eq. (1) with D(x) = 0.75, D(G(z)) = 0.25: −log 0.75 − log(1 − 0.25)
    assert dcgan.discriminator_loss(t(D_REAL), t(D_FAKE)).item() == pytest.approx(-2 * LOG(0.75))
    # eq. (2), alternative loss, with D(G(z)) = 0.25: −log 0.25
    assert dcgan.generator_loss(t(D_FAKE)).item() == pytest.approx(-LOG(0.25))


class LinearImageCritic(nn.Module):
    """f(x) = Σ w·x, whose gradient norm is ‖w‖ everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2, 3)).unsqueeze(1)


def test_wgan_gp_losses_and_penalty() -> None:
    # Alg. 1 of Gulrajani et al.: E f(fake) − E f(real) + λ·penalty = 1 − 2 + 10·0.5
    assert wgan_gp.critic_loss(t(1.0, 3.0), t(0.0, 2.0), torch.tensor(0.5), 10.0).item() == pytest.approx(4.0)
    assert wgan_gp.generator_loss(t(0.0, 2.0)).item() == pytest.approx(-1.0)
    w = torch.zeros(3, 2, 2)
    w[0, 0, 0], w[2, 1, 1] = 3.0, 4.0  # ‖w‖ = 5, so the penalty is (5 − 1)² = 16 at every interpolate
    x, y = torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2)
    penalty = wgan_gp.image_gradient_penalty(LinearImageCritic(w), x, y, torch.Generator().manual_seed(0))
    assert penalty.item() == pytest.approx(16.0, rel=1e-5)


def test_empirical_kl_is_eq_18_over_latent_size() -> None:
    codes = t(1.0, 2.0, 3.0, 4.0).reshape(2, 2)  # means (2, 3), sample std √2 in both dimensions
    expected = -0.5 + ((2 + 4) / 2 - LOG(math.sqrt(2)) + (2 + 9) / 2 - LOG(math.sqrt(2))) / 2
    assert nets.empirical_kl(codes).item() == pytest.approx(expected)
    x, x_rec = torch.zeros(2, 1, 1, 2), torch.full((2, 1, 1, 2), 0.5)
    assert alpha_gan_kl.encoder_loss(x, x_rec, codes, 4.0).item() == pytest.approx(4 * 0.5 + expected)


def test_age_losses() -> None:
    z = t(1.0, 0.0, 0.0, 1.0).reshape(2, 2)
    codes_fake = t(0.0, 1.0, 1.0, 0.0).reshape(2, 2)  # orthogonal to z: cosine distance 1
    kl_fake = -0.5 + (0.5 + 0.25) / 2 - LOG(math.sqrt(0.5))  # per dimension: mean 0.5, variance 0.5
    assert age.generator_loss(codes_fake, z, 10.0).item() == pytest.approx(kl_fake + 10.0)
    codes_real = t(1.0, 2.0, 3.0, 4.0).reshape(2, 2)
    x, x_rec = torch.zeros(2, 1, 1, 1), torch.full((2, 1, 1, 1), 0.1)
    expected = nets.empirical_kl(codes_real).item() - kl_fake + 100 * 0.1
    assert age.encoder_loss(codes_real, codes_fake, x, x_rec, 100.0).item() == pytest.approx(expected)


def test_alpha_gan_losses_are_algorithm_1() -> None:
    # R(x) = −log D + log(1 − D); with D = 0.75: −log 0.75 + log 0.25 = −log 3
    assert alpha_gan.synthetic_ratio_loss(t(D_REAL)).item() == pytest.approx(-LOG(3.0))
    x, x_rec = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.2)
    # eq. (11): λ‖x − x̂‖₁ + R_C(ẑ), with C(ẑ) = 0.25
    assert alpha_gan.encoder_loss(x, x_rec, t(D_FAKE), 5.0).item() == pytest.approx(5 * 0.2 + LOG(3.0))
    # eq. (13): λ‖x − x̂‖₁ + R_D(x̂) + R_D(G(z)), D(x̂) = 0.25, D(G(z)) = 0.75
    assert alpha_gan.generator_loss(x, x_rec, t(D_FAKE), t(D_REAL), 5.0).item() == pytest.approx(1.0)
    # eq. (15): −log D(x) − log(1 − D(x̂)) − log(1 − D(G(z))) with 0.75, 0.25, 0.25
    assert alpha_gan.discriminator_loss(t(D_REAL), t(D_FAKE), t(D_FAKE)).item() == pytest.approx(-3 * LOG(0.75))
    # eq. (17): −log(1 − C(ẑ)) − log C(z) with C(ẑ) = 0.25, C(z) = 0.75
    assert alpha_gan.code_discriminator_loss(t(D_FAKE), t(D_REAL)).item() == pytest.approx(-2 * LOG(0.75))


def test_code_discriminator_is_3x750_mlp() -> None:
    net = nets.code_discriminator(10)
    widths = [m.out_features for m in net if isinstance(m, nn.Linear)]
    assert widths == [750, 750, 750, 1]


def test_paper_networks_have_the_tables_shapes() -> None:
    d = nets.discriminator((3, 28, 28))
    maps = [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert maps == [8, 16, 32, 64, 64]  # Table 3
    g = nets.generator((3, 28, 28), 10)
    assert g.fc[0].out_features == 3136  # Table 4
    assert [m.out_channels for m in g.modules() if isinstance(m, nn.ConvTranspose2d)] == [64, 32, 3]
    assert g(torch.randn(2, 10)).shape == (2, 3, 28, 28)
    assert nets.encoder((3, 28, 28), 10)(torch.randn(2, 3, 28, 28)).shape == (2, 10)
    for size in (32, 64):
        assert nets.generator((3, size, size), 100, width=0.25)(torch.randn(2, 100)).shape == (2, 3, size, size)
        assert nets.discriminator((3, size, size), width=0.25)(torch.randn(2, 3, size, size)).shape == (2, 1)
        assert nets.encoder((3, size, size), 100, width=0.25)(torch.randn(2, 3, size, size)).shape == (2, 100)
    assert Table5VGG()(torch.randn(2, 3, 24, 24)).shape == (2, 10)


# ------------------------------------------------------------------------------- training


@pytest.mark.parametrize("name", ["dcgan", "wgan_gp", "age", "alpha_gan", "alpha_gan_empirical_kl"])
def test_methods_train_deterministically(name: str, digits) -> None:
    runs = [METHODS[name]().train(make_ctx(digits, steps=2, method=name, critic_snapshots=2)) for _ in range(2)]
    a, b = (r.model.sample(4, torch.Generator().manual_seed(1)) for r in runs)
    assert a.shape == (4, 3, 28, 28) and torch.equal(a, b)
    assert [s for s, _ in runs[0].model.snapshots] == [1, 2]


def test_snapshots_start_half_way() -> None:
    assert nets.snapshot_steps(100, 3) == [50, 75, 100]
    assert nets.snapshot_steps(100_000, 2) == [50_000, 100_000]


# -------------------------------------------------------------------------------- metrics


class BankGenerator(nn.Module):
    """A 'generator' that returns stored images: all of them (good) or always the first (collapsed)."""

    def __init__(self, bank: torch.Tensor, collapsed: bool) -> None:
        super().__init__()
        self.register_buffer("bank", bank)
        self.collapsed = collapsed

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.collapsed:
            return self.bank[:1].expand(len(z), -1, -1, -1)
        index = (torch.special.ndtr(z[:, 0]) * len(self.bank)).long().clamp(0, len(self.bank) - 1)
        return self.bank[index]


def test_independent_critic_ranks_collapsed_generator_below_good_one(digits) -> None:
    bank = digits.sample(500, torch.Generator().manual_seed(5))
    scores = {}
    for collapsed in (False, True):
        model = nets.GenerativeModel(BankGenerator(bank, collapsed), 4, "normal", torch.device("cpu"),
                                     (3, 28, 28), steps=10)
        ctx = make_ctx(digits)
        torch.manual_seed(0)  # the critic's initialisation must not depend on which tests ran before
        with cpu_threads(ctx):
            scores[collapsed] = train_independent_critic(model, digits, ctx, critic_steps=100, width=0.25)["neg_w"]
    assert scores[False] > scores[True]


def test_ms_ssim_diversity_of_identical_images_is_zero(digits) -> None:
    x = digits.split("test")[:6]
    assert pairwise_diversity(x, x.clone()) == pytest.approx(0.0, abs=1e-6)
    g = torch.Generator().manual_seed(0)
    noisy = (x + 0.5 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert diversity(noisy, 20, g, win=5) > diversity(x, 20, g, win=5) > 0


def test_inception_score_of_uniform_one_hot_is_class_count() -> None:
    probs = torch.eye(10).repeat(3, 1)
    assert score_from_probs(probs) == pytest.approx(10.0)
    assert score_from_probs(torch.full((5, 10), 0.1)) == pytest.approx(1.0)


def test_latent_statistics_see_correlation() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 5, generator=g)
    independent = code_statistics(z)
    correlated = code_statistics(z @ torch.ones(5, 5) / 5 + 0.1 * z + 0.5)
    assert independent["latent.offdiag_mass"] < 0.2 < correlated["latent.offdiag_mass"]
    assert independent["latent.mean_abs"] < 0.05 and correlated["latent.mean_abs"] == pytest.approx(0.5, abs=0.05)


def test_metrics_run_on_the_analogue(digits) -> None:
    ctx = make_ctx(digits, steps=2, method="alpha_gan", critic_steps=2, critic_width=0.25, diversity_pairs=4,
                   msssim_win=3, is_samples=50, is_splits=1, classifier_steps=5, latent_codes=100)
    result: TrainResult = METHODS["alpha_gan"]().train(ctx)
    for name in ("independent_critic", "sample_diversity", "classifier_score", "fid_classifier",
                 "latent_statistics"):
        out = METRICS[name].fn(result, ctx)
        assert set(out) <= set(METRICS[name].produces) and out
        assert all(math.isfinite(v) for v in out.values())


# ------------------------------------------------------------------------------- datasets


def test_color_digits_are_stacked_digits_in_range(digits) -> None:
    a = digits.sample(8, torch.Generator().manual_seed(0))
    assert a.shape == (8, 3, 28, 28) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, digits.sample(8, torch.Generator().manual_seed(0)))
    assert not torch.equal(a[:, 0], a[:, 1])  # channels hold different digits
    assert digits.split("test").shape == (1000, 3, 28, 28)
    assert set(digits.split_labels("test").tolist()) <= set(range(1000))


def test_missing_files_name_what_to_provide(tmp_path: Path) -> None:
    for metric in ("inception_score", "fid"):
        with pytest.raises(DatasetMissing, match="weights/pt_inception-2015-12-05-6726825d.pth"):
            METRICS[metric].requires(tmp_path)
    with pytest.raises(DatasetMissing, match="cifar-10-batches-py"):
        DATASETS["cifar10"](data_dir=tmp_path)
    with pytest.raises(DatasetMissing, match="celeba"):
        DATASETS["celeba64"](data_dir=tmp_path)
    with pytest.raises(DatasetMissing, match="MNIST"):
        DATASETS["color_mnist"](data_dir=tmp_path)
