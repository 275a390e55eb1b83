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
- Where ours departs from it, read side by side (d37c738) and judged too small to declare as a sensitivity axis:
  the switch sends a gap exactly equal to rbound to a generator-only step (egan_knn.py lines 413-421: ``elif gap >
  rbound``), ours to a discriminator-only one (``gap >= rbound``), which takes float equality; ``hp_update``
  (lines 357-365) decays the lr while it is above lr_min, so its last decay may end below it (the spirals EGANs'
  final epoch: 9.9e-6 against our floor 1e-5); the k-NN distances are float32 sqrt(|x|² + |y|² − 2x·y) without a
  clamp (lines 136-137), so a self-distance that rounds below zero is NaN and sorts last, shifting that sample's
  neighbour window by one; ours never does (the sample itself is always its own nearest). The optimisers are
  Lasagne's, whose epsilon torch.optim places otherwise: a sensitivity axis (``lasagne_updates``,
  baselines/lasagne_updates.py).

With a reduced step budget the epoch-based schedule is compressed onto the steps that are run,
so a short run sees the same learning-rate shape as the original 20K/100K-step one.

Images (Sections 5.2-5.3, Appendix B.1/B.4/B.5): with the hyper-parameter ``net`` set to one of
``baselines.cegan_image_networks.ARCHS`` the same loop trains the DCGAN-style networks instead. The
options it then reads, each defaulting to the 2-D behaviour above, come from the image scripts
(``knn_nist/egan_knn.py``, ``cifar10/conv_cifar10_energy_gan.py``): ``noise`` (normal | uniform on
[-1, 1]), ``noise_dim``, ``energy_form`` (identity | softplus: c = softplus(−D(x))), ``smooth``
(smooth_cst: + smooth·(mean D(x_fake)² + mean D(x_real)²) on the discriminator cost), ``l2`` (l2_cst on
both networks' parameters), ``max_grad_norm`` (lasagne's total_norm_constraint), ``lr_decay: linear``
(the CIFAR script's lr −= lr0/niter_decay per epoch), ``all_first_epoch`` (knn_nist updates both
networks throughout epoch 0) and ``q_lr_multiplier`` (the inference net's lr relative to the
discriminator's). ``batch_size`` and ``width`` may also come from the profile's budget
(reduced CPU runs), which replaces the hyper-parameter before the run sees it (``BUDGET``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from baselines.cegan_image_networks import ARCHS, ImageDiscriminator, arch, make_image_generator
from baselines.lasagne_updates import LasagneAdagrad, LasagneAdam
from benchmark.api import RunContext, TrainResult
from benchmark.budget import replacing
from benchmark.contracts import ImageSplits, TrainSet, as_offered, offered
from benchmark.hparams import REQUIRED, Bool, Choice, Float, HParam, Int
from benchmark.loop import Program

NOISE_DIM = 4  # egan_knn_state.py: noise_size = 4
HIDDEN = 128  # egan_knn_state.py: hidden_size = 128
BN_EPS_DEFAULT = 1e-5  # torch's BatchNorm1d default, what the 2-D generator trained with before ``bn_eps`` existed
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

# The settings that differ between the datasets of egan_knn_state.py: declared without a default, so that
# they come from the dataset's own state (``dataset_defaults``) or from the suite, never from another
# dataset's value.
PER_DATASET_KEYS = ("lr_decay", "niter", "niter_decay", "init_d", "init_g", "lbound", "rbound", "margin",
                    "knn_scale")


def state_of(keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``dataset_defaults`` of a method: the per-dataset settings of egan_knn_state.py that it reads."""
    return {loader: {k: v for k, v in state.items() if k in keys} for loader, state in CODE_STATE.items()}


# What the networks read (build_networks, the B.1 image networks, EnergyModel).
NETWORK_HPARAMS: dict[str, HParam] = {
    "net": Choice(None, tuple(ARCHS), doc="a B.1 image network; null: the 2-D fully connected pair"),
    "width": Float(1.0, low=0, doc="channel multiplier of the image networks (a profile's budget may set it)"),
    "g_filters": Int(128, low=1), "d_filters": Int(64, low=1), "d_leak": Float(0.2, low=0, high=1),
    "init_g": Float(REQUIRED, low=0, doc="std of the generator's N(0, std²) weights"),
    "init_d": Float(REQUIRED, low=0, doc="std of the discriminator's N(0, std²) weights"),
    "init_conv_g": Float(None, low=0, doc="conv layers' std (default: init_g)"),
    "init_conv_d": Float(None, low=0, doc="conv layers' std (default: init_d)"),
    "noise": Choice("normal", ("normal", "uniform")), "noise_dim": Int(NOISE_DIM, low=1),
    "energy_form": Choice("identity", ("identity", "softplus")), "batch_size": Int(500, low=1),
    # the original's BatchNorm adds 1e-6 to the variance (nn/module.py lines 292 and 301 of zihangdai/cegan_iclr2017
    # at d37c738); ours kept torch's 1e-5, and every run recorded before this setting existed trained with it
    "bn_eps": replace(Float(BN_EPS_DEFAULT, low=0, doc="the 2-D generator's BatchNorm epsilon (1e-5 unless set)"),
                      absent_by_default=True),
}

# What the loop reads (train_adversarial, learning_rate).
LR_DECAY = HParam(("float", "str"), None, choices=("linear",), low=0, nullable=True,
                  doc="per-epoch lr factor after niter epochs, 'linear' (CIFAR script) or null (none)")
TRAINING_HPARAMS: dict[str, HParam] = {
    "optimizer": Choice("adam", ("adam", "adagrad")), "lr": Float(REQUIRED, low=0), "lr_min": Float(REQUIRED, low=0),
    "lr_decay": LR_DECAY, "niter": Int(REQUIRED, low=0), "niter_decay": Int(REQUIRED, low=0),
    "multiplier": Float(REQUIRED, low=0, doc="generator lr / discriminator lr"), "beta1": Float(0.0, low=0, high=1),
    "smooth": Float(0.0, low=0), "l2": Float(0.0, low=0), "max_grad_norm": Float(None, low=0),
    # the original's Adam and Adagrad are Lasagne's, which place epsilon otherwise than torch.optim's
    # (baselines/lasagne_updates.py); ours are torch's, and every run recorded before this setting existed trained so
    "lasagne_updates": replace(Bool(False, doc="Adam and Adagrad with Lasagne's arithmetic (epsilon placed as the "
                                           "original's optimisers place it)"), absent_by_default=True),
}

# The EGAN update switch on the previous step's E_T − E_F, and the margin of cost_d (egan_knn.py).
SWITCH_HPARAMS: dict[str, HParam] = {
    "lbound": Float(REQUIRED), "rbound": Float(REQUIRED),
    "margin": Float(REQUIRED, low=0, nullable=True, doc="null: cost_d = E_T − E_F"),
    "all_first_epoch": Bool(False, doc="update both networks throughout epoch 0 (knn_nist)"),
    # synthetic/egan_knn.py at d37c738: the generator's BatchNorm running statistics (line 305) join only its own
    # updates (line 310), not the discriminator-only step's (lines 319-321, train_op_d line 339); ours update them
    # on every forward pass, and every run recorded before this setting existed trained so
    "bn_stats_on_g_steps": replace(Bool(False, doc="update the generator's BatchNorm running statistics only on "
                                               "steps that update the generator"), absent_by_default=True),
    # synthetic/egan_knn.py at d37c738: the discriminator's hidden layers (enc_model, lines 92-93) get two Adam
    # states, updates_e (line 297) on steps that update both networks (updates_all, line 316) and updates_d_e
    # (line 298) on discriminator-only steps (updates_de, lines 319-321); its output layer keeps one (updates_d).
    # knn_nist/egan_knn.py shares one state (updates_e, lines 281 and 306-308); ours keeps one
    "separate_d_step_adam": replace(Bool(False, doc="the discriminator's hidden layers keep a second Adam state "
                                                "for discriminator-only steps"), absent_by_default=True),
}


def switch_bounds(hp: dict[str, Any]) -> tuple[float, float]:
    """(lbound, rbound) of the update switch, from a run's resolved hyper-parameters. Every EGAN declares both
    (``SWITCH_HPARAMS``, required), so its settings carry them; the GAN declares neither (binary_gan.py updates
    both networks every step), which is the switch with bounds (−inf, inf)."""
    if "lbound" not in hp and "rbound" not in hp:
        return -math.inf, math.inf
    return float(hp["lbound"]), float(hp["rbound"])


def _with_defaults(declared: dict[str, HParam], values: dict[str, Any]) -> dict[str, HParam]:
    return {k: (replace(h, default=values[k], nullable=h.nullable or values[k] is None) if k in values else h)
            for k, h in declared.items()}


# Every EGAN: the shared egan_state values of egan_knn_state.py, the per-dataset ones from CODE_STATE.
EGAN_HPARAMS: dict[str, HParam] = _with_defaults(
    {**NETWORK_HPARAMS, **TRAINING_HPARAMS, **SWITCH_HPARAMS},
    {k: v for k, v in CODE_STATE["cegan_gmm4"].items() if k not in PER_DATASET_KEYS})
EGAN_HPARAMS["lr_decay"] = replace(LR_DECAY, default=REQUIRED)

# binary_gan.py: one setting for every dataset; no learning-rate decay, no gap switching.
GAN_HPARAMS: dict[str, HParam] = _with_defaults(
    {**NETWORK_HPARAMS, **TRAINING_HPARAMS},
    dict(optimizer="adagrad", lr=1e-3, lr_min=1e-8, lr_decay=None, niter=0, niter_decay=500, multiplier=1.0,
         beta1=0.0, batch_size=500, init_d=0.01, init_g=0.125))


# ------------------------------------------------------------------------------------ networks


def _init_normal(net: nn.Module, std: float) -> nn.Module:
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
    return net


def make_generator(init_std: float, noise_dim: int = NOISE_DIM, hidden: int = HIDDEN,
                   bn_eps: float = BN_EPS_DEFAULT) -> nn.Sequential:
    return _init_normal(nn.Sequential(
        nn.Linear(noise_dim, hidden), nn.BatchNorm1d(hidden, eps=bn_eps), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden, eps=bn_eps), nn.ReLU(),
        nn.Linear(hidden, 2)), init_std)


def make_discriminator(init_std: float, hidden: int = HIDDEN) -> nn.Sequential:
    return _init_normal(nn.Sequential(
        nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)), init_std)


def make_inference_net(init_std: float, noise_dim: int = NOISE_DIM, hidden: int = HIDDEN) -> nn.Sequential:
    """Appendix B.1 / eq. (26): outputs (µ, log σ) of the diagonal Gaussian q(z | x)."""
    return _init_normal(nn.Sequential(
        nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2 * noise_dim)),
        init_std)


def make_inference_head(init_std: float, noise_dim: int = NOISE_DIM, hidden: int = HIDDEN) -> nn.Linear:
    """synthetic/network.py init_infer_model with share=True (lines 38-51): only the output layer, (µ, log σ) of
    q(z | x) from the discriminator's hidden layers."""
    return _init_normal(nn.Linear(hidden, 2 * noise_dim), init_std)


def is_image(hp: dict[str, Any]) -> bool:
    return hp.get("net") is not None


def noise_dim_of(hp: dict[str, Any]) -> int:
    return int(hp.get("noise_dim", NOISE_DIM)) if is_image(hp) else NOISE_DIM


def build_networks(hp: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator): the 2-D pair above, or the B.1 image pair named by ``net``."""
    if not is_image(hp):
        return (make_generator(float(hp["init_g"]), bn_eps=float(hp.get("bn_eps", BN_EPS_DEFAULT))),
                make_discriminator(float(hp["init_d"])))
    name, width = str(hp["net"]), float(hp.get("width", 1.0))
    gen = make_image_generator(name, noise_dim_of(hp), int(hp.get("g_filters", 128)), width,
                               float(hp["init_g"]), float(hp.get("init_conv_g", hp["init_g"])))
    disc = ImageDiscriminator(name, 1, int(hp.get("d_filters", 64)), width, float(hp.get("d_leak", 0.2)),
                              float(hp["init_d"]), float(hp.get("init_conv_d", hp["init_d"])))
    return gen, disc


def build_inference_net(hp: dict[str, Any], init_std: float) -> nn.Module:
    """q(z | x)'s network: the FC net of eq. (26), or for images the discriminator's architecture with
    2·noise outputs (B.1; a separate network as in the CIFAR script)."""
    if not is_image(hp):
        return make_inference_net(init_std, NOISE_DIM)
    return ImageDiscriminator(str(hp["net"]), 2 * noise_dim_of(hp), int(hp.get("d_filters", 64)),
                              float(hp.get("width", 1.0)), float(hp.get("d_leak", 0.2)), init_std,
                              float(hp.get("init_conv_d", init_std)))


def sample_noise(n: int, dim: int, kind: str, rng: torch.Generator) -> torch.Tensor:
    if kind == "normal":
        return torch.randn(n, dim, generator=rng)
    if kind == "uniform":  # npuniform(-1, 1) of the CIFAR script
        return torch.rand(n, dim, generator=rng) * 2.0 - 1.0
    raise ValueError(f"noise must be 'normal' or 'uniform', not '{kind}'")


# What every model of the family reads of its dataset (its ``needs``): the fixed training set of 2-D points, or,
# with an image network, that of the digits sets or the training split of the image sets (CIFAR-10)
NEEDS = ("train_set if net=null", "train_set or image_splits if net")


def training_data(dataset: Any, hp: dict[str, Any]) -> torch.Tensor:
    """The fixed training set: (n, 2) points, or (n, C, H, W) float32 images in the generator's range."""
    if not is_image(hp):
        return as_offered(dataset, TrainSet).train_samples()
    a = arch(str(hp["net"]))
    x = (as_offered(dataset, TrainSet).train_samples() if "train_set" in offered(dataset)
         else as_offered(dataset, ImageSplits).split("train"))
    return x.float().reshape(len(x), a.channels, a.size, a.size)


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
    image_shape: tuple[int, ...] | None = None  # (C, H, W) for the image networks
    noise: str = "normal"
    energy_form: str = "identity"
    label: str = ""  # the paper's name of the method, for figure names

    @property
    def _chunk(self) -> int:
        return 65_536 if self.image_shape is None else 500

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, torch.float32)
        return x if self.image_shape is None else x.reshape(len(x), *self.image_shape)

    @torch.no_grad()
    def energy(self, x: torch.Tensor) -> torch.Tensor:
        self.discriminator.eval()
        out = [energy_from_score(self.discriminator(self._inputs(chunk)).squeeze(-1), self.energy_sign,
                                 self.energy_form) for chunk in x.split(self._chunk)]
        return torch.cat(out).cpu()

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's last-layer activation (input of its final linear map), image networks only."""
        self.discriminator.eval()
        return torch.cat([self.discriminator.features(self._inputs(c)).cpu() for c in x.split(self._chunk)])

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator, noise: str | None = None) -> torch.Tensor:
        self.generator.eval()  # BN running statistics, as the original's gen_sample in evaluate mode
        z = sample_noise(n, self.noise_dim, noise or self.noise, rng)
        return torch.cat([self.generator(c.to(self.device)) for c in z.split(self._chunk)]).cpu()

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


def energy_from_score(score: torch.Tensor, sign: float, form: str = "identity") -> torch.Tensor:
    """c(x) from the discriminator's output: the identity (synthetic, knn_nist) or softplus(−D(x))
    (the CIFAR script's energy_form)."""
    if form == "identity":
        return sign * score
    if form == "softplus":
        return F.softplus(-sign * score)
    raise ValueError(f"energy_form must be 'identity' or 'softplus', not '{form}'")


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


def learning_rate(hp: dict[str, Any], step: int, steps: int) -> float:
    """The original per-epoch decay, with the epochs spread over the steps actually run."""
    epochs = int(hp["niter"]) + int(hp["niter_decay"])
    epoch = min(epochs - 1, step * epochs // max(steps, 1))
    decay = hp.get("lr_decay")
    if decay == "linear":  # cifar10 script: after epoch e > niter, lr -= lr0 / niter_decay
        done = max(0, epoch - 1 - int(hp["niter"]))
        return float(hp["lr"]) * max(0.0, 1.0 - done / int(hp["niter_decay"]))
    decays = max(0, epoch - int(hp["niter"])) if decay else 0
    lr = float(hp["lr"]) * (float(decay) ** decays if decay else 1.0)
    return max(lr, float(hp["lr_min"])) if decay else lr


class BatchStream:
    """Minibatches from reshuffled passes over the fixed training set (FixDimIterator)."""

    def __init__(self, data: torch.Tensor, batch_size: int, rng: np.random.Generator) -> None:
        self.data, self.batch_size, self.rng = data, batch_size, rng
        self.order, self.pos = rng.permutation(len(data)), 0

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order.copy(), "pos": self.pos, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order, self.pos = np.asarray(state["order"]), int(state["pos"])
        self.rng.bit_generator.state = state["rng"]

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > len(self.data):
            self.order, self.pos = self.rng.permutation(len(self.data)), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return self.data[idx]


def _optimizer(kind: str, params: Any, lr: float, beta1: float, lasagne: bool = False) -> torch.optim.Optimizer:
    if kind == "adam":
        return (LasagneAdam if lasagne else torch.optim.Adam)(params, lr=lr, betas=(beta1, 0.999), eps=1e-8)
    if kind == "adagrad":
        return (LasagneAdagrad if lasagne else torch.optim.Adagrad)(params, lr=lr, eps=1e-6)  # Lasagne's epsilon
    raise ValueError(f"unknown optimizer '{kind}' (adam or adagrad)")


# A profile's budget may replace these hyper-parameters (smaller, cheaper CPU runs of the image networks); the
# budget's value wins over the hyper-parameter's, whoever set that (benchmark.settings applies it)
BUDGET: dict[str, HParam] = {
    "batch_size": replacing("batch_size", Int(None, low=1, doc="replaces the batch_size hyper-parameter; null: the "
                                                              "hyper-parameter")),
    "width": replacing("width", Float(None, low=0, doc="replaces the width hyper-parameter, the channel multiplier "
                                                      "of the image networks (1.0: the original code's); null: the "
                                                      "hyper-parameter")),
}


class AdversarialTraining(Program):
    """The shared training of the four models (egan_knn.py, binary_gan.py): both networks' costs from one
    forward pass, each network updated or not by the previous step's switch. ``entropy_factory(hp, device, ctx,
    disc)`` builds the entropy term after the networks, so that its parameters are drawn after theirs.

    An entropy term that ``shares_trunk`` (knn_nist/egan_knn.py's inference head on the discriminator's hidden
    layers) has its cost join the discriminator's gradient there, and those layers move on every step (updates_e
    is in train_op_all, train_op_d and train_op_g); its own head moves with the generator."""

    def __init__(self, ctx: RunContext, objective: Objective, energy_sign: float, entropy: EntropyTerm | None = None,
                 entropy_factory: Any = None, label: str = "") -> None:
        super().__init__()
        hp = ctx.hparams
        self.hp, self.objective, self.energy_sign, self.label = hp, objective, energy_sign, label
        self.device = device = ctx.device
        gen, disc = build_networks(hp)
        self.gen, self.disc = gen.to(device), disc.to(device)
        self.entropy = entropy_factory(hp, device, ctx, self.disc) if entropy_factory is not None else entropy
        self.shared = bool(getattr(self.entropy, "shares_trunk", False))
        self.bs = int(hp["batch_size"])
        self.data = BatchStream(training_data(ctx.dataset, hp), self.bs, ctx.np_rng("data/order"))
        self.noise, self.noise_dim = str(hp.get("noise", "normal")), noise_dim_of(hp)
        self.form = str(hp.get("energy_form", "identity"))
        self.smooth, self.l2 = float(hp.get("smooth", 0.0)), float(hp.get("l2", 0.0))
        self.max_norm = hp.get("max_grad_norm")
        kind, lasagne = str(hp.get("optimizer", "adam")), bool(hp.get("lasagne_updates", False))
        self.opt_d = _optimizer(kind, self.disc.parameters(), float(hp["lr"]), float(hp["beta1"]), lasagne)
        self.opt_g = _optimizer(kind, self.gen.parameters(), float(hp["lr"]) * float(hp["multiplier"]),
                                float(hp["beta1"]), lasagne)
        # egan_knn.py's second Adam state of the discriminator's hidden layers, for discriminator-only steps
        trunk = trunk_parameters(self.disc) if hp.get("separate_d_step_adam") else None
        self.opt_d_only = _optimizer(kind, trunk, float(hp["lr"]), float(hp["beta1"]), lasagne) if trunk else None
        if trunk is None and self.shared:
            trunk = trunk_parameters(self.disc)
        self.in_trunk = [any(p is q for q in trunk) for p in self.disc.parameters()] if trunk else []
        self.lbound, self.rbound = switch_bounds(hp)
        self.steps = ctx.steps
        epochs = int(hp["niter"]) + int(hp["niter_decay"])
        self.first_epoch = self.steps // epochs if hp.get("all_first_epoch") else 0
        self.parts = {"gen": self.gen, "disc": self.disc, "opt_d": self.opt_d, "opt_g": self.opt_g, "data": self.data,
                      **({"opt_d_only": self.opt_d_only} if self.opt_d_only is not None else {}),
                      **getattr(self.entropy, "parts", {})}
        self.streams = {"noise": ctx.rng("noise")}
        self.values = {"gap": 1.0, "counts": {"all": 0, "d": 0, "g": 0}}  # the original starts with gap = 1

    def step(self, step: int, log: bool) -> dict[str, Any]:
        hp, device, entropy = self.hp, self.device, self.entropy
        lr = learning_rate(hp, step - 1, self.steps)
        for opt in (self.opt_d, self.opt_d_only):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr
        for group in self.opt_g.param_groups:
            group["lr"] = lr * float(hp["multiplier"])
        if hasattr(entropy, "set_lr"):
            # the inference network follows the discriminator's schedule
            entropy.set_lr(lr * float(hp.get("q_lr_multiplier", 1.0)))
        gap, counts = self.values["gap"], self.values["counts"]
        mode = ("all" if step <= self.first_epoch or self.lbound < gap < self.rbound
                else ("d" if gap >= self.rbound else "g"))
        x_real = self.data.next().to(device)
        z = sample_noise(self.bs, self.noise_dim, self.noise, self.streams["noise"]).to(device)
        self.gen.train()
        self.disc.train()
        if mode == "d" and hp.get("bn_stats_on_g_steps"):
            with running_stats_kept(self.gen):
                x_fake = self.gen(z)
        else:
            x_fake = self.gen(z)
        s_real, s_fake = self.disc(x_real).squeeze(-1), self.disc(x_fake).squeeze(-1)
        e_real = energy_from_score(s_real, self.energy_sign, self.form)
        e_fake = energy_from_score(s_fake, self.energy_sign, self.form)
        cost_d, cost_adv = self.objective.costs(e_real, e_fake)
        ent = entropy.generator_loss(x_fake, z) if entropy is not None else torch.zeros((), device=device)
        cost_g = cost_adv + ent
        # the next step's switch reads E_T − E_F without the regularisers (a number: it drives control flow)
        self.values["gap"] = float(cost_d.detach())
        if self.smooth:
            cost_d = cost_d + self.smooth * ((s_fake ** 2).mean() + (s_real ** 2).mean())
        if self.l2:
            cost_d = cost_d + self.l2 * sum((p ** 2).sum() for p in self.disc.parameters())
            cost_g = cost_g + self.l2 * sum((p ** 2).sum() for p in self.gen.parameters())
        # gradients of both costs from this one forward pass, applied together (theano updates); a shared trunk's
        # gradient is that of cost_d + the entropy cost (knn_nist/egan_knn.py cost_e = cost_d + cost_i)
        grads_d = torch.autograd.grad(cost_d + ent if self.shared else cost_d, list(self.disc.parameters()),
                                      retain_graph=True)
        grads_g = torch.autograd.grad(cost_g, list(self.gen.parameters()), retain_graph=entropy is not None)
        head_grads = entropy.head_grads(ent) if self.shared else None  # before any parameter moves
        if mode == "d" and self.opt_d_only is not None:
            _apply_split(self.opt_d, self.opt_d_only, self.disc, self.in_trunk,
                         clip_total_norm(grads_d, self.max_norm))
        elif mode in ("all", "d"):
            _apply(self.opt_d, self.disc, clip_total_norm(grads_d, self.max_norm))
        elif self.shared:  # a generator step moves the shared layers too (train_op_g = updates_ieg)
            _apply_trunk(self.opt_d, self.disc, self.in_trunk, clip_total_norm(grads_d, self.max_norm))
        if mode in ("all", "g"):
            _apply(self.opt_g, self.gen, clip_total_norm(grads_g, self.max_norm))
        if self.shared:
            extra = entropy.move_head(head_grads, mode in ("all", "g"))
        else:
            extra = entropy.update(x_fake.detach(), z) if entropy is not None else {}
        counts[mode] += 1
        return {"cost_d": self.values["gap"], "E_T": e_real.detach().mean(), "E_F": e_fake.detach().mean(),
                "entropy_term": ent.detach(), "lr": lr, "frac_all": counts["all"] / step,
                "frac_d": counts["d"] / step, **extra}

    def result(self) -> TrainResult:
        self.gen.eval()
        self.disc.eval()
        hp = self.hp
        a = arch(str(hp["net"])) if is_image(hp) else None
        model = EnergyModel(self.gen, self.disc, self.energy_sign, self.device, self.bs, self.entropy, self.noise_dim,
                            image_shape=(a.channels, a.size, a.size) if a else None, noise=self.noise,
                            energy_form=self.form, label=self.label)
        counts = self.values["counts"]
        return TrainResult(model=model, measurements={"train.frac_all_updates": counts["all"] / max(self.steps, 1)})


def running_stats(net: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the BatchNorm buffers (running mean and variance, batches seen) of ``net``."""
    return {name: value.clone() for name, value in net.state_dict().items()
            if name.endswith(("running_mean", "running_var", "num_batches_tracked"))}


@contextmanager
def running_stats_kept(net: nn.Module) -> Iterator[None]:
    """A forward pass in training mode that leaves ``net``'s BatchNorm running statistics as they were: it updates
    copies, and the originals go back afterwards. Copying back in place instead would change tensors autograd saved."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    kept = [(m.running_mean, m.running_var, m.num_batches_tracked) for m in norms]
    for m, (mean, var, seen) in zip(norms, kept, strict=True):
        m.running_mean, m.running_var, m.num_batches_tracked = mean.clone(), var.clone(), seen.clone()
    try:
        yield
    finally:
        for m, (mean, var, seen) in zip(norms, kept, strict=True):
            m.running_mean, m.running_var, m.num_batches_tracked = mean, var, seen


def clip_total_norm(grads: tuple[torch.Tensor, ...], max_norm: float | None) -> tuple[torch.Tensor, ...]:
    """lasagne.updates.total_norm_constraint: rescale all gradients together when their norm exceeds max_norm."""
    if max_norm is None:
        return grads
    total = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads))
    scale = torch.clamp(float(max_norm) / (total + 1e-7), max=1.0)
    return tuple(g * scale for g in grads)


def _apply(opt: torch.optim.Optimizer, net: nn.Module, grads: tuple[torch.Tensor, ...]) -> None:
    for p, g in zip(net.parameters(), grads, strict=True):
        p.grad = g
    opt.step()
    opt.zero_grad(set_to_none=True)


def trunk_parameters(disc: nn.Module) -> list[nn.Parameter]:
    """The discriminator's parameters below its output layer (the 2-D net's hidden layers, an image net's
    ``features``): egan_knn.py's ``enc_model``, whose parameters ``params_e`` are."""
    head = disc.head if hasattr(disc, "head") else disc[-1]
    own = {id(p) for p in head.parameters()}
    return [p for p in disc.parameters() if id(p) not in own]


def _apply_trunk(opt: torch.optim.Optimizer, net: nn.Module, in_trunk: list[bool],
                 grads: tuple[torch.Tensor, ...]) -> None:
    """Only the layers below the output layer move (``in_trunk``, per parameter); the output layer's parameters
    get no gradient, so torch.optim leaves them and their state as they were."""
    for p, g, trunk in zip(net.parameters(), grads, in_trunk, strict=True):
        p.grad = g if trunk else None
    opt.step()
    opt.zero_grad(set_to_none=True)


def _apply_split(opt: torch.optim.Optimizer, opt_trunk: torch.optim.Optimizer, net: nn.Module,
                 in_trunk: list[bool], grads: tuple[torch.Tensor, ...]) -> None:
    """A discriminator-only step of egan_knn.py: the output layer moves with its one Adam state (in ``opt``), the
    layers below it (``in_trunk``, per parameter) with their second one (``opt_trunk``); ``opt``'s state of those
    layers stays as it was (a parameter without a gradient is skipped by torch.optim)."""
    params = list(net.parameters())
    for p, g, trunk in zip(params, grads, in_trunk, strict=True):
        p.grad = None if trunk else g
    opt.step()
    for p, g, trunk in zip(params, grads, in_trunk, strict=True):
        p.grad = g if trunk else None
    opt_trunk.step()
    opt.zero_grad(set_to_none=True)
    opt_trunk.zero_grad(set_to_none=True)


def bce_costs(e_real: torch.Tensor, e_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """binary_gan.py with D(x) = σ(−c(x)): −log σ(−c) = softplus(c), −log(1 − σ(−c)) = softplus(−c);
    the generator takes the non-saturating −log D(G(z))."""
    cost_d = F.softplus(e_real).mean() + F.softplus(-e_fake).mean()
    return cost_d, F.softplus(e_fake).mean()
