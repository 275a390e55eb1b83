"""Every method and metric of the shipped suites at smoke size on one device (``cuda`` by default), with small
stand-ins for the datasets and weights this machine lacks (``benchmark/data/_fakes.py``: MNIST, CIFAR-10, SVHN,
CelebA in their real file formats, a randomly initialised Inception network), and, on a GPU, the agreement of
Calibrating EBGAN's synthetic KLs (Table 2's ``kl_grid``) between the device and the CPU.

    python scripts/cuda_smoke.py [--device cuda] [--suites suites/a.yaml ...] [--only GLOB] [--data-dir DIR]
                                 [--no-compare] [--logs DIR]

Runs ``bench run SUITE --profile smoke --device D`` in a fresh store for each suite and prints, per suite, its
wall time and every job that did not end ``done`` with its reason, then the KL comparison. Exit code 1 when a
job failed (an error, not a missing dataset) or a KL disagrees. The numbers mean nothing as results: the
stand-ins are not the datasets and the smoke budgets train for a few steps. What it shows is whether the whole
path runs on the device.

Agreement (ours): each KL of each (method, dataset, seed) on the device within 0.05 + 0.5 × its CPU value.
The same seed on two devices does not train the same numbers: the float differences of the first steps are
amplified by the EGANs' early updates (see ``baselines/ebgan_batched.py``), so this is a check for gross
errors (a wrong density, a sign, a constant on the wrong device), not a reproduction test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ABSOLUTE, RELATIVE = 0.05, 0.5  # the agreement band: |device − cpu| ≤ ABSOLUTE + RELATIVE × |cpu|


def bench(home: Path, log: Path, *argv: str) -> int:
    """``bench`` in this process (where the stand-ins' checks are switched off), in the store ``home``, its
    output appended to ``log``."""
    from benchmark import cli

    os.environ["BENCH_HOME"] = str(home)
    with open(log, "a", buffering=1) as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            return int(cli.main(list(argv)) or 0)
        except SystemExit as stop:
            return int(stop.code or 0)


def jobs(home: Path, suite: str, device: str) -> list[tuple[str, str, str]]:
    """(job, status, reason) of the suite's smoke jobs on ``device``."""
    from benchmark.tracking import PARENT, REASON_TAG, STATUS_TAG, Tracker

    tracker = Tracker(f"sqlite:///{home / 'mlflow.db'}")
    out = []
    for run in tracker.runs(suite):
        tags = run.tags
        if tags.get("bench.kind") == PARENT and tags.get("profile") == "smoke" and tags.get("device") == device:
            name = f"{tags.get('experiment')}/{tags.get('method')}/{tags.get('dataset')}"
            out.append((name, tags.get(STATUS_TAG, "?"), tags.get(REASON_TAG, "")))
    return sorted(out)


def kls(home: Path, device: str) -> dict[tuple[str, str, str, str], float]:
    """Table 2's KLs of the smoke runs on ``device``: (method, dataset, seed, KL) -> value."""
    from benchmark.tracking import CHILD, Tracker

    tracker = Tracker(f"sqlite:///{home / 'mlflow.db'}")
    out = {}
    for run in tracker.runs("calibrating_ebgan"):
        tags = run.tags
        if tags.get("bench.kind") != CHILD or tags.get("device") != device or run.status != "FINISHED":
            continue
        for name, value in run.measurements.items():
            if name.startswith("kl."):
                out[(tags["method"], tags["dataset"], tags["seed"], name)] = float(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--suites", nargs="+", default=sorted(str(p) for p in (REPO / "suites").glob("*.yaml")))
    parser.add_argument("--data-dir", help="real datasets and weights (default: stand-ins written to a temporary "
                                           "directory)")
    parser.add_argument("--only", action="append", default=[], metavar="TARGET_GLOB",
                        help="only the jobs these targets need (passed to bench run; repeatable)")
    parser.add_argument("--no-compare", action="store_true", help="skip the CPU run of Table 2 and the comparison")
    parser.add_argument("--logs", type=Path, help="where each command's output goes (default: a new temporary "
                                                  "directory, kept and printed)")
    args = parser.parse_args()
    logs = args.logs or Path(tempfile.mkdtemp(prefix=f"bench-cuda-smoke-{args.device}-"))
    logs.mkdir(parents=True, exist_ok=True)

    from benchmark.data._fakes import accepting_stand_ins, write_stand_ins

    bad = False
    with tempfile.TemporaryDirectory(prefix="bench-cuda-smoke-") as tmp, contextlib.ExitStack() as stack:
        tmp_path = Path(tmp)
        data = Path(args.data_dir) if args.data_dir else write_stand_ins(tmp_path / "data")
        if not args.data_dir:
            stack.enter_context(accepting_stand_ins())
        home = tmp_path / "home"
        print(f"# smoke on {args.device}; data: {'stand-ins' if not args.data_dir else data}; logs: {logs}\n")
        print("| suite | rc | wall s | jobs done | not done (reason) |\n|---|---:|---:|---:|---|")
        for suite in args.suites:
            started = time.perf_counter()
            name = Path(suite).stem
            rc = bench(home, logs / f"{name}.log", "run", suite, "--profile", "smoke", "--device", args.device,
                       "--data-dir", str(data), "--no-leaderboard", "--no-progress",
                       *[arg for glob in args.only for arg in ("--only", glob)])
            wall = time.perf_counter() - started
            found = jobs(home, name, args.device)
            done = sum(status == "done" for _, status, _ in found)
            others = "; ".join(f"{job}: {status} ({reason[:120]})" for job, status, reason in found
                               if status != "done")
            bad |= any(status == "failed" for _, status, _ in found)
            print(f"| {name} | {rc} | {wall:.0f} | {done}/{len(found)} | {others} |", flush=True)

        if args.device != "cpu" and not args.no_compare:
            table2 = str(REPO / "suites" / "calibrating_ebgan.yaml")
            rc = bench(home, logs / "table2-cpu.log", "run", table2, "--profile", "smoke", "--device", "cpu",
                       "--only", "table2/*", "--no-leaderboard", "--no-progress")
            device, cpu = kls(home, args.device), kls(home, "cpu")
            shared = sorted(set(device) & set(cpu))
            off = [(k, device[k], cpu[k]) for k in shared
                   if abs(device[k] - cpu[k]) > ABSOLUTE + RELATIVE * abs(cpu[k])]
            print(f"\nTable 2 KLs, {args.device} against cpu (rc {rc}): {len(shared)} compared, {len(off)} outside "
                  f"|Δ| ≤ {ABSOLUTE} + {RELATIVE}·|cpu|")
            for (method, dataset, seed, kl), a, b in off:
                print(f"  {method}/{dataset}/seed {seed} {kl}: {args.device} {a:.4f}, cpu {b:.4f}")
            bad |= bool(off) or not shared
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
