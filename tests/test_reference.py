"""`bench compare --reference` (benchmark/reference.py): verdicts beside the reference's, and whether the values
agree: bit for bit on the same platform, in distribution across platforms."""

from __future__ import annotations

import copy
import json

import pytest

from benchmark import evidence, reference
from benchmark.errors import UserError

XEON = {"device": {"cpu": 3}, "gpu": {"not recorded": 3}, "cpu_model": {"Xeon A": 3},
        "cpu_capability": {"AVX512": 3}, "torch_version": {"2.14.1": 3}, "platform": {"Xeon A AVX512": 3}}
EPYC = {**XEON, "cpu_model": {"EPYC B": 3}, "cpu_capability": {"AVX2": 3}, "platform": {"EPYC B AVX2": 3}}


def target(name: str, verdict: str, values: list[float], profile: str = "cpu") -> dict:
    return {"target": name, "verdict": verdict, "profile": profile, "values": {f"e/m/d/{name}": values}}


def results(targets: list[dict], trained_on: dict | None = None) -> dict:
    out = {"suites": [{"suite": "paper", "targets": targets}]}
    if trained_on:
        out["release"] = {"papers": {"paper": {"trained_on": trained_on}}}
    return out


REFERENCE = results([target("a", "reproduced", [4.02, 3.64, 4.08]),
                     target("b", "not reproduced", [1.0, 1.1, 0.9]),
                     target("c", "claim holds", [0.5, 0.51, 0.49]),
                     target("d", "not run: needs GPU", [])], XEON)


def test_the_same_platform_must_give_the_same_bits():
    mine = results(copy.deepcopy(REFERENCE["suites"][0]["targets"]))
    same = reference.compare(mine, REFERENCE, {"paper": reference.platform(XEON)})
    assert same.same_platform == {"paper": True}
    assert [r.values for r in same.rows] == ["identical"] * 3  # the not-run target is not compared
    assert not same.defects and not same.disagreeing
    # one seed's value moved in its last bit: a defect of bench, named as such
    mine["suites"][0]["targets"][0]["values"]["e/m/d/a"][1] = 3.64 + 4e-16
    planted = reference.compare(mine, REFERENCE, {"paper": reference.platform(XEON)})
    assert [r.target for r in planted.defects] == ["a"]
    assert "a defect of bench: a" in planted.summary()


def test_another_platform_is_compared_in_distribution():
    # another machine: the same job's seeds differ (the biased/EGAN-Ent-VI KL(p_disc||p_emp))
    mine = results([target("a", "reproduced", [6.74, 3.50, 3.15]),
                    target("b", "not reproduced", [1.02, 1.08, 0.93]),
                    target("c", "claim fails", [0.50, 0.52, 0.48])])
    other = reference.compare(mine, REFERENCE, {"paper": reference.platform(EPYC)})
    assert other.same_platform == {"paper": False}
    assert not other.defects
    assert [r.values for r in other.rows] == ["within spread"] * 3
    assert [r.target for r in other.disagreeing] == ["c"]
    assert other.summary().startswith("2 of 3 verdicts agree with the reference; 0 differ beyond run-to-run spread")
    # a shift far beyond the seeds' spread is reported, with its Holm-adjusted p-value
    mine["suites"][0]["targets"][1]["values"]["e/m/d/b"] = [5.0, 5.1, 4.9]
    shifted = reference.compare(mine, REFERENCE, {"paper": reference.platform(EPYC)})
    assert [r.target for r in shifted.differing] == ["b"]
    assert shifted.rows[1].p_values["e/m/d/b"] < 0.05
    assert "1 differ beyond run-to-run spread" in shifted.summary()


def test_an_unrecorded_platform_or_another_profile_is_never_called_the_same():
    mine = results([target("a", "reproduced", [4.02, 3.64, 4.08], profile="smoke")])
    unrecorded = results(REFERENCE["suites"][0]["targets"])  # a reference without a release stamp
    rows = reference.compare(mine, unrecorded, {"paper": reference.platform(XEON)})
    assert rows.same_platform == {"paper": False}
    assert rows.rows[0].values == "not comparable: profile smoke here, cpu in the reference"
    assert reference.platform({**XEON, "cpu_model": {"Xeon A": 2, "not recorded": 1}}) is None
    # runs from before the platform tag: their processor alone does not say they are the same platform
    assert reference.platform({**XEON, "platform": {"not recorded": 3}}) is None


def test_verdicts_at_another_profile_are_shown_and_never_counted_as_disagreeing():
    """A reduced-budget verdict beside a paper-budget one says nothing of agreement: the summary counts the rows
    judged at one profile on both sides, and --strict looks at those only."""
    mine = results([target("a", "not reproduced", [9.0, 9.1, 9.2], profile="cpu"),
                    target("b", "not reproduced", [1.0, 1.1, 0.9], profile="cpu")])
    theirs = copy.deepcopy(REFERENCE)
    theirs["suites"][0]["targets"][0]["profile"] = "paper"
    rows = reference.compare(mine, theirs, {"paper": reference.platform(EPYC)})
    assert [r.same_profile for r in rows.rows] == [False, True]
    assert rows.disagreeing == [] and [r.target for r in rows.compared] == ["b"]
    assert rows.summary().startswith("1 of 1 verdicts agree with the reference (1 more judged at another profile")
    theirs["suites"][0]["targets"][0]["profile"] = "cpu"  # the same profile: now the verdicts disagree
    assert [r.target for r in reference.compare(mine, theirs, {"paper": None}).disagreeing] == ["a"]


def test_two_gpu_platforms_that_share_a_model_are_not_the_same():
    h100 = {**XEON, "device": {"cuda": 3}, "gpu": {"NVIDIA H100": 3},
            "platform": {"NVIDIA H100 sm90 CUDA 13.0 cuDNN 91300 / AVX512": 3}}
    newer_cudnn = {**h100, "platform": {"NVIDIA H100 sm90 CUDA 13.0 cuDNN 91400 / AVX512": 3}}
    assert reference.platform(h100) != reference.platform(newer_cudnn)
    assert reference.platform({**h100, "platform": {**h100["platform"], **newer_cudnn["platform"]}}) is None


def test_the_platform_of_the_compared_targets_comes_from_their_runs_provenance():
    one = {"provenance": XEON, "run_ids": ["1"]}
    assert reference.platform_of([one, {**one}]) == reference.platform(XEON)
    assert reference.platform_of([one, {"provenance": EPYC, "run_ids": ["2"]}]) is None  # two machines
    assert reference.platform_of([{"run_ids": ["3"]}]) is None  # runs older than the tags


def test_holm_adjusts_step_down():
    assert evidence.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_a_reference_that_is_not_results_json_is_one_line(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"targets": []}))
    with pytest.raises(UserError, match=r"^--reference: .* is not a results.json"):
        reference.load(bad)


def test_each_side_says_which_platform_its_verdicts_come_from():
    from benchmark.results import sources

    judged = [{"device": "cpu@EPYC B AVX2", "run_ids": ["1"]}, {"device": "cpu@EPYC B AVX2", "run_ids": ["2"]},
              {"device": "cpu@Xeon A AVX512", "run_ids": ["3"]}, {"device": None, "run_ids": []}]
    assert sources(judged) == "cpu@EPYC B AVX2 (2 targets); cpu@Xeon A AVX512 (1 target)"
    # a reference trained before the platform tag: the device, and the processor its runs recorded if any
    older = [{"device": "cpu", "run_ids": ["4"], "provenance": XEON}, {"device": "cpu", "run_ids": ["5"]}]
    assert sources(older) == ("cpu (platform not recorded; processor Xeon A AVX512) (1 target); "
                              "cpu (platform not recorded) (1 target)")
    assert sources([{"device": None, "run_ids": []}]) == "no platform (no target judged)"
