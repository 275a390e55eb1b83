"""A check of the CUDA path on a machine without a GPU: train and measure on a device object distinct from the
default one, and flag what would fail or stall on a GPU.

The run device is ``cpu:0``: the same memory as ``cpu`` (so everything computes), but a different
``torch.device``, so that what a method or metric puts on the run's device (``device=ctx.device``,
``.to(ctx.device)``) can be told apart from what it creates without a device (which lands on the host on a GPU
machine, i.e. on ``cpu``). A ``TorchFunctionMode`` follows every tensor: created on the run device or moved
there, or computed from such a tensor, it is on the device; anything else is on the host. It flags

- ``mixed devices``: an operation combining a device tensor with a host tensor of more than one element (on
  CUDA: "Expected all tensors to be on the same device"; host scalars, 0-dim, are allowed as torch allows them);
- ``numpy of a device tensor``: ``.numpy()`` without ``.cpu()`` first (on CUDA: "can't convert cuda tensor");

and counts host reads of device tensors (``.item()``, ``float()``, ``.tolist()``, ``.cpu()``, ``.numpy()``):
each is a synchronisation on a GPU. Copies between a host and a device tensor (``copy_``) and indexing a device
tensor with host indices are allowed, as on CUDA. Each flag is reported once per place, the first line of this
project's code on the stack.
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

RUN_DEVICE = torch.device("cpu", 0)
_MARK = "_bench_on_device"


def _restore_indexed_cpu(storage: Any, location: str) -> Any:
    """torch.load of what was saved from the run device (location "cpu:0"): it is host memory."""
    return storage if location.startswith("cpu:") else None


torch.serialization.register_package(11, lambda obj: None, _restore_indexed_cpu)
ROOT = Path(__file__).resolve().parents[1]

_HOST_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__int__,
               torch.Tensor.__bool__, torch.Tensor.numpy, torch.Tensor.cpu}
_DATA_SET = torch.Tensor.data.__set__  # method-wrappers: compared with ==, never `is`
_DEVICE_GET = torch.Tensor.device.__get__
_MAY_MIX = {torch.Tensor.__getitem__, torch.Tensor.__setitem__, torch.Tensor.copy_, torch.Tensor.index_put_,
            torch.Tensor.to, torch.Tensor.cpu, torch.Tensor.cuda, torch._has_compatible_shallow_copy_type}


@dataclass(frozen=True)
class Flag:
    kind: str  # mixed devices | numpy of a device tensor
    what: str  # the operation
    where: str  # file:line of the project's code that called it

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.what}"


def on_device(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and bool(getattr(t, _MARK, False))


def _mark(t: torch.Tensor, value: bool) -> None:
    try:
        setattr(t, _MARK, value)
    except (AttributeError, RuntimeError):  # some internal tensors take no attributes
        pass


def _device_of(value: Any) -> torch.device | None:
    if isinstance(value, torch.device):
        return value
    if isinstance(value, str):
        try:
            return torch.device(value)
        except RuntimeError:
            return None
    if isinstance(value, int) and not isinstance(value, bool):
        return torch.device("cuda", value)
    return None


def _where() -> str:
    here = Path(__file__).resolve()
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path == here or "site-packages" in path.parts or "torch" in path.parts:
            continue
        try:
            return f"{path.relative_to(ROOT)}:{frame.lineno}"
        except ValueError:
            return f"{path}:{frame.lineno}"
    return "?"


def _name(func: Any) -> str:
    owner = getattr(func, "__objclass__", None) or getattr(func, "__self__", None)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    return name if owner is None or "." in name else f"{getattr(owner, '__name__', owner)}.{name}"


class DeviceChecker(TorchFunctionMode):
    """``with DeviceChecker() as check:`` train with ``device=RUN_DEVICE``; then ``check.flags`` and
    ``check.host_reads``."""

    def __init__(self, device: torch.device = RUN_DEVICE) -> None:
        super().__init__()
        self.device = device
        self.flags: dict[Flag, int] = {}
        self.host_reads: Counter = Counter()  # place -> count
        self._parameter_new = None

    def __enter__(self) -> DeviceChecker:
        # nn.Parameter(t) makes a new tensor object around t's data: it is where t is
        original = torch.nn.Parameter.__new__
        self._parameter_new = original

        def parameter_new(cls, data=None, requires_grad=True):
            p = original(cls, data, requires_grad)
            if data is not None:
                _mark(p, on_device(data))
            return p

        torch.nn.Parameter.__new__ = parameter_new  # type: ignore[method-assign]
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        torch.nn.Parameter.__new__ = self._parameter_new  # type: ignore[method-assign]
        return super().__exit__(*exc)

    def _flag(self, kind: str, func: Any) -> None:
        flag = Flag(kind, _name(func), _where())
        self.flags[flag] = self.flags.get(flag, 0) + 1

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func == _DEVICE_GET and args and on_device(args[0]):
            return self.device  # `x.to(y.device)` follows y, as on a GPU
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        marked = [t for t in inputs if on_device(t)]
        if func in _HOST_READS and args and on_device(args[0]):
            self.host_reads[_where()] += 1
            if func is torch.Tensor.numpy:
                self._flag("numpy of a device tensor", func)
        elif marked and func not in _MAY_MIX and func != _DATA_SET:
            host = [t for t in inputs if not on_device(t) and t.dim() > 0 and t.numel() > 1]
            if host:
                self._flag("mixed devices", func)
        out = func(*args, **kwargs)
        target = self._target(func, args, kwargs)
        if target is not None:
            value = target == self.device
        elif func == _DATA_SET:
            _mark(args[0], on_device(args[1]))
            return out
        elif func in (torch.Tensor.copy_, torch.Tensor.__setitem__, torch.Tensor.index_put_):
            return out  # in place: the destination stays where it is
        else:
            value = bool(marked)
        if target is not None and isinstance(out, torch.Tensor) and args and out is args[0] \
                and on_device(out) != value:
            out = out.view_as(out)  # a move to where the tensor already is returns it: keep the original's mark
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                _mark(t, value)
        return out

    def _target(self, func, args, kwargs) -> torch.device | None:
        """Where an explicit placement puts the result: ``device=``, ``.to(device)``, ``.cpu()``, ``.cuda()``."""
        if func is torch.Tensor.cpu:
            return torch.device("cpu")
        if func is torch.Tensor.cuda:
            return torch.device("cuda")
        if "device" in kwargs and kwargs["device"] is not None:
            return _device_of(kwargs["device"])
        if func is torch.Tensor.to:
            for a in args[1:]:
                if isinstance(a, torch.Tensor):
                    return self.device if on_device(a) else torch.device("cpu")
                found = _device_of(a)
                if found is not None:
                    return found
        return None

    def report(self) -> str:
        lines = [f"{flag} ({n}x)" for flag, n in sorted(self.flags.items(), key=lambda kv: kv[0].where)]
        return "\n".join(lines) or "no flags"
