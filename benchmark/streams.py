"""Named random streams. ``stream_seed`` derives every one: a run's own (``RunContext.rng``), and those that do not
depend on a run: a dataset's fixed evaluation subset, a metric's reference value, the training of a classifier
shared by every run. Each of the latter is seeded from a base seed (a dataset parameter such as ``eval_seed``,
or 0) and a name, through the same ``SeedSequence`` derivation as the run's own streams, so two uses never
share numbers however their base seeds relate and nobody picks integer offsets. Names follow the run streams'
scheme: ``"data/<dataset>/<purpose>"``, ``"metric/<metric>/<purpose>"``."""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def stream_seed(seed: int, name: str | int) -> int:
    """A 64-bit seed for the random stream ``name`` of the run seeded ``seed``: numpy's ``SeedSequence`` over the
    seed with a hash of the name as its spawn key, so every name is an independent stream and nobody picks
    integer offsets by hand."""
    key = int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:8], "little")
    low, high = np.random.SeedSequence(entropy=int(seed), spawn_key=(key,)).generate_state(2, np.uint32)
    return int(low) | (int(high) << 32)


def fixed_rng(seed: int, name: str) -> torch.Generator:
    """A CPU torch generator for the stream ``name`` under the base seed ``seed``."""
    return torch.Generator().manual_seed(stream_seed(int(seed), name))


def fixed_np_rng(seed: int, name: str) -> np.random.Generator:
    """The numpy twin of ``fixed_rng``."""
    return np.random.default_rng(stream_seed(int(seed), name))
