"""Named random streams that do not depend on a run: a dataset's fixed evaluation subset, a metric's reference
value, the training of a classifier shared by every run. Each is seeded from a base seed (a dataset parameter
such as ``eval_seed``, or 0) and a name, through the same ``SeedSequence`` derivation as the run's own streams
(``benchmark.api.stream_seed``), so two uses never share numbers however their base seeds relate and nobody
picks integer offsets. Names follow the run streams' scheme: ``"data/<dataset>/<purpose>"``,
``"metric/<metric>/<purpose>"``."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.api import stream_seed


def fixed_rng(seed: int, name: str) -> torch.Generator:
    """A CPU torch generator for the stream ``name`` under the base seed ``seed``."""
    return torch.Generator().manual_seed(stream_seed(int(seed), name))


def fixed_np_rng(seed: int, name: str) -> np.random.Generator:
    """The numpy twin of ``fixed_rng``."""
    return np.random.default_rng(stream_seed(int(seed), name))
