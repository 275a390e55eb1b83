"""Verdict rules: each must flip when the reproduced value crosses its threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark import evidence
from benchmark.check import (
    CLOSE,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Values,
    close_band,
    close_floor,
    judge,
    judge_families,
    shown,
    top_bottom_fraction,
    tost_p,
    undecided,
    undecided_jobs,
)
from benchmark.suite import (
    ApproxEqualClaim,
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


def shifted(values, by):
    return [v + by for v in values]


TIGHT = [1.00, 1.02, 1.04]  # mean 1.02, std 0.02: the 90 % t interval is mean ± 0.034


def test_each_value_outcome_flips_as_the_seeds_move():
    """published 1.0, rel 0.1: tolerance band [0.9, 1.1]; close band [1 / 1.2, 1.2]."""
    assert verdict_for(TIGHT, rel=0.1).verdict == REPRODUCED
    assert verdict_for(shifted(TIGHT, 0.13), rel=0.1).verdict == CLOSE  # [1.116, 1.184]
    assert verdict_for(shifted(TIGHT, 0.28), rel=0.1).verdict == NOT_REPRODUCED  # [1.266, 1.334]
    # the same mean with the seeds spread wide: the interval crosses an edge and cannot decide
    wide = verdict_for([0.95, 1.05, 1.15], rel=0.1)
    assert wide.verdict == INCONCLUSIVE and wide.reproduced == pytest.approx(1.05)
    # a mean inside the band is not enough; nor is one just past an edge
    assert verdict_for(shifted(TIGHT, 0.06), rel=0.1).verdict == INCONCLUSIVE  # [1.046, 1.114] crosses 1.1
    assert verdict_for(shifted(TIGHT, 0.17), rel=0.1).verdict == INCONCLUSIVE  # [1.156, 1.224] crosses 1.2


def test_the_interval_is_student_t_at_one_minus_two_alpha():
    from scipy import stats

    v = verdict_for(TIGHT, rel=0.1)
    half = stats.t.ppf(0.95, 2) * 0.02 / math.sqrt(3)
    assert v.level == pytest.approx(0.90)
    assert v.interval == pytest.approx([1.02 - half, 1.02 + half])
    assert shown(v) == f"1.02 [{1.02 - half:.4g}, {1.02 + half:.4g}] (n=3)"
    # a stricter alpha widens it: the same seeds no longer show equivalence
    strict = verdict_for(shifted(TIGHT, 0.045), rel=0.1, alpha=0.001)
    assert verdict_for(shifted(TIGHT, 0.045), rel=0.1).verdict == REPRODUCED
    assert strict.verdict == INCONCLUSIVE


def test_reproduced_means_equivalence_shown_by_tost():
    """The interval inside the tolerance band and TOST rejecting at alpha are the same decision."""
    rng = np.random.default_rng(3)
    agree = 0
    for _ in range(200):
        values = list(rng.normal(rng.uniform(0.8, 1.2), rng.uniform(0.005, 0.08), size=int(rng.integers(2, 8))))
        v = verdict_for(values, rel=0.1)
        agree += (v.verdict == REPRODUCED) == (v.test["p_value"] < 0.05)
    assert agree == 200


def test_seeds_to_decide_at_the_observed_spread_decide():
    """An inconclusive verdict names the seeds likely to decide it; that many seeds with the same mean and spread
    do decide, and one fewer does not."""
    wide = verdict_for([0.95, 1.05, 1.15], rel=0.1)  # mean 1.05, std 0.1: 0.05 from the edge at 1.1
    need = wide.seeds_to_decide
    assert need is not None and 10 < need < 20 and f"about {need} seeds" in wide.detail

    def seeds(n):
        z = np.linspace(-1, 1, n)
        return list(1.05 + 0.1 * (z - z.mean()) / z.std(ddof=1))

    assert verdict_for(seeds(need), rel=0.1).verdict == REPRODUCED
    assert verdict_for(seeds(need - 1), rel=0.1).verdict == INCONCLUSIVE
    # a mean on an edge is never likely to be decided
    assert verdict_for([1.0, 1.1, 1.2], rel=0.1).seeds_to_decide is None


def test_one_seed_decides_only_against_a_published_spread():
    one = verdict_for([1.0], rel=0.1)
    assert one.verdict == INCONCLUSIVE and one.interval is None and "one seed gives no spread" in one.detail
    assert shown(one) == "1 [unbounded] (n=1)"
    assert verdict_for([2.0], rel=0.1).verdict == INCONCLUSIVE  # even far off: one seed cannot say how far
    # the paper's spread over 5 runs stands for ours: pooled t with 4 degrees of freedom
    target, ref = value_target(1.0, Check(rel=0.1), published_std=0.01, published_n=5)
    pooled = judge(target, {ref: Values([1.0], "cpu")}, {})
    assert pooled.verdict == REPRODUCED and "pooled t" in pooled.detail
    assert judge(target, {ref: Values([1.3], "cpu")}, {}).verdict == NOT_REPRODUCED


def test_against_a_published_spread_the_interval_is_welch():
    # Published 7.07 +- 0.10 over 10 splits (the CIFAR-10 Inception score style of report), tol 1 % = 0.0707.
    # A wide spread around a mean 0.17 below cannot decide; nor would more seeds: the paper's own spread keeps
    # the interval of the difference wider than the mean's distance to the close band's edge.
    target, ref = value_target(7.07, Check(rel=0.01), published_std=0.10, published_n=10)
    wide = judge(target, {ref: Values([6.5, 7.2, 6.8, 7.1], "cpu")}, {})
    assert wide.verdict == INCONCLUSIVE and wide.seeds_to_decide is None and "Welch" in wide.detail
    assert wide.test["test"] == "TOST equivalence within tol" and wide.test["p_value"] > 0.5
    far = judge(target, {ref: Values([6.5, 6.6, 6.55, 6.45], "cpu")}, {})
    assert far.verdict == NOT_REPRODUCED
    from scipy import stats

    a, b = np.var([6.5, 6.6, 6.55, 6.45], ddof=1) / 4, 0.10**2 / 10
    df = (a + b) ** 2 / (a**2 / 3 + b**2 / 9)
    half = stats.t.ppf(0.95, df) * math.sqrt(a + b)
    assert far.interval == pytest.approx([6.525 - half, 6.525 + half])


def test_a_relative_close_band_never_reaches_zero():
    """rel 0.5, close_factor 2: 2x the published is the close band's upper edge, so half of it is the lower one;
    published x (1 - 2 x 0.5) = 0 would call 0.085 close to 0.79 (seen on Table 2's spirals)."""
    assert close_band(0.79, 0.0, 0.5, 2.0) == pytest.approx((0.395, 1.58))
    assert close_band(1.0, 0.0, 0.1, 2.0) == pytest.approx((1 / 1.2, 1.2))
    assert verdict_for([0.084, 0.085, 0.086], published=0.79, rel=0.5).verdict == NOT_REPRODUCED
    assert verdict_for([0.85, 0.851, 0.852], rel=0.1).verdict == CLOSE
    assert verdict_for([0.82, 0.821, 0.822], rel=0.1).verdict == NOT_REPRODUCED


def test_the_close_band_mirrors_in_ratio_for_negative_published_values():
    """Entropic GAN's d = 5 exact log-likelihood, -16.38 at rel 0.1: the close band is [-16.38 x 1.2,
    -16.38 / 1.2] = [-19.66, -13.65], mirrored in ratio about the published value as for a positive one."""
    assert close_band(-16.38, 0.0, 0.1, 2.0) == pytest.approx((-16.38 * 1.2, -16.38 / 1.2))
    assert close_floor(-16.38, 0.0, 0.1, 2.0) == close_floor(16.38, 0.0, 0.1, 2.0)
    ours = [-13.139, -13.141, -13.143]  # the committed reproduction: past the mirrored edge, nearer zero
    assert verdict_for(ours, published=-16.38, rel=0.1).verdict == NOT_REPRODUCED
    assert verdict_for(shifted(ours, -0.6), published=-16.38, rel=0.1).verdict == CLOSE  # -13.74
    assert verdict_for(shifted(ours, -6.3), published=-16.38, rel=0.1).verdict == CLOSE  # -19.44
    assert verdict_for(shifted(ours, -6.6), published=-16.38, rel=0.1).verdict == NOT_REPRODUCED  # -19.74
    assert verdict_for(shifted(ours, -3.3), published=-16.38, rel=0.1).verdict == REPRODUCED  # -16.44
    # an absolute tolerance has no ratio: the band is symmetric
    assert close_band(-1.0, 0.5, 0.1, 2.0) == pytest.approx((-2.0, 0.0))


def test_absolute_tolerance_is_used_when_larger():
    assert verdict_for([0.03, 0.04, 0.05], published=0.0, rel=0.5, abs=0.05).verdict == INCONCLUSIVE
    assert verdict_for([0.039, 0.04, 0.041], published=0.0, rel=0.5, abs=0.05).verdict == REPRODUCED
    assert verdict_for([0.069, 0.07, 0.071], published=0.0, rel=0.5, abs=0.05).verdict == CLOSE


def test_at_most_and_at_least():
    at_most = dict(published=0.0, rule="at_most", limit=0.02)  # close up to 0.04
    assert verdict_for([0.010, 0.012, 0.014], **at_most).verdict == REPRODUCED
    assert verdict_for([0.030, 0.032, 0.034], **at_most).verdict == CLOSE
    assert verdict_for([0.050, 0.052, 0.054], **at_most).verdict == NOT_REPRODUCED
    wide = verdict_for([0.010, 0.030, 0.050], **at_most)
    assert wide.verdict == INCONCLUSIVE and wide.seeds_to_decide is not None
    at_least = dict(published=10, rule="at_least", limit=10, close_factor=1.5)  # close down to 5
    assert verdict_for([11.0, 11.1, 11.2], **at_least).verdict == REPRODUCED
    assert verdict_for([6.0, 6.1, 6.2], **at_least).verdict == CLOSE
    assert verdict_for([4.0, 4.1, 4.2], **at_least).verdict == NOT_REPRODUCED


def test_mean_std_and_difference_are_reported():
    v = verdict_for([1.0, 2.0, 3.0], published=2.5, rel=0.5)
    assert v.reproduced == pytest.approx(2.0)
    assert v.reproduced_std == pytest.approx(1.0)
    assert v.n == 3
    assert v.difference == pytest.approx(-0.5)


def test_undecided_lists_the_inconclusive_targets_and_their_jobs():
    target, ref = value_target(1.0, Check(rel=0.1))
    decided = judge(target, {ref: Values(TIGHT, "cpu")}, {})
    open_ = judge(target, {ref: Values([0.95, 1.05, 1.15], "cpu")}, {})
    assert undecided([decided]) == [] and undecided([decided, open_]) == ["t"]
    assert undecided_jobs([open_], [target]) == {("e", "M", "d")}
    assert undecided_jobs([decided], [target]) == set()


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


def test_ordering_claim_holds_fails_or_is_inconclusive_as_the_seeds_move():
    claim = OrderingClaim(type="ordering", refs=["A/d/kl", "B/d/kl", "C/d/kl"], relation="<")
    target = claim_target(claim, [A, B, C])
    a, c = Values([1, 1.1, 0.9], "cpu"), Values([3, 3.2, 2.9], "cpu")

    def with_b(values):
        return judge(target, {A: a, B: Values(values, "cpu"), C: c}, {})

    holds = with_b([2, 2.1, 1.9])
    assert holds.verdict == HOLDS and holds.test["p_value"] < 0.01
    assert "P(A < B) = 1.00" in holds.detail and holds.test["p_below"] == [1.0, 1.0]
    assert with_b([3.5, 3.6, 3.4]).verdict == FAILS  # B above C, shown
    # B's means still fall in order, but B's seeds reach both neighbours: neither order is shown
    loose = with_b([1.3, 2.0, 3.1])
    assert loose.verdict == INCONCLUSIVE and "P(A < B) = 1.00, P(B < C) = 0.78" in loose.detail
    assert with_b([3.05, 3.1, 3.0]).verdict == INCONCLUSIVE  # B level with C


def test_ordering_is_paired_where_the_runs_share_seeds():
    """The same shift between two methods: across seeds the runs vary together, so the paired test shows the order
    that Welch's cannot."""
    seeds = ["seed 0", "seed 1", "seed 2"]
    claim = OrderingClaim(type="ordering", refs=["A/d/kl", "B/d/kl"], relation="<")
    target = claim_target(claim, [A, B])
    lower, higher = [1.0, 1.1, 0.9], [1.2, 1.4, 1.05]
    paired = judge(target, {A: Values(lower, "cpu", seeds), B: Values(higher, "cpu", seeds)}, {})
    assert paired.verdict == HOLDS and paired.test["test"].startswith("one-sided paired")
    apart = judge(target, {A: Values(lower, "cpu", seeds), B: Values(higher, "cpu", ["seed 3", "seed 4", "seed 5"])},
                  {})
    assert apart.verdict == INCONCLUSIVE and apart.test["test"].startswith("one-sided Welch")


def test_orderings_are_corrected_over_the_papers_orderings():
    """p = 0.034 shows an order on its own; two such claims in one paper do not (Holm: 0.069 each)."""
    claim = OrderingClaim(type="ordering", refs=["A/d/kl", "B/d/kl"], relation="<")
    target = claim_target(claim, [A, B])
    lookup = {A: Values([1.0, 1.1, 0.9], "cpu"), B: Values([1.3, 1.5, 1.15], "cpu")}
    one = judge(target, lookup, {})
    assert one.test["p_holds"] == pytest.approx(0.0343, abs=1e-3) and one.verdict == HOLDS
    assert judge_families([judge(target, lookup, {})])[0].verdict == HOLDS
    family = judge_families([judge(target, lookup, {}), judge(target, lookup, {})])
    assert [v.verdict for v in family] == [INCONCLUSIVE, INCONCLUSIVE]
    assert family[0].test["p_value"] == pytest.approx(2 * 0.0343, abs=2e-3) and "Holm over" in family[0].detail
    # a strongly shown order survives the correction beside a weak one
    strong = judge(target, {A: Values([1.0, 1.1, 0.9], "cpu"), B: Values([2.0, 2.1, 1.9], "cpu")}, {})
    weak = judge(target, {A: Values([1.0, 1.1, 0.9], "cpu"), B: Values([1.1, 1.2, 1.0], "cpu")}, {})
    assert [v.verdict for v in judge_families([strong, weak])] == [HOLDS, INCONCLUSIVE]


def test_lowest_claim():
    claim = LowestClaim(type="lowest", refs=["A/d/kl", "B/d/kl", "C/d/kl"], expected="B/d/kl")
    target = claim_target(claim, [A, B, C, B])
    others = {A: Values([2.0, 2.2, 2.1], "cpu"), C: Values([3.0, 3.1, 2.9], "cpu")}
    holds = judge(target, {**others, B: Values([1.0, 1.1, 1.05], "cpu")}, {})
    assert holds.verdict == HOLDS and "P(B < A) = 1.00" in holds.detail
    assert judge(target, {**others, B: Values([2.6, 2.7, 2.65], "cpu")}, {}).verdict == FAILS  # A lower
    # lowest by its mean, but not shown against the runner-up
    assert judge(target, {**others, B: Values([1.5, 2.3, 2.1], "cpu")}, {}).verdict == INCONCLUSIVE
    highest = LowestClaim(type="lowest", refs=["A/d/kl", "B/d/kl", "C/d/kl"], expected="C/d/kl", highest=True)
    assert judge(claim_target(highest, [A, B, C, C]), {**others, B: Values([1.0, 1.1, 1.05], "cpu")},
                 {}).verdict == HOLDS


def test_approx_equal_needs_equivalence_shown():
    claim = ApproxEqualClaim(type="approx_equal", lhs="A/d/kl", rhs="B/d/kl", abs=0.5)
    target = claim_target(claim, [A, B])
    b = Values([1.0, 1.1, 0.9], "cpu")

    def with_a(values):
        return judge(target, {A: Values(values, "cpu"), B: b}, {})

    assert with_a([1.1, 1.2, 1.0]).verdict == HOLDS  # 0.1 apart, tight: inside ±0.5 shown
    assert with_a([2.1, 2.2, 2.0]).verdict == FAILS  # 1.1 apart: beyond 0.5 shown
    # 0.1 apart on average, as before, but spread wide: a two-sided test of difference would not reject, which
    # is no evidence of equality
    wide = with_a([0.2, 1.2, 1.9])
    assert wide.verdict == INCONCLUSIVE and wide.test["p_value"] > 0.05


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

    # the statistic is not a mean: its interval is a bootstrap over the 12 runs
    none = verdict_when_swapped(0)
    assert none.reproduced == 0 and none.interval == [0.0, 0.0] and none.verdict == NOT_REPRODUCED
    one = verdict_when_swapped(1)
    assert one.reproduced == pytest.approx(1 / 12) and "1 of 12 runs" in one.detail and "bootstrap" in one.detail
    # 12 runs cannot tell 1/12 from the published 0.15: the interval spans both
    assert one.verdict == INCONCLUSIVE and one.interval[0] <= 1 / 12 and one.interval[1] >= 0.15
    assert one.n == 12
    five = verdict_when_swapped(5)
    assert five.reproduced == pytest.approx(5 / 12) and five.interval[0] > 0.25 and five.verdict == NOT_REPRODUCED


# ------------------------------------------------------------------- diverged seeds


def test_a_diverged_seed_stays_in_a_value_target():
    target, ref = value_target(1.0, Check(rel=0.1))
    clean = judge(target, {ref: Values(TIGHT, "cpu")}, {})
    assert clean.verdict == REPRODUCED and clean.diverged == 0
    # the same three finite seeds and a fourth that diverged: not reproduced as published
    one_lost = judge(target, {ref: Values(TIGHT, "cpu", diverged=["seed 3"])}, {})
    assert one_lost.verdict == CLOSE and one_lost.diverged == 1 and "1 of 4 seeds diverged" in one_lost.detail
    from scipy import stats

    wilson = stats.binomtest(1, 4).proportion_ci(confidence_level=0.9, method="wilson")
    assert one_lost.diverged_rate == pytest.approx([wilson.low, wilson.high])
    # a paper that reports divergence of its own runs: the finite seeds decide
    target.reports_divergence = True
    assert judge(target, {ref: Values(TIGHT, "cpu", diverged=["seed 3"])}, {}).verdict == REPRODUCED
    # every seed diverged: a result, and not the published one
    gone = judge(target, {ref: Values([], "cpu", diverged=["seed 0", "seed 1", "seed 2"])}, {})
    assert gone.verdict == NOT_REPRODUCED and gone.diverged == 3 and "3 of 3 seeds diverged" in gone.detail


def test_an_ordering_counts_a_diverged_seed_as_the_worst_outcome():
    claim = OrderingClaim(type="ordering", refs=["A/d/kl", "B/d/kl"], relation="<")
    target = claim_target(claim, [A, B])
    b = Values([2.0, 2.1, 1.9], "cpu")
    assert judge(target, {A: Values([1.0, 1.1, 0.9], "cpu"), B: b}, {}).verdict == HOLDS
    # A's three finite seeds are as low as before, but three more diverged: counted at 2.1, A is no longer shown
    # below B
    lost = judge(target, {A: Values([1.0, 1.1, 0.9], "cpu", diverged=["seed 3", "seed 4", "seed 5"]), B: b}, {})
    assert lost.verdict == INCONCLUSIVE and lost.diverged == 3 and "counted as the worst value reached (2.1)" in \
        lost.detail
    # B's diverged seeds only make B worse: the order still holds
    b_lost = Values([2.0, 2.1, 1.9], "cpu", diverged=["seed 3"])
    assert judge(target, {A: Values([1.0, 1.1, 0.9], "cpu"), B: b_lost}, {}).verdict == HOLDS
    # every seed of A diverged: counted at B's worst, A can never be shown below B (no number worse than any seen is
    # invented, so it is not shown above either)
    gone = judge(target, {A: Values([], "cpu", diverged=["seed 0", "seed 1", "seed 2"]), B: b}, {})
    assert gone.verdict == INCONCLUSIVE and gone.test["p_holds"] > 0.5


# ------------------------------------------------------------------- the statistics underneath (benchmark.evidence)


def test_the_welch_interval_is_scipys_around_our_mean():
    """Against a published mean ± std over its runs, the interval is SciPy's Welch interval of the difference,
    moved to our mean: the same band decision as a two-sample test."""
    from scipy import stats

    ours, theirs = np.array([6.5, 7.2, 6.8, 7.1]), np.array([7.0, 7.2, 6.9, 7.1, 7.05, 6.95, 7.15, 7.0, 7.1, 7.3])
    iv = evidence.mean_interval(ours, 0.9, float(np.std(theirs, ddof=1)), len(theirs))
    ci = stats.ttest_ind(ours, theirs, equal_var=False).confidence_interval(0.9)
    assert (iv.lo - theirs.mean(), iv.hi - theirs.mean()) == pytest.approx((ci.low, ci.high))
    assert iv.method == "Welch"


def test_probability_below_wilson_and_exact_orders():
    assert evidence.probability_below([1, 2], [1.5, 3]) == 0.75  # 3 of the 4 pairs
    assert evidence.probability_below([1, 2], [2, 3]) == 0.875  # the tie counts a half
    assert evidence.one_sided([1, 1], [2, 2], "less", paired=False) == 0.0  # no spread: the order is exact
    assert evidence.one_sided([1, 1], [2, 2], "greater", paired=False) == 1.0
    assert evidence.one_sided([1.0], [2.0, 2.1], "less", paired=False) is None
    lo, hi = evidence.wilson(0, 10, 0.95)
    z = 1.959963984540054
    assert lo == 0 and hi == pytest.approx(z**2 / (10 + z**2))  # Wilson's upper bound at k = 0
    p_equal, p_apart = evidence.tost([1.0, 1.1, 0.9], [3.0, 3.1, 2.9], 0.5, paired=False)
    assert p_equal > 0.5 and p_apart < 0.01
