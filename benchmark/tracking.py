"""MLflow, the single record of what ran: where it lives, how runs are found again, how they are written.

Only ``MlflowClient`` is used (no fluent API): nothing depends on a global active run, so
several jobs can be written from one process and stale runs can be closed from another.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmark.errors import UserError

# Keys that hold losses logged during training; everything else a run logs is a measurement.
LOSS_PREFIX = "loss."
CURVE_PREFIX = "curve."  # a measurement's history over training (benchmark/curves.py), not a measurement
PARENT = "job"
CHILD = "run"
MISSING_TAG = "missing_measurements"  # JSON {measurement: reason} on a run whose metric could not run
FINGERPRINT_TAG = "job_fingerprint"  # a job's parent run: the fingerprint of the plan it carries out
MEMBER_PREFIX = "job."  # tag job.<fingerprint> = search | final | search,final on the runs a job consists of
SUPERSEDED_TAG = "superseded"  # "1" on runs and parents that no current version of their job uses
STATUS_TAG = "job_status"  # a parent run: done | not_run | failed | running | interrupted
REASON_TAG = "not_run_reason"  # a parent run that is not done: why
# a parent run: the seeds of the chosen setting whose runs diverged ("2,5"); they count against the target
DIVERGED_TAG = "diverged_seeds"
# MLflow 3 opens an experiment on the view its kind names: these are training runs, not GenAI traces
KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = {KIND_TAG: "custom_model_development"}


def bench_home() -> Path:
    return Path(os.environ.get("BENCH_HOME", ".bench")).resolve()


def default_tracking_uri() -> str:
    return f"sqlite:///{bench_home() / 'mlflow.db'}"


def default_storage_url() -> str:
    return f"sqlite:///{bench_home() / 'optuna.db'}"


def prepare_home() -> Path:
    home = bench_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=home, prefix=".write-test-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"BENCH_HOME is not writable ({exc.strerror})", file=str(home)) from None
    return home


T = TypeVar("T")


CREATION_RACES = ("already exists", "database is locked", "duplicate column", "UNIQUE constraint failed",
                  "no such table")


def retry_races(call: Callable[[], T], markers: tuple[str, ...], attempts: int,
                pause: Callable[[int], float]) -> T:
    """``call()``, again after ``pause(attempt)`` seconds when it fails with an error naming one of ``markers``
    (processes sharing one database that race to insert the same row or table); any other error, or the last
    attempt's, is raised."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not any(marker in str(exc) for marker in markers):
                raise
            time.sleep(pause(attempt))
    raise AssertionError("unreachable")


def database_url(url: str) -> str:
    """SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; bench ships psycopg2, so say so explicitly."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain):]
    return url


def safe_child(root: Path, name: str, suffix: str = "") -> Path:
    """``root/<name><suffix>`` with ``name`` reduced to a plain file name, never a path out of ``root``.

    Names come from suite fields (suite, method, figure names), which a suite author controls."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)[:120].lstrip(".")
    path = (root / f"{safe or '_'}{suffix}").resolve()
    if path.parent != root.resolve():  # cannot happen with the characters above; checked all the same
        raise UserError(f"'{name}' does not name a file inside {root}", field="name")
    return path


def probe_http(uri: str, timeout: float = 5.0) -> None:
    """Fail fast with one line when a tracking server is down (MLflow itself retries for minutes)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            response.read(64)
    except urllib.error.HTTPError:
        return  # it answered: a server is there, whatever it thinks of /health
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UserError(f"cannot reach the MLflow tracking server: {str(reason)[:200]}", field="--tracking-uri",
                        file=uri) from None


def quiet_mlflow() -> None:
    """MLflow prints hints and emoji links on every run; a benchmark's output should be its results."""
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import logging

    for name in ("mlflow", "alembic", "optuna"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # mlflow configures its own handlers on import; quieten them after that
    import mlflow  # noqa: F401

    for name in ("mlflow", "mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _git(*args: str, where: Path | None = None) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=5,
                              cwd=where or Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str:
    out = _git("rev-parse", "HEAD")
    return (out.stdout.strip() if out is not None else "") or "unknown"


def git_uncommitted(where: Path | None = None) -> str:
    """How many tracked files of the checkout bench runs from (or ``where``) differ from its commit ("0": the
    commit is the whole code; "unknown" outside a checkout): a run trained from an edited tree is not its
    commit's run."""
    out = _git("status", "--porcelain", "--untracked-files=no", where=where)
    if out is None or out.returncode != 0:
        return "unknown"
    return str(len([line for line in out.stdout.splitlines() if line.strip()]))


@dataclass
class RunRecord:
    """A finished or unfinished MLflow run as bench reads it back."""

    run_id: str
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    measurements: dict[str, float]
    artifacts_uri: str = ""
    end_time: int | None = None  # milliseconds since the epoch, as MLflow records it; None while running

    @property
    def seed(self) -> int:
        return int(self.tags.get("seed", -1))


@contextlib.contextmanager
def _creation_lock(url: str):
    """One process at a time creates (or migrates) a sqlite store: two racing alembic's batch migrations collide
    on its temporary table (`table _alembic_tmp_tags already exists`) and leave it behind, which no retry
    mends. Other stores serialise their own schema changes."""
    if not url.startswith("sqlite:///"):
        yield
        return
    try:  # a store that cannot hold a lock file beside it (read-only) is read, never created, here
        handle = Path(url[len("sqlite:///"):] + ".lock").open("a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Tracker:
    uri: str
    artifact_root: Path | None = None
    _client: Any = field(default=None, repr=False)
    _experiments: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def client(self):
        if self._client is None:
            quiet_mlflow()
            from mlflow.tracking import MlflowClient

            if self.uri.startswith(("http://", "https://")):
                probe_http(self.uri)
            def connect():
                with _creation_lock(database_url(self.uri)):
                    client = MlflowClient(tracking_uri=database_url(self.uri))
                    client.search_experiments(max_results=1)
                return client

            try:
                # a new sqlite store is created (tables, migrations) by whichever process opens it first: a
                # `bench compare` or a second worker opening it meanwhile races that creation
                self._client = retry_races(connect, CREATION_RACES, attempts=6, pause=lambda n: 0.5 * (n + 1))
            except Exception as exc:  # any failure to reach the store is the user's setting
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                raise UserError(f"cannot reach the MLflow tracking store: {first[:200]}",
                                field="--tracking-uri", file=self.uri) from None
        return self._client

    def experiment_id(self, suite: str, create: bool = True) -> str | None:
        if suite in self._experiments:
            return self._experiments[suite]
        name = f"bench/{suite}"
        found = self.client.get_experiment_by_name(name)
        if found is None:
            if not create:
                return None
            location = safe_child(self.artifact_root, suite).as_uri() if self.artifact_root else None
            try:
                exp_id = self.client.create_experiment(name, artifact_location=location,
                                                       tags={"suite": suite, **EXPERIMENT_KIND})
            except Exception:
                # another worker created it between our look and our create
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
                exp_id = found.experiment_id
        else:
            exp_id = found.experiment_id
            if found.tags.get(KIND_TAG) != EXPERIMENT_KIND[KIND_TAG]:  # made before bench set the kind
                self.client.set_experiment_tag(exp_id, KIND_TAG, EXPERIMENT_KIND[KIND_TAG])
        self._experiments[suite] = exp_id
        return exp_id

    # ------------------------------------------------------------------ reading
    def stamp(self) -> list | None:
        """What changes whenever a sqlite store is written (size and modification time of the database and its
        journal); None for a store without such a marker (a server)."""
        if not self.uri.startswith("sqlite:///"):
            return None
        db = Path(self.uri[len("sqlite:///"):])
        marks = []
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")):
            try:
                st = path.stat()
                marks.append([path.name, st.st_size, st.st_mtime_ns])
            except OSError:
                continue
        return marks or None

    def never_written(self) -> bool:
        """A sqlite store whose file does not exist yet holds no runs: reading it back needs no MLflow client,
        whose creation (imports, schema migrations of a new file) costs seconds of a fresh store's `bench plan`."""
        prefix = "sqlite:///"
        return self._client is None and self.uri.startswith(prefix) and not Path(self.uri[len(prefix):]).exists()

    def runs(self, suite: str, filter_string: str = "") -> list[RunRecord]:
        if self.never_written():
            return []
        exp_id = self.experiment_id(suite, create=False)
        if exp_id is None:
            return []
        out: list[RunRecord] = []
        token = None
        while True:
            page = self.client.search_runs([exp_id], filter_string=filter_string, max_results=1000,
                                           page_token=token)
            for run in page:
                measurements = {k: v for k, v in run.data.metrics.items()
                                if not k.startswith((LOSS_PREFIX, CURVE_PREFIX))}
                out.append(RunRecord(run.info.run_id, run.info.status, dict(run.data.tags),
                                     dict(run.data.params), measurements, run.info.artifact_uri, run.info.end_time))
            token = page.token
            if not token:
                return out

    # ------------------------------------------------------------------ writing
    def start(self, suite: str, tags: dict[str, str], params: dict[str, Any] | None = None,
              parent_id: str | None = None, name: str | None = None) -> str:
        from mlflow.entities import Param

        all_tags = dict(tags)
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id(suite), tags=all_tags, run_name=name)
        if params:
            batch = [Param(k, _param_text(v)) for k, v in sorted(params.items())]
            for i in range(0, len(batch), 100):
                self.client.log_batch(run.info.run_id, params=batch[i:i + 100])
        return run.info.run_id

    def log_metrics(self, run_id: str, rows: list[tuple[str, float, int]]) -> None:
        """Log many (key, value, step) rows in batches: one call per 1000 values, not per scalar."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(s)) for k, v, s in rows]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_dataset(self, run_id: str, name: str, digest: str, source: str, profile: dict[str, Any]) -> None:
        """The run's training data as an MLflow dataset input (shown beside the run in the UI)."""
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=name, digest=digest, source_type="bench", source=source,
                          profile=json.dumps(profile, sort_keys=True, default=str))
        inputs = [DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])]
        # MLflow looks the dataset up and inserts it when missing, not atomically: two workers logging the same
        # dataset at once collide on its key, and the loser finds it there when it tries again
        retry_races(lambda: self.client.log_inputs(run_id, inputs),
                    ("UniqueViolation", "UNIQUE constraint failed", "duplicate key"), attempts=3,
                    pause=lambda attempt: 0.2 * (attempt + 1))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        """A job's parent run, ended by an earlier attempt, is RUNNING again while the job goes on."""
        self.client.update_run(run_id, status="RUNNING")

    def download_artifacts(self, run_id: str, path: str, dst: Path) -> Path | None:
        try:
            return Path(self.client.download_artifacts(run_id, path, str(dst)))
        except Exception:  # a run without figures is normal
            return None


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


# the tags of a run that say with what and where it was trained (runtime_tags, numerics.provenance)
PROVENANCE_TAGS = ("git_commit", "git_uncommitted", "bench_version", "torch_version", "python_version", "device", "gpu",
                   "cuda_version", "cpu_model", "cpu_capability", "platform")


def provenance_of(runs: list[RunRecord]) -> dict[str, Any]:
    """What a set of runs was trained with: for each provenance tag, how many runs carry each value ("not
    recorded" for runs older than the tag), most first; and when the last of them finished."""
    out: dict[str, Any] = {key: dict(Counter(r.tags.get(key, "not recorded") for r in runs).most_common())
                           for key in PROVENANCE_TAGS}
    ends = [r.end_time for r in runs if r.end_time]
    if ends:
        out["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(max(ends) / 1000))
    return out


@functools.cache
def _own_checkout() -> tuple[str, str]:
    """(commit, uncommitted files) of the checkout this process's code came from, read once: every run a process
    trains runs the code it loaded, and two git calls per run are time on the path of every run."""
    return git_commit(), git_uncommitted()


def runtime_tags() -> dict[str, str]:
    import torch

    import benchmark

    commit, uncommitted = _own_checkout()
    return {"git_commit": commit, "git_uncommitted": uncommitted, "bench_version": benchmark.__version__,
            "torch_version": torch.__version__, "python_version": sys.version.split()[0]}
