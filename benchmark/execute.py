"""One run: read it back when a run with its key already finished, else train it, measure it and record it.

This is the only code that calls the plug-ins (``Method.train``, the metrics). What can go wrong is sorted
into four kinds, because each means something different for a verdict:

- ``RunFailed``: the run diverged (a loss or a measurement became non-finite): a result, recorded as such.
- ``RunNotPossible``: a file the run needs is missing (``DatasetMissing``): the job is `not run` and the next
  `bench run`, perhaps with the file, tries again.
- ``RunError``: anything else raised by a method or a metric, a bug or a mistake: the job ends as
  ``failed: <Type>: <message>`` with the traceback stored in the MLflow run, and is retried next time.
- ``LostClaim``: with a shared storage, our unit was handed to another worker while we stalled.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmark import api, curves
from benchmark.errors import DatasetMissing, DeviceBroken  # noqa: F401 (re-exported)
from benchmark.identity import digest
from benchmark.loop import global_rng_state, seed_global, set_global_rng_state
from benchmark.numerics import provenance
from benchmark.planner import Job, shape_of
from benchmark.progress import Progress
from benchmark.run_settings import RunSettings
from benchmark.settings import ResolvedSettings
from benchmark.tracking import CHILD, LOSS_PREFIX, MISSING_TAG, RunRecord, Tracker, runtime_tags, safe_child

TRIAL_TAG = "optuna.trial_id"  # ties an MLflow run to the trial that claimed it (staleness check)


class RunFailed(Exception):
    """The run diverged: a loss or a measurement became non-finite."""

    def __init__(self, reason: str, step: int | None = None) -> None:
        self.reason = reason
        self.step = step
        super().__init__(reason if step is None else f"{reason} at step {step}")


class RunNotPossible(RunFailed):
    """A file the run needs is missing (raised as DatasetMissing by the method or by the objective's metric):
    the job is `not run` with this reason, not diverged."""


class RunError(Exception):
    """A method or metric raised something other than a divergence or a missing file: a bug, a mistake, or the
    device failing (out of memory, a CUDA or cuDNN error). Never a result: the job is retried next time."""

    def __init__(self, exc: BaseException) -> None:
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        self.reason = f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
        self.traceback = "".join(traceback.format_exception(exc))
        # after an illegal address, a device-side assert or a launch failure the process's CUDA context is lost
        # for good: every later run in it would fail too, so the worker process must start again
        self.sticky = "CUDA error" in str(exc) and not isinstance(exc, MemoryError) and "out of memory" not in str(exc)
        super().__init__(self.reason)



class LostClaim(Exception):
    """Our trial was failed as stale while we trained (a stall longer than the grace period)."""


@dataclass
class RunPlace:
    """Where a run belongs: its job's parent MLflow run, the trial that claimed it, the worker's name."""

    parent_id: str
    trial_number: int
    trial_id: int
    tags: dict[str, str]
    # with a shared storage: is the trial still ours? (false: it was retried elsewhere while we stalled)
    still_claimed: Callable[[], bool] | None = None


@dataclass
class Started:
    """A run begun in MLflow and ready to train: its context, and where its losses and figures go."""

    run_id: str
    key: str
    seed: int
    tags: dict[str, str]
    ctx: api.RunContext
    losses: list[tuple[str, float, int]]
    figures: tempfile.TemporaryDirectory
    checkpoints: Checkpoints
    started: float = 0.0  # when training began (perf_counter)
    trained: float = 0.0  # when it ended
    timing: dict[str, str] = field(default_factory=dict)  # train and measure seconds, recorded with the run


class RunExecutor:
    """One run of one claimed trial: read back when a run with its key already finished, else started in
    MLflow (``start``), trained (``train``, or by a batch of runs trained together), then measured and recorded
    (``complete``). ``run`` does the three for a run trained on its own."""

    def __init__(self, tracker: Tracker, job: Job, dataset: api.Dataset | None, missing: dict[str, str],
                 settings: RunSettings, progress: Progress) -> None:
        self.tracker, self.job, self.dataset, self.missing = tracker, job, dataset, missing
        self.settings, self.progress = settings, progress

    def finished(self, key: str) -> tuple[RunRecord | None, list[RunRecord]]:
        found = self.tracker.runs(self.job.suite, f"tags.run_key = '{key}'")
        done = [r for r in found if r.tags.get("bench.kind") == CHILD and r.status == "FINISHED"]
        return (done[0] if done else None), found

    def run(self, params: dict[str, Any], seed: int, phase: str, place: RunPlace,
            is_stale: Callable[[RunRecord], bool]) -> tuple[RunRecord, bool]:
        """The run's record and whether it was trained now (False: an earlier finished run was reused)."""
        begun = self.start(params, seed, phase, place, is_stale)
        if isinstance(begun, RunRecord):
            return begun, False
        try:
            result = self.train(begun)
        except BaseException as exc:
            self.complete(begun, place, error=exc)
            raise
        return self.complete(begun, place, result=result), True

    def start(self, params: dict[str, Any], seed: int, phase: str, place: RunPlace,
              is_stale: Callable[[RunRecord], bool]) -> RunRecord | Started:
        """The finished run with this identity, if there is one; else a new MLflow run, ready to train."""
        job = self.job
        settings = job.run_settings(params, seed)
        key = job.key_of(settings)
        done, found = self.finished(key)
        if done is not None:
            return done
        for stale in (r for r in found if r.status == "RUNNING" and r.tags.get("bench.kind") == CHILD):
            if is_stale(stale):
                self.tracker.finish(stale.run_id, "KILLED")
        tags = {**place.tags, **runtime_tags(), **provenance(self.settings.device), "bench.kind": CHILD,
                "seed": str(seed), "phase": phase, "run_key": key, "shape": shape_of(job),
                "trial": str(place.trial_number), TRIAL_TAG: str(place.trial_id),
                "worker": f"{os.uname().nodename}:{os.getpid()}"}
        run_id = self.tracker.start(job.suite, tags, settings.params(), parent_id=place.parent_id,
                                    name=f"{job.method} · {job.dataset} · seed {seed}"
                                         + (" · search" if phase == "search" and job.sweep else ""))
        params_text = ", ".join(f"{k}={v}" for k, v in sorted(job.dataset_params.items()))
        self.tracker.log_dataset(run_id, job.dataset, digest({"loader": job.loader, "params": job.dataset_params,
                                                               "version": job.versions.get("dataset")}, 12),
                                 f"{job.loader}({params_text})"
                                 + (f" from {self.settings.data_dir}" if self.settings.data_dir else ""),
                                 {"loader": job.loader, **job.dataset_params})
        begun = Started(run_id, key, seed, tags, None, [], tempfile.TemporaryDirectory(prefix="bench-fig-"),
                        Checkpoints(self.settings, key))  # type: ignore[arg-type]
        begun.ctx = self._context(begun, settings)
        return begun

    def _context(self, begun: Started, settings: ResolvedSettings) -> api.RunContext:
        job, losses, figures = self.job, begun.losses, Path(begun.figures.name)
        step_sink = self.progress.steps(job, begun.seed)

        def loss_sink(step: int, values: dict[str, float]) -> None:
            for name, value in values.items():
                if not math.isfinite(value):
                    raise RunFailed(f"loss '{name}' became {value}", step)
                losses.append((f"{LOSS_PREFIX}{name}", value, step))

        def figure_sink(fig: Any, name: str) -> None:
            import matplotlib.pyplot as plt

            fig.savefig(safe_child(figures, name, ".png"), dpi=110, bbox_inches="tight")
            plt.close(fig)

        def restored(step: int, saved_losses: list) -> None:
            losses[:] = [tuple(row) for row in saved_losses]  # the history before the restart stays whole
            if step_sink is not None:
                step_sink(step)
            self.tracker.set_tags(begun.run_id, {"resumed_from_step": str(step)})

        def curve_sink(step: int, result: Callable[[], api.TrainResult]) -> None:
            for name, value in self._curve_point(ctx, result).items():
                losses.append((f"{curves.PREFIX}{name}", value, step))

        # how often is not part of the run's identity: it changes no number the run produces
        every = self.settings.checkpoint_every or max(1, job.steps // 10 if job.steps else 100)
        ctx = api.RunContext.of(settings, self.dataset, torch.device(self.settings.device),
                                log_every=self.settings.log_every, loss_sink=loss_sink, figure_sink=figure_sink,
                                step_sink=step_sink, checkpoint_every=every,
                                checkpoint_store=begun.checkpoints.bind(losses, restored),
                                curve_steps=job.curve_steps, curve_sink=curve_sink if job.curve_metrics else None)
        return ctx

    def _curve_point(self, ctx: api.RunContext, result: Callable[[], api.TrainResult]) -> dict[str, float]:
        """The curve's metrics on the model as it is now. Training goes on untouched: the metrics are read-only
        (``measure``), see a run cache of their own (what they cache belongs to this moment's model), and
        every global generator, numpy's too, is as before."""
        saved = global_rng_state()
        try:
            model, moment = result(), dataclasses.replace(ctx, run_cache={})
            values: dict[str, float] = {}
            for metric in self.job.curve_metrics:
                values.update(measure(api.METRICS[metric], model, moment))
        finally:
            set_global_rng_state(saved)
        return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}

    def train(self, begun: Started) -> api.TrainResult:
        """Train the run on its own, through the method's program and the engine's loop."""
        begun.started = time.perf_counter()
        try:
            result = api.METHODS[self.job.method_name]().train(begun.ctx)
        except DatasetMissing as missing:
            raise RunNotPossible(str(missing)) from None
        except (RunFailed, KeyboardInterrupt, SystemExit):
            raise
        except FloatingPointError as exc:  # anomaly detection or numpy set to raise: a divergence
            raise RunFailed(f"FloatingPointError: {exc}") from exc
        except Exception as exc:
            raise RunError(exc) from exc
        finally:
            self.progress.close_steps()
        begun.trained = time.perf_counter()
        return result

    def complete(self, begun: Started, place: RunPlace, result: api.TrainResult | None = None,
                 error: BaseException | None = None) -> RunRecord:
        """Measure the trained run and record it (or record why it has no result), and end its MLflow run.
        Raises what went wrong, as ``run`` does."""
        run_id, losses, checkpoints = begun.run_id, begun.losses, begun.checkpoints
        try:
            if error is not None:
                raise error
            measurements = self._measure(begun, result)
            self.tracker.set_tags(run_id, begun.timing)
            if self.job.curve_metrics:
                self.tracker.set_tags(run_id, {curves.TAG: curves.encode(self._curve(losses))})
            missing = {k: v for k, v in self.missing.items() if k not in measurements}
            if missing:
                self.tracker.set_tags(run_id, {MISSING_TAG: json.dumps(missing, sort_keys=True)})
            self.tracker.log_metrics(run_id, losses + [(k, v, 0) for k, v in sorted(measurements.items())])
            for png in sorted(Path(begun.figures.name).glob("*.png")):
                self.tracker.log_artifact(run_id, png, "figures")
        except RunFailed as failure:
            self._record(run_id, losses, {"failure": str(failure), "failure_step": str(failure.step or "")})
            checkpoints.clear()
            raise
        except RunError as failure:
            self._record(run_id, losses, {"failure": f"error: {failure.reason}", "error": failure.reason})
            self.tracker.log_text(run_id, failure.traceback, "error/traceback.txt")
            checkpoints.clear()
            raise
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): nothing stays RUNNING; the checkpoint is kept
            self.tracker.log_metrics(run_id, losses)
            self.tracker.finish(run_id, "KILLED")
            raise
        finally:
            begun.figures.cleanup()
        if place.still_claimed is not None and not place.still_claimed():
            # we stalled past the grace period and our unit was handed to another worker: leave it to them
            self.tracker.set_tags(run_id, {"failure": "claim lost: the trial was retried by another worker"})
            self.tracker.finish(run_id, "KILLED")
            raise LostClaim()
        self.tracker.finish(run_id, "FINISHED")
        checkpoints.clear()
        return RunRecord(run_id, "FINISHED", begun.tags, {}, measurements)

    def _curve(self, losses: list[tuple[str, float, int]]) -> dict[int, dict[str, float]]:
        points: dict[int, dict[str, float]] = {}
        for name, value, step in losses:
            if name.startswith(curves.PREFIX):
                points.setdefault(step, {})[name[len(curves.PREFIX):]] = value
        return points

    def _record(self, run_id: str, losses: list, tags: dict[str, str]) -> None:
        self.tracker.log_metrics(run_id, losses)
        self.tracker.set_tags(run_id, tags)
        self.tracker.finish(run_id, "FAILED")

    def _measure(self, begun: Started, result: api.TrainResult) -> dict[str, float]:
        job, ctx = self.job, begun.ctx
        measurements: dict[str, Any] = dict(result.measurements)
        measured = time.perf_counter()
        try:
            for metric in job.metrics:
                try:
                    measured_now = measure(api.METRICS[metric], result, ctx)
                    measurements.update(measured_now)
                    if metric in job.curve_metrics:  # the curve's last point is the run's own measurement
                        begun.losses.extend((f"{curves.PREFIX}{k}", float(v), job.steps)
                                            for k, v in measured_now.items()
                                            if v is not None and math.isfinite(float(v)))
                except DatasetMissing as missing:  # found out only now: the other metrics still count
                    for name in api.METRICS[metric].produces:
                        self.missing.setdefault(name, str(missing))
        except (RunFailed, KeyboardInterrupt, SystemExit):
            raise
        except FloatingPointError as exc:
            raise RunFailed(f"FloatingPointError: {exc}") from exc
        except Exception as exc:
            raise RunError(exc) from exc
        # what `bench plan` estimates the next runs from (seconds per step and per measuring, on this device)
        begun.timing = {"train_seconds": f"{begun.trained - begun.started:.3f}",
                        "measure_seconds": f"{time.perf_counter() - measured:.3f}", "steps": str(job.steps)}
        if job.objective and job.objective[0] in self.missing and job.objective[0] not in measurements:
            raise RunNotPossible(self.missing[job.objective[0]])
        for name, value in measurements.items():
            if value is None or not math.isfinite(float(value)):
                raise RunFailed(f"measurement '{name}' is {value}")
        return {k: float(v) for k, v in measurements.items()}


def measure(metric: api.Metric, result: api.TrainResult, ctx: api.RunContext) -> dict[str, float]:
    """One metric on the trained model, read-only: the model's networks in evaluation mode, their state
    (weights, batch-norm statistics, training flags) restored afterwards, and torch's global generators
    seeded from the metric's own stream and restored, so that neither the order of the metrics nor running
    one twice changes what any of them measures."""
    modules = networks_of(result.model)
    saved = [({k: v.detach().clone() for k, v in m.state_dict().items()},
              [(sub, sub.training) for sub in m.modules()]) for m in modules]
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            seed_global(ctx.seed, f"metric/{metric.name}")
            for m in modules:
                m.eval()
            return metric.fn(result, ctx)
    finally:
        for m, (state, flags) in zip(modules, saved, strict=True):
            m.load_state_dict(state)
            for sub, training in flags:
                sub.training = training


def networks_of(model: Any, depth: int = 3) -> list[torch.nn.Module]:
    """The torch modules a trained model holds (its own attributes and theirs, a few levels down)."""
    found: list[torch.nn.Module] = []
    seen: set[int] = set()

    def visit(obj: Any, level: int) -> None:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            found.append(obj)
            return
        if isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item, level + 1)
        elif hasattr(obj, "__dict__") and not isinstance(obj, (torch.Tensor, type)):
            for value in vars(obj).values():
                visit(value, level + 1)

    visit(model, 0)
    return found


class Checkpoints:
    """Where one run's checkpoint lives: ``<checkpoint dir>/<run_key>.pt``, written atomically."""

    def __init__(self, settings: RunSettings, run_key: str) -> None:
        from benchmark.tracking import bench_home

        root = Path(settings.checkpoint_dir) if settings.checkpoint_dir else bench_home() / "checkpoints"
        self.path = safe_child(root, run_key, ".pt")

    def bind(self, losses: list, on_restore) -> api.CheckpointStore:
        return api.CheckpointStore(save=lambda step, state: self._save(step, state, losses),
                                   load=lambda: self._load(on_restore))

    def _save(self, step: int, state: dict[str, Any], losses: list) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        torch.save({"step": step, "state": state, "losses": list(losses)}, tmp)
        os.replace(tmp, self.path)  # a kill mid-write leaves the previous checkpoint, never half of one

    def _load(self, on_restore) -> tuple[int, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # unreadable: start over rather than fail the run
            return None
        on_restore(int(saved["step"]), saved.get("losses", []))
        return int(saved["step"]), saved["state"]

    def write(self, step: int, state: dict[str, Any]) -> None:
        self._save(step, state, [])

    def read(self) -> tuple[int, dict[str, Any]] | None:
        return self._load(lambda step, losses: None)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
