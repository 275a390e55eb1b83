"""The CUDA path, proven without a GPU: the device, the precision and the determinism are part of a run's
identity and recorded with it; full FP32 and deterministic algorithms are set explicitly; and a device error
(CUDA, out of memory) ends its job as failed and is retried, never taken for a divergence."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import torch
from conftest import TESTS

from benchmark import planner, results
from benchmark.cli import build_parser, main
from benchmark.devices import is_gpu
from benchmark.numerics import Numerics, apply, platform_of
from benchmark.planner import plan
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri
from benchmark.worker import Worker, _JobState

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()


def test_device_precision_and_determinism_are_part_of_identity():
    suite = load_suite(TESTS / "suites" / "engine.yaml")
    keys = {}
    for device in ("cpu", "cuda"):
        for numerics in (Numerics("fp32", True), Numerics("tf32", True), Numerics("fp32", False)):
            job = plan(suite, "smoke", device=device, numerics=numerics)[0]
            keys[(device, numerics)] = (job.fingerprint, job.run_key({"lr": 0.02}, 0))
    assert len({k[0] for k in keys.values()}) == len(keys) == 6
    assert len({k[1] for k in keys.values()}) == 6


def test_a_gpu_platform_names_the_gpu_its_arithmetic_and_the_host(monkeypatch, bench_home):
    import benchmark.numerics as numerics

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: ["NVIDIA H100 80GB HBM3", "NVIDIA A100"][index])
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: [(9, 0), (8, 0)][index])
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91300)
    host = torch.backends.cpu.get_cpu_capability()
    found = numerics._arithmetic_of.__wrapped__  # past the per-process cache, which holds this machine's answer
    assert found("cuda") == found("cuda:0") == f"NVIDIA H100 80GB HBM3 sm90 CUDA 13.0 cuDNN 91300 / {host}"
    assert found("cuda:1") == f"NVIDIA A100 sm80 CUDA 13.0 cuDNN 91300 / {host}"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert found("cuda") == ""  # nothing trains there; a plan for it only estimates, under the unrecorded platform


def test_a_process_handed_another_gpu_model_trains_its_own_copy(monkeypatch):
    from benchmark import runner

    gpus = {"cuda": "H100 sm90", "cuda:0": "H100 sm90", "cuda:1": "A100 sm80"}
    monkeypatch.setattr(runner, "platform_of", gpus.get)
    suite = load_suite(TESTS / "suites" / "engine.yaml")
    planned = plan(suite, "smoke", device="cuda", platform="H100 sm90")
    elsewhere = plan(suite, "smoke", device="cuda", platform="V100 sm70")  # a sweep of another machine's runs
    assert [j.platform for j in runner.on_device(planned, "cuda:0")] == ["H100 sm90"] * len(planned)
    moved = runner.on_device(planned + elsewhere, "cuda:1")
    assert [j.platform for j in moved] == ["A100 sm80"] * len(planned) + ["V100 sm70"] * len(elsewhere)
    assert moved[0].fingerprint != planned[0].fingerprint and moved[0].key == planned[0].key


def test_cpu_runs_are_never_read_back_for_a_cuda_request(bench_home, capsys):
    Path("engine.yaml").write_text(ENGINE)
    assert main(["run", "engine.yaml", "--profile", "smoke", "--device", "cpu", "--no-progress",
                 "--no-leaderboard"]) == 0
    suite = load_suite("engine.yaml")
    tracker = Tracker(default_tracking_uri())
    on_cpu = results.collect(suite, tracker)
    assert all(v.device == f"cpu@{platform_of('cpu')}" and v.outcome != "not run" for v in on_cpu.verdicts)
    on_cuda = results.collect(suite, tracker, device="cuda")
    assert all(v.outcome == "not run" for v in on_cuda.verdicts)
    tf32 = results.collect(suite, tracker, numerics=Numerics("tf32", True))
    assert all(v.outcome == "not run" for v in tf32.verdicts)
    tags = next(r.tags for r in tracker.runs("engine_test") if r.tags["bench.kind"] == "run")
    assert tags["precision.matmul"] == "ieee" and tags["precision.conv"] == "ieee"
    assert tags["deterministic"] == "true" and tags["cudnn.deterministic"] == "true"
    assert tags["cudnn.benchmark"] == "false" and tags["cublas_workspace"] == ":4096:8"


def test_fp32_and_determinism_are_set_explicitly():
    before = (torch.backends.cudnn.conv.fp32_precision, torch.are_deterministic_algorithms_enabled())
    try:
        apply(Numerics("fp32", True))
        # torch 2.14's own default for cuDNN convolutions is TF32
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        apply(Numerics("tf32", False))
        assert torch.backends.cudnn.conv.fp32_precision == "tf32" and not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.conv.fp32_precision = before[0]
        apply(Numerics("fp32", True))


def _fails_and_is_retried(bench_home, capsys, kind: str, words: str) -> None:
    broken = ENGINE.replace("hparams: {lr: 0.05}", f"hparams: {{lr: 0.05, raise_at: 3, raise_kind: {kind}}}")
    Path("engine.yaml").write_text(broken)
    for attempt in (1, 2):
        capsys.readouterr()
        assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
        err = capsys.readouterr().err
        assert f"failed: {words}" in err and "diverged" not in err, err
        runs = [r for r in Tracker(default_tracking_uri()).runs("engine_test") if r.tags["bench.kind"] == "run"]
        assert len(runs) == 2 * attempt  # each attempt tries again: one run per job, which fails
        assert all(r.status == "FAILED" and r.tags["error"].startswith(words.split(":")[0]) for r in runs)
    capsys.readouterr()
    assert main(["compare", "engine.yaml", "--format", "json"]) == 0
    verdicts = json.loads(capsys.readouterr().out)["suites"][0]["targets"]
    assert all(v["outcome"] == "failed" and v["reason"].startswith(words) for v in verdicts)


def test_a_cuda_error_is_a_failure_and_is_retried(bench_home, capsys):
    _fails_and_is_retried(bench_home, capsys, "cuda", "RuntimeError: CUDA error: an illegal memory access")


def test_running_out_of_memory_is_a_failure_and_is_retried(bench_home, capsys):
    _fails_and_is_retried(bench_home, capsys, "oom", "OutOfMemoryError: CUDA out of memory")


def test_every_cuda_device_is_a_gpu():
    assert all(is_gpu(d) for d in ("cuda", "cuda:0", "cuda:1", "cuda:12"))
    assert not any(is_gpu(d) for d in ("cpu", "auto", "", None, "cudax", "cuda:", "cuda:x", "mps"))


def test_a_worker_given_its_own_gpu_runs_the_jobs_that_need_one():
    # with --workers 2 on two GPUs each worker process is handed cuda:0 or cuda:1
    job = dataclasses.replace(plan(load_suite(TESTS / "suites" / "engine.yaml"), "smoke", device="cuda")[0],
                              requires_gpu=True)

    def reason(device: str) -> str | None:
        worker = SimpleNamespace(settings=SimpleNamespace(device=device), _data_dir=lambda: None)
        return Worker._not_run_reason(worker, _JobState(job=job, started=0.0, outcome=None))

    assert [reason(d) for d in ("cuda", "cuda:0", "cuda:1")] == [None, None, None]
    assert reason("cpu") == "needs GPU"


def test_plan_and_run_plan_on_the_same_device(bench_home, capsys, monkeypatch):
    parser = build_parser()
    defaults = {cmd: parser.parse_args([cmd, "engine.yaml"]).device for cmd in ("plan", "run", "worker")}
    assert set(defaults.values()) == {"auto"}, defaults
    # on a machine where torch sees a GPU, `plan` estimates the runs `run` would train there
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    planned: list[str] = []
    real_plan = planner.plan
    monkeypatch.setattr(planner, "plan", lambda *a, **kw: planned.append(kw["device"]) or real_plan(*a, **kw))
    Path("engine.yaml").write_text(ENGINE)
    assert main(["plan", "engine.yaml", "--profile", "smoke", "--no-calibrate", "--format", "json"]) == 0
    assert planned == ["cuda"]
