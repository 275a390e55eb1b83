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
arithmetic that produced it.
"""

from __future__ import annotations

import os
import platform
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


def provenance(device: str) -> dict[str, str]:
    """The arithmetic behind a run, as tags: the settings in force and the machine and device they ran on."""
    import torch

    tags = {**machine(),"precision.matmul": torch.backends.cuda.matmul.fp32_precision,
            "precision.conv": torch.backends.cudnn.conv.fp32_precision,
            "deterministic": str(torch.are_deterministic_algorithms_enabled()).lower(),
            "cudnn.deterministic": str(torch.backends.cudnn.deterministic).lower(),
            "cudnn.benchmark": str(torch.backends.cudnn.benchmark).lower(),
            "cublas_workspace": os.environ.get("CUBLAS_WORKSPACE_CONFIG", ""),
            "torch_threads": str(torch.get_num_threads())}
    if is_gpu(device) and torch.cuda.is_available():
        index = torch.device(device).index or 0
        tags.update({"gpu": torch.cuda.get_device_name(index), "cuda_version": str(torch.version.cuda),
                     "cudnn_version": str(torch.backends.cudnn.version()),
                     "gpu_capability": ".".join(map(str, torch.cuda.get_device_capability(index)))})
    return tags
