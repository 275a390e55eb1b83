"""Fast checks, with real numbers, of the datasets, methods and metrics of suites/gan_divergences.yaml."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from baselines.gan import GANModel, mlp
from baselines.infogan import categorical_entropy, lower_bound
from benchmark.api import DATASETS, METHODS, METRICS, RunContext, TrainResult, load_plugins
from benchmark.metrics.discriminator_optimality import jsd_quad
from benchmark.planner import run_hparams

load_plugins()
LOG4 = math.log(4.0)


def make_ctx(dataset, steps: int = 100, seed: int = 0, method: str | None = None, **hparams) -> RunContext:
    """A run's context; with ``method``, its hyper-parameters merged as the planner merges them."""
    if method is not None:
        hparams = run_hparams(method, dataset.name, **hparams)
    return RunContext(dataset=dataset, hparams=hparams, seed=seed, device=torch.device("cpu"),
                      budget={"steps": steps}, profile="smoke")


def gaussian_pair(**params):
    return DATASETS["gaussian_pair_1d"](**params)


def lines(theta: float):
    return DATASETS["parallel_lines"](theta=theta)


@dataclass
class FixedDiscriminator:
    """A hand-written discriminator with the ``logits`` interface the metrics use."""

    fn: object

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x).reshape(-1).float()


# ------------------------------------------------------------------------------ datasets


@pytest.mark.parametrize("name,params", [
    ("gaussian_pair_1d", {"data_mean": 0.0, "model_mean": 2.0}),
    ("parallel_lines", {"theta": 0.5}),
    ("ring_mixture_2d", {"n_modes": 10, "radius": 2.0, "std": 0.05}),
])
def test_datasets_are_seed_deterministic(name: str, params: dict) -> None:
    ds = DATASETS[name](**params)
    draw = ds.sample_data
    a = draw(64, torch.Generator().manual_seed(3))
    b = draw(64, torch.Generator().manual_seed(3))
    c = draw(64, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == (64, ds.dim)


def test_parallel_lines_geometry_and_exact_divergences() -> None:
    ds = lines(0.75)
    rng = torch.Generator().manual_seed(0)
    data, model = ds.sample_data(1000, rng), ds.sample_model(1000, rng)
    assert torch.all(data[:, 0] == 0.0) and torch.all(model[:, 0] == 0.75)
    assert 0.0 <= float(data[:, 1].min()) and float(data[:, 1].max()) <= 1.0
    assert ds.wasserstein_exact() == 0.75
    assert ds.jsd_exact() == pytest.approx(math.log(2.0))
    assert lines(0.0).jsd_exact() == 0.0


def test_ring_mixture_density_and_modes() -> None:
    ds = DATASETS["ring_mixture_2d"](n_modes=10, radius=2.0, std=0.05)
    x, modes = ds.sample_with_modes(2000, torch.Generator().manual_seed(0))
    assert torch.equal(ds.nearest_component(x), modes)  # modes 1.2 apart, std 0.05: never confused
    assert torch.allclose(ds.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    for k in range(10):  # the stated variances are those of the draws (about 200 per mode: within 35 %)
        drawn = x[modes == k].double().var(dim=0)
        assert torch.allclose(drawn, ds.variances[k], rtol=0.35), (k, drawn, ds.variances[k])
    peak = ds.log_density(ds.means[:1].float())
    assert float(peak) == pytest.approx(-math.log(10 * 2 * math.pi * 0.05**2), abs=1e-6)


# -------------------------------------------------------------------- JSD, D*, V(D)


def test_jsd_of_identical_pair_is_zero_and_value_is_minus_log4() -> None:
    ds = gaussian_pair(data_mean=0.0, model_mean=0.0)
    lp = lambda x: float(ds.log_density_data(torch.tensor(x)))  # noqa: E731
    jsd = jsd_quad(lp, lp, *ds.support())
    assert jsd == pytest.approx(0.0, abs=1e-10)
    assert 2 * jsd - LOG4 == pytest.approx(-1.3862944, abs=1e-6)


def test_jsd_of_far_apart_pair_is_log2() -> None:
    ds = gaussian_pair(data_mean=0.0, model_mean=40.0)
    lp = lambda x: float(ds.log_density_data(torch.tensor(x)))  # noqa: E731
    lq = lambda x: float(ds.log_density_model(torch.tensor(x)))  # noqa: E731
    assert jsd_quad(lp, lq, *ds.support(), points=ds.breakpoints()) == pytest.approx(math.log(2.0), abs=1e-6)


def test_analytic_optimal_discriminator_has_zero_error_and_reaches_theory() -> None:
    ds = gaussian_pair(data_mean=0.0, data_std=1.0, model_mean=0.5, model_std=2.0)
    d_star = FixedDiscriminator(lambda x: ds.log_density_data(x.double()) - ds.log_density_model(x.double()))
    out = METRICS["discriminator_optimality"].fn(TrainResult(model=d_star), make_ctx(ds))
    assert out["dstar.mae"] < 1e-6
    assert out["value.v_trained"] == pytest.approx(out["value.v_theory"], abs=1e-5)
    assert out["value.v_theory"] == pytest.approx(2 * out["jsd.exact"] - LOG4)


def test_any_other_discriminator_has_lower_value() -> None:
    ds = gaussian_pair(data_mean=0.0, model_mean=2.0)
    # D* for this pair has logit 2 − 2x; a flattened logit is a worse discriminator.
    worse = FixedDiscriminator(lambda x: 0.5 * (2.0 - 2.0 * x))
    out = METRICS["discriminator_optimality"].fn(TrainResult(model=worse), make_ctx(ds))
    assert out["dstar.mae"] > 0.05
    assert out["value.v_trained"] < out["value.v_theory"] - 1e-3


def test_trained_discriminator_is_deterministic_and_near_optimal() -> None:
    ds = gaussian_pair(data_mean=0.0, model_mean=2.0)
    method = METHODS["gan_discriminator"]()
    runs = [METRICS["discriminator_optimality"].fn(method.train(make_ctx(ds, steps=200, method="gan_discriminator")),
                                                   make_ctx(ds)) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["dstar.mae"] < 0.02
    assert runs[0]["value.v_trained"] <= runs[0]["value.v_theory"] + 1e-6


# --------------------------------------------------------------------- parallel lines


def test_jsd_estimate_of_a_perfect_separator_is_log2() -> None:
    ds = lines(0.5)
    separator = FixedDiscriminator(lambda x: 200.0 * (0.25 - x[:, 0]))  # +50 on P0, −50 on Pθ
    out = METRICS["jsd_estimate"].fn(TrainResult(model=separator), make_ctx(ds))
    assert out["jsd.estimate"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert out["jsd.true"] == pytest.approx(math.log(2.0))


def test_critic_estimate_of_the_optimal_critic_is_theta() -> None:
    @dataclass
    class LinearCritic:
        def values(self, x: torch.Tensor) -> torch.Tensor:
            return -x[:, 0]

        def grad_norms(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones(x.shape[0])

    out = METRICS["critic_estimate"].fn(TrainResult(model=LinearCritic()), make_ctx(lines(1.5)))
    assert out["w.estimate"] == pytest.approx(1.5, abs=1e-6)
    assert out["w.estimate_normalized"] == pytest.approx(1.5, abs=1e-6)
    assert out["w.true"] == 1.5


def test_weight_clipping_critic_estimate_grows_with_theta() -> None:
    method = METHODS["wgan_critic"]()
    estimates = []
    for theta in (0.25, 1.0, 2.0):
        ctx = make_ctx(lines(theta), steps=150, method="wgan_critic", lipschitz="weight_clipping", hidden=32)
        result = method.train(ctx)
        for p in result.model.critic.parameters():
            assert float(p.detach().abs().max()) <= 0.01 + 1e-9
        estimates.append(METRICS["critic_estimate"].fn(result, ctx)["w.estimate"])
    assert 0 < estimates[0] < estimates[1] < estimates[2]


# --------------------------------------------------------------- generator gradients


def test_generator_gradients_vanish_for_saturating_loss_against_confident_d() -> None:
    torch.manual_seed(0)
    gen = mlp(4, 1, hidden=16, depth=1)
    with torch.no_grad():
        gen[-1].weight.mul_(0.1)  # samples near 0
    disc = nn.Linear(1, 1)
    with torch.no_grad():  # logit 10·(x − 2): D(G(z)) ≈ e^−20 near 0, i.e. "confidently fake"
        disc.weight.fill_(10.0)
        disc.bias.fill_(-20.0)
    model = GANModel(gen, disc, latent_dim=4, device=torch.device("cpu"))
    out = METRICS["generator_gradients"].fn(TrainResult(model=model), make_ctx(gaussian_pair()))
    assert out["grad.non_saturating"] > 10 * out["grad.saturating"]
    assert out["d.fake_prob"] < 1e-6


def test_trained_confident_discriminator_gives_ratio_above_10() -> None:
    ds = gaussian_pair(data_mean=4.0, data_std=0.5)
    ctx = make_ctx(ds, steps=100, method="gan", generator_start=10**9)
    result = METHODS["gan"]().train(ctx)
    out = METRICS["generator_gradients"].fn(result, ctx)
    assert out["grad.non_saturating"] / out["grad.saturating"] > 10


def test_gan_declares_its_two_generator_losses() -> None:
    declared = METHODS["gan"].hparams["generator_loss"]
    assert declared.problem("saturating") is None and declared.problem("non_saturating") is None
    assert "must be one of" in declared.problem("minimax")


# ------------------------------------------------------------------------- InfoGAN


def test_entropy_of_uniform_code_is_log10() -> None:
    assert categorical_entropy(torch.full((10,), 0.1, dtype=torch.float64)) == pytest.approx(math.log(10))


def test_infogan_bound_is_entropy_minus_cross_entropy() -> None:
    """L_I = H(c) − E[−log Q(c | x)] (Chen et al. 2016, Lemma 5.1), checked against a hand computation:
    a Q that knows the code reaches H(c), an uninformed (uniform) Q gives exactly 0."""
    gen = torch.Generator().manual_seed(0)
    h = math.log(10)
    q_logits = 5 * torch.randn(64, 10, generator=gen)
    codes = torch.randint(0, 10, (64,), generator=gen)
    by_hand = h + float(torch.log_softmax(q_logits, dim=1)[torch.arange(64), codes].mean())
    assert float(lower_bound(q_logits, codes, h)) == pytest.approx(by_hand, rel=1e-6)
    assert float(lower_bound(torch.zeros(64, 10), codes, h)) == pytest.approx(0.0, abs=1e-6)
    perfect = 50.0 * nn.functional.one_hot(codes, 10).float()
    assert float(lower_bound(perfect, codes, h)) == pytest.approx(h, abs=1e-6)


def test_infogan_trains_and_reports_bound_below_entropy() -> None:
    ds = DATASETS["ring_mixture_2d"]()
    ctx = make_ctx(ds, steps=60, method="infogan", hidden=32)
    ctx.log_every = 10
    result = METHODS["infogan"]().train(ctx)
    # the measurement does not depend on how often losses are logged
    every_step = make_ctx(ds, steps=60, method="infogan", hidden=32)
    every_step.log_every = 1
    assert (METHODS["infogan"]().train(every_step).measurements["info.lower_bound_max"]
            == result.measurements["info.lower_bound_max"])
    out = METRICS["infogan_bound"].fn(result, ctx)
    assert out["info.entropy_c"] == pytest.approx(math.log(10))
    assert result.measurements["info.lower_bound_max"] <= out["info.entropy_c"]
    assert out["info.lower_bound"] <= out["info.entropy_c"]
    assert set(METHODS["infogan"].produces) <= set(result.measurements)


@pytest.mark.parametrize("loss", ["non_saturating", "saturating"])
def test_full_gan_moves_generator_towards_data(loss: str) -> None:
    ds = gaussian_pair(data_mean=4.0, data_std=0.5)
    result = METHODS["gan"]().train(make_ctx(ds, steps=800, method="gan", generator_loss=loss))
    samples = result.model.sample(2000, torch.Generator().manual_seed(0))
    assert abs(float(samples.mean()) - 4.0) < 0.5
