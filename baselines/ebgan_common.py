"""Shared pieces of the four models of Dai et al. (ICLR 2017), Section 5.1: the fully connected
networks of Appendix B.1, the trained model handed to the metrics, and one training loop into
which each method plugs its adversarial objective and, for the EGAN-Ent variants, an entropy term.

Facts from the authors' code (zihangdai/cegan_iclr2017, read for facts only):

- ``synthetic/network.py``: generator FC(4,128)-BN-ReLU-FC(128,128)-BN-ReLU-FC(128,2);
  discriminator FC(2,128)-ReLU-FC(128,128)-ReLU-FC(128,1) with the identity as energy form;
  weights drawn from N(0, init_std²) (``init_d``, ``init_g``), biases 0.
- ``synthetic/egan_knn.py``: noise z ~ N(0, I_4); minibatches of 500 from a reshuffled pass
  over the 100K training set; the discriminator lowers the energy of real data,
  cost_d = E_T − E_F, or mean(max(E_T − c(x_fake), −margin)) when a margin is set;
  cost_g = E_F + entropy term; Adam with β1 = ``momentum`` = 0; the generator's learning rate is
  ``multiplier`` × lr; after ``niter`` epochs lr is multiplied by ``lr_decay`` once per epoch
  down to ``lr_min``; which networks a step updates depends on the previous step's cost_d
  ("gap"): both inside (lbound, rbound), only the discriminator above rbound, only the generator
  below lbound. Every update of a step uses gradients from one forward pass.
- ``synthetic/egan_knn_state.py``: the per-dataset settings in ``CODE_STATE`` below.

With a reduced step budget the epoch-based schedule is compressed onto the steps that are run,
so a short run sees the same learning-rate shape as the original 20K/100K-step one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.api import RunContext, TrainResult

NOISE_DIM = 4  # egan_knn_state.py: noise_size = 4
HIDDEN = 128  # egan_knn_state.py: hidden_size = 128
STEPS_PER_EPOCH = 200  # 100K samples / batch 500 (data_iterator.py FixDimIterator)

# egan_knn_state.py, per dataset (gaussian_mixture_state, biased_gaussian_mixture_state,
# twospirals_state over the egan_state defaults). "margin" None means cost_d = E_T − E_F.
CODE_STATE: dict[str, dict[str, Any]] = {
    "cegan_gmm4": dict(lr=2e-4, lr_min=1e-5, lr_decay=0.985, niter=10, niter_decay=90, multiplier=10.0,
                       beta1=0.0, batch_size=500, init_d=0.01, init_g=0.001, lbound=-10.0, rbound=0.1,
                       margin=None, knn_scale=1e-3),
    "cegan_biased": dict(lr=2e-4, lr_min=1e-5, lr_decay=0.985, niter=0, niter_decay=100, multiplier=10.0,
                         beta1=0.0, batch_size=500, init_d=0.01, init_g=0.001, lbound=-0.2, rbound=0.1,
                         margin=10.0, knn_scale=3e-4),
    "cegan_spirals": dict(lr=2e-4, lr_min=1e-5, lr_decay=0.99, niter=200, niter_decay=300, multiplier=10.0,
                          beta1=0.0, batch_size=500, init_d=0.1, init_g=0.01, lbound=-10.0, rbound=0.1,
                          margin=10.0, knn_scale=5e-4),
}

# Keys every EGAN needs; the dataset's CODE_STATE overrides them (this is gaussian_mixture_state).
EGAN_DEFAULTS: dict[str, Any] = {"optimizer": "adam", **CODE_STATE["cegan_gmm4"]}

# binary_gan.py: one setting for every dataset; no learning-rate decay, no gap switching.
GAN_DEFAULTS: dict[str, Any] = dict(optimizer="adagrad", lr=1e-3, lr_min=1e-8, lr_decay=None, niter=0,
                                          niter_decay=500, multiplier=1.0, beta1=0.0, batch_size=500,
                                          init_d=0.01, init_g=0.125)


# ------------------------------------------------------------------------------------ networks


def _init_normal(net: nn.Module, std: float) -> nn.Module:
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return net


def make_generator(init_std: float, noise_dim: int = NOISE_DIM, hidden: int = HIDDEN) -> nn.Sequential:
    return _init_normal(nn.Sequential(
        nn.Linear(noise_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
        nn.Linear(hidden, 2)), init_std)


def make_discriminator(init_std: float, hidden: int = HIDDEN) -> nn.Sequential:
    return _init_normal(nn.Sequential(
        nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)), init_std)


def make_inference_net(init_std: float, noise_dim: int = NOISE_DIM, hidden: int = HIDDEN) -> nn.Sequential:
    """Appendix B.1 / eq. (26): outputs (µ, log σ) of the diagonal Gaussian q(z | x)."""
    return _init_normal(nn.Sequential(
        nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2 * noise_dim)),
        init_std)


# ------------------------------------------------------------------------------ entropy term


class EntropyTerm(Protocol):
    """An estimate of K(p_gen) = −H(p_gen) for the generator (objective (1))."""

    def generator_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """A surrogate whose gradient w.r.t. the generator is the estimated −∇H (scaled)."""

    def update(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, float]:
        """The term's own training step (the VI inference network); {} when it has none."""

    def sample_grad(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Per-sample gradient of generator_loss w.r.t. x, (n, 2): Figure 8's entropy field."""


# ------------------------------------------------------------------------------ trained model


@dataclass
class EnergyModel:
    """What the metrics see: c(x) and a sampler, plus the parts Figure 8 needs."""

    generator: nn.Module
    discriminator: nn.Module
    energy_sign: float  # c(x) = energy_sign · D(x); +1 for EGAN, −1 for a GAN logit
    device: torch.device
    batch_size: int
    entropy: EntropyTerm | None = None
    noise_dim: int = NOISE_DIM

    @torch.no_grad()
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self.discriminator.eval()
        out = [self.energy_sign * self.discriminator(chunk.to(self.device, torch.float32)).squeeze(-1)
               for chunk in x.split(65_536)]
        return torch.cat(out).cpu()

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator) -> torch.Tensor:
        self.generator.eval()  # BN running statistics, as the original's gen_sample in evaluate mode
        z = torch.randn(n, self.noise_dim, generator=rng)
        return torch.cat([self.generator(c.to(self.device)) for c in z.split(65_536)]).cpu()

    def sample_gradients(self, n: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-sample gradients w.r.t. generated x of the generator's two cost terms, on one
        training-mode batch as in the original's grad_field plots: disc = ∇x mean c(G(z)),
        ent = ∇x of the entropy term, total = their sum. Each (n, 2)."""
        self.generator.train()
        z = torch.randn(n, self.noise_dim, generator=rng).to(self.device)
        with torch.no_grad():
            x = self.generator(z)
        self.generator.eval()
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            e_fake = self.energy_sign * self.discriminator(x).squeeze(-1)
            (g_disc,) = torch.autograd.grad(e_fake.mean(), x)
        g_ent = self.entropy.sample_grad(x.detach(), z) if self.entropy is not None else torch.zeros_like(g_disc)
        return {"x": x.detach().cpu(), "disc": g_disc.cpu(), "ent": g_ent.detach().cpu(),
                "total": (g_disc + g_ent).detach().cpu()}


# ----------------------------------------------------------------------------- training loop


class Objective(Protocol):
    """The adversarial part of a method: costs from the energies of real and generated data."""

    def costs(self, e_real: torch.Tensor, e_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(discriminator cost, generator's adversarial cost)."""


class EnergyObjective:
    """Objective (1)'s adversarial terms: c low on data, high on samples (egan_knn.py)."""

    def __init__(self, margin: float | None) -> None:
        self.margin = margin

    def costs(self, e_real, e_fake):
        if self.margin is None:
            cost_d = e_real.mean() - e_fake.mean()
        else:
            cost_d = torch.clamp(e_real.mean() - e_fake, min=-self.margin).mean()
        return cost_d, e_fake.mean()


def hparams_for(ctx: RunContext, defaults: dict[str, Any], per_dataset: bool = True) -> dict[str, Any]:
    """Method defaults < the original code's per-dataset state (EGAN only) < the suite's hparams."""
    state = CODE_STATE.get(ctx.dataset.name, {}) if per_dataset else {}
    return {**defaults, **state, **ctx.hparams}


def learning_rate(hp: dict[str, Any], step: int, steps: int) -> float:
    """The original per-epoch decay, with the epochs spread over the steps actually run."""
    epochs = int(hp["niter"]) + int(hp["niter_decay"])
    epoch = min(epochs - 1, step * epochs // max(steps, 1))
    decay = hp.get("lr_decay")
    decays = max(0, epoch - int(hp["niter"])) if decay else 0
    lr = float(hp["lr"]) * (float(decay) ** decays if decay else 1.0)
    return max(lr, float(hp["lr_min"])) if decay else lr


class BatchStream:
    """Minibatches from reshuffled passes over the fixed training set (FixDimIterator)."""

    def __init__(self, data: torch.Tensor, batch_size: int, rng: np.random.Generator) -> None:
        self.data, self.batch_size, self.rng = data, batch_size, rng
        self.order, self.pos = rng.permutation(len(data)), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > len(self.data):
            self.order, self.pos = self.rng.permutation(len(self.data)), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data[idx]


def _optimizer(kind: str, params: Any, lr: float, beta1: float) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, 0.999), eps=1e-8)
    if kind == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=1e-6)  # Lasagne's adagrad epsilon
    raise ValueError(f"unknown optimizer '{kind}' (adam or adagrad)")


def train_adversarial(ctx: RunContext, hp: dict[str, Any], objective: Objective, energy_sign: float,
                      entropy: EntropyTerm | None = None,
                      entropy_factory: Any = None) -> TrainResult:
    """The shared loop. ``entropy_factory(hp, device, ctx)`` builds the entropy term after the
    networks, so that its parameters are drawn after theirs from the same seed."""
    ctx = replace(ctx, hparams=hp)
    torch.manual_seed(int(ctx.seed))  # parameter initialisation
    device = ctx.device
    gen = make_generator(float(hp["init_g"])).to(device)
    disc = make_discriminator(float(hp["init_d"])).to(device)
    if entropy_factory is not None:
        entropy = entropy_factory(hp, device, ctx)
    bs = int(hp["batch_size"])
    data = BatchStream(ctx.dataset.train_samples(), bs, ctx.np_rng(1))  # type: ignore[attr-defined]
    z_rng = ctx.rng(2)
    kind = str(hp.get("optimizer", "adam"))
    opt_d = _optimizer(kind, disc.parameters(), float(hp["lr"]), float(hp["beta1"]))
    opt_g = _optimizer(kind, gen.parameters(), float(hp["lr"]) * float(hp["multiplier"]), float(hp["beta1"]))
    lbound, rbound = float(hp.get("lbound", -math.inf)), float(hp.get("rbound", math.inf))
    gap, counts = 1.0, {"all": 0, "d": 0, "g": 0}  # the original starts with gap = 1
    steps = ctx.steps
    for step in range(1, steps + 1):
        lr = learning_rate(hp, step - 1, steps)
        for group in opt_d.param_groups:
            group["lr"] = lr
        for group in opt_g.param_groups:
            group["lr"] = lr * float(hp["multiplier"])
        if hasattr(entropy, "set_lr"):
            entropy.set_lr(lr)  # the inference network follows the discriminator's schedule
        mode = "all" if lbound < gap < rbound else ("d" if gap >= rbound else "g")
        x_real = data.next().to(device)
        z = torch.randn(bs, NOISE_DIM, generator=z_rng).to(device)
        gen.train()
        disc.train()
        x_fake = gen(z)
        e_real = energy_sign * disc(x_real).squeeze(-1)
        e_fake = energy_sign * disc(x_fake).squeeze(-1)
        cost_d, cost_adv = objective.costs(e_real, e_fake)
        ent = entropy.generator_loss(x_fake, z) if entropy is not None else torch.zeros((), device=device)
        cost_g = cost_adv + ent
        # gradients of both costs from this one forward pass, applied together (theano updates)
        grads_d = torch.autograd.grad(cost_d, list(disc.parameters()), retain_graph=True)
        grads_g = torch.autograd.grad(cost_g, list(gen.parameters()), retain_graph=entropy is not None)
        if mode in ("all", "d"):
            _apply(opt_d, disc, grads_d)
        if mode in ("all", "g"):
            _apply(opt_g, gen, grads_g)
        extra = entropy.update(x_fake.detach(), z) if entropy is not None else {}
        counts[mode] += 1
        gap = float(cost_d.detach())
        ctx.advance()
        if step % ctx.log_every == 0 or step == steps:
            ctx.log_losses(step, {"cost_d": gap, "E_T": float(e_real.detach().mean()),
                                  "E_F": float(e_fake.detach().mean()),
                                  "entropy_term": float(ent.detach()), "lr": lr,
                                  "frac_all": counts["all"] / step, "frac_d": counts["d"] / step, **extra})
    gen.eval()
    disc.eval()
    model = EnergyModel(gen, disc, energy_sign, device, bs, entropy)
    measurements = {"train.frac_all_updates": counts["all"] / max(steps, 1)}
    return TrainResult(model=model, measurements=measurements)


def _apply(opt: torch.optim.Optimizer, net: nn.Module, grads: tuple[torch.Tensor, ...]) -> None:
    for p, g in zip(net.parameters(), grads, strict=True):
        p.grad = g
    opt.step()
    opt.zero_grad(set_to_none=True)


def bce_costs(e_real: torch.Tensor, e_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """binary_gan.py with D(x) = σ(−c(x)): −log σ(−c) = softplus(c), −log(1 − σ(−c)) = softplus(−c);
    the generator takes the non-saturating −log D(G(z))."""
    cost_d = F.softplus(e_real).mean() + F.softplus(-e_fake).mean()
    return cost_d, F.softplus(e_fake).mean()
