"""Sensitivity axes: a candidate trains under an identity of its own, the headline's identities and counts never
move, a reading judges the same runs against other measurements, and every counted miss says why it misses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TESTS, program_2d

from benchmark import planner, sensitivity
from benchmark.check import Verdict
from benchmark.cli import main
from benchmark.suite import load_suite

SUITE = REPO / "suites" / "calibrating_ebgan.yaml"
ENGINE = (TESTS / "suites" / "engine.yaml").read_text()

# the engine suite with a target the headline misses (narrow's std is 0.5) and two axes: narrow's std as a
# dataset parameter, and a reading that compares the printed mean with the measured std
WITH_AXES = ENGINE.replace("\ntables:\n", """
  - id: mle/narrow/SGD/fit.std-quarter
    paper_ref: Section 3
    kind: value
    experiment: fit
    method: SGD
    dataset: narrow
    measurement: fit.std
    published: 0.25
    check: {rule: tolerance, rel: 0.2}
    source: chosen for the test (a miss at the headline setting)
tables:
""", 1) + """
sensitivity:
  - axis: std
    setting: dataset:std
    experiment: fit
    datasets: [narrow]
    headline: "0.5: chosen for the test"
    candidates:
      - {value: 0.25, label: narrower, source: chosen for the test}
  - axis: mean-as-std
    setting: reading
    experiment: fit
    datasets: [narrow]
    headline: as printed
    candidates:
      - {value: swapped, label: labels swapped, source: chosen for the test, swap: {fit.mean: fit.std}}
"""


def _keys(suite, profile: str = "paper", only=("table2*",)) -> dict[str, tuple[str, str]]:
    return {job.key: (job.fingerprint, job.run_key({}, 0)) for job in planner.plan(suite, profile, list(only),
                                                                                      platform="x")}


def _axis(suite, name: str):
    axis = next(a for a in suite.sensitivity if a.axis == name)
    return axis, axis.candidates[0]


def test_declaring_axes_changes_no_headline_identity(tmp_path):
    """The suite without its sensitivity block plans the same jobs with the same fingerprints and run keys."""
    raw = yaml.safe_load(SUITE.read_text())
    del raw["sensitivity"]
    bare = tmp_path / "calibrating_ebgan.yaml"
    bare.write_text(yaml.safe_dump(raw, sort_keys=False))
    suite = load_suite(SUITE)
    for profile in ("smoke", "cpu", "paper"):
        assert _keys(suite, profile) == _keys(load_suite(bare), profile)
    # a hyper-parameter declared for an axis is absent from the headline's settings, so from its identity
    assert all("bn_eps" not in job.hparams for job in planner.plan(suite, "paper", ["table2*"]))


def test_the_first_push_batch_trains_its_own_jobs_at_the_original_epochs():
    """Batch 1000 (41cd208) on EGAN-Ent-NN: gmm4 and biased train 100 epochs of 100 batches (10,000 steps) under keys
    of their own; every other job of the plan is the headline's, with its keys."""
    suite = load_suite(SUITE)
    headline = _keys(suite)
    axis, candidate = _axis(suite, "batch_size")
    jobs = planner.plan(sensitivity.under(suite, axis, candidate), "paper", ["table2*"], platform="x")
    own = {(j.method, j.dataset): j for j in jobs if j.variant}
    assert sorted(own) == [("EGAN-Ent-NN", "biased"), ("EGAN-Ent-NN", "gmm4")]
    for job in own.values():
        assert job.hparams["batch_size"] == 1000 and job.steps == 10_000
        assert job.key.endswith("/paper/under-batch_size=1000") and job.key not in headline
        assert job.run_key({}, 0) not in {key for _, key in headline.values()}
    shared = {j.key: (j.fingerprint, j.run_key({}, 0)) for j in jobs if not j.variant}
    assert len(shared) == len(headline) - 2 and all(headline[k] == v for k, v in shared.items())
    # at smoke the candidate keeps the profile's own steps
    smoke = planner.plan(sensitivity.under(suite, axis, candidate), "smoke", ["table2/gmm4/EGAN-Ent-NN/*"])
    assert [(j.steps, j.hparams["batch_size"]) for j in smoke] == [(50, 1000)]


def test_the_original_batchnorm_epsilon_reaches_the_generator():
    from baselines.ebgan_common import build_networks

    suite = load_suite(SUITE)
    axis, candidate = _axis(suite, "bn_eps")
    jobs = planner.plan(sensitivity.under(suite, axis, candidate), "smoke", ["table2/gmm4/*"])
    assert {j.hparams["bn_eps"] for j in jobs} == {1e-6}
    # batched like the headline (a batch shares its epsilon: test_batched_training checks them against their own
    # runs); the networks a member starts from, and the generator it hands the metrics, carry the epsilon
    assert {j.trainer for j in jobs} == {"batched:cegan_2d"}
    gen, _ = build_networks(jobs[0].hparams)
    assert [m.eps for m in gen if hasattr(m, "eps")] == [1e-6, 1e-6]
    from baselines.batched_stack import clone_structure

    assert [m.eps for m in clone_structure(gen) if hasattr(m, "eps")] == [1e-6, 1e-6]
    headline = planner.plan(suite, "smoke", ["table2/gmm4/*"])
    gen, _ = build_networks(headline[0].hparams)
    assert [m.eps for m in gen if hasattr(m, "eps")] == [1e-5, 1e-5]


def test_the_spirals_reading_swaps_p_data_and_p_emp_on_spirals_only():
    suite = load_suite(SUITE)
    axis, candidate = _axis(suite, "spirals_reading")
    read = {t.id: t for t in sensitivity.under(suite, axis, candidate).all_targets}
    target = read["table2/spirals/EGAN-Ent-NN/kl.pdisc_pemp"]
    assert [r.measurement for r in target.refs] == ["kl.pdisc_pdata"] and target.published == 0.1036
    assert [r.measurement for r in read["table2/spirals/dataset/kl.pemp_pdata"].refs] == ["kl.pdata_pemp"]
    assert [r.measurement for r in read["table2/gmm4/EGAN-Ent-NN/kl.pdisc_pemp"].refs] == ["kl.pdisc_pemp"]
    # the kl.pgen_pdisc column names neither p_data nor p_emp: untouched
    assert [r.measurement for r in read["table2/spirals/GAN/kl.pgen_pdisc"].refs] == ["kl.pgen_pdisc"]
    touched = {t.id for t in sensitivity.touched(suite, axis, candidate)}
    assert "table2/spirals/EGAN-Ent-NN/kl.pdisc_pemp" in touched and not any("/gmm4/" in t for t in touched)
    # nothing trains otherwise under a reading
    assert all(not j.variant for j in planner.plan(sensitivity.under(suite, axis, candidate), "smoke", ["table2*"]))


@pytest.mark.parametrize("edit, message", [
    (("setting: hparam:bn_eps", "setting: hparam:bn_epsilon"),
     "sensitivity[1].setting: unknown setting: method EGAN-Const declares no hyper-parameter 'bn_epsilon'"),
    (("setting: hparam:bn_eps", "setting: hparms:bn_eps"), "sensitivity[1].setting: unknown setting 'hparms:bn_eps'"),
    (("      - value: 1.0e-6\n", "      - value: -1.0e-6\n"), "sensitivity[1].candidates[0].value: must be at least 0"),
    (("swap: {kl.pdata_pemp: kl.pemp_pdata,", "swap: {kl.pdata_pemp: kl.pemp_pdat,"),
     "no model of experiment 'synthetic' produces measurement 'kl.pemp_pdat'"),
    (("    datasets: [gmm4, biased]\n    headline: >-\n      500",
      "    datasets: [gmm4, mnist]\n    headline: >-\n      500"),
     "sensitivity[0].datasets[1]: dataset 'mnist' is not part of experiment 'synthetic'"),
])
def test_validate_refuses_an_axis_it_cannot_apply_in_one_line(bench_home, capsys, edit, message):
    text = SUITE.read_text()
    assert edit[0] in text
    Path("suite.yaml").write_text(text.replace(edit[0], edit[1], 1))
    assert main(["validate", "suite.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.match(r"error: suite\.yaml:\d+: ", err) and message in err


def _verdict(outcome: str, role: str = "reproduction", moving: str = "", entries=()) -> Verdict:
    v = Verdict(target="t/d/m/x", paper_ref="T", kind="value", measurement="x", published=1.0, published_std=None,
                reproduced=2.5, reproduced_std=0.1, n=3, difference=1.5, verdict=outcome, detail="", profile="paper",
                source="s", rule="r", role=role, moving=moving, outcome=outcome)
    v.sensitivity = list(entries)
    return v


def _entry(axis: str, value, outcome: str) -> dict:
    return {"axis": axis, "value": value, "words": f"under {axis} {value} (x)", "outcome": outcome,
            "shown": "1.1 [1, 1.2] (n=3)"}


def test_each_counted_miss_is_explained_from_its_data():
    from benchmark.targets import Target

    explain = sensitivity.explain
    assert explain(_verdict("reproduced"), None) is None
    assert explain(_verdict("not reproduced", role="sanity"), None) is None
    fixed = explain(_verdict("not reproduced", entries=[_entry("bn_eps", 1e-6, "close"),
                                                        _entry("batch_size", 1000, "reproduced")]), None)
    assert fixed["kind"] == "explained" and fixed["axis"] == "batch_size" and fixed["value"] == 1000
    assert fixed["text"] == ("explained by batch_size=1000 (reproduced under batch_size 1000 (x): "
                             "1.1 [1, 1.2] (n=3))")
    moving = explain(_verdict("close", moving="still moving: +23% over the last doubling of steps",
                              entries=[_entry("bn_eps", 1e-6, "close")]), None)
    assert moving == {"kind": "budget", "last_doubling": None,
                      "text": "budget: still moving: +23% over the last doubling of steps"}
    tried = explain(_verdict("not reproduced", moving="settled: +1% over the last doubling of steps",
                             entries=[_entry("bn_eps", 1e-6, "not reproduced")]), None)
    assert tried["kind"] == "unexplained" and tried["text"] == "unexplained: tried bn_eps=1e-06: not reproduced"
    assert explain(_verdict("inconclusive"), None)["text"] == "unexplained: no sensitivity axis touches it"
    # a candidate that has not trained is no evidence: said apart from those tried
    partly = explain(_verdict("not reproduced", entries=[_entry("bn_eps", 1e-6, "close"),
                                                         _entry("vi_q", "knn_nist", "not run")]), None)
    assert partly["text"] == "unexplained: tried bn_eps=1e-06: close; not yet trained under vi_q=knn_nist"
    assert partly["tried"] == ["bn_eps=1e-06"] and partly["untried"] == ["vi_q=knn_nist"]
    assert explain(_verdict("not reproduced", entries=[_entry("vi_q", "knn_nist", "not run")]), None)["text"] == \
        "unexplained: not yet trained under vi_q=knn_nist"
    missing = _verdict("not run", entries=[_entry("b", 1, "reproduced")])
    missing.reason = "needs GPU"
    assert explain(missing, None) == {"kind": "unexplained", "text": "unexplained: not run (needs GPU)"}
    target = Target(id="t/d/m/x", paper_ref="T", kind="value", source="s", experiment="e", measurement="x",
                    published=1.0, published_std=None, published_n=1, check=None, claim=None, refs=[],
                    paper_inconsistency="'0.1036' in Table 2 against '0.0857' in the text")
    assert explain(_verdict("not reproduced", entries=[_entry("b", 1, "reproduced")]), target)["kind"] == "paper"


def test_an_axis_that_helps_one_dataset_and_hurts_another_says_so():
    from benchmark.targets import Ref, Target

    def target(dataset: str) -> Target:
        return Target(id=f"t/{dataset}", paper_ref="T", kind="value", source="s", experiment="e", measurement="x",
                      published=1.0, published_std=None, published_n=1, check=None, claim=None,
                      refs=[Ref("e", "m", dataset, "x")])

    suite = load_suite(SUITE)
    axis, candidate = _axis(suite, "batch_size")
    pairs = [(_verdict("not reproduced"), _verdict("reproduced"), target("biased")),
             (_verdict("reproduced"), _verdict("close"), target("gmm4")),
             (_verdict("close"), _verdict("close"), target("gmm4"))]
    moved = sensitivity._movement(sensitivity.Applied(axis, candidate), pairs)
    assert moved["better"] == {"biased": ["t/d/m/x"]} and moved["worse"] == {"gmm4": ["t/d/m/x"]}
    assert moved["text"] == ("batch_size=1000 (first push): better on biased (1), worse on gmm4 (1); 1 of 3 "
                             "unchanged. It helps on biased and hurts on gmm4: a finding about the paper, not a "
                             "setting to pick")


def _run(capsys, *extra: str) -> tuple[int, int, str]:
    capsys.readouterr()
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard", *extra]) == 0
    out = capsys.readouterr()
    trained, reused = re.search(r"trained (\d+) runs, reused (\d+)", out.err).groups()
    return int(trained), int(reused), out.out + out.err


def _compare(capsys) -> dict:
    capsys.readouterr()
    assert main(["compare", "engine.yaml", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["suites"][0]


def test_candidates_train_apart_and_sit_beside_the_unchanged_headline(bench_home, capsys):
    Path("engine.yaml").write_text(WITH_AXES)
    assert _run(capsys)[:2] == (6, 2)
    before = _compare(capsys)
    # the candidate has not trained: it says so, and its axis claims no movement it has not judged
    untrained = {e["axis"]: e for e in {t["target"]: t for t in before["targets"]}[
        "mle/narrow/SGD/fit.std-quarter"]["sensitivity"]}["std"]
    assert untrained["outcome"] == "not run"
    assert untrained["verdict"] == "not run: not trained under std=0.25 (`bench run --sensitivity std` trains it)"
    # a claim that also reads a headline job (wide, complete) lacks only the candidate's: it says that one
    claim = {e["axis"]: e for e in {t["target"]: t for t in before["targets"]}[
        "mle/wider-has-larger-std"]["sensitivity"]}["std"]
    assert claim["verdict"] == untrained["verdict"]
    assert {a["axis"]: a["candidates"][0]["text"] for a in before["sensitivity"]}["std"] == (
        "std=0.25 (narrower): not judged: none of its 5 targets has a verdict on both sides")
    # narrow under std 0.25: 3 runs of its own; wide is not touched; the reading trains nothing
    trained, _, text = _run(capsys, "--sensitivity")
    assert trained == 3
    assert "sensitivity mean-as-std=swapped (labels swapped): a reading: judged on the headline's runs" in text
    assert "sensitivity std=0.25 (narrower): 1 jobs of its own, 1 shared with the headline, for 5 targets" in text
    after = _compare(capsys)
    assert after["summary"] == before["summary"] and after["counts"] == before["counts"]
    targets = {t["target"]: t for t in after["targets"]}
    quarter = targets["mle/narrow/SGD/fit.std-quarter"]
    assert quarter["outcome"] == "not reproduced" and quarter["reproduced"] == pytest.approx(0.5, rel=0.1)
    under = {e["axis"]: e for e in quarter["sensitivity"]}
    assert under["std"]["outcome"] == "reproduced" and under["std"]["reproduced"] == pytest.approx(0.25, rel=0.1)
    assert not set(under["std"]["run_ids"]) & set(quarter["run_ids"])
    assert quarter["explanation"]["kind"] == "explained" and quarter["explanation"]["axis"] == "std"
    # the reading compares the printed mean, 1.5, with the measured std of the same runs
    mean = {e["axis"]: e for e in targets["mle/narrow/SGD/fit.mean"]["sensitivity"]}
    assert mean["mean-as-std"]["outcome"] == "not reproduced"
    assert mean["mean-as-std"]["run_ids"] == targets["mle/narrow/SGD/fit.mean"]["run_ids"]
    assert targets["table1/wide/SGD/fit.std"]["sensitivity"] == []
    moved = {a["axis"]: a["candidates"][0] for a in after["sensitivity"]}
    assert moved["std"]["better"] == {"narrow": ["mle/narrow/SGD/fit.std-quarter"]}
    assert moved["std"]["worse"] == {"narrow": ["table1/narrow/SGD/fit.std"]}
    assert after["explanations"] == {"explained": 1}
    # again: everything is reused, and the plan says so
    assert _run(capsys, "--sensitivity", "std")[0] == 0
    capsys.readouterr()
    assert main(["plan", "engine.yaml", "--profile", "smoke", "--sensitivity"]) == 0
    plan = capsys.readouterr().out
    assert "std=0.25 (narrower): 1 jobs, 0 runs to train (3 done)" in plan
    assert "mean-as-std=swapped (labels swapped): a reading: judged on the headline's runs" in plan
    # the leaderboard: the explanation in the target's row, each candidate beside it, the axes summed up
    assert main(["leaderboard", "engine.yaml", "--out", "board"]) == 0
    readme = " ".join(Path("board/README.md").read_text().split())
    assert "**explained by std=0.25 (reproduced under std 0.25 (narrower): 0.2" in readme
    assert "### Sensitivity axes" in readme
    assert "std=0.25 (narrower): better on narrow (1), worse on narrow (1); 3 of 5 unchanged" in readme
    html = Path("board/index.html").read_text()
    assert "Sensitivity axes" in html and "explained by std=0.25" in html
    assert "beside it (never counted): under std 0.25 (narrower): reproduced;" in html


def test_an_unknown_axis_is_refused_before_training(bench_home, capsys):
    Path("engine.yaml").write_text(WITH_AXES)
    for command in (["run", "engine.yaml", "--profile", "smoke", "--no-leaderboard", "--sensitivity", "batch"],
                    ["plan", "engine.yaml", "--profile", "smoke", "--sensitivity", "batch"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err == "error: --sensitivity: no suite declares sensitivity axis 'batch' (declared: mean-as-std, std)"


@pytest.mark.parametrize("original", [False, True])
def test_a_discriminator_only_step_leaves_the_generators_running_statistics_as_the_original_does(original):
    """egan_knn.py (d37c738) puts the generator's BatchNorm updates into its own updates only: with
    ``bn_stats_on_g_steps`` a D-only step leaves them; without it (the headline) every forward pass moves them."""
    import torch

    from baselines.ebgan_common import running_stats

    program = program_2d("egan_const", 2, **({"bn_stats_on_g_steps": True} if original else {}))
    before = running_stats(program.gen)
    program.step(1, False)  # the switch starts at gap 1 >= rbound 0.1: the first step updates D only
    assert program.values["counts"] == {"all": 0, "d": 1, "g": 0}
    after = running_stats(program.gen)
    same = all(torch.equal(before[k], after[k]) for k in before)
    assert same is original and len(before) == 6


def test_a_discriminator_only_step_moves_the_hidden_layers_with_their_second_adam_state_as_the_original_does():
    """synthetic/egan_knn.py (d37c738) gives the discriminator's hidden layers one Adam state for steps that update
    both networks and another for discriminator-only steps; its output layer keeps one. With
    ``separate_d_step_adam`` each state has counted exactly its own kind of step, and the run departs from the
    headline's (one state) once both kinds have happened."""
    import torch

    from baselines.ebgan_common import trunk_parameters

    split, headline = program_2d("egan_const", 40, 40, separate_d_step_adam=True), program_2d("egan_const", 40, 40)
    counts = split.values["counts"]
    assert counts["all"] > 0 and counts["d"] > 0
    trunk = trunk_parameters(split.disc)
    head = [p for p in split.disc.parameters() if all(p is not q for q in trunk)]
    assert len(trunk) == 4 and len(head) == 2
    steps = lambda opt, params: {int(opt.state[p]["step"]) if p in opt.state else 0 for p in params}  # noqa: E731
    assert steps(split.opt_d, trunk) == {counts["all"]}
    assert steps(split.opt_d_only, trunk) == {counts["d"]}
    assert steps(split.opt_d, head) == {counts["all"] + counts["d"]}
    theirs = headline.values["counts"]
    assert headline.opt_d_only is None
    assert steps(headline.opt_d, trunk_parameters(headline.disc)) == {theirs["all"] + theirs["d"]}
    assert not all(torch.equal(a, b) for a, b in zip(split.disc.parameters(), headline.disc.parameters(), strict=True))


def test_misses_sharing_a_reason_are_one_line_in_the_terminal():
    from types import SimpleNamespace

    from benchmark import report_sensitivity

    def miss(target: str, kind: str, text: str):
        return SimpleNamespace(target=target, outcome="not run", sensitivity=[],
                               explanation={"kind": kind, "text": text})

    missing = "unexplained: not run (needs dataset mnist)"
    verdicts = [miss(f"table3/mnist/{i}", "unexplained", missing) for i in range(5)]
    verdicts += [miss("table2/biased/x", "explained", "explained by batch_size=1000")]
    lines = report_sensitivity.terminal_lines(verdicts, [])
    assert lines[1] == "Why the counted misses miss (5 unexplained, 1 explained):"
    assert lines[2:] == [f"  5 targets (table3/mnist/0, table3/mnist/1, ...): {missing}",
                         "  table2/biased/x: explained by batch_size=1000"]


def test_a_knn_nist_q_is_a_head_on_the_discriminators_hidden_layers_which_move_on_every_step():
    """``vi_q: knn_nist`` (knn_nist/egan_knn.py's VI on the 2-D networks): q is one linear layer on D's hidden
    layers; those layers move on every step with one Adam state (updates_e), D's output layer only on steps that
    update D, q's head only on steps that update G; q's NLL moves the hidden layers away from the headline's."""
    import torch

    from baselines.ebgan_common import trunk_parameters
    from baselines.egan_ent_vi import SharedTrunkVI
    from benchmark import batch_families

    # a lower bound the gap soon crosses: steps of all three kinds within 60 (7 both, 1 D only, 52 G only)
    shared = program_2d("egan_ent_vi", 60, 60, vi_q="knn_nist", lbound=-0.005)
    assert isinstance(shared.entropy, SharedTrunkVI)
    counts = shared.values["counts"]
    assert min(counts.values()) > 0
    trunk = trunk_parameters(shared.disc)
    head = [p for p in shared.disc.parameters() if all(p is not q for q in trunk)]
    q_head = list(shared.entropy.net.parameters())
    assert len(trunk) == 4 and len(head) == 2 and [tuple(p.shape) for p in q_head] == [(8, 128), (8,)]
    steps = lambda opt, params: {int(opt.state[p]["step"]) if p in opt.state else 0 for p in params}  # noqa: E731
    assert steps(shared.opt_d, trunk) == {60}
    assert steps(shared.opt_d, head) == {counts["all"] + counts["d"]}
    assert steps(shared.entropy.opt, q_head) == {counts["all"] + counts["g"]}
    headline = program_2d("egan_ent_vi", 60, 60, lbound=-0.005)
    assert not isinstance(headline.entropy, SharedTrunkVI)
    assert not all(torch.equal(a, b) for a, b in zip(shared.disc.parameters(), headline.disc.parameters(),
                                                     strict=True))
    # the batched trainer implements the separate q only: such a run trains alone
    assert batch_families.uncovered("cegan_2d", {"vi_q": "knn_nist"}, {}) == ["vi_q"]
    assert batch_families.covers("cegan_2d", {"vi_q": "separate"}, {})
