"""Identity: the fingerprint of everything that decides what a job trains and measures.

Two keys, both hashes of canonical JSON:

- a **run key** covers what one run trains and measures: the job's labels and profile, the method, its
  resolved hyper-parameters (with the setting a sweep chose), the dataset and its parameters, the budget,
  the metrics, the seed, the device, the precision and determinism modes, and the declared versions of the
  plug-ins and of the engine's loop.
  Equal run keys mean the same training, so a finished run is read back instead of trained again.
- a **job fingerprint** adds what decides which runs a job consists of: its seeds, its sweep, the number of
  trials and the objective. Studies are named after it, a job's parent run is tagged with it, and read-back
  takes only the runs recorded as members of a current fingerprint. Editing a suite changes the fingerprints
  of exactly the jobs it touches: they train what is new, reuse runs whose key did not change, and the runs
  of the old version stay in MLflow, tagged as superseded.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Bump when the engine changes what a run computes for the same inputs (seeding, loss logging that feeds
# measurements, how metrics see the model): every run key changes with it.
ENGINE_VERSION = "3"  # 3: the shared training loop, named random streams, explicit precision and determinism


def digest(payload: Any, length: int = 24) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def setting_digest(params: dict[str, Any]) -> str:
    """A short name for a hyper-parameter setting (the seeds study of the setting a sweep chose)."""
    return digest(params, 12)
