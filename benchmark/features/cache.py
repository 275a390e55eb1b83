"""Files kept under ``$BENCH_HOME/cache/<kind>/`` by a content key: the hash of a JSON description of everything
that determines the file (``key_digest``). A file is written to a temporary name in the same folder and moved
into place, so a reader in another runner process sees either nothing or the whole file; a home that cannot be
written leaves the value computed for this process only."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.identity import digest
from benchmark.tracking import bench_home


def cache_dir(kind: str) -> Path:
    return bench_home() / "cache" / kind


def key_digest(key: dict[str, Any]) -> str:
    return digest(key, 32)


def write_atomically(path: Path, write: Callable[[Path], None]) -> bool:
    """``write(tmp)`` then rename onto ``path``; False (and nothing left behind) when the folder is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError:
        return False
    try:
        write(Path(tmp))
        os.replace(tmp, path)
        return True
    except OSError:
        return False
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_arrays(kind: str, key: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``key``, or None when there are none (or the file does not hold this key)."""
    path = cache_dir(kind) / f"{key_digest(key)}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError):  # a damaged file: recompute and overwrite
        return None
    stored = json.loads(str(arrays.pop("key", "null")))
    return arrays if stored == json.loads(json.dumps(key, sort_keys=True, default=str)) else None


def save_arrays(kind: str, key: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path | None:
    path = cache_dir(kind) / f"{key_digest(key)}.npz"
    blob = np.array(json.dumps(key, sort_keys=True, default=str))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object, so numpy keeps the name (no .npz appended)
            np.savez(fh, key=blob, **arrays)

    return path if write_atomically(path, write) else None
