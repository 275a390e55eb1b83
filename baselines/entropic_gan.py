"""Entropic GAN (Balaji, Hassani, Chellappa, Feizi, ICML 2019 "Entropic GANs meet VAEs"): a
Wasserstein GAN with entropy regularisation, trained through its dual

    min_G max_{D1,D2}  E[D1(Y)] − E[D2(G(X))] − λ E_{P_Y × P_Ŷ}[exp(v(y, ŷ)/λ)],
    v(y, ŷ) = D1(y) − D2(ŷ) − ℓ(y, ŷ),

as the poster/slides state it. What the authors' code (yogeshbalaji/EntropicGANs_meet_VAEs, src/)
does, and we follow (``gan_mode = swgan``):

- ℓ is the **L1** distance Σ|y − ŷ| (gan_utils.dist_c with useCosineDist=False, also the
  evaluator's numpy_dist_c), not the squared loss; ``loss: squared`` is offered for the Gaussian
  tightness experiment, where only the squared loss gives a closed-form likelihood.
- the penalty is λ·exp(v/λ)/e (gan_utils.strong_convex_func), i.e. the slides' form with an extra
  1/e; it only shifts D1 by λ and cancels in every normalised coupling, so the bound is unchanged.
- λ = 5 (main.py ``--Lambda 5.``; evaluator.py ``self.lamb = 5.0``), with the warm-up of
  trainer.py: 2λ for the first 49 generator iterations, 1.6λ to 99, 1.28λ to 199, then λ.
- D1 and D2 share their body and differ in their output layer, D1's without bias (trainer.py
  builds both with models.Discriminator, whose convolutions are named 'Discriminator.*' for both
  and therefore shared by tflib; D1 is 'Discriminator2' with useBias=False).
- 5 critic updates per generator update, batch 128, Adam(lr 2e-4, β = (0.5, 0.99)) for both
  (main.py, trainer.py); the generator's update is skipped while E D2(ŷ) − E D1(y) ≥ 0
  ("skip due to poor disc_cost"), and it reuses the last critic minibatch.
- generator loss: the README trains with ``--usePrimalLoss``: minimise E_{π}[ℓ(y, G(x))] with the
  coupling π = exp(v/λ)/e held fixed (stop-gradient); ``generator_loss: dual`` is the code's
  default flag (minimise the dual objective itself). At the optimal critics both give the same
  generator gradient (the dual's D2 term vanishes when the coupling's ŷ-marginal is 1).
- latent X ~ N(0, I_128) (trainer.py ``z_dim = 128``), generator with a sigmoid output for
  images in [0, 1] (models.Generator). The DCGAN-style conv nets of models.py are replaced by MLPs
  (``generator: mlp``) for the 8×8 analogue, or by a linear generator G(x) = Ax + b with quadratic
  critics (``generator: linear``, ``critic: quadratic``) for Gaussian data, where the optimal
  entropic-OT potentials are exactly quadratic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmark.api import Method, RunContext, TrainResult, register_method
from benchmark.contracts import FlatSamples, LatentDim, as_offered, offered
from benchmark.hparams import Bool, Choice, Float, Int
from benchmark.loop import Program

LOSSES = ("l1", "squared")
EXP_CLAMP = 60.0  # exp(60) ≈ 1e26: far beyond any coupling weight a trained critic produces


# ------------------------------------------------------------------------------------ losses


def pairwise_cost(y: torch.Tensor, y_hat: torch.Tensor, loss: str) -> torch.Tensor:
    """ℓ(y_i, ŷ_j) for every pair: (n, d) × (m, d) -> (n, m)."""
    if loss == "squared":
        return torch.cdist(y, y_hat, p=2.0) ** 2
    return torch.cdist(y, y_hat, p=1.0)


def cost(y: torch.Tensor, y_hat: torch.Tensor, loss: str) -> torch.Tensor:
    """ℓ(y, ŷ) summed over the last axis, broadcasting the leading ones."""
    diff = y - y_hat
    return (diff**2).sum(-1) if loss == "squared" else diff.abs().sum(-1)


def log_normaliser(loss: str, lam: float, dim: int) -> float:
    """log C of f_{Y|X=x}(y) = C exp(−ℓ(y, G(x))/λ) on R^d.

    squared: exp(−‖e‖²/λ) is N(0, (λ/2) I) up to C = (πλ)^{−d/2}; L1: a product of Laplace
    densities of scale λ, C = (2λ)^{−d}.
    """
    if loss == "squared":
        return -0.5 * dim * math.log(math.pi * lam)
    return -dim * math.log(2.0 * lam)


def lambda_at(iteration: int, lam: float, warmup: bool) -> float:
    """trainer.py's warm-up of λ over the first 300 generator iterations."""
    if not warmup:
        return lam
    if iteration < 49:
        return lam * 2.0
    if iteration < 99:
        return lam * 2.0 * 0.8
    if iteration < 199:
        return lam * 2.0 * 0.8 * 0.8
    return lam


# ---------------------------------------------------------------------------------- networks


class QuadraticCritics(nn.Module):
    """D1(y) = yᵀM1y + w1ᵀy (no bias, like the code's D1), D2(y) = yᵀM2y + w2ᵀy + c2.

    The shared 'body' is the fixed feature map (y, yyᵀ); each critic is a linear head on it.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.m1 = nn.Parameter(torch.zeros(dim, dim))
        self.w1 = nn.Parameter(torch.zeros(dim))
        self.m2 = nn.Parameter(torch.zeros(dim, dim))
        self.w2 = nn.Parameter(torch.zeros(dim))
        self.c2 = nn.Parameter(torch.zeros(()))

    @staticmethod
    def _quad(y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        sym = 0.5 * (m + m.T)
        return ((y @ sym) * y).sum(-1)

    def d1(self, y: torch.Tensor) -> torch.Tensor:
        return self._quad(y, self.m1) + y @ self.w1

    def d2(self, y: torch.Tensor) -> torch.Tensor:
        return self._quad(y, self.m2) + y @ self.w2 + self.c2

    def d2_bias(self) -> torch.Tensor:
        return self.c2.data


class MLPCritics(nn.Module):
    """A shared LeakyReLU(0.2) body with two linear heads; D1's head has no bias (trainer.py)."""

    def __init__(self, dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head1 = nn.Linear(width, 1, bias=False)
        self.head2 = nn.Linear(width, 1)

    def d1(self, y: torch.Tensor) -> torch.Tensor:
        return self.head1(self.body(y)).squeeze(-1)

    def d2(self, y: torch.Tensor) -> torch.Tensor:
        return self.head2(self.body(y)).squeeze(-1)

    def d2_bias(self) -> torch.Tensor:
        return self.head2.bias.data


def make_generator(kind: str, latent_dim: int, dim: int, hidden: int, depth: int, output: str) -> nn.Module:
    if kind == "linear":
        return nn.Linear(latent_dim, dim)
    layers: list[nn.Module] = []
    width = latent_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, dim))
    if output == "sigmoid":
        layers.append(nn.Sigmoid())  # models.Generator ends in a sigmoid: images in [0, 1]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------------------------- model


@dataclass
class EntropicGANModel:
    """The trained generator and critics, with what the likelihood metrics need."""

    generator: nn.Module
    critics: nn.Module
    loss: str
    lam: float
    latent_dim: int
    dim: int
    device: torch.device
    dtype: torch.dtype

    def _in(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device, self.dtype)

    @torch.no_grad()
    def generate(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[:-1]
        out = self.generator(self._in(x).reshape(-1, self.latent_dim))
        return out.reshape(*shape, self.dim)

    @torch.no_grad()
    def d1(self, y: torch.Tensor) -> torch.Tensor:
        shape = y.shape[:-1]
        return self.critics.d1(self._in(y).reshape(-1, self.dim)).reshape(shape)

    @torch.no_grad()
    def d2(self, y_hat: torch.Tensor) -> torch.Tensor:
        shape = y_hat.shape[:-1]
        return self.critics.d2(self._in(y_hat).reshape(-1, self.dim)).reshape(shape)

    @torch.no_grad()
    def cost(self, y: torch.Tensor, y_hat: torch.Tensor) -> torch.Tensor:
        return cost(self._in(y), self._in(y_hat), self.loss)

    def log_c(self) -> float:
        return log_normaliser(self.loss, self.lam, self.dim)

    def linear_parameters(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(A, b) of G(x) = Ax + b when the generator is linear, else None."""
        if isinstance(self.generator, nn.Linear):
            return self.generator.weight.detach().double().cpu(), self.generator.bias.detach().double().cpu()
        return None


# ------------------------------------------------------------------------------------ method


def dual_terms(critics: nn.Module, y: torch.Tensor, y_hat: torch.Tensor, lam: float,
               loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(E D1(y) − E D2(ŷ), mean pairwise λ·exp(v/λ)/e, coupling exp(v/λ)/e of shape (n, m))."""
    d1, d2 = critics.d1(y), critics.d2(y_hat)
    v = d1.unsqueeze(1) - d2.unsqueeze(0) - pairwise_cost(y, y_hat, loss)
    coupling = torch.exp((v / lam).clamp(max=EXP_CLAMP) - 1.0)
    return d1.mean() - d2.mean(), lam * coupling.mean(), coupling


def set_optimal_constant(critics: nn.Module, y: torch.Tensor, y_hat: torch.Tensor, lam: float, loss: str) -> None:
    """Maximise the dual exactly over D2's constant on this minibatch (ours, not the code's).

    The dual is concave in a shift δ of v and its maximiser makes the mean coupling
    E exp((v + δ)/λ − 1) equal to 1: δ = −λ (log E exp(v/λ) − 1). Adam moves a bias by about lr
    per step, while ℓ = ‖y − ŷ‖² on 64-dimensional data is in the thousands, so without this
    step the coupling underflows to 0 and the critics stop learning.
    """
    with torch.no_grad():
        v = critics.d1(y).unsqueeze(1) - critics.d2(y_hat).unsqueeze(0) - pairwise_cost(y, y_hat, loss)
        delta = -lam * (torch.logsumexp(v.flatten() / lam, 0) - math.log(v.numel()) - 1.0)
        critics.d2_bias().sub_(delta)


@register_method
class EntropicGAN(Method):
    name = "entropic_gan"
    description = "Wasserstein GAN with entropy regularisation trained through its dual (Balaji et al. 2019)"
    hparams = {
        "loss": Choice("l1", LOSSES), "lam": Float(5.0, low=0), "lambda_warmup": Bool(True),
        "generator_loss": Choice("primal", ("primal", "dual")), "critic_iters": Int(5, low=1),
        "batch_size": Int(128, low=1), "lr_gen": Float(2e-4, low=0), "lr_disc": Float(2e-4, low=0),
        "beta1": Float(0.5, low=0, high=1), "beta2": Float(0.99, low=0, high=1),
        "latent_dim": Int(128, low=0, nullable=True, doc="0 or null: the dataset's latent_dim, else its dim"),
        "generator": Choice("mlp", ("mlp", "linear")), "critic": Choice("mlp", ("mlp", "quadratic")),
        "hidden": Int(256, low=1), "depth": Int(2, low=0), "output": Choice("sigmoid", ("sigmoid", "none")),
        "skip_bad_critic": Bool(True), "float64": Bool(False),
        "num_threads": Int(1, low=0, nullable=True, doc="torch threads while training; 0 or null: unchanged"),
        "exact_constant": Bool(False),
    }
    produces = ("train.dual_objective", "train.coupling_mass")
    provides = ("entropic_coupling", "linear_gaussian if generator=linear and loss=squared")
    needs = ("flat_samples",)
    uses_if_offered = ("latent_dim",)  # the default latent width (hparam latent_dim 0 or null)

    def threads(self, ctx: RunContext) -> int | None:
        # The networks are tiny: on a 2-core machine intra-op threading costs more than it saves
        # (measured: 1.3 ms per critic update with one thread, 20-30 ms with two).
        return int(ctx.hparams["num_threads"]) if ctx.hparams["num_threads"] else super().threads(ctx)

    def setup(self, ctx: RunContext) -> Program:
        if ctx.steps < 1:
            raise ValueError("entropic_gan: the budget needs steps ≥ 1")
        return _EntropicTraining(ctx)


def default_latent_dim(dataset: Any, dim: int) -> int:
    """The latent width when the suite leaves it to the data: the one the data was made with where the dataset
    offers it (gaussian_nd), else the data's own width."""
    return int(as_offered(dataset, LatentDim).latent_dim) if "latent_dim" in offered(dataset) else dim


class _EntropicTraining(Program):
    """trainer.py: ``critic_iters`` steps on the dual, then one generator step (from the second iteration on,
    skipped while the critics' EMD estimate is not positive when ``skip_bad_critic``)."""

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        hp, self.device = ctx.hparams, ctx.device
        self.hp, self.data, self.loss = hp, as_offered(ctx.dataset, FlatSamples), str(hp["loss"])
        self.dim = int(self.data.dim)
        self.latent_dim = int(hp["latent_dim"] or default_latent_dim(ctx.dataset, self.dim))
        self.dtype = torch.float64 if hp["float64"] else torch.float32
        self.gen = make_generator(str(hp["generator"]), self.latent_dim, self.dim, int(hp["hidden"]),
                                  int(hp["depth"]), str(hp["output"])).to(ctx.device, self.dtype)
        self.critics = (QuadraticCritics(self.dim) if hp["critic"] == "quadratic"
                        else MLPCritics(self.dim, int(hp["hidden"]), int(hp["depth"]))).to(ctx.device, self.dtype)
        betas = (float(hp["beta1"]), float(hp["beta2"]))
        self.opt_g = torch.optim.Adam(self.gen.parameters(), lr=float(hp["lr_gen"]), betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(self.critics.parameters(), lr=float(hp["lr_disc"]), betas=betas, eps=1e-8)
        self.parts = {"gen": self.gen, "critics": self.critics, "opt_g": self.opt_g, "opt_d": self.opt_d}
        self.streams = {"data": ctx.rng("data"), "latent": ctx.rng("latent")}
        self.bs, self.lam0 = int(hp["batch_size"]), float(hp["lam"])
        # the last batch and dual objective: the measurements after training read them
        self.values = {"y": None, "z": None, "dual_objective": math.nan}

    def step(self, step: int, log: bool) -> dict[str, Any]:
        hp, dtype = self.hp, self.dtype
        lam = lambda_at(step - 1, self.lam0, bool(hp["lambda_warmup"]))
        for _ in range(int(hp["critic_iters"])):
            y = self.data.sample(self.bs, self.streams["data"]).to(self.device, dtype)
            z = torch.randn(self.bs, self.latent_dim, generator=self.streams["latent"], dtype=dtype).to(self.device)
            with torch.no_grad():
                y_hat = self.gen(z)
            gap, smooth, _ = dual_terms(self.critics, y, y_hat, lam, self.loss)
            disc_cost = -gap + smooth  # the critics minimise minus the dual objective
            self.opt_d.zero_grad(set_to_none=True)
            disc_cost.backward()
            self.opt_d.step()
            if hp["exact_constant"]:
                set_optimal_constant(self.critics, y, y_hat, lam, self.loss)
        neg_emd = -gap.item()  # drives control flow: the generator waits for a critic with a positive EMD
        if step > 1 and not (hp["skip_bad_critic"] and neg_emd >= 0.0):
            generator_step(self.gen, self.critics, self.opt_g, y, z, lam, self.loss,
                                        str(hp["generator_loss"]))
        self.values.update(y=y, z=z, dual_objective=-disc_cost.detach())
        return {"dual_objective": -disc_cost, "neg_emd": neg_emd, "smooth": smooth, "lambda": lam}

    def result(self) -> TrainResult:
        self.gen.eval()
        self.critics.eval()
        model = EntropicGANModel(self.gen, self.critics, self.loss, self.lam0, self.latent_dim, self.dim,
                                 self.device, self.dtype)
        y, z = self.values["y"], self.values["z"]
        with torch.no_grad():
            coupling = dual_terms(self.critics, y, self.gen(z), self.lam0, self.loss)[2]
        # Σ_j π_ij / m should be ≈ 1 at the optimal critics (the coupling's y-marginal): a check
        # that the dual was solved, logged with the last dual objective.
        measurements = {"train.dual_objective": float(self.values["dual_objective"]),
                        "train.coupling_mass": float(coupling.mean(1).mean())}
        return TrainResult(model=model, measurements=measurements)


def generator_step(gen: nn.Module, critics: nn.Module, opt: torch.optim.Optimizer, y: torch.Tensor,
                   z: torch.Tensor, lam: float, loss: str, kind: str) -> None:
    """One generator update on the primal (or dual) loss against fixed critics."""
    y_hat = gen(z)
    if kind == "primal":
        # trainer.py, usePrimalLoss: E[stop_grad(π) · ℓ(y, G(z))] over all pairs
        with torch.no_grad():
            coupling = dual_terms(critics, y, y_hat, lam, loss)[2]
        g_loss = (coupling * pairwise_cost(y, y_hat, loss)).mean()
    else:
        gap, smooth, _ = dual_terms(critics, y, y_hat, lam, loss)
        g_loss = gap - smooth  # useDualLoss: gen_cost = −disc_cost
    opt.zero_grad(set_to_none=True)
    g_loss.backward()
    opt.step()
