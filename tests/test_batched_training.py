"""Batched training of the 2-D models of Dai et al. (ICLR 2017) (baselines/ebgan_batched.py): every member is
the run the method trains alone through the engine's loop (``train(ctx)``), members do not see each other,
and the egan_knn.py update switch (d-only / g-only steps) is reproduced per member.

Tolerances, and why the equivalence runs in float64 over few steps: the early EGAN updates are Adam steps on
gradients of the size of Adam's eps (1e-8) -- generator weights start at N(0, 0.001²) -- where the update
lr·g/(|g| + eps) turns any rounding in g into a visible change of the step, so two float computations of the
same run drift apart roughly tenfold per step. The reference drifts from *itself* at that rate: the same run
with 1 thread instead of 2 differs by ~1e-2 after 12 float32 steps and by ~1e-9 after 12 float64 steps, exactly
as the batched run does. So the equivalence is checked where rounding cannot hide a wrong formula: in float64
(the reference trains in the default dtype), over 8 steps for all four methods (observed differences ≤ 5e-9;
tolerance 1e-7 absolute and 1e-6 relative, for parameters of size 1e-3..1 and losses), over 60 steps for the
GAN, whose Adagrad steps do not amplify rounding (observed ≤ 1e-14; tolerance 1e-10), and after one step in
float32, the dtype of real runs: weights agree to ~1e-8, but a hidden bias of D whose reference gradient is
itself a float32 rounding residual (|g| ~ 1e-10, e.g. a unit active on as many real as fake samples, where the
reference's sums cancel only partly) takes a first Adam step lr·g/(|g| + 1e-8) of up to about half of lr =
2e-4 in one run and none in the other (observed ≤ 9e-5; tolerance 1e-4, below one first step).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

import baselines.egan_const
import baselines.egan_ent_nn
import baselines.egan_ent_vi
import baselines.gan_cegan
from baselines.ebgan_batched import _IndexStream, member_from_context, train_batched
from baselines.ebgan_common import BatchStream
from benchmark import settings
from benchmark.api import DATASETS, METHODS, RunContext, load_plugins
from benchmark.planner import run_hparams

load_plugins()

SUITE_HP = {"egan_ent_nn": {"knn_k": 20, "knn_normalise": "variance"}, "egan_ent_vi": {"vi_weight": 0.1}}
MODULES = {"gan_cegan": baselines.gan_cegan, "egan_const": baselines.egan_const,
           "egan_ent_nn": baselines.egan_ent_nn, "egan_ent_vi": baselines.egan_ent_vi}


class _Data:
    """A dataset as the methods see it (``name`` picks the per-dataset state), its training set in one dtype,
    optionally cut to its first ``n`` points (a short pass, so that the data order reshuffles often)."""

    def __init__(self, ds: Any, dtype: torch.dtype, n: int | None = None) -> None:
        self.name, self.samples = ds.name, ds.train_samples()[:n].to(dtype)

    def train_samples(self) -> torch.Tensor:
        return self.samples


@pytest.fixture(scope="module")
def raw():
    return {name: DATASETS[name]() for name in ("cegan_gmm4", "cegan_spirals", "cegan_biased")}


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _ctx(data: Any, method: str, seed: int, steps: int, extra: dict[str, Any] | None = None,
         logs: list | None = None, log_every: int = 2) -> RunContext:
    sink = (lambda step, values: logs.append((step, values))) if logs is not None else None
    hparams = run_hparams(method, data.name, **{**SUITE_HP.get(method, {}), **(extra or {})})
    return RunContext(dataset=data, hparams=hparams, seed=seed,
                      device=torch.device("cpu"), budget={"steps": steps}, log_every=log_every, loss_sink=sink)


def _state(result_model: Any, inference_net: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    nets = {"G": result_model.generator, "D": result_model.discriminator}
    if inference_net is not None:
        nets["Q"] = inference_net
    return {f"{k}.{name}": t for k, net in nets.items() for name, t in net.state_dict().items()}


def _compare(specs: list[tuple], datasets: dict[str, Any], steps: int, atol: float, rtol: float,
             check: set[str] | None = None, chunk: int = 3) -> list:
    """Train ``specs`` (method, dataset, seed, extra hparams) batched, then each alone through its method, and
    assert parameters, BatchNorm statistics, logs and measurements agree. Returns the batched results."""
    members = [member_from_context(m, _ctx(datasets[d], m, s, steps, e)) for m, d, s, e in specs]
    results = train_batched(members, steps, "cpu", log_every=2, chunk=chunk)
    for (method, d, seed, extra), res in zip(specs, results, strict=True):
        if check is not None and method not in check:
            continue
        logs: list = []
        ref = METHODS[method]().train(_ctx(datasets[d], method, seed, steps, extra, logs))
        mine = res.train_result()
        assert mine.measurements == pytest.approx(ref.measurements, abs=0)
        want = _state(ref.model, ref.model.entropy.net if method == "egan_ent_vi" else None)
        got = _state(mine.model, res.inference_net)
        assert want.keys() == got.keys()
        for key in want:
            torch.testing.assert_close(got[key], want[key], atol=atol, rtol=rtol, msg=f"{method} {d} {key}")
        assert [s for s, _ in res.losses] == [s for s, _ in logs]
        for (step, a), (_, b) in zip(res.losses, logs, strict=True):
            assert a.keys() == b.keys(), (method, step)
            for key in b:
                assert a[key] == pytest.approx(b[key], rel=rtol, abs=atol), (method, d, step, key)
        # the result is what the metrics need: the same eval-mode samples and energies (EnergyModel.energy
        # feeds float32, so only for float32 models)
        if torch.get_default_dtype() == torch.float32:
            grid = torch.linspace(-20, 20, 50).view(-1, 2)
            torch.testing.assert_close(mine.model.energy(grid), ref.model.energy(grid), atol=atol, rtol=rtol)
        torch.testing.assert_close(mine.model.sample(64, torch.Generator().manual_seed(0)),
                                   ref.model.sample(64, torch.Generator().manual_seed(0)), atol=atol, rtol=rtol)
    return results


# a heterogeneous batch: four methods, two datasets (no margin / margin 10), the update switch, both k-NN normalisations
METHOD_ORDER = ("gan_cegan", "egan_const", "egan_ent_nn", "egan_ent_vi")
MIXED = [(m, d, i, {}) for i, (m, d) in enumerate(itertools.product(METHOD_ORDER, ("cegan_gmm4", "cegan_spirals")))]
MIXED += [("egan_const", "cegan_gmm4", 11, {"lbound": -5e-4}),  # cost_d falls below lbound: g-only steps
          ("egan_ent_nn", "cegan_spirals", 12, {"knn_normalise": "unit"}),
          ("egan_ent_vi", "cegan_biased", 13, {"q_lr_multiplier": 3.0})]


def test_batched_members_equal_their_own_runs_float64(raw):
    with _default_dtype(torch.float64):
        data = {k: _Data(v, torch.float64) for k, v in raw.items()}
        results = _compare(MIXED, data, steps=8, atol=1e-7, rtol=1e-6)
    # the window exercised both masked kinds of step: d-only (step 1, gap = 1 ≥ rbound) and g-only
    fracs = [res.losses[-1][1] for res in results]
    assert any(f["frac_d"] > 0 for f in fracs)
    assert any(1.0 - f["frac_all"] - f["frac_d"] > 0.5 for f in fracs)


def test_gan_members_equal_their_own_runs_over_60_steps(raw):
    """Adagrad does not amplify rounding, so the GAN stays on its reference for long; the short training set
    (1,250 points, two batches per pass) makes the data order reshuffle every other step."""
    with _default_dtype(torch.float64):
        data = {k: _Data(v, torch.float64) for k, v in raw.items()}
        data["short"] = _Data(raw["cegan_spirals"], torch.float64, n=1250)
        specs = [("gan_cegan", "cegan_gmm4", 0, {}), ("egan_ent_nn", "cegan_gmm4", 0, {}),
                 ("gan_cegan", "short", 1, {"lr": 3e-3}), ("egan_ent_vi", "cegan_spirals", 2, {})]
        _compare(specs, data, steps=60, atol=1e-10, rtol=1e-10, check={"gan_cegan"}, chunk=7)


def test_batched_members_equal_their_own_runs_float32_first_step(raw):
    data = {k: _Data(v, torch.float32) for k, v in raw.items()}
    _compare(MIXED, data, steps=1, atol=1e-4, rtol=1e-4)


def test_the_original_codes_batch_norm_settings_train_batched_as_their_own_runs(raw):
    """The sensitivity axes' settings (suites/calibrating_ebgan.yaml): BatchNorm epsilon 1e-6 (a batch shares
    its epsilon) and running statistics kept on discriminator-only steps (per member), each against its run
    trained alone through its program, in float64; steps 1-2 are d-only for members without an all-networks
    first epoch (gap = 1 ≥ rbound)."""
    frozen = [("egan_const", "cegan_gmm4", 14, {"bn_stats_on_g_steps": True, "all_first_epoch": False}),
              ("egan_ent_nn", "cegan_biased", 15, {"bn_stats_on_g_steps": True, "all_first_epoch": False}),
              ("gan_cegan", "cegan_spirals", 16, {}), ("egan_ent_vi", "cegan_gmm4", 17, {"all_first_epoch": False})]
    eps = [(m, d, s, {**e, "bn_eps": 1e-6}) for m, d, s, e in frozen]
    with _default_dtype(torch.float64):
        data = {k: _Data(v, torch.float64) for k, v in raw.items()}
        for specs in (frozen, eps):
            results = _compare(specs, data, steps=8, atol=1e-7, rtol=1e-6)
            assert all(res.losses[-1][1]["frac_d"] > 0 for res in results[:2])  # the d-only steps happened
    member = member_from_context("egan_const", _ctx(raw["cegan_gmm4"], "egan_const", 0, 2))
    with pytest.raises(ValueError, match="bn_eps"):
        train_batched([member, replace(member, hp={**member.hp, "bn_eps": 1e-6})], 2)


def test_members_are_independent(raw):
    """Changing one member's seed and another's learning rate changes nothing, bit for bit, for the others."""
    specs = [("gan_cegan", "cegan_gmm4", 0, {}), ("egan_const", "cegan_spirals", 1, {}),
             ("egan_ent_nn", "cegan_biased", 2, {}), ("egan_ent_vi", "cegan_gmm4", 3, {}),
             ("egan_ent_nn", "cegan_spirals", 4, {}), ("egan_ent_vi", "cegan_biased", 5, {})]
    steps = 12

    def run(changed: dict[int, tuple[int, dict[str, Any]]]) -> list:
        members = []
        for j, (m, d, s, e) in enumerate(specs):
            s, e = changed.get(j, (s, e))
            members.append(member_from_context(m, _ctx(raw[d], m, s, steps, e)))
        return train_batched(members, steps, "cpu", log_every=4)

    base = run({})
    other = run({2: (17, {}), 3: (3, {"lr": 5e-4})})
    for j, (a, b) in enumerate(zip(base, other, strict=True)):
        sa, sb = _state(a.train_result().model, a.inference_net), _state(b.train_result().model, b.inference_net)
        same = all(torch.equal(sa[k], sb[k]) for k in sa) and a.losses == b.losses
        assert same == (j not in (2, 3)), j


def test_a_member_computes_alone_what_it_computes_in_a_batch(raw):
    """Bit for bit, in float32 (the dtype of real runs), over 30 steps: each member of a heterogeneous batch
    (the four methods, both k-NN normalisations, the update switch, three VI and three GAN members, so that
    their rows do not fill whole vectors) has the parameters, BatchNorm statistics and logged losses of the
    same member trained alone by the same trainer. Before the products of a lone member ran as a batch and
    the scalar tails of elementwise loops were padded away, a lone GAN member's D bias differed after 15 steps here."""
    specs = MIXED + [("gan_cegan", "cegan_biased", 21, {"lr": 3e-3}),
                     ("egan_const", "cegan_spirals", 22, {"bn_stats_on_g_steps": True, "all_first_epoch": False})]
    steps = 30

    def members(chosen: list) -> list:
        return [member_from_context(m, _ctx(raw[d], m, s, steps, e)) for m, d, s, e in chosen]

    together = train_batched(members(specs), steps, "cpu", log_every=1, chunk=7)
    for spec, res in zip(specs, together, strict=True):
        alone = train_batched(members([spec]), steps, "cpu", log_every=1, chunk=7)[0]
        sa, sb = _state(res.train_result().model, res.inference_net), _state(alone.train_result().model,
                                                                             alone.inference_net)
        assert all(torch.equal(sa[k], sb[k]) for k in sa), (spec, [k for k in sa if not torch.equal(sa[k], sb[k])])
        assert res.losses == alone.losses, spec


def test_hparams_are_what_the_methods_train_with(raw):
    """A batched member trains with what each method's program trains with: the run's resolved settings, where the
    budget's batch size has replaced the hyper-parameter."""
    extra = {"lbound": -1.0, "all_first_epoch": False, "lr": 1e-4}
    for ds in raw.values():
        for method in MODULES:
            keys = set(METHODS[method].hparams)
            written = _ctx(ds, method, 0, 2, {k: v for k, v in extra.items() if k in keys}).hparams
            assert written["batch_size"] == 500
            resolved = settings.of_values(method, written, {"steps": 2, "batch_size": 64})
            ctx = RunContext.of(resolved, ds, torch.device("cpu"))
            member_hp, program_hp = member_from_context(method, ctx).hp, METHODS[method]().setup(ctx).hp
            assert member_hp == program_hp and program_hp["batch_size"] == 64, (ds.name, method)


def test_index_stream_is_batch_stream():
    """Minibatch indices drawn many steps at a time are BatchStream's, across reshuffles (n not a multiple)."""
    n, bs = 1_234, 100
    ref = BatchStream(torch.arange(n), bs, np.random.default_rng(7))
    mine = _IndexStream(n, bs, np.random.default_rng(7))
    taken = np.concatenate([mine.take(k) for k in (1, 5, 13, 2, 30)])
    want = np.stack([ref.next().numpy() for _ in range(len(taken))])
    assert np.array_equal(taken, want)


def test_unsupported_options_are_refused(raw):
    member = member_from_context("egan_const", _ctx(raw["cegan_gmm4"], "egan_const", 0, 2))
    for change in ({"l2": 1e-3}, {"max_grad_norm": 1.0}, {"energy_form": "softplus"}, {"net": "digits28"}):
        with pytest.raises(ValueError):
            train_batched([replace(member, hp={**member.hp, **change})], 2)
    other = member_from_context("gan_cegan", _ctx(raw["cegan_gmm4"], "gan_cegan", 0, 2))
    with pytest.raises(ValueError, match="batch_size"):
        train_batched([member, replace(other, hp={**other.hp, "batch_size": 250})], 2)


def test_callbacks_and_groups(raw):
    """on_log sees exactly the logged losses, on_progress every step of every member, and training in successive
    groups gives each member its result, bit for bit."""
    specs = [("gan_cegan", "cegan_gmm4", 0), ("egan_const", "cegan_spirals", 1), ("egan_ent_vi", "cegan_biased", 2)]
    steps = 7
    with _default_dtype(torch.float64):
        data = {k: _Data(v, torch.float64) for k, v in raw.items()}

        def members() -> list:
            return [member_from_context(m, _ctx(data[d], m, s, steps)) for m, d, s in specs]

        seen: dict[int, list] = {j: [] for j in range(len(specs))}
        done = dict.fromkeys(range(len(specs)), 0)

        def progress(j: int, k: int) -> None:
            done[j] += k

        whole = train_batched(members(), steps, "cpu", log_every=3, chunk=2,
                              on_log=lambda j, step, values: seen[j].append((step, values)), on_progress=progress)
        assert all(seen[j] == res.losses and [s for s, _ in res.losses] == [3, 6, 7] for j, res in enumerate(whole))
        assert done == dict.fromkeys(range(len(specs)), steps)
        grouped = train_batched(members(), steps, "cpu", log_every=3, group=2)
        for a, b in zip(whole, grouped, strict=True):
            sa, sb = _state(a.train_result().model, a.inference_net), _state(b.train_result().model, b.inference_net)
            assert all(torch.equal(sa[key], sb[key]) for key in sa) and a.losses == b.losses


BATCH_SUITE = """
suite: batch_test
paper: {title: Batches (engine test), authors: [bench]}
datasets:
  gmm4: {loader: cegan_gmm4, source: ours}
  biased: {loader: cegan_biased, source: ours}
methods:
  EGAN-Const: {method: egan_const, hparams: {batch_size: 100}, source: ours}
experiments:
  synthetic:
    methods: [EGAN-Const]
    datasets: [gmm4, biased]
    budget: {smoke: {steps: 20}, cpu: {steps: 20}, paper: {steps: 20}, source: ours}
    seeds: {smoke: 2, cpu: 2, paper: 2}
"""


@pytest.mark.parametrize("batch, sizes", [("36", [4]), ("3", [3, 1])])
def test_a_batch_trains_at_most_batch_runs_and_each_run_once(bench_home, monkeypatch, batch, sizes):
    """Two fixed-setting jobs of two seeds: 6 units (a search unit and two seeds each), 4 runs, since a search
    run is its first seed's run. --batch bounds the runs trained together, not the units read back."""
    from pathlib import Path

    from benchmark import batching
    from benchmark.cli import main
    from benchmark.tracking import Tracker, default_tracking_uri

    seen: list[int] = []
    trainer = batching.TRAINERS["cegan_2d"]

    def spy(runs, **kwargs):
        seen.append(len(runs))
        return trainer(runs, **kwargs)

    monkeypatch.setitem(batching.TRAINERS, "cegan_2d", spy)
    Path("batch.yaml").write_text(BATCH_SUITE)
    assert main(["run", "batch.yaml", "--profile", "smoke", "--batch", batch, "--no-progress",
                 "--no-leaderboard"]) == 0
    assert seen == sizes
    runs = [r for r in Tracker(default_tracking_uri()).runs("batch_test") if r.tags["bench.kind"] == "run"]
    assert len(runs) == 4 and len({r.tags["run_key"] for r in runs}) == 4


def test_the_engine_splits_a_family_by_its_shared_settings_and_checkpoints_every_batch(bench_home, monkeypatch):
    """Runs of two batch sizes gathered together train as two batches, each with its own checkpoint (the trainer
    no longer groups, nor decides which batch may keep one); that a member computes in any batch what it computes
    alone is test_a_member_computes_alone_what_it_computes_in_a_batch's."""
    from pathlib import Path

    from benchmark import batching
    from benchmark.cli import main
    from benchmark.tracking import Tracker, default_tracking_uri

    seen: list[tuple[set, set]] = []
    trainer = batching.TRAINERS["cegan_2d"]

    def spy(runs, checkpoint=None, **kwargs):
        assert checkpoint is not None
        seen.append(({ctx.hparams["batch_size"] for _, ctx in runs}, {b.ctx.seed for b in checkpoint.begun}))
        return trainer(runs, checkpoint=checkpoint, **kwargs)

    monkeypatch.setitem(batching.TRAINERS, "cegan_2d", spy)
    two_sizes = BATCH_SUITE.replace(
        "  EGAN-Const: {method: egan_const, hparams: {batch_size: 100}, source: ours}",
        "  EGAN-Const: {method: egan_const, hparams: {batch_size: 100}, source: ours}\n"
        "  EGAN-Small: {method: egan_const, hparams: {batch_size: 50}, source: ours}").replace(
        "methods: [EGAN-Const]", "methods: [EGAN-Const, EGAN-Small]")
    Path("batch.yaml").write_text(two_sizes)

    assert main(["run", "batch.yaml", "--profile", "smoke", "--batch", "36", "--no-progress",
                 "--no-leaderboard"]) == 0
    # two jobs per method (gmm4, biased) of two seeds each: four runs per batch size, the search runs being the
    # first seeds' runs
    assert sorted((tuple(sizes), len(seeds)) for sizes, seeds in seen) == [((50,), 2), ((100,), 2)]
    runs = [r for r in Tracker(default_tracking_uri()).runs("batch_test") if r.tags["bench.kind"] == "run"]
    assert len(runs) == 8 and {r.status for r in runs} == {"FINISHED"}
    assert {r.tags["batch"] for r in runs} == {"4"}  # each run says how many trained with it


def test_one_rule_says_which_runs_share_a_batch_and_a_left_out_setting_is_its_default():
    """The engine's grouping (``batching.batches``) and the trainer's check read the same shared values: a run
    that leaves ``bn_eps`` out trains with 1e-5, so it batches with one that writes 1e-5 and not with 1e-6."""
    from types import SimpleNamespace

    from baselines import ebgan_batched, ebgan_common
    from benchmark import batching
    from benchmark.batch_families import SHARED, shared_values

    assert SHARED["cegan_2d"]["bn_eps"] == ebgan_common.BN_EPS_DEFAULT == ebgan_batched.BN_EPS
    runs = [SimpleNamespace(hparams={"batch_size": 500}, budget={}),
            SimpleNamespace(hparams={"batch_size": 500, "bn_eps": 1e-5}, budget={}),
            SimpleNamespace(hparams={"batch_size": 500, "bn_eps": 1e-6}, budget={}),
            SimpleNamespace(hparams={}, budget={"batch_size": 500}),
            SimpleNamespace(hparams={"batch_size": 1000}, budget={})]
    assert batching.batches("cegan_2d", runs) == [[0, 1, 3], [2], [4]]
    assert shared_values("cegan_2d", runs[0].hparams, {}) == (500, 1e-5)
    # the 2-D family trains methods apart (faster, and no member's numbers change): four methods, four batches
    methods = ["gan_cegan", "egan_const", "gan_cegan", "egan_ent_nn", "egan_ent_vi", "egan_const"]
    same = [SimpleNamespace(hparams={"batch_size": 500}, budget={}, device=torch.device("cpu")) for _ in methods]
    assert batching.batches("cegan_2d", same, methods) == [[0, 2], [1, 5], [3], [4]]
    # on a GPU a step is bound by its kernel launches: one batch launches once for every method
    gpu = [SimpleNamespace(hparams={"batch_size": 500}, budget={}, device=torch.device("cuda", 0)) for _ in methods]
    assert batching.batches("cegan_2d", gpu, methods) == [list(range(6))]
