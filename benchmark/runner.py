"""Runs planned jobs: Optuna decides what to train, MLflow records it, and any number of workers share the work.

The parts live in their own modules: ``studies`` (what a job's studies must cover and what they chose),
``storage`` (the Optuna storage and claiming units of work), ``worker`` (the per-job state machine),
``execute`` (one run: train, measure, record), ``run_settings`` (the settings they all read). This module is
the entry: the pool of worker processes. Long runs resume from their last checkpoint
(``RunContext.checkpoint``/``restore``), kept under ``$BENCH_HOME/checkpoints/<run_key>.pt``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
from typing import Any

from benchmark.devices import is_gpu
from benchmark.errors import DeviceBroken, UserError
from benchmark.numerics import apply as apply_numerics
from benchmark.numerics import platform_of, prepare_environment, set_training_threads, training_threads, use_workers
from benchmark.planner import Job
from benchmark.progress import Progress
from benchmark.run_settings import RunSettings
from benchmark.storage import is_shared_storage, open_storage, redact
from benchmark.worker import JobOutcome, Worker

__all__ = ["JobOutcome", "RunSettings", "is_shared_storage", "redact", "run_jobs", "work", "open_settings_storage"]


def open_settings_storage(settings: RunSettings):
    return open_storage(settings.storage_url, settings.shared, settings.heartbeat, settings.grace)


def run_jobs(jobs: list[Job], settings: RunSettings, workers: int = 1,
             progress: Progress | None = None) -> list[JobOutcome]:
    """Train what the jobs need with ``workers`` processes; returns one outcome per job, in job order."""
    if workers <= 1:
        return work(jobs, settings, progress)
    quiet = RunSettings(**{**settings.__dict__, "show_progress": False})
    if settings.shared:
        # every process works on every job: units are claimed through the storage
        results = _in_processes([(jobs, quiet)] * workers, workers)
    else:
        # one process per job at a time: a sqlite file is not for concurrent writers to one study
        results = _in_processes([([job], quiet) for job in jobs], workers)
    return merge_outcomes(jobs, results)


def merge_outcomes(jobs: list[Job], results: list[list[JobOutcome]]) -> list[JobOutcome]:
    merged: dict[str, JobOutcome] = {}
    for outcomes in results:
        for o in outcomes:
            m = merged.setdefault(o.key, JobOutcome(o.key, "pending"))
            m.trained += o.trained
            m.reused += o.reused
            m.seconds = max(m.seconds, o.seconds)
            if m.status == "pending" and o.status != "pending":
                m.status, m.reason = o.status, o.reason
    return [merged.get(job.key, JobOutcome(job.key, "pending", reason="its worker died")) for job in jobs]


def _in_processes(tasks: list[tuple[list[Job], RunSettings]], workers: int) -> list[list[JobOutcome]]:
    """Run ``work`` over tasks in at most ``workers`` processes. A process that dies (killed) loses only
    its own report: what it trained is in MLflow and what it held is retried by the others."""
    ctx = multiprocessing.get_context("spawn")
    results: queue.Queue = ctx.Queue()
    todo = list(enumerate(tasks))
    running: dict[int, Any] = {}
    collected: list[list[JobOutcome]] = []
    errors: list[str] = []
    crashes: list[str] = []
    restarts = 0
    while todo or running:
        while todo and len(running) < workers:
            index, (jobs, settings) = todo.pop(0)
            proc = ctx.Process(target=_process_main, args=(jobs, settings, training_threads(), results),
                               daemon=False)
            proc.start()
            running[index] = (proc, (jobs, settings))
        try:
            kind, payload = results.get(timeout=1.0)
            {"ok": collected, "error": errors, "crash": crashes}[kind].append(payload)
        except queue.Empty:
            pass
        for index, (proc, task) in list(running.items()):
            if not proc.is_alive():
                proc.join(timeout=5)
                del running[index]
                if proc.exitcode == RESTART and restarts < MAX_RESTARTS:
                    restarts += 1  # its GPU context broke: a fresh process resumes where it stopped
                    todo.append((index, task))
    while True:  # reports that arrived as their process exited
        try:
            kind, payload = results.get(timeout=0.2)
        except queue.Empty:
            break
        {"ok": collected, "error": errors, "crash": crashes}[kind].append(payload)
    if errors:
        raise UserError(errors[0])
    if crashes:
        raise RuntimeError(crashes[0])
    return collected


RESTART = 75  # a worker's exit status after a sticky CUDA error: start it again
MAX_RESTARTS = 20


def _process_main(jobs: list[Job], settings: RunSettings, threads: int, results) -> None:
    import torch

    prepare_environment()
    use_workers(1, threads)  # the count the parent planned its jobs' platform with
    if is_gpu(settings.device) and torch.cuda.device_count() > 1:
        # spread the workers over the visible GPUs (each process its own, round robin by process number)
        index = (multiprocessing.current_process()._identity or (0,))[0]
        settings = RunSettings(**{**settings.__dict__, "device": f"cuda:{index % torch.cuda.device_count()}"})
        jobs = on_device(jobs, settings.device)
    try:
        results.put(("ok", work(jobs, settings)))
    except DeviceBroken:
        os._exit(RESTART)
    except UserError as err:
        results.put(("error", str(err)))
    except Exception as exc:  # a bug, not a user's mistake: say so in the parent instead of a silent gap
        results.put(("crash", f"a worker process failed: {exc.__class__.__name__}: {str(exc)[:300]}"))
        raise


def on_device(jobs: list[Job], device: str) -> list[Job]:
    """The jobs as a process handed its own GPU (``cuda:N``) trains them: planned for this host's first GPU, they
    take the platform of the one it was handed, so a machine with two GPU models trains a copy on each, never one
    job from both."""
    return [dataclasses.replace(job, platform=platform_of(device))
            if job.platform and job.platform == platform_of(job.device) else job for job in jobs]


def work(jobs: list[Job], settings: RunSettings, progress: Progress | None = None) -> list[JobOutcome]:
    """Take units of work from the jobs' studies until every job is complete; this is `bench worker`."""
    from benchmark import api

    api.load_plugins()
    apply_numerics(settings.numerics)
    set_training_threads()  # the count its jobs' platform names
    worker = Worker(jobs, settings, progress)
    try:
        return worker.loop()
    finally:
        worker.progress.close()
