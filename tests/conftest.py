"""Shared fixtures. Engine tests use the small real learner in engine_plugins.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Idle OpenMP threads sleep instead of spinning (the number of threads, and so every number, stays as it was):
# with pytest-xdist's workers, and the `bench` commands that tests start, sharing the cores, a spinning thread
# burns the CPU its neighbours wait for (a WGAN-GP smoke job: 1.2 CPU-s passive, 21.7 active). Read once, when
# torch loads its OpenMP runtime, so before torch is imported; the commands the tests start inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).parent))
import engine_plugins  # noqa: E402,F401  (registers the test learner)

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


TESTS = Path(__file__).parent
REPO = TESTS.parent

def program_2d(method: str, steps: int, trained: int = 0, dataset: str = "cegan_gmm4", **hparams):
    """A 2-D model of Calibrating EBGAN (``method`` on ``dataset``, seed 0, CPU) set up through its method's program
    for a run of ``steps`` steps, with the suite's hparams and these, after its first ``trained`` steps."""
    import torch

    from benchmark import planner
    from benchmark.api import DATASETS, METHODS, RunContext

    ctx = RunContext(dataset=DATASETS[dataset](), hparams=planner.run_hparams(method, dataset, **hparams), seed=0,
                     device=torch.device("cpu"), budget={"steps": steps})
    program = METHODS[method]().setup(ctx)
    for step in range(1, trained + 1):
        program.step(step, False)
    return program


# Test files whose cases are independent of each other (one per shipped job, no module fixture): pytest-xdist
# hands their cases to either worker one by one. Every other file stays on one worker, whose module fixtures it
# then builds once (pyproject.toml: --dist loadgroup).
SPREAD = {"test_contracts.py", "test_device_checker.py"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name not in SPREAD:
            item.add_marker(pytest.mark.xdist_group(item.path.name))


@pytest.fixture()
def bench_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / ".bench"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def stand_in_files(tmp_path_factory) -> Path:
    """Stand-ins for the real datasets and weights this machine lacks (benchmark/data/_fakes.py), in their real
    formats, written once for the whole test run."""
    from benchmark.data._fakes import write_stand_ins

    return write_stand_ins(tmp_path_factory.mktemp("stand_ins"))


@pytest.fixture(scope="module")
def stand_ins(stand_in_files):
    """The stand-ins' folder, with torchvision's MD5 checks off for the module that reads them (and back on
    after it, so that other modules still see a corrupt real file as missing)."""
    from benchmark.data._fakes import accepting_stand_ins

    with accepting_stand_ins():
        yield stand_in_files
