"""Side-by-side comparison of the batched 2-D training of Dai et al. (ICLR 2017), Section 5.1 / Table 2 (GAN,
EGAN-Const, EGAN-Ent-NN, EGAN-Ent-VI on the three synthetic datasets; networks of Appendix B.1, after
zihangdai/cegan_iclr2017 ``synthetic/egan_knn.py`` and ``binary_gan.py``), as this tree trains it
(``baselines.ebgan_batched``) and as a reference revision trained it, in one process, against the machine's
500×128·128×128 matmul ceiling measured in the same run.

Why one process: the machine may be shared, and other processes' load changes every number from one minute to
the next. Here the two versions alternate (reference, current, reference, ...) on the same members, so both
see the same load, and each is reported as a share of the ceiling measured between them.

What it reports:

1. Numbers. Both versions train the same members (the throughput script's mix: member i is method i mod 4 on
   dataset i mod 3, seed i // 12) for ``--check-steps`` steps from the same seeds; per member, whether its
   logged losses, parameters and BatchNorm statistics are bit for bit the reference's.
2. Speed. Marginal time per batched step (time of ``--short`` + ``--steps`` steps less that of ``--short``
   steps, divided by ``--steps``), median over ``--reps`` alternating repetitions, as effective GFLOP/s (matrix
   products only, counted as in ``batched_throughput.py``) and as a share of the ceiling, which is measured
   before each repetition and reported as its median.

The reference's module is read with ``git show REV:baselines/ebgan_batched.py`` and loaded under another name
without registering its batch trainer; it must import only what this tree still provides (a revision of
before the split into ``batched_stack``, ``batched_optim`` and ``batched_knn`` imports nothing of those).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import baselines.ebgan_batched as current  # noqa: E402
from benchmark.numerics import Numerics, apply  # noqa: E402
from benchmarks.batched_throughput import Bench, matmul_gflops, mix, model_step_flops  # noqa: E402

BATCH, HIDDEN = 500, 128


def load_reference(rev: str) -> ModuleType:
    """The batched trainer of revision ``rev``, as a module of its own (its batch trainer not registered)."""
    source = subprocess.run(["git", "show", f"{rev}:baselines/ebgan_batched.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    source = source.replace('@batch_trainer("cegan_2d")\n', "")
    path = Path(tempfile.mkdtemp()) / "reference_ebgan_batched.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("reference_ebgan_batched", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def train(module: ModuleType, bench: Bench, members: list[tuple[str, str, int]], steps: int) -> list[Any]:
    return module.train_batched([module.member_from_context(m, bench.ctx(m, d, s, steps)) for m, d, s in members],
                                steps, bench.device, log_every=50)


def state(result: Any) -> dict[str, torch.Tensor]:
    nets = {"G": result.generator, "D": result.discriminator, "Q": result.inference_net}
    return {f"{k}.{name}": t for k, net in nets.items() if net is not None for name, t in net.state_dict().items()}


def differences(a: Any, b: Any) -> set[str]:
    """What differs between two trainings of one member: "parameters", and the logged keys that differ."""
    sa, sb = state(a), state(b)
    out = set() if sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa) else {"parameters"}
    for (step_a, la), (step_b, lb) in zip(a.losses, b.losses, strict=True):
        out |= {key for key in la if step_a != step_b or la[key] != lb.get(key)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 12, 36], help="member counts")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement (default 40)")
    parser.add_argument("--short", type=int, default=10, help="steps of the baseline run subtracted (default 10)")
    parser.add_argument("--reps", type=int, default=5, help="alternating repetitions; medians (default 5)")
    parser.add_argument("--check-steps", type=int, default=200,
                        help="steps of the bit-for-bit comparison, on the largest size (default 200; 0: none)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    apply(Numerics())
    reference = load_reference(args.reference)
    bench = Bench(torch.device("cpu"))
    load_before = os.getloadavg()
    print(f"# batched A/B: this tree vs {args.reference}; torch {torch.__version__}, {torch.get_num_threads()} "
          f"threads, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"load average before: {load_before[0]:.2f}\n")

    if args.check_steps:
        members = mix(max(args.sizes))
        ref = train(reference, bench, members, args.check_steps)
        cur = train(current, bench, members, args.check_steps)
        diffs = [differences(a, b) for a, b in zip(ref, cur, strict=True)]
        print(f"bit for bit after {args.check_steps} steps ({len(members)} members): "
              f"{sum(not d for d in diffs)} of {len(diffs)}")
        for (m, d, s), diff in zip(members, diffs, strict=True):
            if diff:
                print(f"  {m}/{d}/{s} differs in: {', '.join(sorted(diff))}")
        print()

    print("| members | version | ms per batched step | effective GFLOP/s | % of ceiling |")
    print("|---:|---|---:|---:|---:|")
    ceilings = []
    for size in args.sizes:
        members = mix(size)
        flops = sum(model_step_flops(m) for m, _, _ in members)
        times: dict[str, list[float]] = {"reference": [], "current": []}
        for module in (reference, current):  # warm-up
            train(module, bench, members, args.short)
        for _ in range(args.reps):
            ceilings.append(matmul_gflops(BATCH, HIDDEN, HIDDEN, 7))
            for label, module in (("reference", reference), ("current", current)):
                t0 = time.perf_counter()
                train(module, bench, members, args.short)
                t1 = time.perf_counter()
                train(module, bench, members, args.short + args.steps)
                t2 = time.perf_counter()
                times[label].append(((t2 - t1) - (t1 - t0)) / args.steps)
        ceiling = statistics.median(ceilings)
        for label, ts in times.items():
            t = statistics.median(ts)
            gflops = flops / t / 1e9
            print(f"| {size} | {label} | {t * 1e3:.2f} | {gflops:.1f} | {100 * gflops / ceiling:.0f} % |")
    print()
    print(f"ceiling: 500×128 @ 128×128 matmul, median {statistics.median(ceilings):.1f} GFLOP/s "
          f"(range {min(ceilings):.1f}–{max(ceilings):.1f} over {len(ceilings)} measurements between the timings)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
