"""Wall time of the commands a person runs most, `bench validate`, `bench targets` and `bench compare`, in two
checkouts side by side in one run (e.g. an old commit's worktree against this one), as medians over repeats.

    python benchmarks/command_timings.py OLD_CHECKOUT [NEW_CHECKOUT] [--repeats 7]

Each checkout runs its own code (``python -m benchmark.cli`` with the checkout as working directory) with the
current interpreter, in a store of its own: first a smoke run of gan_divergences (so that compare has runs to
read back), then one untimed call of each command (caches warm, as after any `bench run`), then the timed
repeats, alternating the checkouts so that load on the machine affects both alike. Prints a Markdown table:
median and spread (min-max) per command and checkout, and the ratio old / new.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = "suites/gan_divergences.yaml"
COMMANDS = {
    "validate": ["validate", "suites/alpha_gan.yaml", "suites/calibrating_ebgan.yaml", "suites/entropic_gan_vae.yaml",
                 SUITE],
    "targets": ["targets", "suites/calibrating_ebgan.yaml", "--format", "json"],
    "compare": ["compare", SUITE, "--format", "json"],
}


def bench(checkout: Path, home: Path, args: list[str]) -> float:
    env = {**os.environ, "BENCH_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmark.cli", *args], cwd=checkout, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: bench {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    with tempfile.TemporaryDirectory(prefix="bench-timings-") as tmp:
        homes = {name: Path(tmp) / name for name in trees}
        for name, tree in trees.items():
            print(f"{name}: smoke run of {SUITE} in {tree}", file=sys.stderr)
            bench(tree, homes[name], ["run", SUITE, "--profile", "smoke", "--no-progress", "--no-leaderboard"])
            for command in COMMANDS.values():
                bench(tree, homes[name], command)  # warm: caches as after a `bench run`
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for label, command in COMMANDS.items():
                for name, tree in trees.items():
                    times.setdefault((label, name), []).append(bench(tree, homes[name], command))
    print("| command | old median (min–max) | new median (min–max) | old / new |\n"
          "|---|---:|---:|---:|")
    for label in COMMANDS:
        old, new = times[(label, "old")], times[(label, "new")]
        print(f"| bench {label} | {statistics.median(old):.2f} s ({min(old):.2f}–{max(old):.2f}) | "
              f"{statistics.median(new):.2f} s ({min(new):.2f}–{max(new):.2f}) | "
              f"{statistics.median(old) / statistics.median(new):.1f}× |")
    print(f"\n{args.repeats} repeats each, alternating; old = {trees['old']}, new = {trees['new']}")


if __name__ == "__main__":
    main()
