"""The batched trainer's hand-written BatchNorm against torch's fused kernels, side by side in one process.

    python benchmarks/batchnorm_native.py [--members 36] [--threads 2] [--reps 50] [--repeats 7]

``baselines/ebgan_batched.py`` computes each member's training-mode BatchNorm1d + ReLU, and its backward, as a
few whole-tensor passes over the (members, 128, batch) activations (``_Batched._bn_relu``, ``_bn_backward``).
The obvious fusion is torch's own kernel, with every (member, channel) pair as one channel of a (1, members·128,
batch) tensor: ``aten.native_batch_norm`` forward, ReLU, ``threshold_backward`` and
``aten.native_batch_norm_backward``. This times both on random activations of the Table 2 shape (batch 500) and
prints the median per call (forward and backward of one layer; the hand-written path without the ReLU backward
the step does elsewhere, and without the copy of its input it takes here). Load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.ebgan_batched import _Batched  # noqa: E402


def median_ms(fn, reps: int, repeats: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - start) / reps)
    return sorted(times)[len(times) // 2] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=36)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    m, h, n, eps = args.members, 128, args.batch, 1e-5
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(m, h, n, generator=gen)
    gamma, beta = torch.rand(m, h, 1, generator=gen) + 0.5, 0.1 * torch.randn(m, h, 1, generator=gen)
    dy = torch.randn(m, h, n, generator=gen)
    out, grad_in = torch.empty(m, h, n), torch.empty(m, h, n)
    grad_gamma, grad_beta = torch.empty(m, h, 1), torch.empty(m, h, 1)
    running = (torch.zeros(m, h, 1), torch.ones(m, h, 1))
    owner = type("Owner", (), {"bn_eps": eps})()

    def copy() -> torch.Tensor:
        return x.clone()

    def hand_written() -> torch.Tensor:
        p = x.clone()  # _bn_relu centres its input in place
        invstd, a = _Batched._bn_relu(owner, p, gamma, beta, out, running, None)
        return _Batched._bn_backward(dy, p, invstd, a, grad_in, grad_gamma, grad_beta)

    flat = x.reshape(1, m * h, n)
    weight, bias = gamma.reshape(-1), beta.reshape(-1)
    run_mean, run_var = torch.zeros(m * h), torch.ones(m * h)
    flat_dy = dy.reshape(1, m * h, n)

    def native() -> torch.Tensor:
        y, mean, invstd = torch.ops.aten.native_batch_norm(flat, weight, bias, run_mean, run_var, True, 0.1, eps)
        r = torch.relu(y)
        dr = torch.ops.aten.threshold_backward(flat_dy, r, 0.0)
        return torch.ops.aten.native_batch_norm_backward(dr, flat, weight, run_mean, run_var, mean, invstd, True,
                                                         eps, [True, True, True])[0]

    print(f"# BatchNorm + ReLU forward and backward, {m} members x {h} channels x batch {n}, torch "
          f"{torch.__version__}, {args.threads} threads; load average before {os.getloadavg()[0]:.2f}")
    base = median_ms(copy, args.reps, args.repeats)
    ours = median_ms(hand_written, args.reps, args.repeats) - base
    fused = median_ms(native, args.reps, args.repeats)
    print(f"hand-written (ebgan_batched): {ours:.2f} ms per layer (copy of the input, {base:.2f} ms, taken off)")
    print(f"torch's native_batch_norm + ReLU + their backward: {fused:.2f} ms per layer ({fused / ours:.2f}x)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
