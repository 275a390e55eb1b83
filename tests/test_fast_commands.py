"""`bench validate`, `bench targets` and `bench compare` read the plug-ins' declarations, not the plug-ins: once
the declaration catalog is cached they import neither torch nor (for a compare answered from its cache) MLflow
or scipy. Timings are measured by benchmarks/command_timings.py, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from benchmark.numerics import cpu_model

PROBE = """
import sys
from benchmark.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "mlflow", "scipy", "matplotlib", "torchvision") if m in sys.modules)
print("IMPORTED", ",".join(heavy))
sys.exit(code)
"""


def bench(home: Path, *args: str) -> tuple[int, list[str], str]:
    env = {**os.environ, "BENCH_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    line = next(line for line in proc.stdout.splitlines() if line.startswith("IMPORTED"))
    return proc.returncode, [m for m in line.split(" ", 1)[1].split(",") if m], proc.stdout


def test_validate_and_targets_import_no_torch_once_the_catalog_is_cached(tmp_path):
    suites = [str(REPO / "suites" / name) for name in ("gan_divergences.yaml", "calibrating_ebgan.yaml")]
    code, imported, _ = bench(tmp_path, "validate", *suites)  # writes the catalog (imports the plug-ins once)
    assert code == 0 and "torch" in imported
    assert list((tmp_path / "catalog").glob("*.json"))
    code, imported, _ = bench(tmp_path, "validate", *suites)
    assert code == 0 and imported == [], imported
    code, imported, out = bench(tmp_path, "targets", suites[0], "--format", "json")
    assert code == 0 and imported == [], imported
    assert json.loads(out[: out.rindex("IMPORTED")])[0]["role"] in ("reproduction", "sanity", "calibration")


def test_a_repeated_compare_needs_neither_mlflow_nor_scipy(tmp_path):
    suite = str(REPO / "suites" / "gan_divergences.yaml")
    bench(tmp_path, "validate", suite)
    # an empty store: every target is not run, which is an answer like any other, and a store never written
    # needs no MLflow client to say so
    code, imported, first = bench(tmp_path, "compare", suite, "--format", "json")
    assert code == 0 and "mlflow" not in imported and "torch" not in imported, imported
    code, imported, again = bench(tmp_path, "compare", suite, "--format", "json")
    assert code == 0 and imported == [], imported
    assert again[: again.rindex("IMPORTED")] == first[: first.rindex("IMPORTED")]


def test_compare_knows_this_hosts_platform_without_torch(tmp_path):
    """Read-back prefers this host's platform; a compare answered without torch reads it where a command that
    imported torch left it in BENCH_HOME, and is None (no preference) where none has run here."""
    probe = ("import sys\nfrom benchmark import numerics\nprint(repr(numerics.host_platform('cpu')), "
             "'torch' in sys.modules)\n")
    env = {**os.environ, "BENCH_HOME": str(tmp_path)}

    def host_platform() -> str:
        return subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=120, check=True).stdout.strip()

    assert host_platform() == "None False"
    found = subprocess.run([sys.executable, "-c", "from benchmark import numerics; print(numerics.platform_of('cpu'))"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    model = cpu_model()
    assert found.startswith(f"{model} ") and len(found) > len(model) + 1  # then torch's vector capability
    assert host_platform() == f"{found!r} False"
