"""Every optimiser of every member of a batched model at once (the 2-D runs of Dai et al., ICLR 2017, trained
with Adam as in zihangdai/cegan_iclr2017 ``synthetic/egan_knn.py`` (β2 0.999, eps 1e-8), the GAN of
``binary_gan.py`` with Adagrad (eps 1e-6)), with the arithmetic of torch.optim's single-tensor Adam and
Adagrad, so that each (member, network) moves as its own ``opt.step()`` would."""

from __future__ import annotations

from collections.abc import Sequence

import torch

BETA2 = 0.999  # _optimizer and VIEntropy: betas=(beta1, 0.999)


def _power(base: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """base ** exponent elementwise, every element through pow's vectorised code: on a tensor of (members,
    networks) values the last few would take its scalar code, which rounds otherwise, so a member's bias
    correction would depend on where it sits in the batch. Both are padded to a multiple of 64 values."""
    count = base.numel()
    padded = -(-count // 64) * 64
    b = torch.ones(padded, dtype=base.dtype, device=base.device)
    e = torch.zeros(padded, dtype=exponent.dtype, device=exponent.device)
    b[:count], e[:count] = base.reshape(-1), exponent.reshape(-1)
    return (b ** e)[:count].view(base.shape)


class BatchedOptimiser:
    """Every optimiser of every member at once: parameters, gradients and moments in (M, B, P) buffers (B
    networks per member, each padded to P), one Adam or Adagrad state per (member, network), with torch.optim's
    single-tensor arithmetic, so one elementwise op updates all parameters of all members.

    Adagrad is Adam's update with m = g (lerp weight 1), v ← v + g² and no bias correction, so both kinds
    share one sequence of ops with per-(member, network) coefficients. A masked (member, network) gets weight 0
    in every coefficient: its moments, step count and parameters stay exactly as they were."""

    def __init__(self, size: int, kinds: Sequence[Sequence[str]], beta1: Sequence[float], device: torch.device) -> None:
        m, b = len(kinds), len(kinds[0])
        self.p = torch.zeros(m, b, size, device=device)
        self.g, self.m, self.v = (torch.zeros_like(self.p) for _ in range(3))
        self.tmp, self.denom = torch.empty_like(self.p), torch.empty_like(self.p)  # reused: no page faults per step
        f64 = dict(dtype=torch.float64, device=device)
        adam = [[k == "adam" for k in row] for row in kinds]
        self.adam = torch.tensor(adam, device=device).unsqueeze(-1)
        self.beta1 = torch.tensor([[b1 if a else 0.0 for a in row] for row, b1 in zip(adam, beta1, strict=True)],
                                  **f64).unsqueeze(-1)
        self.beta2 = torch.tensor([[BETA2 if a else 1.0 for a in row] for row in adam], **f64).unsqueeze(-1)
        # lerp weight of the gradient, decay and weight of the second moment
        self.w1 = torch.where(self.adam, 1.0 - self.beta1, 1.0)
        self.vd = torch.where(self.adam, self.beta2, 1.0)
        self.vc = torch.where(self.adam, 1.0 - self.beta2, 1.0)
        self.eps = torch.tensor([[1e-8 if a else 1e-6 for a in row] for row in adam], dtype=self.p.dtype,
                                device=device).unsqueeze(-1)
        self.step_count = torch.zeros(m, b, 1, **f64)

    def step(self, lr: torch.Tensor, mask: torch.Tensor) -> None:
        """lr: (M, B) float64; mask: (M, B) bool, which (member, network) updates."""
        lr, mask = lr.unsqueeze(-1), mask.unsqueeze(-1)
        self.step_count += mask
        w1, vd, vc = torch.where(mask, self.w1, 0.0), torch.where(mask, self.vd, 1.0), torch.where(mask, self.vc, 0.0)
        # bias corrections in double, as torch.optim computes them from a Python float step
        bc1 = torch.where(self.adam, 1.0 - _power(self.beta1, self.step_count), 1.0)
        bc2_sqrt = torch.where(self.adam, (1.0 - _power(self.beta2, self.step_count)).sqrt(), 1.0)
        # a network masked before its first update has bias corrections 0: keep its (unused) terms finite
        neg_step = torch.where(mask, -lr / bc1, 0.0)
        bc2_sqrt = torch.where(mask, bc2_sqrt, 1.0)
        g, dt = self.g.masked_fill_(~mask, 0.0), self.p.dtype  # NaN-safe: a masked network stays as it is
        self.m.lerp_(g, w1.to(dt))
        self.v.mul_(vd.to(dt)).addcmul_(torch.mul(g, vc.to(dt), out=self.tmp), g)
        denom = torch.sqrt(self.v, out=self.denom).div_(bc2_sqrt.to(dt)).add_(self.eps)
        self.p.addcdiv_(torch.mul(self.m, neg_step.to(dt), out=self.tmp), denom)
