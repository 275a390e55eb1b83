"""Verdict rules: each must flip when the reproduced value crosses its threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.check import (
    CLOSE,
    FAILS,
    HOLDS,
    NOT_REPRODUCED,
    REPRODUCED,
    Values,
    judge,
    top_bottom_fraction,
    tost_p,
)
from benchmark.suite import (
    BoundClaim,
    Check,
    CorrelationClaim,
    CvClaim,
    FractionBeatsBestClaim,
    LowestClaim,
    OrderingClaim,
    PairedCorrelationClaim,
    RankDisagreement,
    RatioClaim,
    Ref,
    Target,
)


def value_target(published: float, check: Check, published_std: float | None = None, published_n: int = 1):
    ref = Ref("e", "M", "d", "m")
    return Target(id="t", paper_ref="Table 1", kind="value", source="s", experiment="e", measurement="m",
                  published=published, published_std=published_std, published_n=published_n, check=check,
                  claim=None, refs=[ref]), ref


def verdict_for(values, published=1.0, **check):
    target, ref = value_target(published, Check(**check))
    return judge(target, {ref: Values(values, "cpu")}, {})


def test_tolerance_verdict_flips_at_the_threshold():
    # tol = 0.1 * 1.0; close up to 2 x tol
    assert verdict_for([1.09, 1.09], rel=0.1).verdict == REPRODUCED
    assert verdict_for([1.11, 1.11], rel=0.1).verdict == CLOSE
    assert verdict_for([1.19, 1.19], rel=0.1).verdict == CLOSE
    assert verdict_for([1.21, 1.21], rel=0.1).verdict == NOT_REPRODUCED
    assert verdict_for([0.79, 0.79], rel=0.1).verdict == NOT_REPRODUCED


def test_a_relative_close_band_never_reaches_zero():
    """rel 0.5, close_factor 2: 2x the published is the close band's upper edge, so half of it is the lower one;
    published x (1 - 2 x 0.5) = 0 would call 0.085 close to 0.79 (seen on Table 2's spirals)."""
    assert verdict_for([1.9], rel=0.5).verdict == CLOSE
    assert verdict_for([2.1], rel=0.5).verdict == NOT_REPRODUCED
    assert verdict_for([0.51], rel=0.5).verdict == REPRODUCED
    assert verdict_for([0.49], rel=0.5).verdict == NOT_REPRODUCED  # was close
    low = verdict_for([0.085], published=0.79, rel=0.5)
    assert low.verdict == NOT_REPRODUCED and "0.108 x the published" in low.detail, low.detail
    assert verdict_for([0.84], rel=0.1).verdict == CLOSE  # 1 / 1.2 = 0.833
    assert verdict_for([0.82], rel=0.1).verdict == NOT_REPRODUCED
    assert verdict_for([-1.9], published=-1.0, rel=0.5).verdict == CLOSE  # the ratio, not the sign, decides
    assert verdict_for([-0.45], published=-1.0, rel=0.5).verdict == NOT_REPRODUCED


def test_absolute_tolerance_is_used_when_larger():
    assert verdict_for([0.04], published=0.0, rel=0.5, abs=0.05).verdict == REPRODUCED
    assert verdict_for([0.06], published=0.0, rel=0.5, abs=0.05).verdict == CLOSE


def test_at_most_and_at_least():
    assert verdict_for([0.019, 0.02], published=0.0, rule="at_most", limit=0.02).verdict == REPRODUCED
    assert verdict_for([0.03], published=0.0, rule="at_most", limit=0.02).verdict == CLOSE
    assert verdict_for([0.05], published=0.0, rule="at_most", limit=0.02).verdict == NOT_REPRODUCED
    assert verdict_for([11.0], published=10, rule="at_least", limit=10).verdict == REPRODUCED
    assert verdict_for([6.0], published=10, rule="at_least", limit=10, close_factor=1.5).verdict == CLOSE
    assert verdict_for([4.0], published=10, rule="at_least", limit=10, close_factor=1.5).verdict == NOT_REPRODUCED


def test_mean_std_and_difference_are_reported():
    v = verdict_for([1.0, 2.0, 3.0], published=2.5, rel=0.5)
    assert v.reproduced == pytest.approx(2.0)
    assert v.reproduced_std == pytest.approx(1.0)
    assert v.n == 3
    assert v.difference == pytest.approx(-0.5)


def test_a_test_never_turns_a_miss_into_close():
    # Published 7.07 +- 0.10 over 10 splits (the CIFAR-10 Inception score style of report), tol 1 % = 0.0707.
    # A wide spread around a mean 0.17 below cannot reject equality, but that is no evidence of agreement.
    target, ref = value_target(7.07, Check(rel=0.01), published_std=0.10, published_n=10)
    wide = judge(target, {ref: Values([6.5, 7.2, 6.8, 7.1], "cpu")}, {})
    assert wide.verdict == NOT_REPRODUCED
    assert wide.test["test"] == "TOST equivalence within tol" and wide.test["p_value"] > 0.5
    assert "not shown" in wide.detail


def test_tost_shows_equivalence_only_for_tight_values_inside_the_margin():
    # Tight seeds 0.01 from the published value, margin 0.1: both one-sided tests reject.
    target, ref = value_target(1.0, Check(rel=0.1))
    tight = judge(target, {ref: Values([1.01, 1.012, 1.008, 1.01], "cpu")}, {})
    assert tight.verdict == REPRODUCED and tight.test["p_value"] < 1e-4 and "shown at 0.05" in tight.detail
    # Inside the margin on average but spread wide: reproduced by the rule, equivalence not shown.
    loose = judge(target, {ref: Values([0.8, 1.2, 1.05], "cpu")}, {})
    assert loose.verdict == REPRODUCED and loose.test["p_value"] > 0.05


def test_tost_p_by_hand():
    from scipy import stats

    # one sample against an exact published value: the larger of the two one-sided p-values
    mean, std, n, pub, margin = 1.02, 0.05, 5, 1.0, 0.1
    se = std / math.sqrt(n)
    expected = max(stats.t.sf((mean - pub + margin) / se, n - 1), stats.t.cdf((mean - pub - margin) / se, n - 1))
    assert tost_p(mean, std, n, pub, margin) == pytest.approx(expected)
    # against a published spread: Welch's standard error and degrees of freedom
    a, b = 0.05**2 / 5, 0.08**2 / 10
    df = (a + b) ** 2 / (a**2 / 4 + b**2 / 9)
    se = math.sqrt(a + b)
    expected = max(stats.t.sf((0.02 + margin) / se, df), stats.t.cdf((0.02 - margin) / se, df))
    assert tost_p(mean, std, n, pub, margin, 0.08, 10) == pytest.approx(expected)
    assert tost_p(1.0, 0.1, 1, 1.0, 0.1) is None  # one run: no test
    assert tost_p(1.05, 0.0, 3, 1.0, 0.1) == 0.0 and tost_p(1.2, 0.0, 3, 1.0, 0.1) == 1.0  # no spread at all


def test_missing_values_give_not_run_with_the_reason():
    target, ref = value_target(1.0, Check(rel=0.1))
    v = judge(target, {}, {ref.job: "needs dataset mnist: MNIST/raw/train-images-idx3-ubyte"})
    assert v.verdict == "not run: needs dataset mnist: MNIST/raw/train-images-idx3-ubyte"
    assert judge(target, {}, {}).verdict.startswith("not run: no finished runs")


def claim_target(claim, refs):
    return Target(id="c", paper_ref="Table 2", kind="claim", source="s", experiment="e", measurement=None,
                  published=None, published_std=None, published_n=1, check=None, claim=claim, refs=refs)


A, B, C = (Ref("e", name, "d", "kl") for name in ("A", "B", "C"))


def test_ordering_claim_flips_when_means_swap():
    claim = OrderingClaim(type="ordering", refs=["A/d/kl", "B/d/kl", "C/d/kl"], relation="<")
    target = claim_target(claim, [A, B, C])
    holds = judge(target, {A: Values([1, 1.1, 0.9], "cpu"), B: Values([2, 2.1, 1.9], "cpu"),
                           C: Values([3, 3.2, 2.9], "cpu")}, {})
    assert holds.verdict == HOLDS
    assert holds.test["p_value"] < 0.01
    fails = judge(target, {A: Values([1, 1.1, 0.9], "cpu"), B: Values([3.5, 3.6, 3.4], "cpu"),
                           C: Values([3, 3.2, 2.9], "cpu")}, {})
    assert fails.verdict == FAILS


def test_lowest_claim():
    claim = LowestClaim(type="lowest", refs=["A/d/kl", "B/d/kl"], expected="B/d/kl")
    target = claim_target(claim, [A, B, B])
    assert judge(target, {A: Values([2.0, 2.2], "cpu"), B: Values([1.0, 1.1], "cpu")}, {}).verdict == HOLDS
    assert judge(target, {A: Values([0.5, 0.6], "cpu"), B: Values([1.0, 1.1], "cpu")}, {}).verdict == FAILS


def test_bound_claim_is_checked_per_seed():
    lhs, rhs = Ref("e", "A", "d", "surrogate"), Ref("e", "A", "d", "exact")
    target = claim_target(BoundClaim(type="bound", lhs="surrogate", rhs="exact", relation="<="), [lhs, rhs])
    assert judge(target, {lhs: Values([-18, -44], "cpu"), rhs: Values([-16, -35], "cpu")}, {}).verdict == HOLDS
    # one seed out of two violates the bound: the claim fails even though the means satisfy it
    assert judge(target, {lhs: Values([-18, -34], "cpu"), rhs: Values([-16, -35], "cpu")}, {}).verdict == FAILS


def test_bound_against_a_constant_and_slack():
    lhs = Ref("e", "A", "d", "info")
    target = claim_target(BoundClaim(type="bound", lhs="info", rhs=math.log(10), slack=0.0), [lhs])
    assert judge(target, {lhs: Values([2.29, 2.30], "cpu")}, {}).verdict == HOLDS
    assert judge(target, {lhs: Values([2.29, 2.31], "cpu")}, {}).verdict == FAILS


def test_ratio_claim():
    lhs, rhs = Ref("e", "A", "d", "grad.ns"), Ref("e", "A", "d", "grad.s")
    target = claim_target(RatioClaim(type="ratio_at_least", lhs="grad.ns", rhs="grad.s", factor=10), [lhs, rhs])
    assert judge(target, {lhs: Values([1.0, 2.0], "cpu"), rhs: Values([0.05, 0.1], "cpu")}, {}).verdict == HOLDS
    assert judge(target, {lhs: Values([1.0, 2.0], "cpu"), rhs: Values([0.05, 0.3], "cpu")}, {}).verdict == FAILS


def test_correlation_claim():
    refs = [Ref("e", "W", f"t{i}", "w") for i in range(4)]
    claim = CorrelationClaim(type="correlation", refs=[f"t{i}/w" for i in range(4)], x=[0.25, 0.5, 1, 2], min_r=0.99)
    target = claim_target(claim, refs)
    linear = {r: Values([0.01 * x], "cpu") for r, x in zip(refs, [0.25, 0.5, 1, 2], strict=True)}
    assert judge(target, linear, {}).verdict == HOLDS
    flat = {r: Values([v], "cpu") for r, v in zip(refs, [0.3, 0.1, 0.3, 0.2], strict=True)}
    assert judge(target, flat, {}).verdict == FAILS


def test_cv_claim():
    ref = Ref("e", "A", "d", "x")
    target = claim_target(CvClaim(type="cv_at_most", ref="x", limit=0.1), [ref])
    assert judge(target, {ref: Values([1.0, 1.05, 0.95], "cpu")}, {}).verdict == HOLDS
    assert judge(target, {ref: Values([1.0, 2.0, 0.5], "cpu")}, {}).verdict == FAILS


# ------------------------------------------------------------------- claims over whole sweeps


def sweep(values, labels=None):
    return Values(list(values), "cpu", labels or [f"lr={i}" for i in range(len(values))])


def test_fraction_beats_best_counts_settings_above_the_others_best():
    lhs, rhs = Ref("e", "alpha", "d", "critic"), Ref("e", "DCGAN", "d", "critic")
    claim = FractionBeatsBestClaim(type="fraction_beats_best", over="sweep", lhs="alpha/d/critic",
                                   rhs="DCGAN/d/critic", relation=">", more_than=0.5)
    target = claim_target(claim, [lhs, rhs])
    dcgan = sweep([-0.9, -0.5, -0.3])  # best DCGAN: -0.3
    most = judge(target, {lhs: sweep([-0.2, -0.1, -0.4, 0.0]), rhs: dcgan}, {})
    assert most.verdict == HOLDS and most.test["fraction"] == 0.75
    assert "3 of 4" in most.detail
    # exactly half is not "most"
    half = judge(target, {lhs: sweep([-0.2, -0.1, -0.4, -0.35]), rhs: dcgan}, {})
    assert half.verdict == FAILS and half.test["fraction"] == 0.5
    lower = FractionBeatsBestClaim(type="fraction_beats_best", lhs="alpha/d/critic", rhs="DCGAN/d/critic",
                                   relation="<", more_than=0.5)
    assert judge(claim_target(lower, [lhs, rhs]), {lhs: sweep([-1.0, -2.0, 0.0]), rhs: dcgan}, {}).verdict == HOLDS


def test_paired_correlation_pairs_runs_by_setting_not_by_position():
    x, y = Ref("e", "alpha", "d", "critic"), Ref("e", "alpha", "d", "diversity")
    claim = PairedCorrelationClaim(type="paired_correlation", over="sweep", lhs="critic", rhs="diversity", min_r=0.5)
    target = claim_target(claim, [x, y])
    labels = ["a", "b", "c", "d", "e"]
    critic = Values([0.1, 0.2, 0.3, 0.4, 0.5], "cpu", labels)
    aligned = Values([1.0, 2.1, 2.9, 4.2, 5.0], "cpu", labels)
    result = judge(target, {x: critic, y: aligned}, {})
    assert result.verdict == HOLDS and result.test["r"] > 0.99 and result.test["n"] == 5
    # the same numbers listed in another order pair up the same way
    shuffled = Values([5.0, 1.0, 4.2, 2.1, 2.9], "cpu", ["e", "a", "d", "b", "c"])
    assert judge(target, {x: critic, y: shuffled}, {}).test["r"] == pytest.approx(result.test["r"])
    anti = Values([5.0, 4.1, 3.0, 2.2, 1.0], "cpu", labels)
    assert judge(target, {x: critic, y: anti}, {}).verdict == FAILS
    # fewer than three pairs: no correlation to speak of
    assert judge(target, {x: Values([0.1, 0.2], "cpu", ["a", "b"]), y: Values([1, 2], "cpu", ["a", "b"])},
                 {}).verdict == FAILS


def test_top_bottom_fraction_by_hand():
    # 4 runs; top half by a = runs 0, 1; bottom half by b = runs 0, 3: only run 0 disagrees
    assert top_bottom_fraction(np.array([4.0, 3.0, 2.0, 1.0]), np.array([1.0, 4.0, 3.0, 2.0])) == (1, 4)
    # the same ranking never disagrees; the reversed one always does for the top half
    a = np.arange(10.0)
    assert top_bottom_fraction(a, a) == (0, 10)
    assert top_bottom_fraction(a, -a) == (5, 10)
    # odd n: the median run belongs to neither half
    assert top_bottom_fraction(np.arange(5.0), -np.arange(5.0)) == (2, 5)


def test_rank_disagreement_is_a_value_judged_against_the_published_fraction():
    jobs = [("DCGAN", 6), ("alpha", 6)]
    top = [Ref("e", m, "cifar", "is.imagenet") for m, _ in jobs]
    bottom = [Ref("e", m, "cifar", "is.classifier") for m, _ in jobs]
    stat = RankDisagreement(type="rank_disagreement", top_by=[str(r) for r in top], bottom_by=[str(r) for r in bottom])
    target = Target(id="t", paper_ref="Section 6", kind="value", source="s", experiment="e",
                    measurement="rank_disagreement", published=0.15, published_std=None, published_n=1,
                    check=Check(rule="tolerance", abs=0.05), claim=None, refs=top + bottom, statistic=stat)
    assert target.scope == "sweep"
    imagenet = np.random.default_rng(0).normal(size=12)
    order = np.argsort(-imagenet)  # best first

    def verdict_when_swapped(pairs: int):
        """The classifier ranks like ImageNet, except that the best `pairs` jobs trade places with the worst."""
        classifier = imagenet.copy()
        for k in range(pairs):
            classifier[order[k]], classifier[order[-1 - k]] = imagenet[order[-1 - k]], imagenet[order[k]]
        lookup = {}
        for k, (t, b) in enumerate(zip(top, bottom, strict=True)):
            labels = [f"s{i}" for i in range(6)]
            lookup[t] = Values(list(imagenet[6 * k:6 * k + 6]), "cpu", labels)
            lookup[b] = Values(list(classifier[6 * k:6 * k + 6]), "cpu", labels)
        return judge(target, lookup, {})

    assert verdict_when_swapped(0).reproduced == 0 and verdict_when_swapped(0).verdict == NOT_REPRODUCED
    one = verdict_when_swapped(1)
    assert one.reproduced == pytest.approx(1 / 12) and one.verdict == CLOSE  # |1/12 - 0.15| in (0.05, 0.10]
    assert "1 of 12 runs" in one.detail
    two = verdict_when_swapped(2)
    assert two.reproduced == pytest.approx(2 / 12) and two.verdict == REPRODUCED
    assert verdict_when_swapped(4).verdict == NOT_REPRODUCED  # 4/12 = 0.33
