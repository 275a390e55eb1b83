"""A small real learner for the engine's tests: a 1-D Gaussian whose mean and log-std are fitted by
maximum likelihood with SGD. Its answers are known in closed form, and it trains in milliseconds.
Imported by conftest.py (in-process tests) and by engine_cli.py (tests that run `bench` as a subprocess)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from benchmark import api
from benchmark.errors import DatasetMissing
from benchmark.hparams import Choice, Float, Int
from benchmark.loop import Program


@api.register_dataset
class FixtureGaussian(api.Dataset):
    name = "test_gaussian_1d"

    def __init__(self, data_dir: Path | None = None, mean: float = 1.5, std: float = 0.5) -> None:
        super().__init__(data_dir, mean=mean, std=std)
        self.mean, self.std = float(mean), float(std)

    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return self.mean + self.std * torch.randn(n, generator=rng)


@api.register_dataset
class FixtureFileData(FixtureGaussian):
    """Like the Gaussian, but only when a file is in the data directory (for the `not run` path)."""

    name = "test_needs_file"

    def __init__(self, data_dir: Path | None = None, **params) -> None:
        if data_dir is None or not (data_dir / "fixture" / "data.txt").exists():
            raise DatasetMissing("fixture", "fixture/data.txt under the data directory (--data-dir or BENCH_DATA)")
        super().__init__(data_dir, **params)


# errors a method can raise, as torch raises them on a GPU: a bug, a sticky CUDA error, memory running out
PLANTED = {"value": ValueError("a bug in the method, planted by the test"),
           "cuda": RuntimeError("CUDA error: an illegal memory access was encountered"),
           "oom": torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")}


@api.register_method
class FixtureGaussianFit(api.Method):
    name = "test_gaussian_fit"
    hparams = {"lr": Float(0.05, low=0), "batch_size": Int(64, low=1),
               "poison_at": Int(-1, doc="log a NaN loss at this step (failure tests)"),
               "poison_lr": Float(None, doc="poison only the run with this lr"),
               "poison_seed": Int(-1, doc="poison only the run of this seed (-1: every seed)"),
               "step_delay": Float(0.0, low=0, doc="seconds to sleep per step (kill tests)"),
               "raise_at": Int(-1, doc="raise an error at this step (error tests)"),
               "raise_kind": Choice("value", ("value", "cuda", "oom"), doc="which error raise_at raises")}
    produces = ("fit.final_nll",)

    def train(self, ctx: api.RunContext) -> api.TrainResult:
        mu = torch.zeros((), requires_grad=True)
        log_sigma = torch.zeros((), requires_grad=True)
        opt = torch.optim.SGD([mu, log_sigma], lr=float(ctx.hp("lr")))
        rng = ctx.rng("data")
        nll = torch.tensor(0.0)
        start = 0
        saved = ctx.restore()  # a killed attempt at this same run left a checkpoint: go on from there
        if saved is not None:
            start, state = saved
            with torch.no_grad():
                mu.copy_(state["mu"])
                log_sigma.copy_(state["log_sigma"])
            opt.load_state_dict(state["opt"])
            rng.set_state(state["rng"])
            nll = state["nll"]
        for step in range(start, ctx.steps):
            x = ctx.dataset.sample(int(ctx.hp("batch_size")), rng)
            nll = (log_sigma + 0.5 * ((x - mu) / log_sigma.exp()) ** 2).mean() + 0.5 * math.log(2 * math.pi)
            opt.zero_grad()
            nll.backward()
            opt.step()
            poisoned = ((ctx.hp("poison_lr") is None or float(ctx.hp("lr")) == float(ctx.hp("poison_lr")))
                        and int(ctx.hp("poison_seed")) in (-1, ctx.seed))
            if step == int(ctx.hp("poison_at", -1)) and poisoned:
                ctx.log_losses(step, {"nll": float("nan")})  # a diverged run, for the failure tests
            if step % ctx.log_every == 0:
                ctx.log_losses(step, {"nll": nll.item()})
            if step == int(ctx.hp("raise_at")):
                raise PLANTED[ctx.hp("raise_kind")]
            if ctx.hp("step_delay"):
                time.sleep(float(ctx.hp("step_delay")))  # lets the kill test land mid-run
            ctx.advance()
            ctx.checkpoint(step + 1, lambda: {"mu": mu.detach().clone(), "log_sigma": log_sigma.detach().clone(),
                                              "opt": opt.state_dict(), "rng": rng.get_state(),
                                              "nll": nll.detach().clone()})  # noqa: B023 (called at once)
        return api.TrainResult(model=(mu.item(), log_sigma.exp().item()),
                               measurements={"fit.final_nll": nll.item()})


@api.register_metric("test_fit_error", produces=["fit.mean", "fit.std", "fit.mean_error"])
def fit_error(result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    mu, sigma = result.model
    return {"fit.mean": mu, "fit.std": sigma, "fit.mean_error": abs(mu - ctx.dataset.mean)}


@api.register_metric("test_fit_var", produces=["fit.var"])
def fit_var(result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    _, sigma = result.model
    return {"fit.var": sigma**2}


def _needs_fixture_weights(data_dir: Path | None) -> Path:
    path = Path(data_dir) / "fixture" / "weights.txt" if data_dir else None
    if path is None or not path.is_file():
        raise DatasetMissing("fixture weights", "fixture/weights.txt under the data directory")
    return path


@api.register_metric("test_weighted_mean", produces=["fit.weighted_mean"], requires=_needs_fixture_weights)
def weighted_mean(result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    """The fitted mean times a number read from a file, as a metric that loads network weights would."""
    mu, _ = result.model
    weight = float(_needs_fixture_weights(ctx.dataset.data_dir).read_text())
    return {"fit.weighted_mean": weight * mu}


@api.register_metric("test_late_file", produces=["fit.late"])
def late_file(result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    """A metric that finds out only while it runs that a file is missing."""
    path = Path(ctx.dataset.data_dir or ".") / "fixture" / "late.txt"
    if not path.is_file():
        raise DatasetMissing("late file", "fixture/late.txt under the data directory")
    return {"fit.late": float(path.read_text())}


class _HostNoiseTraining(Program):
    """A program with the two mistakes a GPU would refuse, planted for the device checker: noise drawn on the
    host and added to a device tensor, and ``.numpy()`` of a device tensor."""

    def __init__(self, ctx: api.RunContext) -> None:
        super().__init__()
        self.net = torch.nn.Linear(2, 1).to(ctx.device)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.parts = {"net": self.net, "opt": self.opt}
        self.device = ctx.device

    def step(self, step: int, log: bool) -> dict[str, Any]:
        x = torch.ones(8, 2).to(self.device)
        out = self.net(x) + torch.randn(8, 1)  # planted: host noise on a device tensor
        loss = (out**2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": float(out.detach().numpy().mean())}  # planted: numpy of a device tensor

    def result(self) -> api.TrainResult:
        return api.TrainResult(model=self.net)


@api.register_method
class FixtureHostNoise(api.Method):
    name = "test_host_noise"
    hparams = {}

    def setup(self, ctx: api.RunContext) -> Program:
        return _HostNoiseTraining(ctx)
