"""Throughput of the 2-D models of Dai et al. (ICLR 2017), Section 5.1 / Table 2 (GAN, EGAN-Const, EGAN-Ent-NN,
EGAN-Ent-VI on the three synthetic datasets; networks of Appendix B.1, after zihangdai/cegan_iclr2017
synthetic/egan_knn.py and binary_gan.py), trained one at a time through the engine's path
(``METHODS[name]().train(ctx)``: the method's program in the engine's loop) and batched
(``baselines.ebgan_batched.train_batched``) with 1, 3, 12 and 36 members, side by side in one run, against the
machine's matmul throughput.

Members are a realistic mix: member i is method i mod 4 on dataset i mod 3 with seed i // 12, so 12 members are
every (method, dataset) pair once and 36 are the suite's three seeds of each.

FLOPs are counted analytically per model step (one member's training step), matrix products only: a Linear on
r rows with fan-in a and fan-out b costs 2·r·a·b forward and twice that backward (gradients w.r.t. its input
and its weights), so 3× its forward in all. Per step the generator runs on n = 500 noise vectors
(4→128→128→2: 2·500·17,152 = 17.2 MFLOP forward) and the discriminator on 2n = 1000 points (2→128→128→1:
2·1000·16,768 = 33.5 MFLOP): 3 × 50.7 = 152.0 MFLOP. EGAN-Ent-VI adds its inference net on n points
(2→128→128→8: 17.7 MFLOP forward, 53.0 with its backward): 205.0 MFLOP. Not counted: BatchNorm, activations,
the optimisers, the k-NN search (cdist 500×500, selection), the second backward of D for the generator's
cost that the reference performs. Effective GFLOP/s = counted FLOPs / wall time.

Times are marginal: each configuration is run for ``--short`` and ``--short + --steps`` steps and the
difference is divided by ``--steps``, so building networks, datasets and contexts is not counted; the median
over ``--reps`` repetitions is reported. The load average before and after is printed: on a shared machine,
other processes' load makes every number worse (two-thread OpenMP regions wait on descheduled threads).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.ebgan_batched import GROUP, member_from_context, train_batched  # noqa: E402
from benchmark.api import DATASETS, METHODS, RunContext, load_plugins  # noqa: E402
from benchmark.numerics import Numerics, apply  # noqa: E402
from benchmark.planner import run_hparams  # noqa: E402

METHOD_NAMES = ("gan_cegan", "egan_const", "egan_ent_nn", "egan_ent_vi")
DATASET_NAMES = ("cegan_gmm4", "cegan_biased", "cegan_spirals")
SUITE_HP = {"egan_ent_nn": {"knn_k": 20, "knn_normalise": "variance"}, "egan_ent_vi": {"vi_weight": 0.1}}
BATCH, HIDDEN, NOISE = 500, 128, 4
CPU = torch.device("cpu")


def linear_flops(rows: int, widths: tuple[int, ...]) -> int:
    """Forward FLOPs of a stack of Linear layers with these widths on ``rows`` inputs (2·m·n·k each)."""
    return sum(2 * rows * a * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def model_step_flops(method: str, n: int = BATCH) -> int:
    """Counted FLOPs of one training step of one run: forward + backward (2× forward) of every Linear."""
    forward = linear_flops(n, (NOISE, HIDDEN, HIDDEN, 2)) + linear_flops(2 * n, (2, HIDDEN, HIDDEN, 1))
    if method == "egan_ent_vi":
        forward += linear_flops(n, (2, HIDDEN, HIDDEN, 2 * NOISE))
    return 3 * forward


def mix(size: int) -> list[tuple[str, str, int]]:
    return [(METHOD_NAMES[i % 4], DATASET_NAMES[i % 3], i // 12) for i in range(size)]


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock timing covers it (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], None], reps: int, device: torch.device = CPU) -> float:
    times = []
    for _ in range(reps):
        synchronize(device)
        t = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_gflops(m: int, k: int, n: int, reps: int, device: torch.device = CPU) -> float:
    """FP32 matmul throughput on ``device`` (TF32 off, as every run computes: benchmark/numerics.py)."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    a @ b
    # calls per timing, so that each lasts long enough (a GPU runs a small product in microseconds)
    inner = max(1, int((2e10 if device.type == "cuda" else 2e8) // (2 * m * k * n)))

    def run() -> None:
        for _ in range(inner):
            a @ b

    return 2 * m * k * n * inner / median_time(run, reps, device) / 1e9


def bmm_gflops(batch: int, m: int, k: int, n: int, reps: int, device: torch.device = CPU) -> float:
    a, b = torch.randn(batch, m, k, device=device), torch.randn(batch, k, n, device=device)
    torch.bmm(a, b)
    inner = 100 if device.type == "cuda" else 1

    def run() -> None:
        for _ in range(inner):
            torch.bmm(a, b)

    return 2 * batch * m * k * n * inner / median_time(run, reps, device) / 1e9


class Bench:
    def __init__(self, device: torch.device) -> None:
        load_plugins()
        self.device = device
        self.datasets = {name: DATASETS[name]() for name in DATASET_NAMES}

    def ctx(self, method: str, dataset: str, seed: int, steps: int) -> RunContext:
        hparams = run_hparams(method, dataset, **SUITE_HP.get(method, {}))
        return RunContext(dataset=self.datasets[dataset], hparams=hparams, seed=seed, device=self.device,
                          budget={"steps": steps}, log_every=50)

    def sequential(self, method: str, dataset: str, steps: int) -> None:
        METHODS[method]().train(self.ctx(method, dataset, 0, steps))

    def batched(self, members: list[tuple[str, str, int]], steps: int, group: int | None) -> None:
        train_batched([member_from_context(m, self.ctx(m, d, s, steps)) for m, d, s in members], steps, self.device,
                      log_every=50, group=group)

    def per_step(self, fn: Callable[[int], None], short: int, steps: int, reps: int) -> float:
        """Median over reps of (time(short + steps) − time(short)) / steps, in seconds."""
        fn(short)  # warm-up
        diffs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn(short)
            t1 = time.perf_counter()
            fn(short + steps)
            t2 = time.perf_counter()
            diffs.append(((t2 - t1) - (t1 - t0)) / steps)
        return statistics.median(diffs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 3, 12, 36], help="batched member counts")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement (default 40)")
    parser.add_argument("--short", type=int, default=10, help="steps of the baseline run subtracted (default 10)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians are reported (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--ceilings-only", action="store_true",
                        help="measure only the matmul ceilings on the device (seconds), e.g. beside a suite's run")
    parser.add_argument("--group", type=int, default=GROUP,
                        help=f"members per batch inside train_batched (default: the library's, {GROUP}); the "
                             "largest size is also run as one batch for comparison")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    apply(Numerics())  # the numerics every run uses: FP32 without TF32, deterministic
    load_before = os.getloadavg()
    print(f"# batched throughput: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, device {device}")
    print(f"load average before: {load_before[0]:.2f}\n")

    ceil_small = matmul_gflops(BATCH, HIDDEN, HIDDEN, 15, device)
    ceil_large = matmul_gflops(2048, 2048, 2048, 5, device)
    ceil_bmm = bmm_gflops(36, HIDDEN, HIDDEN, 2 * BATCH, 5, device)
    if args.ceilings_only:
        print(f"ceilings on {device}: 500×128 @ 128×128 matmul {ceil_small:.1f} GFLOP/s; 2048² matmul "
              f"{ceil_large:.1f} GFLOP/s; 36 × (128×128 @ 128×1000) bmm {ceil_bmm:.1f} GFLOP/s")
        return

    bench = Bench(device)
    largest = mix(max(args.sizes))
    configs = sorted({(m, d) for m, d, _ in largest})
    seq = {(m, d): bench.per_step(lambda s, m=m, d=d: bench.sequential(m, d, s), args.short, args.steps, args.reps)
           for m, d in configs}
    runs = [(size, args.group) for size in args.sizes]
    if args.group and args.group < max(args.sizes):
        runs.append((max(args.sizes), None))
    rows = []
    for size, group in runs:
        members = mix(size)
        flops = sum(model_step_flops(m) for m, _, _ in members)
        seq_time = sum(seq[(m, d)] for m, d, _ in members)  # one step of every member, one after the other
        bat_time = bench.per_step(lambda s, members=members, group=group: bench.batched(members, s, group),
                                  args.short, args.steps, args.reps)
        rows.append((size, group, flops, seq_time, bat_time))

    print("| training | members | ms per step of all members | model steps / s | speed-up | effective GFLOP/s "
          "| % of 500×128·128×128 matmul |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for size, group, flops, seq_time, bat_time in rows:
        grouping = f", groups of {group}" if group and group < size else (", one batch" if size > 1 else "")
        for label, t in (("one at a time (engine loop)", seq_time),
                         (f"batched (train_batched{grouping})", bat_time)):
            gflops = flops / t / 1e9
            speed = f"{seq_time / t:.2f}×"
            print(f"| {label} | {size} | {t * 1e3:.2f} | {size / t:.0f} | {speed} | {gflops:.1f} "
                  f"| {100 * gflops / ceil_small:.0f} % |")
    print()
    print(f"ceilings: 500×128 @ 128×128 matmul {ceil_small:.1f} GFLOP/s; 2048² matmul {ceil_large:.1f} GFLOP/s; "
          f"36 × (128×128 @ 128×1000) bmm {ceil_bmm:.1f} GFLOP/s")
    print(f"counted FLOPs per model step: {model_step_flops('gan_cegan') / 1e6:.1f} M (GAN, EGAN-Const, "
          f"EGAN-Ent-NN), {model_step_flops('egan_ent_vi') / 1e6:.1f} M (EGAN-Ent-VI)")
    print("sequential per-step times (ms): " + ", ".join(f"{m}/{d.removeprefix('cegan_')} {t * 1e3:.2f}"
                                                         for (m, d), t in seq.items()))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
