"""A verdict is evidence of the suite as it is now: an edit retrains exactly what it changed, read-back takes only
the runs of the current plan, failures are classified, and nothing is left RUNNING."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, TESTS

from benchmark import numerics, planner
from benchmark.cli import main
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()


def run(capsys, text: str, *extra: str) -> tuple[int, int]:
    """`bench run` of the engine suite as ``text`` at smoke: (runs trained, runs reused)."""
    Path("engine.yaml").write_text(text)
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard", *extra]) == 0
    err = capsys.readouterr().err
    trained, reused = re.search(r"trained (\d+) runs, reused (\d+)", err).groups()
    return int(trained), int(reused)


def compare(capsys, text: str | None = None) -> dict[str, dict]:
    if text is not None:
        Path("engine.yaml").write_text(text)
    capsys.readouterr()
    assert main(["compare", "engine.yaml", "--format", "json"]) == 0
    return {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}


def runs() -> list:
    return Tracker(default_tracking_uri()).runs("engine_test")


def finished_children() -> dict[str, object]:
    return {r.run_id: r for r in runs() if r.tags.get("bench.kind") == "run" and r.status == "FINISHED"}


def test_a_budget_edit_retrains_and_reports_the_new_value(bench_home, capsys):
    # 2 jobs x (2 grid points + 1 more seed); seed 0 of the chosen setting is its search run, read back
    assert run(capsys, ENGINE) == (6, 2)
    before = compare(capsys)
    shorter = ENGINE.replace("smoke: {steps: 300}", "smoke: {steps: 30}")
    # edited and not yet run: the store holds the jobs' earlier version only, and says so
    stale = compare(capsys, shorter)["mle/narrow/SGD/fit.mean"]
    assert stale["verdict"] == ("not run: no runs of the current version of the suite (its runs are superseded; "
                                "run `bench run` again)")
    assert run(capsys, shorter) == (6, 2)  # every run's budget changed
    after = compare(capsys, shorter)
    old_ids = set(before["mle/narrow/SGD/fit.mean"]["run_ids"])
    new_ids = set(after["mle/narrow/SGD/fit.mean"]["run_ids"])
    assert old_ids and new_ids and not old_ids & new_ids
    assert after["mle/narrow/SGD/fit.mean"]["reproduced"] != before["mle/narrow/SGD/fit.mean"]["reproduced"]
    # the old runs stay in MLflow, tagged as superseded, and are not read back
    children = finished_children()
    assert all(children[i].tags.get("superseded") == "1" for i in old_ids)
    assert all(children[i].tags.get("superseded") == "0" for i in new_ids)
    # going back to the first version needs no training: its runs are current again
    assert run(capsys, ENGINE) == (0, 0)
    assert set(compare(capsys, ENGINE)["mle/narrow/SGD/fit.mean"]["run_ids"]) == old_ids


def test_an_hparam_edit_retrains_every_job(bench_home, capsys):
    run(capsys, ENGINE)
    assert run(capsys, ENGINE.replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, batch_size: 32}")) == (6, 2)


def test_a_dataset_edit_retrains_only_that_dataset(bench_home, capsys):
    run(capsys, ENGINE)
    before = compare(capsys)
    edited = ENGINE.replace("params: {mean: -1.0, std: 2.0}", "params: {mean: -1.0, std: 3.0}")
    assert run(capsys, edited) == (3, 1)  # the wide job: 2 grid points + 1 seed; narrow is complete as it was
    after = compare(capsys, edited)
    assert after["table1/wide/SGD/fit.std"]["reproduced"] > before["table1/wide/SGD/fit.std"]["reproduced"] + 0.5
    assert after["table1/narrow/SGD/fit.std"]["run_ids"] == before["table1/narrow/SGD/fit.std"]["run_ids"]


def test_a_metric_edit_retrains_and_measures_the_new_metric(bench_home, capsys):
    run(capsys, ENGINE)
    edited = ENGINE.replace("metrics: [test_fit_error]", "metrics: [test_fit_error, test_fit_var]")
    assert run(capsys, edited) == (6, 2)
    kids = finished_children().values()
    assert any("fit.var" in r.measurements for r in kids)


def test_a_grown_grid_trains_the_new_point_and_the_seeds_follow_the_chosen_setting(bench_home, capsys):
    run(capsys, ENGINE)
    grown = ENGINE.replace("lr: {grid: [0.02, 0.05]}", "lr: {grid: [0.02, 0.05, 0.2]}")
    trained, reused = run(capsys, grown)
    assert trained >= 2  # the new point on both datasets (and the seeds of a setting that now wins)
    for dataset in ("narrow", "wide"):
        search = {r.params["lr"]: r.measurements["fit.final_nll"] for r in finished_children().values()
                  if r.tags["dataset"] == dataset and r.tags["phase"] == "search" and r.tags.get("superseded") == "0"}
        assert set(search) == {"0.02", "0.05", "0.2"}
        best = min(search, key=search.get)
        finals = [r for r in finished_children().values() if r.tags["dataset"] == dataset and any(
            k.startswith("job.") and "final" in v for k, v in r.tags.items()) and r.tags.get("superseded") == "0"]
        assert finals and {r.params["lr"] for r in finals} == {best}


def test_a_shrunk_seed_list_reads_only_the_seeds_it_keeps(bench_home, capsys):
    run(capsys, ENGINE)
    assert compare(capsys)["mle/narrow/SGD/fit.mean"]["n"] == 2
    fewer = ENGINE.replace("seeds: {smoke: 2, cpu: 3, paper: 3}", "seeds: {smoke: 1, cpu: 3, paper: 3}")
    assert run(capsys, fewer) == (0, 6)  # the grid points' runs and seed 0 are read back; nothing to train
    verdict = compare(capsys, fewer)["mle/narrow/SGD/fit.mean"]
    assert verdict["n"] == 1 and len(verdict["run_ids"]) == 1
    dropped = [r for r in finished_children().values() if r.tags["seed"] == "1"]
    assert dropped and all(r.tags.get("superseded") == "1" for r in dropped)


def test_one_profile_per_target_the_largest_complete_one(bench_home, capsys):
    run(capsys, ENGINE)
    run(capsys, ENGINE, "--profile", "cpu", "--only", "table1/narrow/*")
    verdicts = compare(capsys)
    assert verdicts["table1/narrow/SGD/fit.std"]["profile"] == "cpu"
    assert verdicts["table1/wide/SGD/fit.std"]["profile"] == "smoke"
    # a claim over both datasets is judged on one profile: smoke, the largest both have complete
    assert verdicts["mle/wider-has-larger-std"]["profile"] == "smoke"
    capsys.readouterr()
    assert main(["compare", "engine.yaml", "--format", "json", "--profile", "cpu"]) == 0
    only_cpu = {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}
    assert only_cpu["table1/wide/SGD/fit.std"]["verdict"].startswith("not run")
    assert only_cpu["table1/narrow/SGD/fit.std"]["profile"] == "cpu"


def test_every_verdict_carries_its_budget(bench_home, capsys):
    run(capsys, ENGINE)
    verdicts = compare(capsys)
    v = verdicts["mle/narrow/SGD/fit.mean"]
    assert v["budget_fraction"] == 300 / 2000 and v["budget"] == "15% of the paper's steps (300 of 2,000)"
    assert v["device"] == f"cpu@{numerics.platform_of('cpu')}" and v["role"] == "reproduction"
    stated = ENGINE.replace("      paper: {steps: 2000}\n", "      paper: {steps: 2000}\n      paper_stated: false\n")
    v = compare(capsys, stated)["mle/narrow/SGD/fit.mean"]
    # paper_stated is not part of any run's identity: the same runs, judged with another label
    assert v["budget_fraction"] is None and v["budget"].startswith("the paper states no budget")


def test_an_error_ends_its_job_as_failed_others_go_on_and_nothing_stays_running(bench_home, capsys):
    broken = ENGINE.replace("hparams: {lr: 0.05}", "hparams: {lr: 0.05, raise_at: 5}")
    broken = broken.replace("datasets: [narrow, wide]", "datasets: [narrow, wide, gone]").replace(
        "datasets:\n  narrow:", "datasets:\n  gone:\n    loader: test_needs_file\n  narrow:")
    Path("engine.yaml").write_text(broken)
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    err = capsys.readouterr().err
    assert "failed: ValueError: a bug in the method, planted by the test" in err
    assert "diverged" not in err
    everything = runs()
    assert everything and all(r.status != "RUNNING" for r in everything)
    parents = [r for r in everything if r.tags["bench.kind"] == "job"]
    assert sorted(r.tags["job_status"] for r in parents) == ["failed", "failed", "not_run"]
    failed_child = next(r for r in everything if r.tags["bench.kind"] == "run")
    assert failed_child.status == "FAILED" and failed_child.tags["error"].startswith("ValueError")
    client = Tracker(default_tracking_uri()).client
    artifact = Path(client.download_artifacts(failed_child.run_id, "error/traceback.txt", str(bench_home)))
    assert "Traceback" in artifact.read_text() and "planted by the test" in artifact.read_text()
    verdict = compare(capsys)["mle/narrow/SGD/fit.mean"]
    assert verdict["outcome"] == "failed" and verdict["reason"].startswith("ValueError: a bug in the method")
    # an error is not a result: the next run tries again
    Path("engine.yaml").write_text(broken)
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    assert len([r for r in runs() if r.tags["bench.kind"] == "run"]) == 4


def test_a_platform_change_is_a_different_identity():
    suite = load_suite(TESTS / "suites" / "engine.yaml")
    xeon, epyc, unrecorded = (planner.plan(suite, "smoke", platform=p)[0] for p in
                              ("Intel(R) Xeon(R) Processor AVX512", "AMD EPYC 7763 AVX2", ""))
    params = {"lr": 0.05}
    assert xeon.key == epyc.key  # the same job by name, trained twice: once per platform
    assert xeon.run_key(params, 0) != epyc.run_key(params, 0)
    assert xeon.fingerprint != epyc.fingerprint and xeon.study_name != epyc.study_name
    # a job planned without a platform keeps the key its runs had before platforms were part of identity
    assert "platform" not in unrecorded._run_basis()
    assert unrecorded.run_key(params, 0) not in (xeon.run_key(params, 0), epyc.run_key(params, 0))
    # by default a plan is this host's: on the CPU its processor model and the vector instructions torch uses
    here = planner.plan(suite, "smoke")[0]
    assert here.platform == numerics.platform_of("cpu") == f"{numerics.cpu_model()} " \
        f"{__import__('torch').backends.cpu.get_cpu_capability()}, {numerics.training_threads()} thread" \
        f"{'s' * (numerics.training_threads() != 1)}"
    assert here.run_key(params, 0) == planner.plan(suite, "smoke", platform=here.platform)[0].run_key(params, 0)


class Settings:
    numerics = numerics.Numerics()


def test_the_thread_count_a_run_trains_with_is_part_of_its_platform(monkeypatch):
    # `--workers N` shares the cores among N processes; fewer threads split reductions otherwise and change the last
    # bits (measured: the essay suite at smoke gave 27 of 52 values different at 1 and at 2 threads)
    import torch

    from benchmark import runner

    suite = load_suite(TESTS / "suites" / "engine.yaml")
    monkeypatch.setattr(numerics.os, "cpu_count", lambda: 4)
    keys = {}
    for workers, threads in ((1, 4), (2, 2), (4, 1), (8, 1)):
        numerics.use_workers(workers)
        assert numerics.training_threads() == threads
        assert numerics.platform_of("cpu").endswith(f", {threads} thread{'s' * (threads != 1)}")
        keys[workers] = planner.plan(suite, "smoke")[0].run_key({"lr": 0.05}, 0)
    assert keys[4] == keys[8] and len({keys[1], keys[2], keys[4]}) == 3  # the same count, the same runs
    seen = []

    class Worker:  # stands in for the loop over units: what matters is the threads it starts with
        def __init__(self, jobs, settings, progress):
            self.progress = type("Quiet", (), {"close": lambda self: None})()

        def loop(self):
            seen.append(torch.get_num_threads())
            return []

    monkeypatch.setattr(runner, "Worker", Worker)
    numerics.use_workers(2)
    before = torch.get_num_threads()
    try:
        runner.work([], Settings())
        assert seen == [2]  # a worker trains with the count its jobs' platform names
    finally:
        numerics.use_workers(1)
        torch.set_num_threads(before)


def test_runs_of_another_platform_in_the_store_are_read_apart(bench_home, capsys):
    here = numerics.platform_of("cpu")
    assert run(capsys, ENGINE) == (6, 2)
    mine = compare(capsys)["mle/narrow/SGD/fit.mean"]
    assert mine["device"] == f"cpu@{here}"
    # another machine writes into the same store (a shared tracking server): its runs are its own, trained anew
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numerics, "platform_of", lambda device: "Other CPU AVX2")
        patch.setattr(planner, "platform_of", numerics.platform_of)
        assert run(capsys, ENGINE) == (6, 2)
        theirs = compare(capsys)["mle/narrow/SGD/fit.mean"]
    assert theirs["device"] == "cpu@Other CPU AVX2"
    assert theirs["run_ids"] and not set(theirs["run_ids"]) & set(mine["run_ids"])
    children = finished_children()
    assert {children[i].tags["platform"] for i in theirs["run_ids"]} == {"Other CPU AVX2"}
    assert all(children[i].tags.get("superseded") == "0" for i in mine["run_ids"])  # not another version
    # back on this host, its own runs are read first
    again = compare(capsys)["mle/narrow/SGD/fit.mean"]
    assert again["device"] == f"cpu@{here}" and again["run_ids"] == mine["run_ids"]
    assert again["reproduced"] == mine["reproduced"]
    # a host whose platform trained nothing reads the store's other platforms, and says which
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(numerics, "platform_of", lambda device: "Third CPU AVX512")
        elsewhere = compare(capsys)["mle/narrow/SGD/fit.mean"]
    by_platform = {f"cpu@{here}": mine["run_ids"], "cpu@Other CPU AVX2": theirs["run_ids"]}
    assert by_platform[elsewhere["device"]] == elsewhere["run_ids"]
    assert main(["compare", "engine.yaml"]) == 0
    assert f"judged on cpu@{here} (" in capsys.readouterr().out


def test_the_leaderboard_keeps_every_paper_whatever_ran(bench_home, capsys):
    shutil.copytree(REPO / "suites", Path("suites"))
    assert main(["run", "suites/gan_divergences.yaml", "--profile", "smoke", "--no-progress",
                 "--only", "section3.1.2/pair_same/GAN-D/dstar.mae"]) == 0
    shipped = {p.stem for p in (REPO / "suites").glob("*.yaml")}  # whatever suites ship, not a fixed list
    assert "gan_divergences" in shipped and len(shipped) >= 2
    mine = Path(".bench/leaderboard")  # the user's own, beside the store: never the repository's reference
    readme = (mine / "README.md").read_text()
    for name in shipped:
        assert name in readme
    data = json.loads((mine / "results.json").read_text())
    assert {s["suite"] for s in data["suites"]} == shipped
    others = [t for s in data["suites"] if s["suite"] != "gan_divergences" for t in s["targets"]]
    assert others and all(t["verdict"].startswith("not run") for t in others)


def test_a_run_is_told_when_other_work_holds_the_cores_its_threads_need(monkeypatch, tmp_path):
    """Threads that share cores with other work wait on each other (benchmarks/contended_threads.py: a 2-thread
    step 5× slower beside a running `bench run`, a 1-thread step not): the note comes where that happens only."""
    monkeypatch.setattr(numerics.os, "cpu_count", lambda: 2)
    try:
        numerics.use_workers(1)  # 2 threads
        assert numerics.busy_note(1, 0.1) is None  # an idle machine
        assert numerics.busy_note(1, None) is None  # no /proc/stat: nothing to say
        note = numerics.busy_note(1, 1.9)
        assert note.startswith("note: other work keeps 1.9 of this machine's 2 cores busy, and each worker trains "
                               "with 2 threads")
        numerics.use_workers(2)  # 1 thread each: a thread waits on no one
        assert numerics.busy_note(2, 1.9) is None
        numerics.use_workers(1, threads=1)
        assert numerics.busy_note(1, 1.9) is None
    finally:
        numerics.use_workers(1)
    # the sample: the non-idle share of the cores' time between two readings of /proc/stat
    stat = tmp_path / "stat"
    readings = iter(["cpu  100 0 100 800 0 0 0 0 0 0\n", "cpu  150 0 150 900 0 0 0 0 0 0\n"])
    real_path = numerics.Path

    def fake_path(p):
        if str(p) == "/proc/stat":
            stat.write_text(next(readings))
            return stat
        return real_path(p)

    monkeypatch.setattr(numerics, "Path", fake_path)
    assert numerics.busy_cores(window=0) == pytest.approx(2 * 100 / 200)
