"""The leaderboard's views: paper-shaped tables, plots, not-run causes, README limits, JSON, the terminal table.

The verdicts here are judged by the real checker (``check.judge``) on the real suites' targets, from
synthetic per-seed values: every shape the suites have (Table 2's blocks with the numbers above them and its
bold face, Table 3, the tightness table), every outcome, both roles that are not counted, a failed job,
missing files and a missing GPU, and budgets at and below the paper's.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from benchmark import leaderboard, report_causes, report_plots, report_tables
from benchmark.check import Values, judge
from benchmark.report_outcomes import FAILED, NOT_RUN, count, outcome
from benchmark.results import SuiteResults
from benchmark.suite import load_suite

MNIST = ("needs dataset mnist: <data dir>/MNIST/raw/{train-images-idx3-ubyte,train-labels-idx1-ubyte,"
         "t10k-images-idx3-ubyte,t10k-labels-idx1-ubyte} (the unpacked files of torchvision.datasets.MNIST; set "
         "--data-dir or BENCH_DATA)")
GPU = "needs GPU"
DIVERGED = "all 2 runs diverged (loss 'nll' became nan at step 100)"
# relative errors of the synthetic means: inside, near and far outside a 50 % tolerance
ERRORS = (0.01, 0.2, 0.8, 1.6, -0.7, 0.05)


def synthetic(suite_file: Path, missing: dict[str, str], budgets: dict[str, float | None],
              roles: dict[str, tuple[str, str]] | None = None, failed: dict[str, str] | None = None,
              seed: int = 0) -> SuiteResults:
    """A suite's targets judged from made-up per-seed values, with the read-back fields the engine fills.

    missing: dataset -> the reason its jobs did not run; budgets: experiment -> budget fraction;
    roles: target -> (role, note); failed: target -> the error that failed its job."""
    suite = load_suite(suite_file)
    rng = random.Random(seed)
    published = {t.refs[0]: t.published for t in suite.all_targets
                 if t.kind == "value" and t.statistic is None and t.published is not None}
    lookup: dict = {}
    reasons: dict = {}
    for target in suite.all_targets:
        for ref in target.refs:
            if ref in lookup or ref.job in reasons:
                continue
            if ref.dataset in missing:
                reasons[ref.job] = missing[ref.dataset]
                continue
            centre = published.get(ref, rng.uniform(0.5, 3.0)) or 0.05
            error = rng.choice(ERRORS)
            values = [centre * (1 + error) + abs(centre) * rng.gauss(0, 0.05) for _ in range(3)]
            lookup[ref] = Values(values, "cpu", [f"seed {i}" for i in range(3)])
    verdicts = [judge(t, lookup, reasons) for t in suite.all_targets]
    for v, t in zip(verdicts, suite.all_targets, strict=True):
        fraction = budgets.get(t.experiment)
        v.budget_fraction = fraction
        v.budget = "no published budget" if fraction is None else (
            "the paper's budget" if fraction >= 1 else f"{fraction:.0%} of the paper's steps")
        v.device = "cpu"
        v.outcome = outcome(v)
        if v.outcome == NOT_RUN:
            v.reason = v.verdict.split(": ", 1)[1]
        else:
            v.run_ids = [f"{rng.getrandbits(128):032x}" for _ in range(3)]
        if roles and v.target in roles:
            v.role, v.note = roles[v.target]
        if failed and v.target in failed:
            v.outcome, v.reason, v.verdict = FAILED, failed[v.target], f"not run: {failed[v.target]}"
            v.reproduced = v.reproduced_std = v.difference = None
            v.run_ids = []
    return SuiteResults(suite, verdicts, figures={}, runs_total=len(verdicts), profiles={})


def calibrating() -> SuiteResults:
    return synthetic(REPO / "suites" / "calibrating_ebgan.yaml",
                     missing={"mnist_all": MNIST, "cifar10": GPU},
                     budgets={"synthetic": 0.04, "digit_ranking": 0.1},
                     roles={"table2/gmm4/dataset/kl.pdata_pemp": ("sanity", "a property of the dataset alone"),
                            "table2/biased/dataset/kl.pdata_pemp": ("calibration", "the grid was sized to match")},
                     failed={"section5.1/biased/EGAN-Ent-VI/small-mode-lower-energy": DIVERGED})


def entropic() -> SuiteResults:
    experiments = ["tightness_d5", "tightness_d10", "tightness_d20", "tightness_d30", "tightness_d64"]
    return synthetic(REPO / "suites" / "entropic_gan_vae.yaml", missing={"mnist1": MNIST},
                     budgets={e: 1.0 for e in experiments}, seed=1)


class NoStore:
    """A tracker without runs: the experiment ids that run links need, and no figure artifacts."""

    def experiment_id(self, suite: str, create: bool = True) -> str:
        return "7"

    def download_artifacts(self, run_id: str, path: str, dst: Path) -> None:
        return None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, list[SuiteResults]]:
    out = tmp_path_factory.mktemp("leaderboard")
    results = [entropic(), calibrating()]
    leaderboard.write(results, out, NoStore())
    return out, results


def test_readme_lines_fit_and_each_cause_is_stated_once_per_paper(rendered):
    out, results = rendered
    readme = (out / "README.md").read_text()
    # counted in bytes, the strictest measure: ✅ and ± are one character but more than one byte or column
    long = [(i, len(line.encode())) for i, line in enumerate(readme.splitlines(), 1) if len(line.encode()) > 200]
    assert not long, f"README lines over 200 bytes: {long[:5]}"
    data = json.loads((out / "results.json").read_text())
    sections = readme.split("\n## ")
    for suite in data["suites"]:
        section = " ".join(next(s for s in sections if s.startswith(suite["title"])).split())
        assert suite["causes"], suite["suite"]
        for cause in suite["causes"]:
            assert section.count(" ".join(cause["reason"].split())) == 1, cause["reason"]
        # a file the cause names is listed under it once, and nowhere else in the paper
        for cause in suite["causes"]:
            for f in cause["files"]:
                assert section.count(f"`{f}`") == 1, f


def test_readme_has_the_overview_then_each_paper_in_the_paper_s_shape(rendered):
    out, _ = rendered
    readme = (out / "README.md").read_text()
    overview = readme.index("## Overview")
    assert overview < readme.index("## Calibrating Energy-based") and overview < readme.index("## Entropic GANs")
    table2 = readme.split("### Table 2 (Appendix B.2)")[1].split("\n### ")[0]
    # ten KL columns are wider than 200 characters: split into parts, each repeating the method column
    assert "Columns 1–" in table2
    header_rows = [line for line in table2.splitlines() if line.startswith("| method")]
    assert len(header_rows) >= 2
    columns = [c.strip() for row in header_rows for c in row.strip("|").split("|")[1:]]
    assert columns == ["pgen_pemp", "pemp_pgen", "pgen_pdata", "pdata_pgen", "pdisc_pemp", "pemp_pdisc",
                       "pdisc_pdata", "pdata_pdisc", "pgen_pdisc", "pdisc_pgen"]
    assert "| **gmm4** |" in table2 and "| EGAN-Ent-NN |" in table2
    assert "**0.1131**" in table2  # the paper's bold face: EGAN-Ent-NN's lowest KL(pgen||pemp) on gmm4


def test_table2_is_methods_by_datasets_by_kl_columns_with_the_lines_above_and_the_bold_face():
    res = calibrating()
    grids, rest = report_tables.shape(res.suite, res.verdicts)
    table2 = next(g for g in grids if g.title == "Table 2 (Appendix B.2)")
    assert table2.column_prefix == "kl."
    assert table2.columns == ["pgen_pemp", "pemp_pgen", "pgen_pdata", "pdata_pgen", "pdisc_pemp", "pemp_pdisc",
                              "pdisc_pdata", "pdata_pdisc", "pgen_pdisc", "pdisc_pgen"]
    assert [b.name for b in table2.blocks] == ["gmm4", "biased", "spirals"]
    for block in table2.blocks:
        assert [r.label for r in block.rows] == ["GAN", "EGAN-Const", "EGAN-Ent-VI", "EGAN-Ent-NN"]
        assert all(c is not None for r in block.rows for c in r.cells)
        assert all(c is not None for c in block.column_claims)  # every column has its bold-face claim
        assert [r.bold for r in block.rows][3] == [True] * 10 or block.name != "gmm4"
    assert [label for label, _ in table2.blocks[0].extras] == ["dataset · kl.pdata_pemp", "dataset · kl.pemp_pdata"]
    # the spiral line as printed, scored once; the labels-swapped reading is a note on those two targets
    assert [label for label, _ in table2.blocks[2].extras] == ["dataset · kl.pdata_pemp", "dataset · kl.pemp_pdata"]
    assert len(table2.cells) == 120
    shown = {v.target for v in table2.verdicts}
    assert not shown & {v.target for v in rest}
    assert {t for t in shown if t.startswith("table2-bold/")} == {
        t.id for t in res.suite.all_targets if t.id.startswith("table2-bold/")}
    table3 = next(g for g in grids if g.title == "Table 3 (Appendix B.5)")
    assert table3.columns == ["min", "mean", "std"] and table3.column_prefix == "probe.err_"
    assert [r.label for r in table3.blocks[0].rows] == ["EGAN-Ent-NN", "EGAN-Const", "GAN", "Random"]


def test_the_tightness_table_is_inferred_from_the_ids_dimension_by_measurement():
    res = entropic()
    grids, _ = report_tables.shape(res.suite, res.verdicts)
    (tight,) = [g for g in grids if g.title.startswith("Poster, table")]
    assert tight.row_label == "dataset" and tight.column_prefix == "loglik."
    assert tight.columns == ["exact", "surrogate"]
    assert [r.label for r in tight.blocks[0].rows] == ["gauss_d5", "gauss_d10", "gauss_d20", "gauss_d30", "gauss_d64"]
    assert tight.pattern == "tightness/<dataset>/EntropicGAN-linear/<measurement>"
    # "surrogate <= exact" is a claim over the two cells of each row: it sits at the end of its row
    assert tight.claim_columns == ["surrogate below exact"]
    assert [r.claims["surrogate below exact"].target for r in tight.blocks[0].rows] == [
        f"tightness/gauss_d{d}/EntropicGAN-linear/surrogate_below_exact" for d in (5, 10, 20, 30, 64)]


def test_two_tables_under_one_reference_are_headed_by_their_names_and_keep_its_claims():
    """The essay's Section 3.3.1 prints the JSD and the Wasserstein distance of the same lines: two tables, one
    reference. Their headings differ; the section's claims stay beside its first table."""
    res = synthetic(REPO / "suites" / "gan_divergences.yaml", missing={}, budgets={})
    grids, rest = report_tables.shape(res.suite, res.verdicts)
    lines = [g for g in grids if g.paper_ref == "Section 3.3.1"]
    assert [g.title for g in lines] == ["Section 3.3.1, JSD", "Section 3.3.1, Wasserstein distance"]
    assert [g.title for g in grids if g.paper_ref == "Section 3.1.2"] == ["Section 3.1.2"]
    claims = {v.target for v in rest if v.kind == "claim" and v.paper_ref == "Section 3.3.1"}
    assert "section3.3.1/WGAN-clip/w_increases_with_theta" in claims


def test_plots_use_log_axes_when_values_span_decades(tmp_path, rendered):
    assert report_plots.axis_scale([0.03, 0.1, 7.2]) == "log"
    assert report_plots.axis_scale([-16.4, -58.0, -203.5]) == "neglog"
    assert report_plots.axis_scale([0.0, 0.25, 2.0]) == "linear"
    assert report_plots.axis_scale([1.1, 1.3, 3.4]) == "linear"
    res = calibrating()
    grids, _ = report_tables.shape(res.suite, res.verdicts)
    checks = {t.id: t.check for t in res.suite.all_targets}
    points = [report_plots.Point(v, b.name, checks[v.target]) for b in grids[0].blocks for r in b.rows
              for v in r.cells]
    info = report_plots.draw(points, "Table 2", tmp_path / "t2.png")
    assert info.scale == "log" and info.shown == 120 and info.missing == 0
    assert (tmp_path / "t2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out, _ = rendered
    html = (out / "index.html").read_text()
    plots = re.findall(r'<img src="(figures/[^"]+/tables/[^"]+\.png)"', html)
    assert len(plots) == 2 and all((out / p).stat().st_size > 10_000 for p in plots)  # Table 3 did not run
    assert "log of magnitudes axes" in html  # the tightness table's negative log-likelihoods


def test_json_has_every_target_with_its_reading_and_the_counts(rendered):
    out, results = rendered
    data = json.loads((out / "results.json").read_text())
    by_suite = {s["suite"]: s for s in data["suites"]}
    for res in results:
        entry = by_suite[res.suite.suite]
        assert [t["target"] for t in entry["targets"]] == [t.id for t in res.suite.all_targets]
        for t in entry["targets"]:
            for field in ("outcome", "reason", "role", "budget_fraction", "run_ids", "published", "reproduced",
                          "reproduced_std", "n", "verdict", "detail", "test", "values", "source", "rule"):
                assert field in t, field
        counted = Counter(t["outcome"] for t in entry["targets"] if t["role"] == "reproduction")
        assert entry["counts"]["by_outcome"] == {o: counted[o] for o in entry["counts"]["by_outcome"]}
        assert entry["counts"]["not_counted"] == dict(Counter(t["role"] for t in entry["targets"]
                                                              if t["role"] != "reproduction"))
    cal = by_suite["calibrating_ebgan"]
    assert cal["counts"]["not_counted"] == {"sanity": 1, "calibration": 1}
    assert cal["counts"]["by_outcome"]["failed"] == 1
    assert by_suite["entropic_gan_vae"]["counts"]["at_paper_budget"]  # the tightness runs, at full budget
    assert not cal["counts"]["at_paper_budget"] and cal["counts"]["reduced_budget"]


def test_causes_name_the_files_and_a_command_whose_globs_select_exactly_their_targets(rendered):
    _, results = rendered
    res = results[1]
    every = [t.id for t in res.suite.all_targets]
    causes = report_causes.group(res.verdicts, res.suite.path, every, "cpu")
    by_text = {c.text: c for c in causes}
    assert set(by_text) == {MNIST, GPU, DIVERGED}
    mnist = by_text[MNIST]
    assert mnist.files == [f"DATA/MNIST/raw/{f}" for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    assert mnist.command[:7] == ["bench", "run", res.suite.path, "--profile", "cpu", "--data-dir", "DATA"]
    assert "--device" in by_text[GPU].command and "--data-dir" not in by_text[GPU].command
    assert by_text[DIVERGED].kind == FAILED
    for cause in causes:
        picked = {i for i in every if any(fnmatchcase(i, g) for g in cause.globs)}
        assert picked == {v.target for v in cause.verdicts}, cause.text
    assert by_text[MNIST].globs == ["table3/*"]


def test_counts_leave_sanity_and_calibration_out_and_split_the_paper_s_budget():
    res = calibrating()
    c = count(res.verdicts)
    assert c.total == len(res.verdicts) and c.counted == len(res.verdicts) - 2
    assert sum(c.at_paper_budget.values()) == 0 and sum(c.reduced_budget.values()) > 0
    assert re.search(r"not counted: 1 calibration: 1 \w+; 1 sanity: 1 \w+", leaderboard.summary_line(res.verdicts))
    assert sum(leaderboard.score(res.verdicts).values()) == c.counted
    tight = count(entropic().verdicts)
    assert sum(tight.at_paper_budget.values()) > 0


def test_a_sanity_target_that_does_not_hold_is_a_finding_shown_first(tmp_path):
    """Table 2's KL(p_data || p_emp) of gmm4 is a property of the dataset alone: where it holds the summary counts
    it as holding; moved three times off, it is the first thing the paper's summary says."""
    res = calibrating()
    name = "table2/gmm4/dataset/kl.pdata_pemp"
    target = next(t for t in res.suite.all_targets if t.id == name)

    def summary_with(scale: float) -> tuple[str, list]:
        v = judge(target, {target.refs[0]: Values([target.published * scale * f for f in (0.99, 1.0, 1.01)], "cpu")},
                  {})
        v.role, v.outcome = "sanity", outcome(v)
        verdicts = [v if x.target == name else x for x in res.verdicts]
        return leaderboard.summary_line(verdicts), verdicts

    holds, _ = summary_with(1.0)
    assert "FINDING" not in holds and "1 sanity: 1 hold" in holds
    fails, verdicts = summary_with(3.0)
    assert fails.startswith(f"FINDING: 1 sanity target that should hold does not ({name})")
    assert "1 sanity: 1 fail" in fails
    counts = count(verdicts)
    assert counts.roles["sanity"] == Counter({"fail": 1}) and counts.as_dict()["roles"]["sanity"] == {"fail": 1}
    leaderboard.write([SuiteResults(res.suite, verdicts, {}, 1, {})], tmp_path, NoStore())
    readme = " ".join((tmp_path / "README.md").read_text().split())
    section = readme[readme.index("## Calibrating"):]
    assert section.index("FINDING: 1 sanity target") < section.index("counted targets reproduced or holding")
    html = (tmp_path / "index.html").read_text()
    assert '<p class="finding">FINDING: 1 sanity target' in html and "1 sanity: 1 fail" in html


def test_each_point_s_error_bar_is_its_verdict_s_interval(tmp_path, monkeypatch):
    """The bar drawn on a published-vs-reproduced point is the interval the verdict rests on, so an inconclusive
    point's bar visibly crosses the band's edge; and the close band of a negative published value is mirrored in
    ratio as the verdict's is."""
    import matplotlib.axes

    suite = load_suite(REPO / "suites" / "calibrating_ebgan.yaml")
    targets = [t for t in suite.all_targets if t.id.startswith("table2/gmm4/") and t.kind == "value"][:3]
    verdicts = [judge(t, {t.refs[0]: Values([t.published * f for f in spread], "cpu")}, {})
                for t, spread in zip(targets, [(0.99, 1.0, 1.01), (0.6, 1.0, 1.4), (2.9, 3.0, 3.1)], strict=True)]
    for v in verdicts:
        v.outcome = outcome(v)
    assert [v.verdict for v in verdicts] == ["reproduced", "inconclusive", "not reproduced"]
    drawn = []
    original = matplotlib.axes.Axes.errorbar

    def spy(self, x, y, *args, **kwargs):
        drawn.append((y[0], kwargs.get("yerr")))
        return original(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", spy)
    points = [report_plots.Point(v, "gmm4", t.check) for v, t in zip(verdicts, targets, strict=True)]
    assert report_plots.draw(points, "Table 2", tmp_path / "t.png").shown == 3
    for v, (y, yerr) in zip(verdicts, drawn, strict=True):
        assert y == pytest.approx(v.reproduced) and y + yerr[1][0] == pytest.approx(v.interval[1])
        # the axes are logarithmic (Table 2's KLs span decades): a bar reaching below the axis stops there
        assert y - yerr[0][0] >= v.interval[0] - 1e-12
    assert drawn[0][0] - drawn[0][1][0][0] == pytest.approx(verdicts[0].interval[0])
    low, high = report_plots._edges(np.array([-16.38]), 0.0, 0.1, 2.0, close=True)
    assert (low[0], high[0]) == pytest.approx((-16.38 * 1.2, -16.38 / 1.2))


def test_inconclusive_has_its_own_colour_count_and_filter(rendered):
    out, results = rendered
    html = (out / "index.html").read_text()
    n = sum(count(r.verdicts).by_outcome["inconclusive"] for r in results)
    assert n > 0
    assert f'data-filter="inconclusive" data-slug="inconclusive" aria-pressed="true"><span class="dot"></span>' \
           f'inconclusive <b>{n}</b>' in html
    assert ".o-inconclusive { --c: var(--inconclusive)" in html
    others = {c for o, c in report_plots.COLOURS.items() if o != "inconclusive"}
    assert report_plots.COLOURS["inconclusive"] not in others
    readme = (out / "README.md").read_text()
    assert "❔ inconclusive" in readme


def test_the_terminal_table_fits_120_columns_and_states_each_cause_once():
    res = calibrating()
    text = leaderboard.table(res.verdicts)
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= 120, max(widths)
    flat = " ".join(text.split())
    assert flat.count(f"not run: {' '.join(MNIST.split())}") == 1
    number = re.search(r"\[(\d+)\] not run: needs dataset mnist", flat).group(1)
    assert flat.count(f"not run [{number}]") == 13  # the rows refer to the cause by its number
    assert "`bench compare --format json` has every statement" in text
    # the alpha-GAN suite's long claim statements, none run: still 120 columns
    alpha = synthetic(REPO / "suites" / "alpha_gan.yaml", missing={"celeba64": "needs dataset celeba"}, budgets={})
    assert max(len(line) for line in leaderboard.table(alpha.verdicts).splitlines()) <= 120


def test_the_html_is_one_self_contained_page_with_every_target_linked(rendered):
    out, results = rendered
    html = (out / "index.html").read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html.replace(
        "http://127.0.0.1:5000/#/experiments/7", "")
    for res in results:
        ids = set(re.findall(r'id="([^"]+)"', html))
        anchors = {f"{res.suite.suite.replace('_', '-')}--{re.sub(r'[^A-Za-z0-9]+', '-', v.target).strip('-').lower()}"
                   for v in res.verdicts}
        assert anchors <= ids, sorted(anchors - ids)[:5]
    links = set(re.findall(r'href="#([^"]+)"', html))
    assert links <= set(re.findall(r'id="([^"]+)"', html)), sorted(links - set(re.findall(r'id="([^"]+)"', html)))
    assert "http://127.0.0.1:5000/#/experiments/7/runs/" in html
    # the overview comes first, and the paper where most ran is the first shown
    assert html.index('id="overview"') < html.index('class="paper"')
    assert html.index('data-suite="entropic_gan_vae"') < html.index('data-suite="calibrating_ebgan"')
