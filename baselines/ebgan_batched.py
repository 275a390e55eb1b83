"""Batched training of the 2-D models of Dai et al. (ICLR 2017), Section 5.1 / Appendix B.1: many runs
("members") of GAN, EGAN-Const, EGAN-Ent-NN and EGAN-Ent-VI trained together as one vectorised model, each
member exactly the run that ``ebgan_common.AdversarialTraining`` would train alone through the engine's loop.

Why: one 2-D run is a generator FC(4,128)-BN-ReLU-FC(128,128)-BN-ReLU-FC(128,2) and a discriminator
FC(2,128)-ReLU-FC(128,128)-ReLU-FC(128,1) on batches of 500 (``synthetic/network.py``, ``synthetic/egan_knn.py``
and ``synthetic/binary_gan.py`` of zihangdai/cegan_iclr2017). Its 128×128 matrix products are too small to keep
a CPU busy between the hundred-odd small operations of a step, so one run at a time leaves most of the machine
idle. Here every parameter is stacked over the members and every layer is one batched product, so the per-op
overhead is paid once per step for all members.

What each member keeps to itself, as in its own run:

- initialisation: its nets are built by ``build_networks`` (and, for VI, ``build_inference_net``) right after
  ``torch.manual_seed(init_seed)``, in the reference's order G, D, q, then copied into the stacks;
- data order: ``BatchStream``'s reshuffled passes, drawn from the member's numpy generator in the same order;
- noise: ``sample_noise(batch, 4, noise, rng)`` per step from the member's torch generator;
- learning rates: ``learning_rate(hp, step - 1, steps)`` for D, × ``multiplier`` for G, × ``q_lr_multiplier``
  for the inference net;
- optimiser and its state: Adam (β1 from hp, β2 0.999, eps 1e-8) or Adagrad (eps 1e-6), one state per member
  and network, with the same arithmetic as ``torch.optim``'s single-tensor implementations. The update switch of
  egan_knn.py (previous cost_d against ``lbound``/``rbound``) is a per-member mask computed on the device; a
  masked member's parameters, moments and step count do not move, as when ``opt.step()`` is not called;
- BatchNorm over the member's own batch (batch statistics in training mode; its running statistics);
- its cost: BCE (binary_gan.py), E_T − E_F, or the margin form; its entropy term: k-NN direction per member
  (eqs. 10-11) or its own inference net q(z | x) (eqs. 12-16, eq. 26) with its own Adam.

Gradients are written out by hand (forward and backward of each layer as batched products), which lets one
backward pass through D serve both costs: the discriminator has one output, so the backward of any per-sample
seed is that seed times the backward of a unit seed, computed once. Activations are kept feature-major,
(members, features, samples), so that BatchNorm's reductions run over contiguous memory. Nothing reads a value
back to the host during a step; logged losses are gathered on the device and read once per chunk of steps.

Where the pieces live: the stacks' layouts (``batched_stack``), the optimisers (``batched_optim``) and the k-NN
directions (``batched_knn``) each in their own module; here the members, the model's batched step and the host
side that feeds it chunk by chunk.

Exactness. Every member computes what its own run computes, in the same dtype (the default dtype, as the
reference builds its modules), but not bit for bit: a batched product or a reduction sums in another order.
Where the reference gets an exact zero by cancellation (D's biases under E_T − E_F, real and fake rows summed
apart), the same exact zero is produced here. Otherwise the differences are rounding, which the early EGAN
steps amplify: Adam's update lr·g/(|g| + 1e-8) on gradients of about that size turns last-bit differences
into visible ones, roughly tenfold per step. The reference drifts from itself at the same rate when only its
thread count changes. tests/test_batched_training.py therefore checks the equivalence in float64, where it
holds to 1e-7 over the steps the reference is reproducible at all, and after one float32 step.

Between batches, on the other hand, a member is exact: on one machine and thread count it computes the same
bits alone as beside any other members (a test). Two things would break that and are avoided here: a batch of
one, which torch.bmm hands to torch.mm (``_bmm``, ``_baddbmm`` run it as a batch of two views), and the scalar
tail of an elementwise loop, which rounds pow, softplus or lerp otherwise than the vectorised body does, so
that the last values of a tensor would depend on its length (rows padded to whole vectors, ``_padded``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.batched_knn import knn_directions
from baselines.batched_optim import BatchedOptimiser
from baselines.batched_stack import Stack, layout
from baselines.ebgan_common import (
    HIDDEN,
    NOISE_DIM,
    EnergyModel,
    EntropyTerm,
    build_inference_net,
    build_networks,
    learning_rate,
    sample_noise,
    switch_bounds,
)
from baselines.egan_ent_nn import KNNEntropy
from baselines.egan_ent_vi import VIEntropy
from benchmark.api import RunContext, TrainResult, stream_seed
from benchmark.batch_families import SHARED, shared_values, uncovered
from benchmark.batching import Relay, batch_trainer
from benchmark.loop import BatchProgram, train_batch

METHODS = ("gan_cegan", "egan_const", "egan_ent_nn", "egan_ent_vi")
LABELS = {"gan_cegan": "GAN", "egan_const": "EGAN-Const", "egan_ent_nn": "EGAN-Ent-NN", "egan_ent_vi": "EGAN-Ent-VI"}
BN_EPS, BN_MOMENTUM = 1e-5, 0.1  # nn.BatchNorm1d defaults, as in make_generator
# Members per batch by default (train_batched's ``group``): None trains all at once, which measured fastest for
# up to 36 members on a 2-core CPU (benchmarks/batched_throughput.py); groups only bound memory (~7 MB a member).
GROUP: int | None = None


# ------------------------------------------------------------------------------------ members


@dataclass
class Member:
    """One run. ``hp`` is what the run trains with (its context's hyper-parameters, resolved by the engine with
    the budget's batch size); randomness comes in explicitly."""

    method: str  # gan_cegan | egan_const | egan_ent_nn | egan_ent_vi
    hp: dict[str, Any]
    data: torch.Tensor  # (n, 2) training set
    init_seed: int  # torch.manual_seed before building G, D (and q)
    data_rng: np.random.Generator  # drives the minibatch order (the reference's ctx.np_rng("data/order"))
    noise_rng: torch.Generator  # CPU generator of the noise z (the reference's ctx.rng("noise"))


@dataclass
class MemberResult:
    """A trained member: ordinary modules on ``device``, its logged losses and its measurements."""

    method: str
    hp: dict[str, Any]
    generator: nn.Module
    discriminator: nn.Module
    inference_net: nn.Module | None
    device: torch.device
    losses: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    measurements: dict[str, float] = field(default_factory=dict)

    def entropy(self) -> EntropyTerm | None:
        """The entropy term the method's own run would attach to its model (Figure 8 reads it)."""
        hp = self.hp
        if self.method == "egan_ent_nn":
            return KNNEntropy(int(hp["knn_k"]), float(hp["knn_scale"]), str(hp["knn_normalise"]))
        if self.method == "egan_ent_vi":
            return VIEntropy(self.inference_net, float(hp["vi_weight"]), float(hp["lr"]), float(hp["beta1"]),
                             hp.get("max_grad_norm"))
        return None

    def model(self) -> EnergyModel:
        return EnergyModel(self.generator, self.discriminator, 1.0, self.device, int(self.hp["batch_size"]),
                           self.entropy(), NOISE_DIM, image_shape=None, noise=str(self.hp.get("noise", "normal")),
                           energy_form="identity", label=LABELS[self.method])

    def train_result(self) -> TrainResult:
        """What ``METHODS[method]().train(ctx)`` returns for this run."""
        return TrainResult(model=self.model(), measurements=dict(self.measurements))


def member_from_context(method: str, ctx: RunContext) -> Member:
    """The member that reproduces ``METHODS[method]().train(ctx)``: the engine's loop seeds the initialisation
    from the run's ``init`` stream; ``AdversarialTraining`` draws the data order from ``data/order`` and the
    noise from ``noise``."""
    if method not in METHODS:
        raise ValueError(f"unknown method '{method}' (one of {', '.join(METHODS)})")
    return Member(method, dict(ctx.hparams), ctx.dataset.train_samples(), stream_seed(ctx.seed, "init"),
                  ctx.np_rng("data/order"), ctx.rng("noise"))


@batch_trainer("cegan_2d")
def train_family(runs: Sequence[tuple[str, RunContext]], checkpoint: Any = None) -> list[Any]:
    """The engine's entry (``benchmark.batching``): one batch of runs (the engine groups them: same steps and
    device, and the family's shared settings, its ``batch_size``) trained together; per run its ``TrainResult``,
    or the divergence that ended it. Each run's losses go to its own context at its own cadence, its progress
    to its own step count."""
    members = [member_from_context(name, ctx) for name, ctx in runs]
    contexts = [ctx for _, ctx in runs]
    relay = Relay(contexts)
    trained = train_batched(members, contexts[0].steps, contexts[0].device, contexts[0].log_every,
                            on_log=relay.log, on_progress=relay.progress, checkpoint=checkpoint,
                            curve_steps=sorted({s for ctx in contexts for s in ctx.curve_steps}),
                            on_curve=lambda k, step, result: relay.curve(k, step, result.train_result))
    return [relay.outcome(k, result.train_result) for k, result in enumerate(trained)]


def _check(member: Member, first: Member) -> None:
    hp = member.hp
    if member.method not in METHODS:
        raise ValueError(f"unknown method '{member.method}' (one of {', '.join(METHODS)})")
    outside = uncovered("cegan_2d", hp, {})  # the family's declaration (benchmark.batch_families), which the
    if outside:  # planner reads to decide which runs train here
        raise ValueError(f"batched training does not implement {', '.join(f'{k}={hp[k]!r}' for k in outside)}; "
                         "such a run trains alone through its program")
    if str(hp.get("optimizer", "adam")) not in ("adam", "adagrad"):
        raise ValueError(f"unknown optimizer '{hp.get('optimizer')}' (adam or adagrad)")
    if shared_values("cegan_2d", hp, {}) != shared_values("cegan_2d", first.hp, {}):
        raise ValueError(f"all members of one call must share {', '.join(SHARED['cegan_2d'])} (batching.batches "
                         "groups runs by them)")
    batch = int(hp["batch_size"])
    if member.data.ndim != 2 or member.data.shape[1] != 2 or len(member.data) < batch:
        raise ValueError(f"member data must be (n ≥ batch_size, 2), not {tuple(member.data.shape)}")


# --------------------------------------------------------------------------------- the trainer

_RANK = {"gan_cegan": 0, "egan_const": 1, "egan_ent_nn": 2, "egan_ent_vi": 3}


def _knn_key(member: Member, n: int) -> tuple[int, str]:
    return min(int(member.hp["knn_k"]), n - 1), str(member.hp["knn_normalise"])


def internal_order(members: Sequence[Member]) -> list[int]:
    """The members' order inside the stacks: by method, k-NN members grouped by (k, normalisation), so that
    every entropy term works on a contiguous slice of the stacks (views, no gathers)."""
    n = int(members[0].hp["batch_size"])

    def key(j: int) -> tuple[int, tuple[int, str]]:
        member = members[j]
        return _RANK[member.method], _knn_key(member, n) if member.method == "egan_ent_nn" else (0, "")

    return sorted(range(len(members)), key=key)


def _padded(size: int) -> int:
    """``size`` rounded up to a multiple of 64 elements: a whole number of vectors of any width (up to 16 floats
    or 8 doubles, twice unrolled) and of cache lines, so that an elementwise loop over such rows has no tail."""
    return -(-size // 64) * 64


def _pair(t: torch.Tensor) -> torch.Tensor:
    return t.expand(2, *t.shape[1:])


def _bmm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """torch.bmm, always through its batched kernel. A batch of one goes to torch.mm, which sums some products
    (matrix-vector ones, and on two threads others) in another order than the batched kernel does, so a member
    would not compute alone what it computes beside others; a lone matrix is run as a batch of two views of it."""
    if a.shape[0] != 1:
        return torch.bmm(a, b, out=out)
    res = torch.bmm(_pair(a), _pair(b))[:1]
    return res if out is None else out.copy_(res)


def _baddbmm(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """torch.baddbmm (into ``out``, which may be ``bias`` itself), a batch of one run as ``_bmm`` runs it."""
    if a.shape[0] != 1:
        return bias.baddbmm_(a, b) if out is bias else torch.baddbmm(bias, a, b, out=out)
    res = torch.baddbmm(_pair(bias), _pair(a), _pair(b))[:1]
    return res if out is None else out.copy_(res)


def _tb(grad: torch.Tensor, out: torch.Tensor, out_buf: torch.Tensor) -> torch.Tensor:
    """ReLU backward: grad where the layer's output is positive, as autograd's threshold_backward."""
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0.0, grad_input=out_buf)


class _Batched:
    """The stacked model of members given in ``internal_order``: parameters, optimiser states, the per-member
    constants of their objectives, and preallocated activations."""

    def __init__(self, members: Sequence[Member], steps: int, device: torch.device) -> None:
        self.members, self.steps, self.device = list(members), steps, device
        self.n = n = int(members[0].hp["batch_size"])
        for member in members:
            _check(member, members[0])
        self.bn_eps = float(members[0].hp.get("bn_eps", BN_EPS))
        # members that keep their generator's BatchNorm running statistics on discriminator-only steps (the
        # original's updates_g, egan_knn.py line 310); None where no member does, which costs nothing
        kept = [bool(mb.hp.get("bn_stats_on_g_steps", False)) for mb in members]
        self.stats_on_g_steps = torch.tensor(kept, device=device) if any(kept) else None
        self.stats_kept = torch.zeros(len(members), dtype=torch.int64, device=device)  # steps that froze them
        m = len(members)
        gens, discs, qs = [], [], []
        with torch.random.fork_rng(devices=[]):  # the callers' global RNG is left as it was
            for member in members:
                torch.manual_seed(int(member.init_seed))
                gen, disc = build_networks(member.hp)  # the reference's draws: G, then D, then q
                gens.append(gen)
                discs.append(disc)
                if member.method == "egan_ent_vi":
                    init_q = member.hp["init_q"] if member.hp.get("init_q") is not None else member.hp["init_d"]
                    qs.append(build_inference_net(member.hp, float(init_q)))
        methods = [mb.method for mb in members]
        vi = [j for j, meth in enumerate(methods) if meth == "egan_ent_vi"]
        self.vi = slice(vi[0], vi[-1] + 1) if vi else None
        # networks per member: G, D (and q for VI members; the others' q rows stay zero and never update)
        kinds = [[str(mb.hp.get("optimizer", "adam"))] * 2 + (["adam"] if qs else []) for mb in members]
        # every row padded to a multiple of 64: the optimiser's elementwise loops then have no scalar tail, whose
        # code rounds lerp and addcmul otherwise than the vectorised code, at the end of a row or of the buffer
        size = _padded(max(layout(net)[1] for net in [gens[0], discs[0], *qs[:1]]))
        self.opt = BatchedOptimiser(size, kinds, [float(mb.hp["beta1"]) for mb in members], device)
        p, g = self.opt.p, self.opt.g
        self.G, self.D = Stack(gens, p[:, 0], g[:, 0], device), Stack(discs, p[:, 1], g[:, 1], device)
        self.Q = Stack(qs, p[self.vi, 2], g[self.vi, 2], device) if qs else None
        if self.Q is not None:
            self.vi_weight = torch.tensor([float(mb.hp["vi_weight"]) for mb in members[self.vi]],
                                          device=device).view(-1, 1, 1)
            self.is_vi = torch.tensor([meth == "egan_ent_vi" for meth in methods], device=device)
        # k-NN members, contiguous by internal_order: one slice per (k, normalisation)
        self.knn: list[tuple[slice, int, str, torch.Tensor]] = []
        for key, group in itertools.groupby(range(m), key=lambda j: _knn_key(members[j], n)
                                            if methods[j] == "egan_ent_nn" else None):
            if key is None:
                continue
            idx = list(group)
            if key[1] not in ("unit", "variance"):
                raise ValueError(f"knn_normalise must be 'unit' or 'variance', not '{key[1]}'")
            scale = torch.tensor([float(members[j].hp["knn_scale"]) for j in idx], device=device).view(-1, 1, 1)
            self.knn.append((slice(idx[0], idx[-1] + 1), *key, scale))
        f64 = dict(dtype=torch.float64, device=device)
        col = dict(device=device)
        self.is_gan = torch.tensor([meth == "gan_cegan" for meth in methods], **col).unsqueeze(1)
        margins = [mb.hp.get("margin") if mb.method != "gan_cegan" else None for mb in members]
        self.has_margin = torch.tensor([mg is not None for mg in margins], **col).unsqueeze(1)
        self.margin = torch.tensor([float(mg) if mg is not None else 0.0 for mg in margins], **col).unsqueeze(1)
        self.variants = {"gan": "gan_cegan" in methods, "margin": any(mg is not None for mg in margins),
                         "plain": any(meth != "gan_cegan" and mg is None for meth, mg in zip(methods, margins,
                                                                                             strict=True))}
        bounds = [switch_bounds(mb.hp) for mb in members]
        self.lbound = torch.tensor([low for low, _ in bounds], **f64)
        self.rbound = torch.tensor([high for _, high in bounds], **f64)
        self.first_epoch = [steps // (int(mb.hp["niter"]) + int(mb.hp["niter_decay"]))
                            if mb.hp.get("all_first_epoch") else 0 for mb in members]
        self.gap = torch.ones(m, device=device)  # the original starts with gap = 1
        self.count_all = torch.zeros(m, **f64)
        self.count_d = torch.zeros(m, **f64)
        self.inv_n = torch.ones((), device=device) / n  # MeanBackward's grad / numel
        self._buffers(m, n, device)
        # the buffers never move, so their per-layer views are made once
        self.Gp, self.Gg = self.G.views(self.G.p), self.G.views(self.G.g)
        self.Dp, self.Dg = self.D.views(self.D.p), self.D.views(self.D.g)
        if self.Q is not None:
            self.Qp, self.Qg = self.Q.views(self.Q.p), self.Q.views(self.Q.g)

    def _buffers(self, m: int, n: int, device: torch.device) -> None:
        h = HIDDEN
        e = dict(device=device)
        self.XT = torch.empty(m, 2, 2 * n, **e)  # [real | fake] samples, feature-major
        self.p1, self.r1 = torch.empty(m, h, n, **e), torch.empty(m, h, n, **e)
        self.p2, self.r2 = torch.empty(m, h, n, **e), torch.empty(m, h, n, **e)
        self.dr, self.dp = torch.empty(m, h, n, **e), torch.empty(m, h, n, **e)
        self.h1, self.h2 = torch.empty(m, h, 2 * n, **e), torch.empty(m, h, 2 * n, **e)
        self.G1, self.G2, self.mask = (torch.empty(m, h, 2 * n, **e) for _ in range(3))
        self.s = torch.empty(m, 1, 2 * n, **e)
        self.ds = torch.empty(m, 1, 2 * n, **e)
        self.xf, self.dxT = torch.empty(m, 2, n, **e), torch.empty(m, 2, n, **e)
        self.hh = torch.empty(m, h, h, **e)  # products of two activations: hidden × hidden weight gradients
        self.neg_f = torch.zeros(m, _padded(n), **e)  # −E(fake) of GAN members (_costs), zero-padded rows
        if self.Q is not None:
            mv = self.vi.stop - self.vi.start
            self.q1, self.q2 = torch.empty(mv, h, n, **e), torch.empty(mv, h, n, **e)
            self.dq1, self.dq2 = torch.empty(mv, h, n, **e), torch.empty(mv, h, n, **e)

    # ------------------------------------------------------------------------------ layers

    def _bn_relu(self, p: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, out: torch.Tensor,
                 running: tuple[torch.Tensor, torch.Tensor],
                 frozen: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Training-mode BatchNorm1d + ReLU per member and channel over the batch (last dim). Leaves p
        centred (the backward needs x − mean); returns (invstd, gamma·invstd). The running statistics of the
        members ``frozen`` marks (M,) stay as they were."""
        n = p.shape[-1]
        mean = p.sum(-1, keepdim=True).div_(n)
        p.sub_(mean)
        var_sum = torch.linalg.vector_norm(p, dim=-1, keepdim=True).square_()
        invstd = (var_sum / n).add_(self.bn_eps).rsqrt_()
        a = gamma * invstd
        torch.addcmul(beta, p, a, out=out).relu_()
        rm, rv = running
        if frozen is None:
            rm.mul_(1.0 - BN_MOMENTUM).add_(mean, alpha=BN_MOMENTUM)
            rv.mul_(1.0 - BN_MOMENTUM).add_(var_sum / (n - 1), alpha=BN_MOMENTUM)  # unbiased, as nn.BatchNorm1d
        else:  # the same arithmetic, kept where frozen
            keep = frozen.view(-1, 1, 1)
            rm.copy_(torch.where(keep, rm, rm.mul(1.0 - BN_MOMENTUM).add_(mean, alpha=BN_MOMENTUM)))
            rv.copy_(torch.where(keep, rv, rv.mul(1.0 - BN_MOMENTUM).add_(var_sum / (n - 1), alpha=BN_MOMENTUM)))
        return invstd, a

    @staticmethod
    def _bn_backward(dy: torch.Tensor, centred: torch.Tensor, invstd: torch.Tensor, a: torch.Tensor,
                     out: torch.Tensor, grad_gamma: torch.Tensor, grad_beta: torch.Tensor) -> torch.Tensor:
        """native_batch_norm_backward's training-mode formula: dx = (dy − mean dy − x̂·mean(dy·x̂))·γ·invstd."""
        n = dy.shape[-1]
        sdy = dy.sum(-1, keepdim=True)
        dot = torch.mul(centred, dy, out=out).sum(-1, keepdim=True)  # ``out`` is free until the end
        grad_beta.copy_(sdy)
        grad_gamma.copy_(dot * invstd)
        k = dot * invstd * invstd / n
        torch.addcmul(-(sdy / n) * a, dy, a, out=out)
        return out.addcmul_(centred, -k * a)

    # -------------------------------------------------------------------------------- step

    def step(self, xr: torch.Tensor, z: torch.Tensor, lr: torch.Tensor, first: torch.Tensor | None,
             log: bool) -> torch.Tensor | None:
        """One training step of every member. xr (M, n, 2) real batch, z (M, n, 4) noise, lr (M, B) float64 the
        learning rates of G, D (and q), first (M,) bool: inside the all-networks first epoch. Returns the logged
        values (K, M) when ``log``.
        Gradients are computed into fresh contiguous tensors and copied into the stacks' gradient buffers:
        a product written straight into a strided view runs up to 3× slower on two threads."""
        n = self.n
        XT = self.XT
        XT[:, :, :n].copy_(xr.transpose(1, 2))
        zT = z.transpose(1, 2)
        W1, b1, g1, be1, W2, b2, g2, be2, W3, b3 = self.Gp
        V1, c1, V2, c2, V3, c3 = self.Dp
        run1, run2 = (self.G.running[i] for i in self.G.bn)

        # which networks this step updates, from the previous step's cost_d (egan_knn.py's gap switch)
        gap = self.gap.double()
        in_range = (gap > self.lbound) & (gap < self.rbound)
        above = gap >= self.rbound
        if first is not None:
            in_range = in_range | first
        upd_d, upd_g = in_range | above, in_range | ~above
        self.count_all += in_range
        self.count_d += ~in_range & above
        frozen = None if self.stats_on_g_steps is None else self.stats_on_g_steps & ~in_range & above
        if frozen is not None:
            self.stats_kept += frozen

        # generator forward (BatchNorm on this member's batch)
        _baddbmm(b1, W1, zT, out=self.p1)
        inv1, a1 = self._bn_relu(self.p1, g1, be1, self.r1, run1, frozen)
        _baddbmm(b2, W2, self.r1, out=self.p2)
        inv2, a2 = self._bn_relu(self.p2, g2, be2, self.r2, run2, frozen)
        XT[:, :, n:].copy_(_baddbmm(b3, W3, self.r2, out=self.xf))

        # discriminator forward on [real | fake]
        h1 = _baddbmm(c1, V1, XT, out=self.h1).relu_()
        h2 = _baddbmm(c2, V2, h1, out=self.h2).relu_()
        s = _baddbmm(c3, V3, h2, out=self.s)
        e_r, e_f = s[:, 0, :n], s[:, 0, n:]
        cost_d, d_real, d_fake, d_gen = self._costs(e_r, e_f)

        # D backward: the unit-seed backward G2 = ∂s/∂a2, G1 = ∂s/∂a1 per sample, scaled by each cost's seed
        ds = self.ds
        ds[:, 0, :n] = d_real
        ds[:, 0, n:] = d_fake
        gV1, gc1, gV2, gc2, gV3, gc3 = self.Dg
        # Bias gradients: Σ_j ds_j over active samples. The reference sums disc(x_real)'s and disc(x_fake)'s rows
        # apart, so under E_T − E_F (seeds ±1/n) a unit active on as many real as fake samples gets exactly zero,
        # where a float sum in another order would leave rounding noise that Adam (eps 1e-8) turns into a visible
        # step. Summing the seeds scaled by n (±1 for the EGAN costs) over 0/1 masks is exact in any order, and
        # for the output bias and a2's units the mask is the whole gradient's pattern: ∂/∂c2 = v3 ⊙ Σ_j m_j·ds_j.
        nds = ds * n
        mask2 = torch.gt(h2, 0.0, out=self.mask)  # 0/1 in the working dtype (heaviside: 6× slower on the CPU)
        gc3.copy_(nds.sum(-1, keepdim=True).div_(n))
        gc2.copy_(_bmm(mask2, nds.transpose(1, 2)).div_(n).mul_(V3.transpose(1, 2)))
        G2 = torch.mul(mask2, V3.transpose(1, 2), out=self.G2)
        G1 = _tb(_bmm(V2.transpose(1, 2), G2, out=self.G1), h1, self.G1)
        dxT = _bmm(V1.transpose(1, 2), G1[:, :, n:], out=self.dxT).mul_(d_gen.unsqueeze(1))
        gV3.copy_(_bmm(ds, h2.transpose(1, 2)))
        gc1.copy_(_bmm(G1, ds.transpose(1, 2)))
        gV1.copy_(_bmm(G1, (XT * ds).transpose(1, 2)))
        gV2.copy_(_bmm(G2.mul_(ds), h1.transpose(1, 2), out=self.hh))

        # entropy terms: gradients w.r.t. the generated samples
        ent = torch.zeros(len(self.members), device=self.device) if log else None
        vi_bound = None
        for sl, k, norm, scale in self.knn:
            x = self.xf[sl].transpose(1, 2).contiguous()
            u = scale * knn_directions(x, k, norm)
            dxT[sl] += u.transpose(1, 2)
            if log:
                # a batched product, not a sum over (n, 2): a reduction to one value per member sums in an order
                # that depends on the slice's size and layout
                ent[sl] = _bmm(u.reshape(len(u), 1, -1), x.reshape(len(x), -1, 1)).view(-1)
        if self.Q is not None:
            bound = self._vi(self.xf[self.vi], z[self.vi], dxT[self.vi])
            if log:
                ent[self.vi] = self.vi_weight.view(-1) * bound
                vi_bound = bound

        # generator backward
        gW1, gb1, gg1, gbe1, gW2, gb2, gg2, gbe2, gW3, gb3 = self.Gg
        gW3.copy_(_bmm(dxT, self.r2.transpose(1, 2)))
        gb3.copy_(dxT.sum(-1, keepdim=True))
        dy = _tb(_bmm(W3.transpose(1, 2), dxT, out=self.dr), self.r2, self.dr)
        dp = self._bn_backward(dy, self.p2, inv2, a2, self.dp, gg2, gbe2)
        gW2.copy_(_bmm(dp, self.r1.transpose(1, 2), out=self.hh))
        gb2.copy_(dp.sum(-1, keepdim=True))
        dy = _tb(_bmm(W2.transpose(1, 2), dp, out=self.dr), self.r1, self.dr)
        dp = self._bn_backward(dy, self.p1, inv1, a1, self.dp, gg1, gbe1)
        gW1.copy_(_bmm(z.transpose(1, 2), dp.transpose(1, 2)).transpose(1, 2))  # 4× faster than dp @ z
        gb1.copy_(dp.sum(-1, keepdim=True))

        # the updates, each from this step's one forward pass (theano's simultaneous updates)
        masks = (upd_g, upd_d, self.is_vi) if self.Q is not None else (upd_g, upd_d)
        self.opt.step(lr, torch.stack(masks, dim=1))
        self.gap = cost_d
        if not log:
            return None
        vi = torch.full((len(self.members),), math.nan, dtype=torch.float64, device=self.device)
        if vi_bound is not None:
            vi[self.vi] = vi_bound.double()
        return torch.stack([cost_d.double(), e_r.mean(1).double(), e_f.mean(1).double(), ent.double(), lr[:, 1],
                            self.count_all, self.count_d, vi])

    def _costs(self, e_r: torch.Tensor, e_f: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(cost_d, ∂cost_d/∂e_real, ∂cost_d/∂e_fake, ∂cost_adv/∂e_fake), each member with its own objective:
        bce_costs (GAN), E_T − E_F, or mean(max(E_T − c(x_fake), −margin))."""
        inv, n = self.inv_n, e_r.shape[1]
        out: dict[str, tuple[torch.Tensor, ...]] = {}
        if self.variants["plain"]:
            out["plain"] = (e_r.mean(1) - e_f.mean(1), inv.expand_as(e_r), (-inv).expand_as(e_f), inv.expand_as(e_f))
        if self.variants["margin"]:
            gap = e_r.mean(1, keepdim=True) - e_f
            active = gap > -self.margin  # clamp(min=)'s gradient is 0 at the bound itself
            d_fake = torch.where(active, -inv, 0.0)
            d_real = (torch.where(active, inv, 0.0).sum(1, keepdim=True) / e_r.shape[1]).expand_as(e_r)
            out["margin"] = (torch.maximum(gap, -self.margin).mean(1), d_real, d_fake, inv.expand_as(e_f))
        if self.variants["gan"]:
            full = inv.expand_as(e_r)
            # −e_f in a zero-padded buffer: a contiguous (M, n) tensor would be one flat loop whose last
            # elements (the last member's) take softplus's scalar code, which rounds otherwise than its
            # vectorised code; over whole rows of a multiple of 64 every member's values take the vectorised
            # code wherever it sits in the batch (e_r and e_f, rows of s, loop per member already)
            neg_f = self.neg_f
            torch.neg(e_f, out=neg_f[:, :n])
            cost = torch.nn.functional.softplus(e_r).mean(1) + torch.nn.functional.softplus(neg_f)[:, :n].mean(1)
            out["gan"] = (cost, torch.ops.aten.softplus_backward(full, e_r, 1.0, 20.0),
                          -torch.ops.aten.softplus_backward(inv.expand_as(neg_f), neg_f, 1.0, 20.0)[:, :n],
                          torch.ops.aten.softplus_backward(full, e_f, 1.0, 20.0))
        # plain E_T − E_F is the base; margin members and GAN members take their own
        chosen: tuple[torch.Tensor, ...] | None = None
        for key, mask in (("plain", None), ("margin", self.has_margin), ("gan", self.is_gan)):
            if key not in out:
                continue
            if chosen is None:
                chosen = out[key]
                continue
            chosen = tuple(torch.where(mask.view(-1) if a.ndim == 1 else mask, a, b)
                           for a, b in zip(out[key], chosen, strict=True))
        return chosen

    def _vi(self, xT: torch.Tensor, z: torch.Tensor, dxT: torch.Tensor) -> torch.Tensor:
        """VI members (xT, z, dxT: their slices): U(q) = mean −log q(z | x) (eq. 16) on this batch; adds w·∂U/∂x
        to the generator's gradient dxT and leaves ∂U/∂θ_q in the q stack's gradient buffer. Returns U (Mv,)."""
        U1, d1, U2, d2, U3, d3 = self.Qp
        gU1, gd1, gU2, gd2, gU3, gd3 = self.Qg
        q1 = _baddbmm(d1, U1, xT, out=self.q1).relu_()
        q2 = _baddbmm(d2, U2, q1, out=self.q2).relu_()
        out = _baddbmm(d3, U3, q2)  # (Mv, 2·noise, n): [µ; log σ]
        d = out.shape[1] // 2
        mu, log_sigma = out[:, :d], out[:, d:]
        inv_sigma = torch.exp(-log_sigma)
        t = (z.transpose(1, 2) - mu) * inv_sigma
        nll = (log_sigma + 0.5 * t ** 2).sum(1) + 0.5 * d * math.log(2 * math.pi)
        bound = nll.mean(1)
        inv = self.inv_n
        dout = torch.cat([-(t * inv_sigma) * inv, (1.0 - t * t) * inv], dim=1)
        gU3.copy_(_bmm(dout, q2.transpose(1, 2)))
        gd3.copy_(dout.sum(-1, keepdim=True))
        dq2 = _tb(_bmm(U3.transpose(1, 2), dout, out=self.dq2), q2, self.dq2)
        gU2.copy_(_bmm(dq2, q1.transpose(1, 2), out=self.hh[self.vi]))
        gd2.copy_(dq2.sum(-1, keepdim=True))
        dq1 = _tb(_bmm(U2.transpose(1, 2), dq2, out=self.dq1), q1, self.dq1)
        gU1.copy_(_bmm(dq1, xT.transpose(1, 2)))
        gd1.copy_(dq1.sum(-1, keepdim=True))
        _baddbmm(dxT, U1.transpose(1, 2), dq1.mul_(self.vi_weight), out=dxT)
        return bound

    def results(self, steps: int, device: torch.device) -> list[MemberResult]:
        """Per member (internal order): its networks as ordinary modules on ``device``."""
        out = []
        for j, mb in enumerate(self.members):
            q = self.Q.unstack(j - self.vi.start, steps, device) if mb.method == "egan_ent_vi" else None
            generator = self.G.unstack(j, steps - int(self.stats_kept[j]), device)
            out.append(MemberResult(mb.method, dict(mb.hp), generator, self.D.unstack(j, steps, device), q, device))
        return out


# --------------------------------------------------------------------------------- host side


class _IndexStream:
    """BatchStream's minibatch indices, many steps at a time: the same permutations, drawn at the same points."""

    def __init__(self, n: int, batch: int, rng: np.random.Generator) -> None:
        self.n, self.batch, self.rng = n, batch, rng
        self.order, self.pos = rng.permutation(n), 0

    def take(self, count: int) -> np.ndarray:
        """The indices of the next ``count`` minibatches."""
        out = np.empty((count, self.batch), dtype=np.int64)
        t = 0
        while t < count:
            if self.pos + self.batch > self.n:
                self.order, self.pos = self.rng.permutation(self.n), 0
            k = min(count - t, (self.n - self.pos) // self.batch)
            out[t:t + k] = self.order[self.pos:self.pos + k * self.batch].reshape(k, self.batch)
            self.pos += k * self.batch
            t += k
        return out


def train_batched(members: Sequence[Member], steps: int, device: torch.device | str = "cpu", log_every: int = 50,
                  on_log: Callable[[int, int, dict[str, float]], None] | None = None,
                  on_progress: Callable[[int, int], None] | None = None, chunk: int = 50,
                  group: int | None = GROUP, checkpoint: Any = None, curve_steps: Sequence[int] = (),
                  on_curve: Callable[[int, int, MemberResult], None] | None = None) -> list[MemberResult]:
    """Train every member for ``steps`` steps as one batched model; member j's result is the run
    run would give it alone (to float rounding; see the module docstring).

    ``on_log(j, step, values)`` receives member j's losses at the reference's cadence (every ``log_every`` steps
    and the last), with the keys the program logs; they are read from the device once per ``chunk`` steps,
    so calls arrive up to a chunk late. ``on_progress(j, k)``: member j has done k more steps. Members must share
    ``batch_size``; ``steps`` is shared by construction (group runs by both). Members are independent, so more
    than ``group`` of them are trained as successive batches of at most ``group`` (None: all at once), which
    bounds memory (about 7 MB per member on the device) without changing any member's result beyond rounding.

    ``checkpoint`` (one batch only): an object with ``every`` (steps), ``save(step, state)`` and ``load()``
    (``(step, state)`` or None). The whole batch's state (stacks, optimiser moments, batch-norm statistics, update
    switches, data order and noise generators, the logged losses) is saved at the end of the chunk that passes
    a multiple of ``every``; a batch of the same members resumes from it to the numbers of an uninterrupted one
    (the runs' own records of what was logged before are the checkpoint owner's to restore).

    ``on_curve(j, step, result)``: at each of ``curve_steps`` before the last, member j's networks as they are
    then (a budget curve's point, ``benchmark/curves.py``); training goes on unchanged."""
    if not members:
        return []
    device = torch.device(device)
    steps = int(steps)  # the loop (train_batch) bounds the chunk
    order = internal_order(members)
    size = len(order) if not group else max(1, int(group))
    if size < len(order):
        checkpoint = None  # a checkpoint holds one batch
    results: list[MemberResult] = [None] * len(members)  # type: ignore[list-item]
    for start in range(0, len(order), size):
        ids = order[start:start + size]
        inside = [members[j] for j in ids]
        relay = None if on_log is None else (lambda j, step, values, ids=ids: on_log(ids[j], step, values))
        progress = None if on_progress is None else (lambda k, ids=ids: [on_progress(j, k) for j in ids])
        curve = None if on_curve is None else (lambda j, step, res, ids=ids: on_curve(ids[j], step, res))
        with torch.inference_mode():
            model = _Batched(inside, steps, device)
            logs = train_batch(_Chunks(model, inside, steps, device), steps, log_every, chunk, checkpoint,
                               curve_steps, on_log=relay, on_progress=progress, on_curve=curve)
            count_all = model.count_all.cpu().tolist()
        # the trained networks leave inference mode: the metrics may need their gradients, and the engine
        # restores their state after each metric
        trained = model.results(steps, device)
        for res, lines, count in zip(trained, logs, count_all, strict=True):
            res.losses = lines
            res.measurements = {"train.frac_all_updates": count / max(steps, 1)}
        for j, res in zip(ids, trained, strict=True):
            results[j] = res
    return results


class _Chunks(BatchProgram):
    """The batch as the engine's loop drives it (``benchmark.loop.train_batch``): the host draws each chunk's
    data indices, noise and learning rates per member and per step, in the order its run alone would, ships them
    to the device at once, and the device steps; logged losses come back once per chunk."""

    def __init__(self, model: _Batched, members: Sequence[Member], steps: int, device: torch.device) -> None:
        self.model, self.members, self.steps, self.device = model, list(members), steps, device
        self.size = len(members)
        self.datasets: dict[int, torch.Tensor] = {}
        for mb in members:  # each distinct training set once
            self.datasets.setdefault(id(mb.data), mb.data.detach().to("cpu").contiguous())
        self.streams = [_IndexStream(len(mb.data), model.n, mb.data_rng) for mb in members]
        self.noise = [str(mb.hp.get("noise", "normal")) for mb in members]
        self.mult = np.array([float(mb.hp["multiplier"]) for mb in members])
        self.q_mult = np.array([float(mb.hp.get("q_lr_multiplier", 1.0)) for mb in members])
        self.any_first = any(model.first_epoch)
        self.pin = device.type == "cuda"

    def chunk(self, start: int, count: int, logged: Sequence[int]) -> list[tuple[int, list[dict[str, float]]]]:
        model, members, m, n, pin = self.model, self.members, self.size, self.model.n, self.pin
        xr = torch.empty(count, m, n, 2, pin_memory=pin)
        z = torch.empty(count, m, n, NOISE_DIM, pin_memory=pin)
        for j, mb in enumerate(members):
            idx = torch.from_numpy(self.streams[j].take(count))
            xr[:, j] = self.datasets[id(mb.data)][idx]
            for t in range(count):
                z[t, j] = sample_noise(n, NOISE_DIM, self.noise[j], mb.noise_rng)
        span = range(start, start + count)
        lr = np.array([[learning_rate(mb.hp, s - 1, self.steps) for mb in members] for s in span])
        # G at multiplier × lr, D at lr, q at q_lr_multiplier × lr (in double, as the reference's param groups)
        lrs = np.stack([lr * self.mult, lr] + ([lr * self.q_mult] if model.Q is not None else []), axis=2)
        first = np.array([[s <= fe for fe in model.first_epoch] for s in span])
        xr_d, z_d = xr.to(self.device, non_blocking=pin), z.to(self.device, non_blocking=pin)
        lrs_d = torch.from_numpy(lrs).to(self.device)
        first_d = torch.from_numpy(first).to(self.device) if self.any_first else None
        log = set(logged)
        pending: list[tuple[int, torch.Tensor]] = []
        for t, step in enumerate(span):
            vals = model.step(xr_d[t], z_d[t], lrs_d[t], first_d[t] if self.any_first else None, step in log)
            if vals is not None:
                pending.append((step, vals))
        if not pending:
            return []
        host = torch.stack([v for _, v in pending]).cpu().numpy()  # one read-back per chunk
        out = []
        for (step, _), rows in zip(pending, host, strict=True):
            per_member = []
            for j, mb in enumerate(members):
                values = {"cost_d": float(rows[0, j]), "E_T": float(rows[1, j]), "E_F": float(rows[2, j]),
                          "entropy_term": float(rows[3, j]), "lr": float(rows[4, j]),
                          "frac_all": float(rows[5, j]) / step, "frac_d": float(rows[6, j]) / step}
                if mb.method == "egan_ent_vi":
                    values["vi_bound"] = float(rows[7, j])
                per_member.append(values)
            out.append((step, per_member))
        return out

    def results(self, step: int) -> list[MemberResult]:
        with torch.inference_mode(False):  # the metrics may need gradients of these copies
            return self.model.results(step, self.device)

    def state(self) -> dict[str, Any]:
        return {"model": {k: v for k, v in vars(self.model).items() if k != "members"}, "streams": self.streams,
                "noise": [mb.noise_rng.get_state() for mb in self.members]}

    def load_state(self, saved: dict[str, Any]) -> None:
        vars(self.model).update(saved["model"])
        self.streams = saved["streams"]
        for mb, noise_state in zip(self.members, saved["noise"], strict=True):
            mb.noise_rng.set_state(noise_state)
