"""Table 2's paper batches trained mixed against by method, side by side in one process (Dai et al., ICLR 2017,
Section 5.1; the 2-D models of ``baselines/ebgan_batched.py``).

    python benchmarks/batched_apart.py [--steps 40] [--short 10] [--reps 5] [--threads N]

At the paper's budget the engine's batches are the runs that share their steps: the 100,000-step one (the GAN on
the three datasets and each EGAN on spirals, 3 seeds: 18 members) and the 20,000-step one (each EGAN on gmm4 and
biased, 3 seeds: 18). A member computes the same numbers in any batch (``tests/test_batched_training.py``), so
whether runs of different methods share a batch is a question of speed alone
(``benchmark/batch_families.py`` ``METHODS_APART``). This times each batch as one mixed batch and as one batch per
method (marginal ms per step, medians of ``--reps``; ``benchmarks/batched_throughput.py``'s timing), and the
training minutes each would take at its steps. Load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import batched_throughput as bt  # noqa: E402

from benchmark.api import load_plugins  # noqa: E402

EGANS = ("egan_const", "egan_ent_vi", "egan_ent_nn")


def paper_batches() -> list[tuple[str, list[tuple[str, str, int]], int]]:
    gmm4, biased, spirals = bt.DATASET_NAMES
    long = [("gan_cegan", d, s) for d in bt.DATASET_NAMES for s in range(3)]
    long += [(m, spirals, s) for m in EGANS for s in range(3)]
    short = [(m, d, s) for m in EGANS for d in (gmm4, biased) for s in range(3)]
    return [("100K", long, 100_000), ("20K", short, 20_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_plugins()
    bench = bt.Bench(bt.CPU)

    def ms(members: list[tuple[str, str, int]]) -> float:
        return 1e3 * bench.per_step(lambda s: bench.batched(members, s, None), args.short, args.steps, args.reps)

    print(f"# Table 2's paper batches, mixed and by method: torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads; load average before {os.getloadavg()[0]:.2f}")
    total_mixed = total_apart = 0.0
    for name, batch, steps in paper_batches():
        mixed = ms(batch)
        parts = {m: ms([x for x in batch if x[0] == m]) for m in dict.fromkeys(x[0] for x in batch)}
        apart = sum(parts.values())
        total_mixed += mixed * steps / 6e4
        total_apart += apart * steps / 6e4
        print(f"{name} batch, {len(batch)} members: mixed {mixed:.2f} ms per step ({mixed * steps / 6e4:.1f} min); "
              "by method " + " + ".join(f"{m} {t:.2f}" for m, t in parts.items())
              + f" = {apart:.2f} ms ({apart * steps / 6e4:.1f} min); mixed / apart {mixed / apart:.2f}")
    print(f"training of both batches: mixed {total_mixed:.1f} min, by method {total_apart:.1f} min")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
