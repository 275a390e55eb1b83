"""The settings of a `bench run` or `bench worker`: where runs are recorded and claimed, on which device, and how
the work is paced. Every module that runs something reads them (runner, worker, execute, batching), so they sit
below all of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.numerics import Numerics


@dataclass
class RunSettings:
    tracking_uri: str
    storage_url: str
    device: str
    data_dir: str | None
    artifact_root: str | None
    show_progress: bool = True
    log_every: int = 50
    tags: dict[str, str] = field(default_factory=dict)
    # shared: other processes may work on the same studies (heartbeats decide what is stale);
    # otherwise one process owns each job and whatever it finds RUNNING was left by a killed one.
    shared: bool = False
    heartbeat: int = 10  # seconds between a trial's heartbeats; a trial silent 5x this long is retried
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0  # steps between checkpoints; 0: a tenth of the run's steps
    poll: float = 0.5  # seconds between looks at the studies while other workers hold the rest
    numerics: Numerics = field(default_factory=Numerics)
    # most runs trained together as one batched model (runs of one family, see benchmark.batching); 1: alone
    batch: int = 36

    @property
    def grace(self) -> int:
        return 5 * self.heartbeat
