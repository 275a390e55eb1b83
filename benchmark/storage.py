"""The Optuna storage: opening it, and claiming units of work through it.

This is the one module that touches Optuna's private API (``study._storage``, ``trial._trial_id``): claiming a
WAITING trial under a row lock, heartbeats of a claimed trial, failing trials left by dead workers. Optuna's
public ``ask()`` pops waiting trials too, but cannot re-queue a dead worker's unit, so the claim is written
here once, against the pinned Optuna version.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from optuna.trial import TrialState

from benchmark.errors import UserError
from benchmark.tracking import database_url, retry_races


def is_shared_storage(url: str) -> bool:
    """sqlite is one machine's file and one process's job; anything else is a server many workers share."""
    return not url.startswith("sqlite:")


def open_storage(url: str, shared: bool, heartbeat: int, grace: int):
    """The Optuna storage, with heartbeats and retries of dead workers' trials when it is shared."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*Heartbeat of storage.*")
    kwargs: dict[str, Any] = {}
    if shared:
        kwargs = {"heartbeat_interval": heartbeat, "grace_period": grace,
                  "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=20)}
    engine: dict[str, Any] = {"pool_pre_ping": True} if is_shared_storage(url) else {}

    def connect() -> RDBStorage:
        storage = RDBStorage(database_url(url), engine_kwargs=engine, **kwargs)
        storage.get_all_studies()  # reads a table: fails now on a locked file or a refused connection
        return storage

    try:
        # workers starting together on an empty database race to create Optuna's tables: the losers retry
        return retry_races(connect, ("duplicate key", "already exists"), attempts=5,
                           pause=lambda attempt: 0.5 + attempt)
    except Exception as exc:  # an unreachable, locked or unwritable storage is a setting the user gave
        raise UserError(f"cannot open the Optuna storage: {first_line(exc)}", field="--storage",
                        file=redact(url)) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # SQLAlchemy wraps the driver's message as "(driver.Error) message"; keep the message
    line = text.splitlines()[0] if text else exc.__class__.__name__
    if line.startswith("(") and ") " in line:
        line = line.split(") ", 1)[1]
    return line[:200]


def redact(url: str) -> str:
    """A storage URL as printed: without a password."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


# ------------------------------------------------------------------------------- trials


def trial_id(trial) -> int:
    return trial._trial_id


def get_trial(study, tid: int):
    return study._storage.get_trial(tid)


def set_trial_attr(study, tid: int, key: str, value: Any) -> None:
    study._storage.set_trial_user_attr(tid, key, value)


def claim(study, shared: bool) -> int | None:
    """Switch one WAITING trial to RUNNING under the storage's row lock; its id, or None when none is left."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if shared:
            # beat first: a trial claimed by a worker that dies right after is then never without a heartbeat
            study._storage.record_heartbeat(trial._trial_id)
        try:
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                return trial._trial_id
        except Exception:  # finished meanwhile by another worker
            continue
    return None


def fail_running(study) -> None:
    """A trial still RUNNING when its job starts belongs to a process that died (one process runs a job)."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "killed", True)
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except Exception:  # finished meanwhile
            continue


def fail_stale(study) -> None:
    """Fail (and so retry) the trials whose worker stopped sending heartbeats."""
    from optuna.storages import fail_stale_trials

    fail_stale_trials(study)


def tell(study, trial, **kwargs) -> None:
    import optuna

    try:
        study.tell(trial, **kwargs)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError, RuntimeError):
        pass  # failed as stale meanwhile; its retry finds this run FINISHED in MLflow and reuses it


class Heartbeat:
    """Keeps a claimed trial's heartbeat fresh while this process works on it."""

    def __init__(self, study, tid: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = study._storage, tid, interval
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.interval > 0:
            self.thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{self.trial_id}")
            self.thread.start()
        return self

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a dropped connection: the next beat retries; a long gap means retry elsewhere
                continue

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
