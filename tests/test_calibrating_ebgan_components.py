"""Components of the Dai et al. (ICLR 2017) suite: datasets, KLs on the grid, entropy terms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import program_2d

from baselines.ebgan_common import NOISE_DIM, make_generator, make_inference_net, switch_bounds
from baselines.egan_ent_nn import knn_entropy_direction
from baselines.egan_ent_vi import VIEntropy
from benchmark.api import DATASETS, METHODS, METRICS, RunContext, TrainResult, load_plugins
from benchmark.data.cegan_synthetic import Canvas
from benchmark.metrics.kl_grid import kl, softmax_neg
from benchmark.planner import run_hparams

load_plugins()

# printed above Table 2; the spiral line's two labels are swapped in the paper (see the suite YAML)
PUBLISHED = {"cegan_gmm4": (0.0291, 0.0159), "cegan_biased": (0.0273, 0.0144), "cegan_spirals": (1.2349, 0.3892)}


@pytest.fixture(scope="module")
def gmm4():
    return DATASETS["cegan_gmm4"]()


def _ctx(ds, steps=10, seed=0, hparams=None):
    return RunContext(dataset=ds, hparams=hparams or {}, seed=seed, device=torch.device("cpu"),
                      budget={"steps": steps})


def test_kl_of_identical_histograms_is_zero():
    p = np.random.default_rng(0).random(10_000)
    p[::7] = 0.0  # empty cells are what the smoothing is for
    p /= p.sum()
    assert kl(p, p) == pytest.approx(0.0, abs=1e-12)
    q = np.roll(p, 1)
    assert kl(p, q) > 0.0


def test_pdisc_of_the_true_energy_recovers_pdata(gmm4):
    """p_disc = softmax(−c) over the grid; with c = −log p_data + const it is p_data itself."""
    energy = gmm4.energy(gmm4.canvas.points()).numpy() + 3.7  # λ*: a global offset changes nothing
    p = softmax_neg(energy)
    np.testing.assert_allclose(p, gmm4.grid_pdata(), rtol=1e-9, atol=1e-15)
    assert kl(p, gmm4.grid_pdata()) == pytest.approx(0.0, abs=1e-9)


def test_nearest_cell_assignment():
    canvas = Canvas((0.0, 0.0), (9.9, 9.9), width=100)  # cell centres every 0.1
    idx = canvas.cell_index(np.array([[0.04, 0.0], [0.06, 0.0], [0.0, 0.16], [-5.0, 50.0]]))
    assert idx.tolist() == [0, 1, 200, 99 * 100]  # the last is off the canvas: clipped to the border


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_dataset_kls_match_the_published_ones(name):
    ds = DATASETS[name]()
    out = METRICS["dataset_kl"].fn(TrainResult(model=None), _ctx(ds))
    data_emp, emp_data = PUBLISHED[name]
    assert out["kl.pdata_pemp"] == pytest.approx(data_emp, rel=0.1)
    assert out["kl.pemp_pdata"] == pytest.approx(emp_data, rel=0.1)


def test_dataset_facts_from_the_original_code():
    biased = DATASETS["cegan_biased"]()
    assert biased.train_samples().shape == (100_000, 2)
    assert biased.weights.tolist() == [0.1, 0.9]
    small = biased.means[biased.small_mode]
    assert float(small[0]) == pytest.approx(float(small[1])) and float(small[0]) > 0  # (v, v)
    frac_small = float((biased.nearest_component(biased.train_samples()) == biased.small_mode).double().mean())
    assert frac_small == pytest.approx(0.1, abs=0.01)
    spirals = DATASETS["cegan_spirals"]()
    assert spirals.means.shape == (100, 2)


def test_knn_entropy_gradient_points_away_from_the_cluster_mean():
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(500, 2, generator=rng) + torch.tensor([3.0, -2.0])
    u = knn_entropy_direction(x, k=20, normalise="unit")
    assert torch.allclose(u.norm(dim=1), torch.ones(500), atol=1e-5)
    outward = x - x.mean(0)
    far = outward.norm(dim=1) > 1.0  # near the centre the neighbours are all around
    step = -u[far]  # the generator descends its cost, so samples move along −u
    cos = torch.nn.functional.cosine_similarity(step, outward[far], dim=1)
    assert float(cos.mean()) > 0.7
    assert float((cos > 0).double().mean()) > 0.9


def test_vi_bound_increases_the_entropy_of_a_collapsed_generator():
    torch.manual_seed(0)
    gen = make_generator(init_std=0.001)  # the original's tiny init: all samples near one point
    term = VIEntropy(make_inference_net(0.01), weight=1.0, lr=2e-4, beta1=0.0)
    opt = torch.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.0, 0.999))
    rng = torch.Generator().manual_seed(1)

    def spread() -> float:
        with torch.no_grad():
            gen.train()
            x = gen(torch.randn(2000, NOISE_DIM, generator=rng))
        return float(torch.logdet(torch.cov(x.T)))  # Gaussian entropy up to constants

    before = spread()
    for _ in range(60):
        z = torch.randn(128, NOISE_DIM, generator=rng)
        x = gen(z)
        loss = term.generator_loss(x, z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        term.update(x.detach(), z)
    after = spread()
    assert after > before + 2.0  # ≥ e² times the covariance volume


@pytest.mark.parametrize("method", ["gan_cegan", "egan_const", "egan_ent_nn", "egan_ent_vi"])
def test_methods_run_and_are_deterministic(method, gmm4, monkeypatch):
    monkeypatch.setattr("benchmark.metrics.kl_grid.N_SAMPLES", 5_000)  # speed; the procedure is the same
    def once(metrics: tuple[str, ...]) -> dict[str, float]:
        ctx = _ctx(gmm4, steps=15, seed=3, hparams=run_hparams(method, "cegan_gmm4"))
        result = METHODS[method]().train(ctx)
        assert result.model.energy(torch.zeros(4, 2)).shape == (4,)
        assert result.model.sample(5, torch.Generator().manual_seed(0)).shape == (5, 2)
        out = dict(result.measurements)
        for metric in metrics:
            out.update(METRICS[metric].fn(result, ctx))
        return out

    first = once(("kl_grid", "energy_shape", "gradient_fields"))
    assert set(first) >= {"kl.pgen_pemp", "kl.pdisc_pgen", "flat.ratio", "mode.small_pdisc", "grad.ent_over_disc"}
    assert all(math.isfinite(v) for v in first.values())
    second = once(("kl_grid",))
    assert {k: second[k] for k in second} == {k: first[k] for k in second}  # same seed, same numbers


def test_the_update_switch_reads_the_resolved_bounds():
    """An EGAN's switch is its resolved lbound/rbound (the original code's per-dataset state); the GAN declares no
    switch and updates both networks every step."""
    assert switch_bounds(run_hparams("egan_const", "cegan_gmm4")) == (-10.0, 0.1)
    assert switch_bounds(run_hparams("egan_ent_nn", "cegan_biased")) == (-0.2, 0.1)
    assert switch_bounds(run_hparams("egan_ent_nn", "cegan_gmm4", lbound=-1.5)) == (-1.5, 0.1)
    assert switch_bounds(run_hparams("gan_cegan", "cegan_gmm4")) == (-math.inf, math.inf)
    with pytest.raises(KeyError, match="rbound"):  # half a switch is a bug, not a default
        switch_bounds({"lbound": -1.0})


def test_lasagne_optimisers_place_epsilon_as_lasagne_does_and_differ_from_torch_only_on_tiny_gradients():
    """Lasagne's adagrad steps lr·g/sqrt(Σg² + ε), torch's lr·g/(sqrt(Σg²) + ε); Lasagne's adam steps
    a_t·m/(sqrt(v) + ε), a_t = lr·sqrt(1 − β2^t)/(1 − β1^t). On a gradient of 1e-5 (Adagrad) or 1e-7 (Adam, β1 = 0)
    the first steps differ several-fold; on a gradient of 1 they agree to float rounding."""
    import torch

    from baselines.lasagne_updates import LasagneAdagrad, LasagneAdam

    def first_step(opt_class, grad, **kw):
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = opt_class([p], lr=1e-3, **kw)
        p.grad = torch.full_like(p, grad)
        opt.step()
        return -float(p.detach())

    tiny = first_step(LasagneAdagrad, 1e-5, eps=1e-6)
    assert abs(tiny - 1e-3 * 1e-5 / math.sqrt(1e-10 + 1e-6)) < 1e-15  # ≈ 1e-5: a hundredth of lr
    assert abs(first_step(torch.optim.Adagrad, 1e-5, eps=1e-6) - 1e-3 * 1e-5 / (1e-5 + 1e-6)) < 1e-15
    a_1 = 1e-3 * math.sqrt(1 - 0.999)
    lasagne_adam = first_step(LasagneAdam, 1e-7, betas=(0.0, 0.999), eps=1e-8)
    assert abs(lasagne_adam - a_1 * 1e-7 / (math.sqrt(0.001) * 1e-7 + 1e-8)) < 1e-15  # ≈ 0.24·lr
    torch_adam = first_step(torch.optim.Adam, 1e-7, betas=(0.0, 0.999), eps=1e-8)
    assert torch_adam / lasagne_adam > 3.5
    for lasagne_cls, torch_cls, kw in ((LasagneAdagrad, torch.optim.Adagrad, {"eps": 1e-6}),
                                       (LasagneAdam, torch.optim.Adam, {"betas": (0.0, 0.999), "eps": 1e-8})):
        assert abs(first_step(lasagne_cls, 1.0, **kw) / first_step(torch_cls, 1.0, **kw) - 1) < 1e-5


def test_a_run_with_lasagne_updates_trains_alone_and_moves_otherwise_than_the_headline():
    import torch

    from baselines.lasagne_updates import LasagneAdagrad
    from benchmark import batch_families

    lasagne, headline = program_2d("gan_cegan", 5, 5, lasagne_updates=True), program_2d("gan_cegan", 5, 5)
    assert isinstance(lasagne.opt_g, LasagneAdagrad) and isinstance(headline.opt_g, torch.optim.Adagrad)
    assert not all(torch.equal(a, b) for a, b in zip(lasagne.gen.parameters(), headline.gen.parameters(),
                                                     strict=True))
    assert batch_families.uncovered("cegan_2d", {"lasagne_updates": True}, {}) == ["lasagne_updates"]
