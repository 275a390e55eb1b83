"""The CUDA path checked without a GPU (tests/devicecheck.py): every shipped method trains, and every metric
measures, on a device object distinct from the host's, and nothing mixes device and host tensors or reads a
device tensor as numpy; a planted mismatch is caught. A lint finds random draws on a device from a host
generator (`generator=` next to `device=`), which raise on CUDA only.

The jobs that cover every method and every metric with each network kind they use (the other shipped jobs run
the same code on other data), each for at most 8 steps: placement is the same at every step, and the check
costs a Python call per tensor operation."""

from __future__ import annotations

import ast

import pytest
import torch
from conftest import REPO
from devicecheck import RUN_DEVICE, DeviceChecker

from benchmark import api, planner, settings
from benchmark.errors import DatasetMissing
from benchmark.execute import measure
from benchmark.features.classifiers import classify, dataset_classifier
from benchmark.numerics import Numerics, apply
from benchmark.suite import load_suite

api.load_plugins()
apply(Numerics())
STEPS = 8


def _jobs() -> list[tuple[str, planner.Job]]:
    """The shipped jobs that cover every method (with each network kind it trains) and every metric (on each
    network kind it measures), first come first taken."""
    seen: set[tuple] = set()
    out = []
    for path in sorted((REPO / "suites").glob("*.yaml")):
        for job in planner.plan(load_suite(path), "smoke"):
            net = str(job.hparams.get("net"))
            covers = {("method", job.method_name, net)} | {("metric", m, net) for m in job.metrics}
            if covers <= seen:
                continue
            try:
                api.DATASETS[job.loader](data_dir=None, **job.dataset_params)
            except DatasetMissing:  # a real dataset not on this machine
                continue
            seen |= covers
            out.append((f"{job.suite}/{job.experiment}/{job.method}/{job.dataset}", job))
    return out


JOBS = _jobs()


def _check(method: str, dataset: api.Dataset, hparams: dict, budget: dict, metrics: list[str]) -> DeviceChecker:
    ctx = api.RunContext.of(settings.of_values(method, hparams, budget, 0, "smoke", metrics), dataset, RUN_DEVICE)
    with DeviceChecker() as check:
        result = api.METHODS[method]().train(ctx)
        for name in metrics:
            if api.METRICS[name].requires is None:
                measure(api.METRICS[name], result, ctx)
    return check


def test_every_shipped_method_is_checked():
    checked = {job.method_name for _, job in JOBS}
    shipped = {job.method_name for path in (REPO / "suites").glob("*.yaml")
               for job in planner.plan(load_suite(path), "smoke")}
    offline = {"dcgan_image", "alpha_gan_image"}  # only on real image datasets (CelebA, CIFAR-10)
    assert shipped - checked <= offline, shipped - checked
    assert len(JOBS) >= 12


@pytest.mark.parametrize("name,job", JOBS, ids=[n for n, _ in JOBS])
def test_shipped_jobs_keep_to_their_device(name: str, job: planner.Job):
    dataset = api.DATASETS[job.loader](data_dir=None, **job.dataset_params)
    budget = {**job.budget, "steps": min(int(job.budget.get("steps", STEPS)), STEPS)}
    check = _check(job.method_name, dataset, {**job.hparams, **job.grid_points()[0]}, budget, job.metrics)
    assert not check.flags, f"{name}:\n{check.report()}"


def test_a_planted_mismatch_is_caught():
    dataset = api.DATASETS["test_gaussian_1d"]()
    check = _check("test_host_noise", dataset, {}, {"steps": 3}, [])
    where = {(f.kind, f.where.split(":")[0]) for f in check.flags}
    assert where == {("mixed devices", "tests/engine_plugins.py"), ("numpy of a device tensor",
                                                                    "tests/engine_plugins.py")}
    assert all(n == 3 for n in check.flags.values())  # once per step
    assert sum(check.host_reads.values()) >= 3


def test_a_network_held_for_the_host_is_not_handed_to_a_run_on_the_device():
    """The dataset classifier is kept in memory per process: one held for the host (an earlier run on cpu)
    must not be given to a run on another device, where its weights would meet the run's images."""
    dataset = api.DATASETS["color_digits"]()
    dataset_classifier(dataset, 3, torch.device("cpu"))
    with DeviceChecker() as check:
        net = dataset_classifier(dataset, 3, RUN_DEVICE)
        images = torch.zeros(4, 3, 28, 28).to(RUN_DEVICE)
        classify(net, dataset.classifier_kind, images, RUN_DEVICE)
    assert not check.flags, check.report()


# ------------------------------------------------------------------------------------------------ the lint


def host_generator_draws(source: str) -> list[int]:
    """Lines of calls that draw on a device (``device=`` other than "cpu") from a generator made without a
    device: ``ctx.rng(name)`` or ``torch.Generator()``, directly or through a name assigned in the function."""

    def makes_host_generator(node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        return name in ("rng", "Generator") and not any(k.arg == "device" for k in node.keywords) \
            and not (name == "Generator" and node.args)

    found = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        host = {t.id for n in ast.walk(func) if isinstance(n, ast.Assign) and makes_host_generator(n.value)
                for t in n.targets if isinstance(t, ast.Name)}
        for call in (n for n in ast.walk(func) if isinstance(n, ast.Call)):
            kw = {k.arg: k.value for k in call.keywords}
            if "generator" not in kw or "device" not in kw:
                continue
            device = kw["device"]
            if isinstance(device, ast.Constant) and device.value in ("cpu", None):
                continue
            gen = kw["generator"]
            if makes_host_generator(gen) or (isinstance(gen, ast.Name) and gen.id in host):
                found.append(call.lineno)
    return sorted(set(found))


def test_the_lint_finds_a_host_generator_drawing_on_the_device():
    planted = ("def f(ctx):\n"
               "    g = ctx.rng('noise')\n"
               "    a = torch.randn(3, generator=g, device=ctx.device)\n"
               "    b = torch.randn(3, generator=ctx.rng('x'), device=ctx.device)\n"
               "    c = torch.randn(3, generator=ctx.rng('x', device=ctx.device), device=ctx.device)\n"
               "    d = torch.randn(3, generator=g, device='cpu')\n")
    assert host_generator_draws(planted) == [3, 4]


def test_no_shipped_code_draws_on_the_device_from_a_host_generator():
    offenders = {str(path.relative_to(REPO)): lines for path in sorted(REPO.glob("*/**/*.py"))
                 if path.parts[len(REPO.parts)] in ("baselines", "benchmark")
                 and (lines := host_generator_draws(path.read_text()))}
    assert not offenders, offenders
