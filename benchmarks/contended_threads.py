"""Training beside other work on the same cores: the per-step time of the 2-D models of Dai et al. (ICLR 2017,
Table 2; networks of Appendix B.1 after zihangdai/cegan_iclr2017 synthetic/egan_knn.py), with 1 torch thread and
with one per core, on a quiet machine and beside a competitor (a second process training the same models with
one thread per core, as a second `bench run` would: one run trained alone, over and over), side by side in one
run.

Why it matters: torch's OpenMP threads spin at every parallel region's barrier, waiting for each other. When
another process holds a core, the thread descheduled there makes its partner wait a scheduler time slice, at
every one of the hundreds of small operations of a step. The wait policy and spin count of the OpenMP runtime
trade one case against the other (measured with `OMP_WAIT_POLICY=PASSIVE` or `GOMP_SPINCOUNT=1000`: the quiet
batched step 22-24 % slower), so bench keeps the defaults and says when the machine is busy (`bench run`).

Configurations: one EGAN-Const run on gmm4 trained alone (the engine's loop) and a 12-member batch (every
(method, dataset) pair of Table 2 once, ``baselines.ebgan_batched``). Times are marginal medians as in
``batched_throughput.py`` (``--short`` steps subtracted from ``--short + --steps``). The competitor starts
before the contended timings and is stopped after them; nothing else should run (the load average before is
printed).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batched_throughput import Bench, mix  # noqa: E402

from benchmark.numerics import Numerics, apply  # noqa: E402


def compete() -> None:
    """The competitor: one run trained alone over and over (as most of the other suites' runs train), with one
    thread per core, until killed."""
    torch.set_num_threads(os.cpu_count() or 1)
    bench = Bench(torch.device("cpu"))
    while True:
        bench.sequential("egan_const", "cegan_gmm4", 2000)


def timings(bench: Bench, threads: int, args: argparse.Namespace) -> tuple[float, float]:
    """(ms per step of one run alone, ms per step of the 12-member batch) at ``threads`` torch threads."""
    torch.set_num_threads(threads)
    alone = bench.per_step(lambda s: bench.sequential("egan_const", "cegan_gmm4", s), args.short, args.steps,
                           args.reps)
    batch = bench.per_step(lambda s: bench.batched(mix(12), s, None), args.short, args.steps, args.reps)
    return alone * 1e3, batch * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement (default 40)")
    parser.add_argument("--short", type=int, default=10, help="steps of the baseline run subtracted (default 10)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are reported (default 3)")
    parser.add_argument("--beside", default=None, metavar="COMMAND",
                        help="the competitor, a shell command (e.g. a `bench run` in a store of its own); default: "
                             "one run trained alone, over and over, with one thread per core")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds the competitor runs before the contended timings (default 3)")
    parser.add_argument("--compete", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compete:
        compete()
        return
    apply(Numerics())
    cores = os.cpu_count() or 1
    print(f"# training beside other work: torch {torch.__version__}, {cores} CPUs, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', 'unset')}; load average before: "
          f"{os.getloadavg()[0]:.2f}\n")
    bench = Bench(torch.device("cpu"))
    counts = sorted({1, cores})
    quiet = {t: timings(bench, t, args) for t in counts}
    command = args.beside or f"{sys.executable} {__file__} --compete"
    rival = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        time.sleep(args.settle)  # the competitor builds its data and networks first
        busy = {t: timings(bench, t, args) for t in counts}
    finally:
        os.killpg(rival.pid, signal.SIGKILL)
        rival.wait()
    print(f"competitor: {args.beside or 'one run trained alone, over and over'}\n")
    print("| torch threads | machine | one run alone, ms/step | 12-member batch, ms/step | slower than quiet |")
    print("|---:|---|---:|---:|---:|")
    for t in counts:
        for name, table in (("quiet", quiet), (f"beside a {cores}-thread competitor", busy)):
            alone, batch = table[t]
            ratio = f"{alone / quiet[t][0]:.1f}× / {batch / quiet[t][1]:.1f}×"
            print(f"| {t} | {name} | {alone:.2f} | {batch:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
