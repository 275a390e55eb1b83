"""The leaderboard as a reader opens it: index.html from disk in headless Chromium, at desktop and phone width.

The store is real where it can be: the engine-test suite trains at smoke in-process (with a sweep figure and a
run figure logged to MLflow), and two real suites' targets are judged from synthetic values (see
test_leaderboard.synthetic) so that every part of the page appears. The test checks that the overview's
counts are those of results.json, that no script error is logged, that every image loads, that the page never
scrolls sideways, and that the verdict filter and the links into collapsed lists work. It saves full-page
screenshots (``leaderboard-desktop.png``, 1400 px; ``leaderboard-phone.png``, 390 px) and the rendered folder
under ``$BENCH_TEST_ARTIFACTS`` (default: the test's tmp directory) and prints where.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` client (the dev extra); without them
it skips, unless ``BENCH_REQUIRE_BROWSER=1`` (set by .ci/run), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import TESTS
from test_leaderboard import calibrating, entropic

from benchmark import leaderboard, results
from benchmark.cli import main
from benchmark.suite import load_suite
from benchmark.tracking import Tracker, default_tracking_uri

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# a closed network refuses Chromium's background connections; these flags keep it from trying
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--allow-file-access-from-files"]
WIDTHS = {"desktop": (1400, 1, False), "phone": (390, 2, True)}  # CSS width, device pixel ratio, mobile
MAX_SHOT = 30000  # CSS pixels: a taller page is cut here (Chromium's capture has a size limit)


def _unavailable(why: str):
    if os.environ.get("BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BENCH_REQUIRE_BROWSER=1 but {why}")
    pytest.skip(why)


@pytest.fixture()
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("the selenium client is not installed (pip install -e '.[dev]')")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                     "chromium-driver; .ci/run does)")
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: selenium never looks for (or downloads) one
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def artifacts(tmp_path) -> Path:
    where = Path(os.environ.get("BENCH_TEST_ARTIFACTS") or tmp_path / "artifacts").resolve()
    where.mkdir(parents=True, exist_ok=True)
    return where


def _engine_results(tracker: Tracker) -> results.SuiteResults:
    """The engine-test suite trained at smoke, with a sweep figure and one run's figure in MLflow."""
    suite = yaml.safe_load((TESTS / "suites" / "engine.yaml").read_text())
    suite["figures"] = {"fit_": "Figure 1: the fitted density against the data (engine test)."}
    suite["sweep_figures"] = [{"name": "std_over_the_sweep", "paper_ref": "Section 2",
                               "caption": "fitted std over the learning-rate sweep", "jobs": ["fit/SGD/narrow",
                                                                                               "fit/SGD/wide"],
                               "measurement": "fit.std", "best_n": 1}]
    Path("engine.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    assert main(["run", "engine.yaml", "--profile", "smoke", "--no-progress", "--no-leaderboard"]) == 0
    loaded = load_suite("engine.yaml")
    res = results.collect(loaded, tracker)
    run = next(iter(res.figures.values()))
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 1, 0])
    png = Path("fit_density.png")
    fig.savefig(png, dpi=60)
    plt.close(fig)
    tracker.log_artifact(run.run_id, png, "figures")
    return res


def _expected_counts(data: dict) -> dict[str, dict]:
    """What the overview should say, recomputed from results.json's targets alone."""
    out = {}
    for suite in data["suites"]:
        counted = [t for t in suite["targets"] if t["role"] == "reproduction"]
        judged = [t for t in counted if t["outcome"] not in ("not run", "failed")]
        unstated = [t for t in judged if t["budget"].startswith("the paper states no budget")]
        at_paper = [t for t in judged if t not in unstated and ((t["budget_fraction"] or 0) >= 1
                    or (t["budget_fraction"] is None and t["profile"] == "paper"))]
        out[suite["suite"]] = {"by_outcome": Counter(t["outcome"] for t in counted), "at_paper": len(at_paper),
                               "reduced": len(judged) - len(at_paper) - len(unstated)}
    return out


def _wait_for_images(driver, timeout: float = 10.0) -> list[str]:
    """Loads every image now (they are lazy) and returns those that did not load."""
    driver.execute_script("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; });")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = driver.execute_script("return [...document.images].filter(i => !i.complete).length")
        if not pending:
            break
        time.sleep(0.1)
    return driver.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")


def _screenshot(driver, width: int, path: Path) -> int:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, MAX_SHOT), "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return height


def test_index_html_in_chromium(bench_home, browser, artifacts, capsys):
    tracker = Tracker(default_tracking_uri(), Path(os.environ["BENCH_HOME"]) / "mlartifacts")
    engine = _engine_results(tracker)
    out = artifacts / "leaderboard"
    if out.exists():
        shutil.rmtree(out)
    papers = [engine, calibrating(), entropic()]
    for res in papers:
        tracker.experiment_id(res.suite.suite)  # the made-up run ids link into an experiment of the store
    leaderboard.write(papers, out, tracker)
    data = json.loads((out / "results.json").read_text())
    expected = _expected_counts(data)
    url = (out / "index.html").as_uri()

    for name, (width, ratio, mobile) in WIDTHS.items():
        browser.set_window_size(width, 900)
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": ratio, "mobile": mobile})
        browser.get(url)
        broken = _wait_for_images(browser)
        assert not broken, f"{name}: images that did not load: {broken}"
        count_images = browser.execute_script("return document.images.length")
        assert count_images >= 4  # the run figure, the sweep figure and the table plots
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{name}: {errors}"
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow} px"

        cards = browser.execute_script("""
            return [...document.querySelectorAll('.card[data-suite]')].map(card => ({
              suite: card.dataset.suite,
              counts: Object.fromEntries([...card.querySelectorAll('.count')].map(
                li => [li.dataset.outcome, Number(li.dataset.n)])),
              at_paper: Number(card.querySelector('.at-paper').dataset.n),
              reduced: Number(card.querySelector('.at-reduced').dataset.n)}))""")
        assert {c["suite"] for c in cards} == set(expected)
        for card in cards:
            want = expected[card["suite"]]
            assert card["counts"] == {o: want["by_outcome"][o] for o in card["counts"]}, card["suite"]
            assert (card["at_paper"], card["reduced"]) == (want["at_paper"], want["reduced"]), card["suite"]
        # papers with results first: the share of counted targets that ran never grows down the page
        assert [c["suite"] for c in cards] == [s["suite"] for s in data["suites"]]
        shares = [1 - (c["counts"]["not run"] + c["counts"]["failed"]) / max(1, sum(c["counts"].values()))
                  for c in cards]
        assert shares == sorted(shares, reverse=True)

        height = _screenshot(browser, width, artifacts / f"leaderboard-{name}.png")
        print(f"{name}: {width} px wide, page {height} px tall -> {artifacts / f'leaderboard-{name}.png'}")

    # the filter hides a verdict's rows and dims its cells; "show all" brings them back
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.set_window_size(1400, 900)
    browser.get(url)
    row = 'tr[data-outcome="not reproduced"]'
    assert browser.execute_script(f"return getComputedStyle(document.querySelector('{row}')).display") != "none"
    browser.find_element("css selector", '[data-filter="not reproduced"]').click()
    assert browser.execute_script(f"return getComputedStyle(document.querySelector('{row}')).display") == "none"
    browser.find_element("css selector", "[data-filter-reset]").click()
    assert browser.execute_script(f"return getComputedStyle(document.querySelector('{row}')).display") != "none"
    # a table cell links to its target's details, inside a collapsed list that opens
    cell = browser.find_element("css selector", ".paper-table td.cell a")
    target = cell.get_attribute("href").split("#", 1)[1]
    cell.click()
    assert browser.execute_script(f"return document.getElementById('{target}').closest('details').open")
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    with capsys.disabled():
        print(f"\nleaderboard browser test artefacts: {artifacts}")

