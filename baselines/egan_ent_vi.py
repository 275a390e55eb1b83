"""EGAN-Ent-VI of Dai et al. (ICLR 2017), Section 4.2: objective (1) with K = −H(p_gen) replaced
by the variational upper bound U(q) = E_{z, x=G(z)} [−log q(z | x)] on H(p_gen(z | x)) of
eqs. (12)–(16), with q(z | x) = N(µ(x), diag σ(x)²) from the inference network of eq. (26) /
Appendix B.1. The generator minimises E_F + w·U (so it maximises a lower bound on its entropy);
the inference network minimises U over its own parameters on the same batch.

The released code has no synthetic VI script. The loss form E_F + reg_cst·mean(nll) and the
separate Adam on q follow the authors' image scripts (cifar10/conv_cifar10_energy_gan.py,
knn_nist/egan_knn.py); there the inference head sits on the discriminator's hidden layers, here
it is the separate FC network Appendix B.1 lists. The weight w (``vi_weight``) defaults to
reg_cst = 0.1 of synthetic/egan_knn_state.py's gaussian_state (a remnant of the synthetic VI
runs) and of the cifar10 script; w = 1 (K = −H exactly) made the generator diverge in our
4000-step runs. The negative log-density is the proper one of eq. (26) (the scripts'
``diag_normal_nll`` halves Σ log σ). On images (``net`` set) q is the B.1 inference net, the
discriminator's architecture with 2·noise outputs, trained at ``q_lr_multiplier`` × the
discriminator's lr (10 in the CIFAR script, where q and G share lr and D has lr/10).

``vi_q: knn_nist`` (a sensitivity candidate, absent by default) reads the unreleased synthetic VI as the
released knn_nist/egan_knn.py builds its own: q is a linear head (noise·2 outputs, std ``init_q``) on the
discriminator's hidden layers, as synthetic/network.py's init_infer_model builds it by default (share=True,
lines 38-51; egan_knn.py line 91 calls those layers the "Encoder shared by discriminator and inferencer");
the NLL is the scripts' diag_normal_nll (network.py lines 82-85: ½ Σ log σ + ½ Σ ((z − µ)/(1e-6 + σ))²);
cost_e = cost_d + cost_i trains the shared layers (knn_nist/egan_knn.py lines 168-171, 196-205), which move
on every step (updates_e in train_op_all, train_op_d and train_op_g, lines 281, 306-314 and 332-335), while
q's head moves only with the generator (updates_ieg) and the discriminator's output layer only on its own
steps (updates_de).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch

from baselines.ebgan_common import (
    BUDGET,
    EGAN_HPARAMS,
    NEEDS,
    PER_DATASET_KEYS,
    AdversarialTraining,
    EnergyObjective,
    build_inference_net,
    clip_total_norm,
    is_image,
    make_inference_head,
    state_of,
)
from baselines.lasagne_updates import LasagneAdam
from benchmark.api import Method, RunContext, register_method
from benchmark.hparams import Choice, Float


def diag_gaussian_nll(z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """−log q(z | x) per sample for q = N(µ, diag σ²), out = [µ, log σ] (eq. 26)."""
    d = z.shape[1]
    mu, log_sigma = out[:, :d], out[:, d:]
    return (log_sigma + 0.5 * ((z - mu) * torch.exp(-log_sigma)) ** 2).sum(1) + 0.5 * d * math.log(2 * math.pi)


def scripts_nll(z: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """−log q(z | x) per sample as the released scripts compute it (synthetic/network.py diag_normal_nll, lines
    82-85): ½ Σ log σ + ½ Σ ((z − µ)/(1e-6 + σ))², without the constant."""
    d = z.shape[1]
    mu, log_sigma = out[:, :d], out[:, d:]
    return 0.5 * log_sigma.sum(1) + (((z - mu) / (1e-6 + torch.exp(log_sigma))) ** 2).sum(1) / 2


class VIEntropy:
    def __init__(self, net: torch.nn.Module, weight: float, lr: float, beta1: float,
                 max_grad_norm: float | None = None, lasagne: bool = False) -> None:
        self.net, self.weight, self.max_grad_norm = net, weight, max_grad_norm
        self.opt = (LasagneAdam if lasagne else torch.optim.Adam)(net.parameters(), lr=lr, betas=(beta1, 0.999))
        self.parts = {"q_net": self.net, "q_opt": self.opt}  # checkpointed with the training's own parts

    def bound(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """U(q) on this batch: the upper bound on H(p_gen(z | x)), eq. (16)."""
        return diag_gaussian_nll(z, self.net(x)).mean()

    def generator_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.weight * self.bound(x, z)

    def update(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        u = self.bound(x.detach(), z)
        self.opt.zero_grad(set_to_none=True)
        u.backward()
        if self.max_grad_norm is not None:
            params = [p for p in self.net.parameters() if p.grad is not None]
            for p, g in zip(params, clip_total_norm(tuple(p.grad for p in params), self.max_grad_norm),
                            strict=True):
                p.grad = g
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return {"vi_bound": u.detach()}

    def sample_grad(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.generator_loss(x, z), x)
        return g

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr


class SharedTrunkVI(VIEntropy):
    """q as knn_nist/egan_knn.py builds it (``vi_q: knn_nist``): a head on the discriminator's hidden layers
    (``trunk``), whose cost the training adds to the discriminator's there; ``net`` and its Adam state are the
    head's alone."""

    shares_trunk = True

    def __init__(self, head: torch.nn.Module, trunk: torch.nn.Module, weight: float, lr: float, beta1: float,
                 max_grad_norm: float | None = None, lasagne: bool = False) -> None:
        super().__init__(head, weight, lr, beta1, max_grad_norm, lasagne)
        self.trunk = trunk
        self.last_bound: torch.Tensor | None = None

    def bound(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return scripts_nll(z, self.net(self.trunk(x))).mean()

    def generator_loss(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        bound = self.bound(x, z)
        self.last_bound = bound.detach()
        return self.weight * bound

    def head_grads(self, cost: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """∂cost/∂(head's parameters) of this step's generator-side entropy cost (cost_i = reg_cst·mean(nll))."""
        return torch.autograd.grad(cost, list(self.net.parameters()))

    def move_head(self, grads: tuple[torch.Tensor, ...], moves: bool) -> dict[str, torch.Tensor]:
        """The head's Adam step on a step that updates the generator (``moves``); the bound for the log."""
        if moves:
            for p, g in zip(self.net.parameters(), clip_total_norm(grads, self.max_grad_norm), strict=True):
                p.grad = g
            self.opt.step()
            self.opt.zero_grad(set_to_none=True)
        return {"vi_bound": self.last_bound}

    def update(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        raise TypeError("a shared-trunk q moves inside the training's step (AdversarialTraining), not on its own")


@register_method
class EGANEntVI(Method):
    name = "egan_ent_vi"
    description = "EGAN with the variational lower bound on the generator entropy, eqs. (12)-(16)"
    hparams = {**EGAN_HPARAMS, "vi_weight": Float(0.1, low=0, doc="w of E_F + w·U(q)"),
               "init_q": Float(None, low=0, doc="std of q's weights (default: init_d)"),
               "q_lr_multiplier": Float(1.0, low=0, doc="q's lr / the discriminator's lr"),
               "vi_q": replace(Choice("separate", ("separate", "knn_nist"),
                                      doc="separate: q the FC net of eq. (26); knn_nist: a head on the "
                                          "discriminator's hidden layers, as the released knn_nist script"),
                               absent_by_default=True)}
    budget = BUDGET
    dataset_defaults = state_of(tuple(k for k in PER_DATASET_KEYS if k in EGAN_HPARAMS))
    produces = ("train.frac_all_updates",)
    batch_family = "cegan_2d"  # the 2-D runs train together (baselines/ebgan_batched.py)
    provides = ("sampler", "noise_sampler", "energy", "gradient_fields if net=null", "features if net")
    needs = NEEDS

    def setup(self, ctx: RunContext) -> AdversarialTraining:
        hp = ctx.hparams

        def factory(hp: dict[str, Any], device: torch.device, _ctx: RunContext, disc: torch.nn.Module) -> VIEntropy:
            init_q = hp["init_q"] if hp["init_q"] is not None else hp["init_d"]
            if hp.get("vi_q", "separate") == "knn_nist":
                if is_image(hp):
                    raise ValueError("vi_q: knn_nist is the 2-D networks' reading; the image nets keep q separate")
                head = make_inference_head(float(init_q)).to(device)
                return SharedTrunkVI(head, disc[:-1], float(hp["vi_weight"]), float(hp["lr"]), float(hp["beta1"]),
                                     hp.get("max_grad_norm"), bool(hp.get("lasagne_updates", False)))
            net = build_inference_net(hp, float(init_q)).to(device)
            return VIEntropy(net, float(hp["vi_weight"]), float(hp["lr"]), float(hp["beta1"]),
                             hp.get("max_grad_norm"), bool(hp.get("lasagne_updates", False)))

        return AdversarialTraining(ctx, EnergyObjective(hp.get("margin")), energy_sign=1.0,
                                   entropy_factory=factory, label="EGAN-Ent-VI")
