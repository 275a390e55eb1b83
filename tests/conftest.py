"""Shared fixtures. Engine tests use the small real learner in engine_plugins.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import engine_plugins  # noqa: E402,F401  (registers the test learner)

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

TESTS = Path(__file__).parent
REPO = TESTS.parent


@pytest.fixture()
def bench_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / ".bench"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
