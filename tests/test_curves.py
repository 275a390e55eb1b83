"""Budget curves (benchmark/curves.py): the points are doublings of steps, measuring them leaves training exactly
as it was (through the engine's loop and batched), the last point is the run's own measurement, and a verdict
states the change over the last doubling."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import TESTS

from benchmark import curves, loop
from benchmark.api import RunContext, TrainResult
from benchmark.cli import main
from benchmark.results import collect
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri

SUITE = TESTS / "suites" / "curve.yaml"


def test_points_are_doublings_ending_at_the_budget():
    assert curves.curve_steps(100_000, 8) == (781, 1562, 3125, 6250, 12500, 25000, 50000, 100000)
    assert curves.curve_steps(20_000, 8) == (156, 312, 625, 1250, 2500, 5000, 10000, 20000)
    assert curves.curve_steps(4, 8) == (1, 2, 4)  # no zeros, no repeats
    assert curves.curve_steps(0, 8) == () and curves.curve_steps(100, 0) == ()


def test_last_doubling_is_the_change_of_the_mean_over_seeds():
    a = {"kl": [(25, 4.0), (50, 2.0), (100, 1.0)]}
    b = {"kl": [(25, 4.0), (50, 4.0), (100, 2.0)]}
    assert curves.last_doubling([a, b], "kl") == pytest.approx((1.5 - 3.0) / 3.0)
    assert curves.last_doubling([a], "other") is None
    assert curves.last_doubling([{"kl": [(100, 1.0)]}], "kl") is None  # no half-way point
    assert curves.moving_text(-0.5) == "still moving: -50% over the last doubling of steps"
    assert curves.moving_text(0.04).startswith("settled: +4%")
    assert curves.decode(curves.encode({50: {"kl": 2.0}, 100: {"kl": float("nan")}})) == {"kl": [(50, 2.0)]}


class _ModeProbe(loop.Program):
    """Records the training mode of its network at every step; ``result`` switches it to evaluation mode, as
    the methods' programs do."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.BatchNorm1d(1)
        self.parts = {"net": self.net}
        self.modes: list[bool] = []

    def step(self, step: int, log: bool) -> None:
        self.modes.append(self.net.training)

    def result(self) -> TrainResult:
        self.net.eval()
        return TrainResult(model=self.net, measurements={})


def test_the_loop_measures_curve_points_and_trains_on_in_training_mode():
    program = _ModeProbe()
    method = type("Probe", (), {"threads": lambda self, ctx: None, "setup": lambda self, ctx: program})()
    seen: list[tuple[int, bool]] = []
    ctx = RunContext(dataset=None, hparams={}, seed=0, device=torch.device("cpu"), budget={"steps": 8},
                     curve_steps=curves.curve_steps(8, 3),
                     curve_sink=lambda step, result: seen.append((step, result().model.training)))
    loop.train(method, ctx)
    assert seen == [(2, False), (4, False)]  # the last point is the run's own measurement, taken after
    assert program.modes == [True] * 8


def test_curves_are_measured_without_touching_training(bench_home):
    Path("curve.yaml").write_text(SUITE.read_text())
    assert main(["run", "curve.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    runs = [r for r in Tracker(default_tracking_uri()).runs("curve_test") if r.tags["bench.kind"] == "run"]
    by = {(r.tags["experiment"], r.seed): r for r in runs}
    assert len(by) == len(runs) == 8
    for family, steps in (("loop", 160), ("batched", 120)):
        assert by[(f"{family}_curve", 0)].tags["trainer"] == ("loop" if family == "loop" else "batched:cegan_2d")
        for seed in (0, 1):
            with_curve, plain = by[(f"{family}_curve", seed)], by[(f"{family}_plain", seed)]
            # the same training: every final measurement identical, to the bit
            assert with_curve.measurements == plain.measurements, family
            assert not any(k.startswith(curves.PREFIX) for k in with_curve.measurements)
            assert not plain.tags.get(curves.TAG)
            curve = curves.decode(with_curve.tags[curves.TAG])
            assert curve and all([s for s, _ in points] == list(curves.curve_steps(steps, 4))
                                 for points in curve.values())
            for name, points in curve.items():  # the last point is the run's own measurement
                assert points[-1][1] == with_curve.measurements[name], name
            moved = [abs(points[-1][1] - points[0][1]) for points in curve.values()]
            assert max(moved) > 0, "the points are taken as training goes, not all at the end"

    suite = load_suite(Path("curve.yaml"))
    (verdict,) = collect(suite, Tracker(default_tracking_uri()), "smoke").verdicts
    seeds = [curves.decode(by[("batched_curve", s)].tags[curves.TAG])["kl.pdisc_pdata"] for s in (0, 1)]
    half, end = (sum(dict(p)[s] for p in seeds) / 2 for s in (60, 120))
    assert verdict.last_doubling == pytest.approx((end - half) / abs(half))
    assert verdict.moving == curves.moving_text(verdict.last_doubling) and not math.isnan(verdict.last_doubling)
