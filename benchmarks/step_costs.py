"""Measure the step costs `bench plan` starts from on a fresh store (``benchmark/step_costs.json``).

    python benchmarks/step_costs.py [--suites suites/*.yaml] [--profiles smoke cpu paper] [--only GLOB] [--seconds 3]

For every shape (``planner.shape_of``: a job's identity but its steps and seeds) of the shipped suites at the
given profiles on the CPU, it runs the same calibration `bench plan` runs (``benchmark.calibration``: a warm-up
step, one timed step, then at least ``--min-steps`` steps and as many as fit in ``--seconds``, batched as the
plan would batch them, and each metric once), with a longer time per shape than a plan can afford, and writes
the table with the machine it was measured on and, per shape, the load average when it was measured: a busy
machine errs long.
Shapes whose data is missing here (real datasets) are left out; a plan calibrates them itself. The table
is updated in place, so suites and profiles may be measured in separate calls (a paper-sized metric, such as
the alpha-GAN suite's independent critic, takes as long to time as to run).

Rerun it when a method's step or a metric changes enough to move the estimates; a shape that no longer
matches the table is simply calibrated by the plan, so a stale table costs seconds, never a wrong identity.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark import calibration, numerics, planner  # noqa: E402
from benchmark.suite import load_suite  # noqa: E402

OUT = ROOT / "benchmark" / "step_costs.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=sorted(glob.glob(str(ROOT / "suites" / "*.yaml"))))
    parser.add_argument("--profiles", nargs="+", default=["smoke", "cpu", "paper"])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed training per shape")
    parser.add_argument("--min-steps", type=int, default=200,
                        help="timed steps per shape however long they take (a step's time, not the fixed part's)")
    parser.add_argument("--only", nargs="+", default=None, metavar="GLOB",
                        help="only these jobs (as `bench run --only`), e.g. the paper profile's Table 2")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    # the plan's calibration, given the time a plan cannot spend
    calibration.PLAN_SECONDS = float("inf")
    calibration.MIN_SHAPE_SECONDS = calibration.MAX_SHAPE_SECONDS = args.seconds
    calibration.MAX_STEPS = 5000
    calibration.MIN_STEPS = args.min_steps

    table: dict[str, dict] = {}
    if args.out.exists():  # measured earlier (other suites or profiles, run apart): kept, measured again if asked
        table = json.loads(args.out.read_text()).get("shapes", {})
    asked: set[str] = set()
    started = time.perf_counter()
    for path in args.suites:
        suite = load_suite(path)
        for profile in args.profiles:
            jobs = planner.plan(suite, profile, args.only, device="cpu")
            together: dict[tuple[str, int], int] = {}
            for job in jobs:
                if job.trainer != "loop":
                    together[(job.trainer, job.steps)] = together.get((job.trainer, job.steps), 0) + len(job.seeds)
            calibrator = calibration.Calibrator(None, 1)
            for job in jobs:
                shape = planner.shape_of(job)
                if shape in asked or job.requires_gpu:
                    continue
                members = min(36, together.get((job.trainer, job.steps), 1)) if job.trainer != "loop" else 1
                asked.add(shape)
                rate = calibrator.calibrate(job, members)
                if rate is None:
                    print(f"  {suite.suite}/{profile}: {job.key}: data missing here, left out", file=sys.stderr)
                    continue
                table[shape] = {"seconds_per_step": rate.seconds_per_step, "measure_seconds": rate.measure_seconds,
                                "steps": int(rate.basis.split("(")[1].split()[0]), "job": f"{suite.suite}/{job.key}",
                                "load_average": round(os.getloadavg()[0], 1)}
                print(f"  {suite.suite}/{profile}: {job.key}: {rate.seconds_per_step * 1e3:.3f} ms/step, "
                      f"metrics {rate.measure_seconds:.2f} s", file=sys.stderr)
    import torch

    host = numerics.machine()
    out = {"machine": f"{host['cpu_model']} ({host['cpu_capability']})", "torch_threads": torch.get_num_threads(),
           "measured": datetime.date.today().isoformat(),
           "shapes": dict(sorted(table.items()))}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(asked)} shapes measured in {time.perf_counter() - started:.0f} s, {len(table)} in {args.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
