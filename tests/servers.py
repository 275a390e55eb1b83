"""Real servers on loopback for the scale-out tests: a PostgreSQL cluster in a temporary directory, run
by an unprivileged user, and an `mlflow server` that keeps its runs in it. Nothing listens beyond 127.0.0.1."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """Debian keeps the server programs off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _as_user(user: pwd.struct_passwd | None):
    """preexec_fn that drops root: PostgreSQL refuses to run as root."""
    if user is None:
        return None

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


@contextlib.contextmanager
def postgres(databases: tuple[str, ...]) -> Iterator[str]:
    """A throwaway PostgreSQL server; yields ``postgresql://bench@127.0.0.1:PORT`` (append ``/DB``)."""
    bindir = postgres_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server programs not found (apt-get install postgresql)")
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    env = {**os.environ, "LC_ALL": "C", "HOME": str(base)}
    port = free_port()
    data, log = base / "data", base / "server.log"
    subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "bench", "--auth=trust", "-E", "UTF8",
                    "--no-locale"], check=True, capture_output=True, env=env, cwd=base, preexec_fn=_as_user(user),
                   timeout=120)
    # durability is not what these tests are about: fsync off keeps a 2-core CI machine fast
    options = (f"-h {LOOPBACK} -p {port} -k {base} -c fsync=off -c synchronous_commit=off "
               f"-c full_page_writes=off -c max_connections=200")
    subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "120",
                    "start"], check=True, capture_output=True, env=env, cwd=base, preexec_fn=_as_user(user),
                   timeout=150)
    url = f"postgresql://bench@{LOOPBACK}:{port}"
    try:
        for name in databases:
            subprocess.run(["psql", "-h", LOOPBACK, "-p", str(port), "-U", "bench", "-d", "postgres", "-q", "-c",
                            f"CREATE DATABASE {name}"], check=True, capture_output=True, env=env, timeout=60)
        yield url
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       env=env, cwd=base, preexec_fn=_as_user(user), timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, timeout: float = 180) -> Iterator[str]:
    """`mlflow server` on a free loopback port, proxying artifacts to a shared directory."""
    port = free_port()
    artifacts.mkdir(parents=True, exist_ok=True)
    log = open(artifacts.parent / f"mlflow-server-{port}.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
                             "--artifacts-destination", artifacts.as_uri(), "--host", LOOPBACK, "--port", str(port),
                             "--workers", "2"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {Path(log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow server not up after {timeout} s: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        log.close()
