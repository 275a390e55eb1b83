"""Where the time of Table 2's paper run goes (Dai et al., ICLR 2017, Section 5.1: GAN, EGAN-Const, EGAN-Ent-VI,
EGAN-Ent-NN on the three synthetic datasets), per family: its batched training step, its measurements and its
MLflow logging.

Each family is run on its own: the method on gmm4, biased and spirals × seeds 0-2 = 9 members, with the hparams
and the batch size (500) the planner gives the suite's ``synthetic`` experiment at the ``paper`` profile
(``benchmark.planner.plan``), built as the engine builds them (``member_from_context``) and trained as one batch
by the library's batched model (``baselines.ebgan_batched``: ``_Batched`` driven by ``_Chunks`` in chunks of
50 steps, losses gathered at the engine's cadence, every 50 steps, and read back once per chunk, as
``train_batched`` does through ``benchmark.loop.train_batch``).

1. Training. ``--warmup`` steps, then ``--steps`` steps timed without the profiler (the table's ms per step),
   then ``--steps`` more under ``torch.profiler`` (CPU activity). For the profiled steps only, this script
   (not the library) wraps ``torch.profiler.record_function`` scopes around ``BatchedOptimiser.step`` (the
   hand-written Adam/Adagrad of every network), ``knn_directions`` (cdist, neighbour selection and the
   entropy direction), ``_Batched._bn_relu`` and ``_bn_backward`` (batch norm forward and backward) and
   ``_Batched._vi`` (the VI term: the inference net's forward, backward and its gradient into G). Every op's
   self CPU time goes to its nearest enclosing labelled scope, else to "matmul" (mm, addmm, bmm, baddbmm,
   matmul, linear) or to "elementwise and other" (everything else: activations, reductions, copies, the costs,
   the host's noise draws). A labelled scope also gets its own time, what runs inside it outside any torch
   op: Python, and for kNN numpy's argpartition (``nearest_cpu``), which is no torch op and is the
   neighbour selection. "Python and dispatch overhead" is the rest of the profiled wall time: wall time less
   the self CPU time of all ops and scopes, i.e. the interpreter, argument parsing, the dispatcher and the
   host-side bookkeeping between ops outside the scopes (index streams, learning rates, reading logged
   values). Shares are of the profiled wall time and sum to 100 %.
2. Measurements. For one trained member per dataset (seed 0, after the steps above: the cost of a metric does
   not depend on how well the model trained), the experiment's metrics through the registry and the engine's
   read-only path (``benchmark.execute.measure``): each curve metric once with a fresh run cache, as a curve
   point is measured (``Executor._curve_point``), and every metric of the experiment once at the end, as the
   final measurement is. Per member of a paper run: (curve points before the last) × the curve metrics + the
   final metrics; the mean over the three datasets is reported.
3. MLflow logging. Per member, the rows a paper run logs: each logged step's losses (every 50 steps and the
   last, the keys ``_Chunks`` produces) relayed through ``benchmark.batching.Relay`` into a ``RunContext``
   whose sink records them as the executor's does, plus the curve points and the final measurements, then
   written by ``benchmark.tracking.Tracker`` (``start``, ``log_metrics`` in batches of 1000, ``finish``) to a
   temporary sqlite store, created beforehand (creating the schema is not counted). Tags, params, the dataset
   input and figures are not counted.

Training minutes per member of a paper run = its paper steps × (ms per batched step of the 9 members / 9):
a member's share of its batch, assuming a paper run's batch (18 members of mixed families there) costs the sum
of its members' shares.

Limits. The profiler's per-op bookkeeping (a few µs an op) inflates short ops, and so the elementwise shares,
and it lengthens the profiled steps (both the profiled and the unprofiled ms per step are printed): the shares
are of the profiled step. Self CPU time on a CPU with more than one thread is the calling thread's wall time
inside an op, including the time the op waits for its OpenMP workers; on a shared machine, a descheduled
worker makes ops (mostly the products) look slower. On ``--device cuda`` the CPU time is the host's: op
launches, not kernel time, and the wall time includes waiting for the device. The steps measured are early
in training; the work per step does not depend on the step, except which networks the update switch moves
(masked updates still cost the same ops). The load average before and after is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import baselines.ebgan_batched as eb  # noqa: E402
from baselines.batched_optim import BatchedOptimiser  # noqa: E402
from benchmark.api import DATASETS, METRICS, RunContext, load_plugins  # noqa: E402
from benchmark.batching import Relay  # noqa: E402
from benchmark.execute import measure  # noqa: E402
from benchmark.numerics import Numerics, apply  # noqa: E402
from benchmark.planner import Job, plan  # noqa: E402
from benchmark.suite import load_suite  # noqa: E402
from benchmark.tracking import CURVE_PREFIX, LOSS_PREFIX, Tracker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SUITE, EXPERIMENT, PROFILE = ROOT / "suites" / "calibrating_ebgan.yaml", "synthetic", "paper"
FAMILIES = ("GAN", "EGAN-Const", "EGAN-Ent-VI", "EGAN-Ent-NN")  # Table 2's column order
CHUNK = 50  # train_batched's default chunk
MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear"}
SCOPES = ("optimiser", "kNN", "batch norm", "VI")
CATEGORIES = ("matmul", "elementwise and other", *SCOPES, "Python and dispatch overhead")


# ------------------------------------------------------------------------------------------- setup


def paper_jobs() -> dict[str, list[Job]]:
    """The experiment's jobs at the paper profile, per family (suite method name)."""
    jobs: dict[str, list[Job]] = {}
    for job in plan(load_suite(SUITE), PROFILE):
        if job.experiment == EXPERIMENT:
            jobs.setdefault(job.method, []).append(job)
    return jobs


class Family:
    """One family's 9 members (its jobs × their seeds), as one batch in the library's internal order."""

    def __init__(self, jobs: Sequence[Job], device: torch.device, steps: int) -> None:
        self.jobs = list(jobs)
        self.device = device
        pairs = []
        for job in self.jobs:
            dataset = DATASETS[job.loader](**job.dataset_params)
            for seed in job.seeds:
                ctx = RunContext.of(job.run_settings({}, seed), dataset, device, curve_steps=job.curve_steps)
                pairs.append((job, ctx))
        members = [eb.member_from_context(job.method_name, ctx) for job, ctx in pairs]
        order = eb.internal_order(members)
        self.pairs = [pairs[j] for j in order]
        self.members = [members[j] for j in order]
        self.steps = steps  # the learning-rate schedule's length: the runs are cut short, not their schedule
        with torch.inference_mode():
            self.model = eb._Batched(self.members, steps, device)
            self.program = eb._Chunks(self.model, self.members, steps, device)
        self.done = 0
        self.logged: list[dict[str, float]] = []

    def train(self, count: int) -> None:
        """``count`` more steps, in chunks as train_batch runs them, losses logged every 50 steps."""
        with torch.inference_mode():
            end = self.done + count
            while self.done < end:
                start = self.done + 1
                n = min(CHUNK, end - self.done)
                logged = [s for s in range(start, start + n) if s % 50 == 0]
                for _, per_member in self.program.chunk(start, n, logged):
                    self.logged = per_member
                self.done += n
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


@contextlib.contextmanager
def scopes() -> Iterator[None]:
    """record_function scopes around the library's optimiser, kNN, batch norm and VI code, removed after."""

    def scoped(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with torch.profiler.record_function(label):
                return fn(*args, **kwargs)

        return wrapper

    saved = [(BatchedOptimiser, "step", BatchedOptimiser.__dict__["step"]),
             (eb, "knn_directions", eb.knn_directions),
             (eb._Batched, "_bn_relu", eb._Batched.__dict__["_bn_relu"]),
             (eb._Batched, "_bn_backward", eb._Batched.__dict__["_bn_backward"]),
             (eb._Batched, "_vi", eb._Batched.__dict__["_vi"])]
    BatchedOptimiser.step = scoped("optimiser", BatchedOptimiser.step)
    eb.knn_directions = scoped("kNN", eb.knn_directions)
    eb._Batched._bn_relu = scoped("batch norm", eb._Batched._bn_relu)
    eb._Batched._bn_backward = staticmethod(scoped("batch norm", eb._Batched.__dict__["_bn_backward"].__func__))
    eb._Batched._vi = scoped("VI", eb._Batched._vi)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


# ------------------------------------------------------------------------------------------- 1. training


def attribute(events: Any, wall_us: float) -> dict[str, float]:
    """Microseconds per category: each op's self CPU time to its nearest labelled scope, else matmul or
    elementwise, and a scope's own time (inside it, outside its ops) to the scope; the rest of the wall time
    to Python and dispatch overhead."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for ev in events:
        if ev.name in SCOPES:  # a scope's own time: Python and numpy inside it (kNN's argpartition)
            out[ev.name] += ev.self_cpu_time_total
            continue
        if ev.is_user_annotation:
            continue
        label, parent = None, ev.cpu_parent
        while parent is not None:
            if parent.name in SCOPES:
                label = parent.name
                break
            parent = parent.cpu_parent
        if label is None:
            label = "matmul" if ev.name in MATMUL else "elementwise and other"
        out[label] += ev.self_cpu_time_total
    ops = sum(out.values())
    out["Python and dispatch overhead"] = wall_us - ops
    return out


def profile_training(family: Family, warmup: int, steps: int) -> tuple[float, float, dict[str, float]]:
    """(ms per step unprofiled, ms per step profiled, µs per category over the profiled steps)."""
    family.train(warmup)
    t = time.perf_counter()
    family.train(steps)
    plain = (time.perf_counter() - t) / steps * 1e3
    with scopes(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        family.train(steps)
        wall = time.perf_counter() - t
    return plain, wall / steps * 1e3, attribute(prof.events(), wall * 1e6)


# ------------------------------------------------------------------------------------------- 2. measurements


def time_metrics(family: Family) -> tuple[float, dict[str, float]]:
    """Seconds of measurement per member of a paper run (mean over the datasets), and per metric (one
    evaluation, mean over the datasets)."""
    with torch.inference_mode():
        results = family.program.results(family.done)
    per_member, per_metric = [], {}
    seen = set()
    for (job, ctx), result in zip(family.pairs, results, strict=True):
        if job.dataset in seen:
            continue
        seen.add(job.dataset)
        train_result = result.train_result()
        curve_points = sum(1 for s in job.curve_steps if s < job.steps)
        curve = 0.0
        for metric in job.curve_metrics:
            moment = dataclasses.replace(ctx, run_cache={})
            t = time.perf_counter()
            measure(METRICS[metric], train_result, moment)
            curve += time.perf_counter() - t
        final_ctx = dataclasses.replace(ctx, run_cache={})
        final = 0.0
        for metric in job.metrics:
            t = time.perf_counter()
            measure(METRICS[metric], train_result, final_ctx)
            spent = time.perf_counter() - t
            final += spent
            per_metric.setdefault(metric, []).append(spent)
        per_member.append(curve_points * curve + final)
    return statistics.mean(per_member), {k: statistics.mean(v) for k, v in per_metric.items()}


# ------------------------------------------------------------------------------------------- 3. MLflow


def time_logging(family: Family, tracker: Tracker, kl_values: int) -> dict[int, tuple[int, float]]:
    """Per paper budget of the family: (values logged, seconds) for one member's paper run."""
    out: dict[int, tuple[int, float]] = {}
    if not family.logged:  # no step of 50 reached yet: one more step, logged
        with torch.inference_mode():
            family.logged = family.program.chunk(family.done + 1, 1, [family.done + 1])[0][1]
        family.done += 1
    values = family.logged[0]
    for job in {j.steps: j for j in family.jobs}.values():
        steps = job.steps
        losses: list[tuple[str, float, int]] = []

        def sink(step: int, vals: dict[str, float], losses: list = losses) -> None:
            for name, value in vals.items():  # the executor's loss sink (benchmark/execute.py)
                losses.append((f"{LOSS_PREFIX}{name}", value, step))

        ctx = RunContext(dataset=family.pairs[0][1].dataset, hparams=dict(job.hparams), seed=0,
                         device=family.device, budget=dict(job.budget), loss_sink=sink)
        relay = Relay([ctx])
        t = time.perf_counter()
        for step in range(1, steps + 1):
            if step % ctx.log_every == 0 or step == steps:
                relay.log(0, step, values)
        points = [s for s in job.curve_steps if s <= steps]
        losses.extend((f"{CURVE_PREFIX}kl.x{i}", 0.1, s) for s in points for i in range(kl_values))
        measurements = [(f"kl.x{i}", 0.1, 0) for i in range(kl_values + 6)]
        run_id = tracker.start("time_accounting", {"method": job.method_name}, dict(job.hparams),
                               name=f"{job.method} · {steps}")
        tracker.log_metrics(run_id, losses + measurements)
        tracker.finish(run_id)
        out[steps] = (len(losses) + len(measurements), time.perf_counter() - t)
    return out


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="timed and profiled steps each (default 100)")
    parser.add_argument("--warmup", type=int, default=30, help="steps before timing (default 30)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    apply(Numerics())  # the numerics every run uses: FP32 without TF32, deterministic
    load_plugins()
    load_before = os.getloadavg()
    print(f"# time accounting: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, device {device}")
    print(f"load average before: {load_before[0]:.2f}\n")

    jobs = paper_jobs()
    kl_values = len(METRICS["kl_grid"].produces)
    # each family's row is printed when it is done, its details after the table
    print("| family | ms per step (9 members) | profiled | matmul % | elementwise % | optimiser % | kNN % "
          "| batch norm % | VI % | Python overhead % | training min per member | metrics s per member "
          "| MLflow s per member |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    details = []
    with tempfile.TemporaryDirectory(prefix="bench-time-") as tmp:
        tracker = Tracker(f"sqlite:///{tmp}/mlflow.db", Path(tmp) / "artifacts")
        tracker.experiment_id("time_accounting")  # the schema and the experiment: not counted
        for name in args.families:
            began = time.perf_counter()
            family = Family(jobs[name], device, args.warmup + 2 * args.steps)
            plain, profiled, parts = profile_training(family, args.warmup, args.steps)
            trained = time.perf_counter()
            metric_s, per_metric = time_metrics(family)
            measured = time.perf_counter()
            logging = time_logging(family, tracker, kl_values)
            budgets = sorted({job.steps for job in family.jobs})
            share = {k: 100 * v / (profiled * 1e3 * args.steps) for k, v in parts.items()}
            train_min = " / ".join(f"{s * plain / 9 / 6e4:.1f} ({s // 1000}K)" for s in budgets)
            log_s = " / ".join(f"{logging[s][1]:.2f} ({s // 1000}K)" for s in budgets)
            print(f"| {name} | {plain:.1f} | {profiled:.1f} | {share['matmul']:.0f} "
                  f"| {share['elementwise and other']:.0f} | {share['optimiser']:.0f} | {share['kNN']:.0f} "
                  f"| {share['batch norm']:.0f} | {share['VI']:.0f} | {share['Python and dispatch overhead']:.0f} "
                  f"| {train_min} | {metric_s:.1f} | {log_s} |", flush=True)
            ops = (sum(parts.values()) - parts["Python and dispatch overhead"]) / 1e3 / args.steps
            details.append(
                f"{name}: profiled wall {profiled:.2f} ms per step, ops' and scopes' self CPU {ops:.2f}; shares sum to "
                f"{sum(share.values()):.1f} %; ms per profiled step: "
                + ", ".join(f"{k} {v / 1e3 / args.steps:.2f}" for k, v in parts.items())
                + ". One evaluation (s, mean of the 3 datasets): "
                + ", ".join(f"{k} {v:.2f}" for k, v in per_metric.items())
                + "; MLflow values per member: " + ", ".join(f"{n} ({s // 1000}K)" for s, (n, _) in logging.items())
                + f". This script spent {trained - began:.0f} s training, {measured - trained:.0f} s measuring, "
                f"{time.perf_counter() - measured:.0f} s logging.")
    print()
    for line in details:
        print(line)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
