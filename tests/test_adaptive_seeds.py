"""Adaptive seeds (`seeds: {min, max}`): which jobs grow and by how much, the identity of a grown job, and `bench run`
adding a seed that turns inconclusive targets decided."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO, TESTS

from benchmark import adaptive, planner
from benchmark.check import Verdict
from benchmark.cli import main
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri

ENGINE = (TESTS / "suites" / "engine.yaml").read_text()
FIXED = "seeds: {smoke: 2, cpu: 3, paper: 3}"


def engine_jobs(tmp_path: Path, seeds: str, profile: str = "cpu") -> list[planner.Job]:
    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE.replace(FIXED, seeds))
    return planner.plan(load_suite(path), profile)


def verdict(target: str, outcome: str, n: int = 3, seeds_to_decide: int | None = None) -> Verdict:
    return Verdict(target=target, paper_ref="T", kind="value", measurement="m", published=1.0, published_std=None,
                   reproduced=1.0, reproduced_std=0.1, n=n, difference=0.0, verdict=outcome, detail="", profile="cpu",
                   source="s", rule="r", seeds_to_decide=seeds_to_decide)


def test_a_seed_range_plans_the_minimum_and_remembers_the_maximum(tmp_path):
    jobs = engine_jobs(tmp_path, "seeds: {smoke: 2, cpu: {min: 3, max: 10}, paper: 3}")
    assert [(len(j.seeds), j.seed_limit) for j in jobs] == [(3, 10), (3, 10)]
    fixed = engine_jobs(tmp_path, FIXED)
    assert [(len(j.seeds), j.seed_limit) for j in fixed] == [(3, 3), (3, 3)]
    # the range's minimum is the same job as a fixed count of 3: same fingerprint, studies and run keys
    assert [j.fingerprint for j in jobs] == [j.fingerprint for j in fixed]
    assert [j.study_name for j in jobs] == [j.study_name for j in fixed]
    assert load_suite(tmp_path / "engine.yaml").experiments["fit"].seeds.range("smoke") == (2, 2)


def test_a_grown_job_keeps_its_search_and_its_first_seeds_runs(tmp_path):
    job = engine_jobs(tmp_path, "seeds: {smoke: 2, cpu: {min: 3, max: 10}, paper: 3}")[0]
    grown = job.with_seeds(5)
    setting = {"lr": 0.02}
    assert grown.seeds == [0, 1, 2, 3, 4] and grown.first_seed_count == 3 and grown.seed_limit == 10
    assert grown.fingerprint != job.fingerprint  # a parent run and member tags of its own
    assert grown.study_name == job.study_name  # the search is not run again
    assert grown.seeds_study_name(setting) != job.seeds_study_name(setting)
    assert [grown.run_key(setting, s) for s in job.seeds] == [job.run_key(setting, s) for s in job.seeds]
    assert grown.with_seeds(3).fingerprint == job.fingerprint
    assert [len(v.seeds) for v in grown.seed_variants()] == list(range(3, 11))


def test_growth_asks_for_the_seeds_that_would_decide_capped_at_max(tmp_path):
    narrow, wide = engine_jobs(tmp_path, "seeds: {smoke: 2, cpu: {min: 3, max: 10}, paper: 3}")
    mean, std = "mle/narrow/SGD/fit.mean", "table1/narrow/SGD/fit.std"
    assert mean in narrow.targets and std in narrow.targets

    steps = adaptive.growth([verdict(mean, "inconclusive", seeds_to_decide=5), verdict(std, "reproduced")],
                            [narrow, wide])
    assert [(g.job.dataset, g.now, g.to, g.more, g.targets) for g in steps] == [("narrow", 3, 5, 2, [mean])]
    assert len(steps[0].grown.seeds) == 5

    # the most any target of the job asks for, never past max
    steps = adaptive.growth([verdict(mean, "inconclusive", seeds_to_decide=5),
                             verdict(std, "inconclusive", seeds_to_decide=40)], [narrow])
    assert [g.to for g in steps] == [10]
    # no estimate (a claim, one seed, a spread no count would decide): twice the seeds it has
    assert [g.to for g in adaptive.growth([verdict(mean, "inconclusive")], [narrow])] == [6]
    assert [g.to for g in adaptive.growth([verdict(mean, "inconclusive")], [narrow.with_seeds(8)])] == [10]
    # decided, at max, or without a range: nothing grows
    assert adaptive.growth([verdict(mean, "close"), verdict(std, "not reproduced")], [narrow]) == []
    assert adaptive.growth([verdict(mean, "inconclusive", seeds_to_decide=12)], [narrow.with_seeds(10)]) == []
    fixed = engine_jobs(tmp_path, FIXED)[0]
    assert adaptive.growth([verdict(mean, "inconclusive", seeds_to_decide=5)], [fixed]) == []


def test_describe_says_what_is_inconclusive_and_what_is_added(tmp_path):
    narrow, wide = engine_jobs(tmp_path, "seeds: {smoke: 2, cpu: {min: 3, max: 10}, paper: 3}")
    verdicts = [verdict("mle/narrow/SGD/fit.mean", "inconclusive", seeds_to_decide=5),
                verdict("table1/narrow/SGD/fit.std", "inconclusive", seeds_to_decide=4),
                verdict("table1/wide/SGD/fit.std", "reproduced")]
    steps = adaptive.growth(verdicts, [narrow, wide])
    assert adaptive.describe(verdicts, steps) == "2 targets inconclusive at 3 seeds: adding 2 seeds to 1 job"
    verdicts[2] = verdict("table1/wide/SGD/fit.std", "inconclusive")
    steps = adaptive.growth(verdicts, [narrow, wide.with_seeds(4)])
    assert adaptive.describe(verdicts, steps) == "3 targets inconclusive at 3-4 seeds: adding 2-4 seeds to 2 jobs"
    assert adaptive.describe(verdicts, []) == "3 targets inconclusive at the most seeds the profile allows"
    assert adaptive.describe([verdict("x", "reproduced")], []) == "every target decided"


def test_the_loop_stops_when_decided_and_never_asks_for_a_count_twice(tmp_path):
    narrow, wide = engine_jobs(tmp_path, "seeds: {smoke: 2, cpu: {min: 3, max: 10}, paper: 3}")
    mean = "mle/narrow/SGD/fit.mean"
    trained: list[list[tuple[str, int]]] = []

    def train(jobs):
        trained.append([(j.dataset, len(j.seeds)) for j in jobs])
        return []

    # decided once the narrow job has 6 seeds
    def judge():
        n = max([3] + [count for batch in trained for d, count in batch if d == "narrow"])
        outcome = "reproduced" if n >= 6 else "inconclusive"
        return [verdict(mean, outcome, n, seeds_to_decide=n + 1 if n < 6 else None)], {narrow.key: n}

    rounds = adaptive.grow_until_decided([narrow, wide], train, judge)
    assert trained == [[("narrow", 3), ("wide", 3)], [("narrow", 4)], [("narrow", 5)], [("narrow", 6)]]
    assert rounds.verdicts[0].verdict == "reproduced" and rounds.grown == {narrow.key: 6}
    assert rounds.lines[-1] == "every target decided"

    # a grown job that never completes reads back at 3 seeds: asked once, then the loop ends
    trained.clear()
    rounds = adaptive.grow_until_decided(
        [narrow], train, lambda: ([verdict(mean, "inconclusive", 3, seeds_to_decide=5)], {narrow.key: 3}))
    assert trained == [[("narrow", 3)], [("narrow", 5)]]


def test_bench_run_adds_a_seed_that_decides_the_inconclusive_targets(bench_home, capsys):
    """At one seed every target is inconclusive (no spread); `max: 3` lets `bench run` add one seed to each job,
    which decides all five, trains only those two runs, and keeps the one-seed job's runs and verdicts."""
    Path("engine.yaml").write_text(ENGINE.replace(FIXED, "seeds: {smoke: 1, cpu: 3, paper: 3}"))
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    assert "trained 4 runs" in capsys.readouterr().err  # 2 jobs x 2 grid points, seed 0; no growth without a range
    before = compare(capsys)
    assert {t["verdict"] for t in before.values()} == {"inconclusive"}
    assert before["mle/narrow/SGD/fit.mean"]["n"] == 1 and before["mle/narrow/SGD/fit.mean"]["interval"] is None

    Path("engine.yaml").write_text(ENGINE.replace(FIXED, "seeds: {smoke: {min: 1, max: 3}, cpu: 3, paper: 3}"))
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    err = capsys.readouterr().err
    assert "worst case, if every target stays inconclusive (2 jobs up to 3 seeds)" in err, err
    assert "seeds: 5 targets inconclusive at 1 seed: adding 1 seed to 2 jobs" in err, err
    assert "seeds: every target decided" in err and "trained 2 runs" in err, err
    after = compare(capsys)
    assert {t["verdict"] for t in after.values()} == {"reproduced", "claim holds"}
    mean = after["mle/narrow/SGD/fit.mean"]
    assert mean["n"] == 2 and mean["verdict"] == "reproduced"
    lo, hi = mean["interval"]
    assert 1.4 <= lo < mean["reproduced"] < hi <= 1.6  # inside the tolerance band 1.5 +- 0.1
    [first] = before["mle/narrow/SGD/fit.mean"]["values"].values()
    [both] = mean["values"].values()
    assert len(both) == 2 and both[0] == first[0]  # seed 0 is the same run, seed 1 is added

    runs = Tracker(default_tracking_uri()).runs("engine_test")
    children = [r for r in runs if r.tags["bench.kind"] == "run"]
    parents = [r for r in runs if r.tags["bench.kind"] == "job"]
    assert len(children) == 6 and sorted(int(r.tags["seed"]) for r in children) == [0, 0, 0, 0, 1, 1]
    # a parent per job and seed count, none superseded: the one-seed job is still current
    assert len(parents) == 4 and all(r.tags.get("superseded") == "0" for r in parents + children)

    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    err = capsys.readouterr().err
    assert "trained 0 runs" in err and "seeds:" not in err, err  # read back at two seeds: decided, nothing added


def test_bench_plan_shows_the_range_and_the_worst_case(bench_home, capsys):
    Path("engine.yaml").write_text(ENGINE.replace(FIXED, "seeds: {smoke: {min: 1, max: 3}, cpu: 3, paper: 3}"))
    capsys.readouterr()
    assert main(["plan", "engine.yaml", "--profile", "smoke", "--no-calibrate"]) == 0
    out = capsys.readouterr().out
    assert out.count("1 (up to 3)") == 2, out
    assert "2 jobs, 4 runs to train (0 done)" in out
    assert "worst case, if every target stays inconclusive (2 jobs up to 3 seeds): 2 jobs, 8 runs to train" in out
    assert main(["plan", "engine.yaml", "--profile", "cpu", "--no-calibrate"]) == 0
    assert "worst case" not in capsys.readouterr().out


def test_table2_at_paper_grows_to_ten_seeds_from_the_same_three(bench_home):
    suite = load_suite(REPO / "suites" / "calibrating_ebgan.yaml")
    jobs = [j for j in planner.plan(suite, "paper", ["table2*"])]
    assert jobs and all(len(j.seeds) == 3 and j.seed_limit == 10 for j in jobs)
    assert all(len(j.seeds) == j.seed_limit for j in planner.plan(suite, "cpu", ["table2*"]))


def compare(capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert main(["compare", "engine.yaml", "--profile", "smoke", "--format", "json"]) == 0
    return {t["target"]: t for t in json.loads(capsys.readouterr().out)["suites"][0]["targets"]}


def test_a_worker_grows_the_same_jobs(bench_home, capsys):
    """`bench worker` judges once every job is complete and adds the same seeds, through the same storage."""
    Path("engine.yaml").write_text(ENGINE.replace(FIXED, "seeds: {smoke: {min: 1, max: 3}, cpu: 3, paper: 3}"))
    assert main(["worker", "engine.yaml", "--profile", "smoke", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "seeds: 5 targets inconclusive at 1 seed: adding 1 seed to 2 jobs" in err and "trained 6 runs" in err, err
    assert {t["n"] for t in compare(capsys).values()} == {2}


def test_read_back_takes_the_largest_complete_seed_count(tmp_path):
    """A job grown to 4 seeds is read at 4; while the 4-seed job is unfinished (interrupted), at 3, never at a
    mix; a count past the profile's max is not read."""
    from benchmark.results import _Index
    from benchmark.tracking import CHILD, FINGERPRINT_TAG, MEMBER_PREFIX, PARENT, STATUS_TAG, RunRecord

    path = tmp_path / "engine.yaml"
    path.write_text(ENGINE.replace(FIXED, "seeds: {smoke: 2, cpu: {min: 3, max: 4}, paper: 3}"))
    suite = load_suite(path)
    job = planner.plan(suite, "cpu")[0]
    three, four, five = job, job.with_seeds(4), job.with_seeds(5)

    def parent(variant, status):
        return RunRecord(f"p{len(variant.seeds)}", "FINISHED", {"bench.kind": PARENT, STATUS_TAG: status,
                                                                FINGERPRINT_TAG: variant.fingerprint}, {}, {})

    def child(seed, *variants):
        tags = {"bench.kind": CHILD, "seed": str(seed), **{MEMBER_PREFIX + v.fingerprint: "final" for v in variants}}
        return RunRecord(f"r{seed}", "FINISHED", tags, {}, {"fit.mean": 1.5 + seed / 100})

    runs = [child(0, three, four, five), child(1, three, four, five), child(2, three, four, five),
            child(3, four, five), child(4, five)]
    rec = _Index([parent(five, "done"), parent(four, "done"), parent(three, "done"), *runs]).record(suite, job)
    assert sorted(rec.finals) == [0, 1, 2, 3] and rec.job.seeds == [0, 1, 2, 3]
    rec = _Index([parent(four, "interrupted"), parent(three, "done"), *runs]).record(suite, job)
    assert sorted(rec.finals) == [0, 1, 2] and rec.job.seeds == [0, 1, 2]
