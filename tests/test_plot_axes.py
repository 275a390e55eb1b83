"""The published-vs-reproduced plots choose their axes from every value they draw, and draw every point: zeros
and negative values never fall off a log axis."""

from __future__ import annotations

import math

import matplotlib
import pytest

from benchmark import report_plots
from benchmark.check import Verdict
from benchmark.schema import Check

matplotlib.use("Agg")


@pytest.mark.parametrize("values,scale", [
    ([0.03, 0.1, 7.2], "log"),                        # positive, over two decades
    ([1.1, 1.3, 3.4], "linear"),                      # positive, narrow
    ([-16.4, -58.0, -203.5], "neglog"),               # negative, a decade: magnitudes on log axes
    ([0.0, 0.0, 3.0, 8.0, 10.0], "linear"),           # mode counts with zeros, narrow
    ([0.0, 0.004, 0.3, 6.2], "symlog"),               # zeros among KLs over three decades
    ([0.0, 0.25, 2.0], "linear"),                     # a zero, less than a decade
    ([-0.02, 0.5, 4.0], "symlog"),                    # both signs, over two decades
    ([-3.0, 2.0, 1.0], "linear"),                     # both signs, narrow
    ([-16.4, -203.5, 0.0], "symlog"),                 # a zero among negative log-likelihoods over a decade
    ([-16.4, -58.0, 0.0], "linear"),                  # the same, narrow
    ([0.0, 0.0], "linear"),                           # nothing but zeros
    ([5.0], "linear"),
])
def test_axis_scale_follows_zeros_signs_and_range(values, scale):
    assert report_plots.axis_scale(values) == scale


def test_the_paper_s_numbers_set_the_threshold_of_a_symlog_axis():
    # ours, a hair below the paper's zero, do not stretch the axis over empty decades
    assert report_plots.axis_scale([0.0, -2.2e-6, 0.6931, 0.7], published=[0.0, 0.6931]) == "linear"
    assert report_plots.axis_scale([0.0, -2.2e-6, 0.6931, 0.7]) == "symlog"


def test_linear_threshold_is_the_smallest_non_zero_published_magnitude():
    assert report_plots.linear_threshold([0.0, -0.02, 0.5, 4.0], [0.0, -0.02, 0.5, 4.0, 1e-6]) == 0.02
    # every published number zero: the smallest of ours
    assert report_plots.linear_threshold([0.0, 0.0], [0.0, 0.004, -0.3]) == 0.004


def verdict(published: float, reproduced: float, std: float = 0.0) -> Verdict:
    return Verdict(target=f"t/{published}/{reproduced}", paper_ref="Table 1", kind="value", measurement="m",
                   published=published, published_std=None, reproduced=reproduced, reproduced_std=std, n=3,
                   difference=reproduced - published, verdict="reproduced", detail="", profile="cpu", source="",
                   rule="", outcome="reproduced")


CHECK = Check(rule="tolerance", rel=0.5)


@pytest.mark.parametrize("pairs,scale", [
    # KLs over decades, where two runs reproduced exactly zero: a log axis would drop those two silently
    ([(0.3, 0.25), (0.004, 0.0), (6.2, 5.0), (0.09, 0.0)], "symmetric log"),
    # a mode count with zeros published and reproduced, narrow: linear
    ([(0.0, 0.0), (8.0, 7.0), (3.0, 0.0), (10.0, 10.0)], "linear"),
    # both signs over decades
    ([(-0.02, -0.01), (0.5, 0.6), (4.0, 3.0), (0.0, 0.001)], "symmetric log"),
    # a JSD of 0 and of log 2, ours a hair below zero: no decades beyond the smallest published log 2, linear
    ([(0.0, -2.2e-6), (0.6931, 0.69), (0.6931, 0.7)], "linear"),
    # the same hair beside published numbers over decades: it stays in the linear part around zero
    ([(0.0, -2.2e-6), (0.01, 0.012), (2.0, 1.9)], "symmetric log"),
    # every published number zero (D* errors): ours set the threshold
    ([(0.0, 0.0025), (0.0, 0.01), (0.0, 0.3)], "symmetric log"),
    # negative log-likelihoods over a decade, one reproduced as positive
    ([(-16.4, -17.0), (-58.0, -60.0), (-203.5, 1.5)], "symmetric log"),
    ([(0.03, 0.04), (0.1, 0.12), (7.2, 7.0)], "log"),
    ([(-16.4, -17.0), (-58.0, -60.0), (-203.5, -190.0)], "log of magnitudes"),
])
def test_every_point_is_drawn_inside_the_axes(tmp_path, pairs, scale):
    points = [report_plots.Point(verdict(p, r, std=0.1 * abs(r)), "", CHECK) for p, r in pairs]
    info = report_plots.draw(points, "Table 1", tmp_path / "t1.png")
    assert info.scale.startswith(scale)
    assert info.shown == len(pairs) and info.missing == 0
    lo, hi = info.limits
    sign = -1.0 if scale == "log of magnitudes" else 1.0
    for p, r in pairs:
        for v in (sign * p, sign * r):
            assert lo < v < hi, (v, info.limits)
    if scale == "symmetric log":
        published = [abs(p) for p, _ in pairs if p != 0]
        smallest = min(published or [abs(r) for _, r in pairs if r != 0])
        assert info.linthresh == smallest
        assert f"±{smallest:.3g}" in info.scale
    assert (tmp_path / "t1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_point_without_a_reproduced_value_is_counted_missing_not_drawn(tmp_path):
    points = [report_plots.Point(verdict(0.0, 0.0), "", CHECK), report_plots.Point(verdict(1.0, 1.0), "", CHECK),
              report_plots.Point(verdict(2.0, math.nan), "", CHECK)]
    points[2].verdict.reproduced = None
    info = report_plots.draw(points, "Table 1", tmp_path / "t1.png")
    assert (info.shown, info.missing) == (2, 1)
