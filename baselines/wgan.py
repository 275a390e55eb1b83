"""Wasserstein critics (essay §3.3) trained against a *fixed* model distribution.

``wgan_critic`` maximises E_data f − E_model f over a 1-Lipschitz-ish critic f, so that the
trained critic's held-out mean difference estimates W1(p_data, p_model) by the
Kantorovich–Rubinstein duality. Two ways to keep f Lipschitz:

- ``gradient_penalty`` (Gulrajani et al. 2017, Alg. 1): λ·E(‖∇f(x̂)‖ − 1)² at random
  interpolates x̂ of data and model samples, λ = 10, Adam(lr 1e-4, β = (0.5, 0.9)).
- ``weight_clipping`` (Arjovsky et al. 2017, Alg. 1): clamp every weight to [−c, c] after each
  step, c = 0.01, RMSprop(lr 5e-5).

With a soft penalty the optimum is not exactly 1-Lipschitz: on the parallel lines the best
critic has slope 1 + |θ|/(2λ) across the gap (maximise gθ − λ(g − 1)² over the slope g), so its
estimate is |θ|(1 + |θ|/(2λ)). Clipping only bounds the Lipschitz constant by some K, so its
estimate is K·W up to how well f fills that bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from baselines.gan import lr_schedule, mlp
from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.contracts import FlatSamples, ModelDistribution, as_offered
from benchmark.hparams import Bool, Choice, Float, Int
from benchmark.loop import Program
from benchmark.nets.wgan_gp import gradient_penalty

LIPSCHITZ = ("gradient_penalty", "weight_clipping")


@dataclass
class CriticModel:
    critic: nn.Module
    device: torch.device

    @torch.no_grad()
    def values(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x.to(self.device, torch.float32)).squeeze(-1).cpu()

    def grad_norms(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(x).sum(), x)
        return grad.norm(dim=1).detach().cpu()


@register_method
class WGANCritic(Method):
    name = "wgan_critic"
    description = "WGAN critic (gradient penalty or weight clipping) against a fixed model distribution"
    provides = ("critic",)
    needs = ("flat_samples", "model_distribution")
    # Per-variant optimiser settings are the papers' (see the module docstring); the MLP is
    # smaller than Gulrajani et al.'s toy critic (3×512 ReLU) to fit CPU budgets.
    hparams = {"lipschitz": Choice("gradient_penalty", LIPSCHITZ), "penalty": Float(10.0, low=0),
               "clip": Float(0.01, low=0), "batch_size": Int(256, low=1), "hidden": Int(128, low=1),
               "depth": Int(3, low=1), "lr": Float(None, low=0, doc="default: 1e-4 (penalty) or 5e-5 (clipping)"),
               "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.9, low=0, high=1), "lr_decay": Bool(False)}

    def setup(self, ctx: RunContext) -> Program:
        return _CriticTraining(ctx)


class _CriticTraining(Program):
    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp, self.device = ctx.hparams, ctx.device
        dim = as_offered(ctx.dataset, FlatSamples).dim
        self.pair = as_offered(ctx.dataset, ModelDistribution)
        self.kind = str(hp["lipschitz"])
        self.critic = mlp(dim, 1, int(hp["hidden"]), int(hp["depth"]), activation=nn.ReLU).to(ctx.device)
        self.opt = _optimizer(self.critic, self.kind, hp)
        self.sched = lr_schedule(self.opt, ctx.steps, bool(hp["lr_decay"]))
        self.parts = {"critic": self.critic, "opt": self.opt, "sched": self.sched}
        self.streams = {"data": ctx.rng("data"), "model": ctx.rng("model"), "interpolation": ctx.rng("interpolation")}
        self.bs, self.lam, self.clip = int(hp["batch_size"]), float(hp["penalty"]), float(hp["clip"])

    def step(self, step: int, log: bool) -> dict[str, Any]:
        x_data = self.pair.sample_data(self.bs, self.streams["data"]).to(self.device)
        x_model = self.pair.sample_model(self.bs, self.streams["model"]).to(self.device)
        gap = self.critic(x_data).mean() - self.critic(x_model).mean()
        loss = -gap
        penalty = torch.zeros((), device=self.device)
        if self.kind == "gradient_penalty":
            penalty = gradient_penalty(self.critic, x_data, x_model, self.streams["interpolation"])
            loss = loss + self.lam * penalty
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        if self.kind == "weight_clipping":
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        return {"critic_gap": gap, "penalty": penalty}

    def result(self) -> TrainResult:
        self.critic.eval()
        return TrainResult(model=CriticModel(self.critic, self.device))


def _optimizer(critic: nn.Module, kind: str, hp: dict) -> torch.optim.Optimizer:
    if kind == "gradient_penalty":
        # Gulrajani et al. (2017), Alg. 1: α = 1e-4, β1 = 0.5, β2 = 0.9.
        lr = 1e-4 if hp["lr"] is None else float(hp["lr"])
        return torch.optim.Adam(critic.parameters(), lr=lr, betas=(float(hp["beta1"]), float(hp["beta2"])))
    # Arjovsky et al. (2017), Alg. 1: RMSProp, α = 5e-5 (momentum-based optimisers were unstable).
    lr = 5e-5 if hp["lr"] is None else float(hp["lr"])
    return torch.optim.RMSprop(critic.parameters(), lr=lr)
