"""How numbers are computed: the floating-point precision and the determinism every run and metric uses, set
explicitly in each process and recorded with every run.

- **Precision** (``--precision``): ``fp32`` (the default) is full IEEE float32 for matrix products and
  convolutions on every device. Torch 2.14 lets cuDNN convolutions use TF32 (10-bit mantissa) by default on
  Ampere and newer GPUs, which would shift every convolutional network's numbers, the Inception and classifier
  scores among them, away from CPU runs and from the published FP32 references; bench turns that off. ``tf32``
  allows TF32 for speed, recorded and part of every run's identity.
- **Determinism**: on by default. ``torch.use_deterministic_algorithms(True)``, cuDNN's deterministic
  algorithms without autotuning, and ``CUBLAS_WORKSPACE_CONFIG`` set before CUDA starts (cuBLAS refuses
  deterministic mode without it), so a seed gives the same numbers on every attempt, resumed runs included.
  ``--nondeterministic`` lifts it for speed, recorded and part of identity.

A run's tags carry the device's model, CUDA and cuDNN versions and these flags, so a number can be traced to the
arithmetic that produced it. The **platform** (``platform_of``) sums up the machine's part of that arithmetic in
one string that enters every run's identity: two machines of different kinds train a job twice, never mixed.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.devices import is_gpu

PRECISIONS = ("fp32", "tf32")
WORKSPACE = ":4096:8"  # the cuBLAS workspace size torch's documentation gives for deterministic mode


@dataclass(frozen=True)
class Numerics:
    precision: str = "fp32"
    deterministic: bool = True

    @property
    def mode(self) -> dict[str, Any]:
        """What enters a run's identity."""
        return {"precision": self.precision, "deterministic": self.deterministic}


def prepare_environment() -> None:
    """Before anything initialises CUDA (the command's start, and every worker process it spawns)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", WORKSPACE)


def apply(numerics: Numerics) -> None:
    """Set this process's precision and determinism."""
    import torch

    prepare_environment()
    ieee = numerics.precision == "fp32"
    torch.backends.cuda.matmul.fp32_precision = "ieee" if ieee else "tf32"
    torch.backends.cudnn.conv.fp32_precision = "ieee" if ieee else "tf32"
    torch.backends.cudnn.deterministic = numerics.deterministic
    torch.backends.cudnn.benchmark = False  # autotuning picks algorithms by timing: another run, another pick
    torch.use_deterministic_algorithms(numerics.deterministic)


def cpu_model() -> str:
    """The processor's model name as the kernel reports it (``platform`` gives only the architecture on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, str]:
    """The host's processor: its model, and the vector instructions torch's CPU kernels dispatch to (AVX2,
    AVX512, ...), which decide the last bits of a CPU run's numbers."""
    import torch

    return {"cpu_model": cpu_model(), "cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
            "machine": platform.machine()}


_workers = 1  # training processes sharing this machine's cores (`bench run --workers`)
_threads: int | None = None  # `--threads`: stated outright


def use_workers(workers: int, threads: int | None = None) -> None:
    """Declare how many training processes share this machine's cores, or the threads each uses, before planning
    (the thread count each trains with is part of the platform) and in every process that trains."""
    global _workers, _threads
    _workers, _threads = max(1, int(workers)), threads


def training_threads() -> int:
    """The torch CPU threads a training process uses: as stated, else the machine's cores shared evenly among its
    workers. The count changes how reductions split and so the last bits of CPU arithmetic (measured: the essay
    suite at smoke gave 27 of 52 values different at 1 thread and at 2), which is why it is part of the
    platform: processes that share a store train the same runs only where they use the same count."""
    return _threads or max(1, (os.cpu_count() or 1) // _workers)


def busy_cores(window: float = 0.25) -> float | None:
    """How many cores other work keeps busy right now: the non-idle share of every core's time over ``window``
    seconds (/proc/stat), times the cores; this process is idle meanwhile. None where /proc/stat is missing. (The
    load average would also count a run that just ended: it decays over minutes.)"""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # all, idle + iowait
    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    spent = total1 - total0
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / spent) if spent > 0 else None


def busy_note(workers: int, busy: float | None, cores: int | None = None) -> str | None:
    """One line for a training command that starts on a machine whose cores other work keeps ``busy``, or None.
    Training threads spin at every parallel region waiting for each other, and one that shares its core with
    other work makes its partners wait a time slice at each of a step's hundreds of small operations: measured
    here (``benchmarks/contended_threads.py``), a 2-thread step beside a running `bench run` took 4.9× (one run
    alone) and 5.0× (a 12-member batch) its quiet time, a 1-thread step 1.1× and 1.0×."""
    cores = cores or os.cpu_count() or 1
    threads = training_threads()
    if busy is None or busy < 0.5 or threads < 2 or threads * max(1, workers) + busy <= cores:
        return None  # one thread waits on no one; where spare cores hold the other work, nothing waits
    return (f"note: other work keeps {busy:.1f} of this machine's {cores} cores busy, and each worker trains with "
            f"{threads} threads, which wait on each other wherever other work holds a core: steps may take several "
            "times their estimate. Let the other work finish, or train with fewer threads (--threads or --workers; "
            "the thread count is part of a run's platform, so the numbers then differ in the last bits).")


def set_training_threads() -> None:
    """Train with ``training_threads()`` (torch's own default counts physical cores, which may differ)."""
    import torch

    torch.set_num_threads(training_threads())


def platform_of(device: str) -> str:
    """What decides the last bits of a run's numbers beyond its settings, as one string that is part of the run's
    identity: on the CPU the processor model, the vector instructions torch dispatches to and the thread count;
    on a GPU its model, compute capability, CUDA and cuDNN, and the host's vector instructions and threads (data
    preparation and some metrics run there). "" for a GPU torch cannot open (nothing trains there; a plan only
    estimates)."""
    arithmetic = _arithmetic_of(device)
    if not arithmetic:
        return ""
    threads = training_threads()
    found = f"{arithmetic}, {threads} thread{'s' * (threads != 1)}"
    _remember_host_platform(device, found)
    return found


@functools.cache
def _arithmetic_of(device: str) -> str:
    import torch

    capability = str(torch.backends.cpu.get_cpu_capability())
    if not is_gpu(device):
        return f"{cpu_model()} {capability}"
    if not torch.cuda.is_available():
        return ""
    try:
        index = torch.device(device).index or 0
        major, minor = torch.cuda.get_device_capability(index)
        return (f"{torch.cuda.get_device_name(index)} sm{major}{minor} CUDA {torch.version.cuda} "
                f"cuDNN {torch.backends.cudnn.version()} / {capability}")
    except (RuntimeError, AssertionError, ValueError):  # no driver, no such device, torch built without CUDA
        return ""


def host_platform(device: str) -> str | None:
    """This host's platform for ``device`` without importing torch where it is not imported yet (`bench compare`
    answers from its cache without torch): as ``platform_of`` last found it on this host, or None where it never
    ran here."""
    if "torch" in sys.modules:
        return platform_of(device) or None
    try:
        return _host_platform_file(device).read_text() or None
    except OSError:
        return None


def _host_platform_file(device: str) -> Path:
    """Per host, torch build and device kind: a BENCH_HOME shared by machines of several kinds keeps each apart."""
    from importlib import metadata

    from benchmark.identity import digest
    from benchmark.tracking import bench_home

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = ""
    host = digest({"node": platform.node(), "cpu": cpu_model(), "torch": torch_version, "device": device,
                   "isa": os.environ.get("ATEN_CPU_CAPABILITY", ""),
                   "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", "")}, 16)
    return bench_home() / "cache" / "platform" / f"{host}.txt"


_remembered: dict[Path, str] = {}


def _remember_host_platform(device: str, found: str) -> None:
    path = _host_platform_file(device)
    if _remembered.get(path) == found:
        return
    try:
        _remembered[path] = found
        if path.exists() and path.read_text() == found:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(found)
        os.replace(tmp, path)
    except OSError:  # a read-only BENCH_HOME: `bench compare` then prefers no platform, and says which it read
        pass


def provenance(device: str) -> dict[str, str]:
    """The arithmetic behind a run, as tags: the settings in force and the machine and device they ran on."""
    import torch

    tags = {**machine(), "precision.matmul": torch.backends.cuda.matmul.fp32_precision,
            "precision.conv": torch.backends.cudnn.conv.fp32_precision,
            "deterministic": str(torch.are_deterministic_algorithms_enabled()).lower(),
            "cudnn.deterministic": str(torch.backends.cudnn.deterministic).lower(),
            "cudnn.benchmark": str(torch.backends.cudnn.benchmark).lower(),
            "cublas_workspace": os.environ.get("CUBLAS_WORKSPACE_CONFIG", ""),
            "torch_threads": str(torch.get_num_threads()), "platform": platform_of(device)}
    if is_gpu(device) and torch.cuda.is_available():
        index = torch.device(device).index or 0
        tags.update({"gpu": torch.cuda.get_device_name(index), "cuda_version": str(torch.version.cuda),
                     "cudnn_version": str(torch.backends.cudnn.version()),
                     "gpu_capability": ".".join(map(str, torch.cuda.get_device_capability(index)))})
    return tags
