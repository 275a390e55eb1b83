"""The `bench` command: validate, targets, run, worker, compare, leaderboard, ui."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmark import devices
from benchmark.errors import DeviceBroken, UserError


def _common_store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: sqlite file under $BENCH_HOME, ./.bench)")


def _numerics_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=["fp32", "tf32"], default="fp32",
                   help="fp32 (default): full float32 matmuls and convolutions; tf32: faster on recent GPUs "
                        "(recorded, part of every run's identity)")
    p.add_argument("--nondeterministic", action="store_true",
                   help="allow non-deterministic GPU algorithms (faster; recorded, part of identity)")
    p.add_argument("--batch", type=int, default=36, metavar="N",
                   help="train up to N runs of a batchable family together as one batched model (default 36); "
                        "1: every run alone through its method's loop (part of identity)")


def _numerics(args):
    from benchmark.numerics import Numerics

    return Numerics(args.precision, not args.nondeterministic)


def _modes(args) -> dict:
    """How runs compute, as the planner keys them: precision, determinism, batched or alone."""
    if args.batch < 1:
        raise UserError("must be at least 1", field="--batch")
    return {"numerics": _numerics(args), "batched": args.batch > 1}


def _device_arg(p: argparse.ArgumentParser) -> None:
    # one default for every command that plans runs: the device is part of a run's identity, so `plan` must
    # estimate the runs `run` would train
    p.add_argument("--device", choices=devices.CHOICES, default=devices.DEFAULT,
                   help="auto (default): cuda where torch sees a GPU, else cpu")


def _training_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="+")
    p.add_argument("--profile", choices=["smoke", "cpu", "paper"], default="cpu")
    p.add_argument("--only", action="append", metavar="TARGET_GLOB",
                   help="only the jobs these targets need (glob on target ids; repeatable)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (default: sqlite file under $BENCH_HOME); postgresql://... to share")
    _common_store_args(p)
    _device_arg(p)
    _numerics_args(p)
    p.add_argument("--data-dir", default=None, help="real datasets and metric weights (default: $BENCH_DATA)")
    p.add_argument("--heartbeat", type=int, default=10, metavar="SECONDS",
                   help="shared storage: seconds between a trial's heartbeats; a worker silent 5x as long is "
                        "taken for dead and its trial retried")
    p.add_argument("--checkpoint-dir", default=None,
                   help="where long runs keep checkpoints (default: $BENCH_HOME/checkpoints; shared with workers)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="steps between checkpoints of methods that keep them (default: a tenth of the run)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads per worker process (default: the cores shared evenly among --workers); "
                        "part of every run's platform: the count changes the last bits of CPU arithmetic")
    p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench",
                                     description="Reproduce the tables, figures and claims of GAN papers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check suite files against the schema")
    p.add_argument("suites", nargs="+")

    p = sub.add_parser("targets", help="list the targets of a suite")
    p.add_argument("suites", nargs="+")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("run", help="train what the targets need and judge them")
    _training_args(p)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes here (with a shared --storage they share every job; else one job each)")
    p.add_argument("--leaderboard", default=None, metavar="DIR",
                   help="where to write your leaderboard (default: $BENCH_HOME/leaderboard; the repository's "
                        "leaderboard/ is the reference release, written only by `bench leaderboard --release`)")
    p.add_argument("--no-leaderboard", action="store_true")
    p.add_argument("--sensitivity", nargs="*", default=None, metavar="AXIS",
                   help="also train each candidate of these sensitivity axes (all the suite declares when none is "
                        "named) for the selected targets it touches, under its own identity; shown, never counted")

    p = sub.add_parser("plan", help="what a run would train, what is done, and how long the rest takes here")
    p.add_argument("suites", nargs="+")
    p.add_argument("--profile", choices=["smoke", "cpu", "paper"], default="cpu")
    p.add_argument("--only", action="append", metavar="TARGET_GLOB")
    _device_arg(p)
    _numerics_args(p)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--sensitivity", nargs="*", default=None, metavar="AXIS",
                   help="also estimate each candidate of these sensitivity axes (all the suite declares when none "
                        "is named): its own jobs' runs and time")
    p.add_argument("--workers", type=int, default=1,
                   help="as `bench run --workers`: the thread count each worker trains with is part of its runs' "
                        "platform, so the plan counts the runs such a run would reuse")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="as `bench run --threads`")
    p.add_argument("--no-calibrate", action="store_true",
                   help="estimate from earlier runs only (default: time a few steps of jobs that have none)")
    p.add_argument("--data-dir", default=None, help="real datasets (for calibrating the jobs that read them)")
    _common_store_args(p)

    p = sub.add_parser("worker", help="join a shared run: take units of work from the studies until all are done")
    _training_args(p)

    p = sub.add_parser("compare", help="published versus reproduced, target by target, from MLflow")
    p.add_argument("suites", nargs="*")
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    p.add_argument("--profile", choices=["smoke", "cpu", "paper"], default=None,
                   help="judge every target on this profile (default: the largest complete one per target)")
    p.add_argument("--only", action="append", metavar="TARGET_GLOB")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="judge runs of this device only (default: cpu where both exist)")
    _numerics_args(p)
    p.add_argument("--strict", action="store_true",
                   help="exit 1 unless every counted target reproduced or holds (with --reference: unless every "
                        "verdict agrees with the reference's and no value differs bit-wise on the same platform)")
    p.add_argument("--reference", nargs="?", const="", default=None, metavar="FILE",
                   help="set your verdicts beside a reference release's and test whether the values agree "
                        "(default FILE: the repository's leaderboard/results.json)")
    _common_store_args(p)

    p = sub.add_parser("leaderboard", help="write leaderboard/ (Markdown, JSON, HTML with figures)")
    p.add_argument("suites", nargs="*")
    p.add_argument("--out", "--leaderboard", dest="out", default=None, metavar="DIR",
                   help="where to write it (default: $BENCH_HOME/leaderboard)")
    p.add_argument("--release", action="store_true",
                   help="regenerate the project's reference release, leaderboard/ in the repository, from a store "
                        "that holds every suite, stamped with the commit, date, profiles and machines")
    p.add_argument("--profile", choices=["smoke", "cpu", "paper"], default=None,
                   help="judge every target on this profile (default: the largest complete one per target)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None)
    _numerics_args(p)
    _common_store_args(p)

    p = sub.add_parser("ui", help="the MLflow UI on the default store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    _common_store_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from benchmark.numerics import prepare_environment

    prepare_environment()  # before anything can initialise CUDA
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except DeviceBroken as broken:
        if argv is not None:  # called in-process: the caller decides
            raise
        # the GPU context is lost for good in this process: start the same command again, which resumes
        print(f"the GPU context broke ({broken}): starting again to resume", file=sys.stderr)
        os.execv(sys.executable, [sys.executable, "-m", "benchmark.cli", *sys.argv[1:]])
    except KeyboardInterrupt:
        print("interrupted: what finished is recorded; run the same command again to resume", file=sys.stderr)
        return 130


# ----------------------------------------------------------------------------- commands


def _load(paths: list[str]):
    from benchmark.suite import find_suites, load_suite

    files = find_suites(paths)
    if not files:
        raise UserError("no suite files given and none found under suites/", field="suites")
    return [load_suite(f) for f in files]


def cmd_validate(args) -> int:
    for suite in _load(args.suites):
        print(f"{suite.path}: ok ({len(suite.all_targets)} targets, {len(suite.experiments)} experiments)")
    return 0


def cmd_targets(args) -> int:
    from tabulate import tabulate

    rows = []
    for suite in _load(args.suites):
        for t in suite.all_targets:
            rows.append({"suite": suite.suite, "id": t.id, "paper_ref": t.paper_ref, "kind": t.kind, "role": t.role,
                         "measurement": t.measurement or ", ".join(sorted({r.measurement for r in t.refs})),
                         "published": t.published, "published_std": t.published_std, "source": t.source,
                         "check": t.rule_text(), "calibrates": t.calibrates, "note": t.note})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(tabulate([[r["id"], r["paper_ref"], r["kind"], r["role"], r["measurement"],
                         "—" if r["published"] is None else f"{r['published']:g}"] for r in rows],
                       headers=["id", "paper_ref", "kind", "role", "measurement", "published"]))
    return 0


def _tracker(uri: str | None):
    from benchmark.tracking import Tracker, bench_home, default_tracking_uri, prepare_home

    if uri is None:
        prepare_home()
        return Tracker(default_tracking_uri(), bench_home() / "mlartifacts")
    if uri.startswith("sqlite:///"):
        # artifacts beside the database, never in MLflow's default ./mlruns of whatever directory we run in
        return Tracker(uri, Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts")
    return Tracker(uri)


def _data_dir(value: str | None) -> str | None:
    value = value or os.environ.get("BENCH_DATA")
    if value and not Path(value).is_dir():
        raise UserError("data directory does not exist", file=value, field="--data-dir")
    return str(Path(value).resolve()) if value else None


def _use_threads(args) -> None:
    """``--workers`` and ``--threads``, checked and declared before anything is planned: the thread count a worker
    trains with is part of its runs' platform (``numerics.training_threads``)."""
    from benchmark import numerics

    workers = getattr(args, "workers", 1)  # `bench worker` is one process
    if workers < 1:
        raise UserError("must be at least 1", field="--workers")
    if args.threads is not None and args.threads < 1:
        raise UserError("must be at least 1", field="--threads")
    numerics.use_workers(workers, args.threads)


def _prepare_training(args):
    """Everything a training command checks before it trains: suites, device, data, both stores.
    Each problem is one line and exit code 2, and nothing has been trained yet."""
    from benchmark import planner, runner, tracking

    _use_threads(args)
    if args.checkpoint_every < 0:
        raise UserError("must be 0 (automatic) or more", field="--checkpoint-every")
    if args.heartbeat < 1:
        raise UserError("must be at least 1 second", field="--heartbeat")
    suites = _load(args.suites)
    device = devices.resolve_device(args.device)
    data_dir = _data_dir(args.data_dir)
    tracker = _tracker(args.tracking_uri)
    tracker.experiment_id(suites[0].suite)  # fail here, before any training, when the store is unreachable
    storage = args.storage or tracking.default_storage_url()
    if args.checkpoint_dir is not None:
        _writable_dir(args.checkpoint_dir, "--checkpoint-dir")
    plans = [(s, planner.plan(s, args.profile, args.only, device=device, **_modes(args))) for s in suites]
    if args.only and not any(jobs for _, jobs in plans):
        raise UserError(f"no target matches {args.only}", field="--only")
    shared = runner.is_shared_storage(storage) or args.command == "worker"
    settings = runner.RunSettings(tracking_uri=tracker.uri, storage_url=storage, device=device, data_dir=data_dir,
                                  artifact_root=str(tracker.artifact_root) if tracker.artifact_root else None,
                                  show_progress=not args.no_progress, shared=shared, heartbeat=args.heartbeat,
                                  checkpoint_dir=str(Path(args.checkpoint_dir).resolve()) if args.checkpoint_dir
                                  else None, checkpoint_every=args.checkpoint_every, numerics=_numerics(args),
                                  batch=args.batch)
    runner.open_settings_storage(settings)  # a locked, refused or unwritable storage fails here
    for suite, _ in plans:
        tracker.experiment_id(suite.suite)  # created once here, not raced by workers
    return tracker, settings, plans


def _writable_dir(path: str, flag: str) -> None:
    import tempfile

    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-").close()
    except OSError as exc:
        raise UserError(f"not writable ({exc.strerror})", file=path, field=flag) from None


def _report(outcomes) -> str:
    trained = sum(o.trained for o in outcomes)
    reused = sum(o.reused for o in outcomes)
    not_done = [o for o in outcomes if o.status != "done"]
    words = {"not_run": "not run: ", "failed": "failed: ", "pending": "pending: "}
    return (f"trained {trained} runs, reused {reused} finished runs; {len(not_done)} jobs not run"
            + "".join(f"\n  {o.key}: {words.get(o.status, '')}{o.reason}" for o in not_done))


BUSY_CHECK_SECONDS = 60  # a run estimated longer is told when other work keeps the cores busy (numerics.busy_note)


def _say_if_busy(args, found) -> None:
    """A run of more than a minute, starting where other work keeps the cores busy, says what that costs."""
    from benchmark import numerics

    if sum(e.estimated_seconds or 0.0 for e in found) > BUSY_CHECK_SECONDS:
        note = numerics.busy_note(args.workers, numerics.busy_cores())
        if note:
            print(f"  {note}", file=sys.stderr)


def cmd_run(args) -> int:
    from benchmark import adaptive, estimate, leaderboard, notes, planner, progress, release, results, runner
    from benchmark.storage import redact

    # refused before anything is set up or trained
    out_dir = None if args.no_leaderboard else release.output_dir(args.leaderboard, False, "--leaderboard")
    if args.sensitivity:
        _check_axes(_load(args.suites), args.sensitivity)
    tracker, settings, plans = _prepare_training(args)
    started = time.monotonic()
    for suite, jobs in plans:
        mode = f", {args.workers} workers sharing {redact(settings.storage_url)}" if settings.shared else ""
        print(f"{suite.path}: {len(jobs)} jobs at profile '{args.profile}' on {settings.device}{mode}",
              file=sys.stderr)
        found = estimate.estimate(jobs, tracker, batch=args.batch)
        print(f"  {estimate.summary(found)}", file=sys.stderr)
        _say_if_busy(args, found)
        if any(job.seed_limit > len(job.seeds) for job in jobs):
            at_most = estimate.estimate(adaptive.worst_case(jobs), tracker, batch=args.batch)
            print(f"  {estimate.worst_case(found, at_most)}", file=sys.stderr)

        def train(round_jobs):
            shown_progress = progress.for_terminal(round_jobs, settings.show_progress and args.workers <= 1)
            return runner.run_jobs(round_jobs, settings, workers=args.workers, progress=shown_progress)

        judged = _adaptive_rounds(args, suite, jobs, tracker, settings, train)
        res, outcomes = judged.results, judged.outcomes
        if args.sensitivity is not None and suite.sensitivity:
            outcomes = outcomes + _train_candidates(args, suite, train)
            res = results.collect(suite, tracker, profile=args.profile, device=settings.device, **_modes(args))
        print(_report(outcomes), file=sys.stderr)
        notes.annotate_parents(res, tracker, args.profile, settings.device)
        selected = {t.id for t in planner.select_targets(suite, args.only)}
        shown = [v for v in res.verdicts if v.target in selected]
        print(leaderboard.table(shown))
        print(f"{suite.suite}: {leaderboard.summary_line(shown)}")
        _print_sensitivity(shown, res.axes)
    if not args.no_leaderboard:
        # every suite found, whatever this command ran: the leaderboard never loses a paper
        from benchmark.suite import find_suites, load_suite

        ran = {Path(suite.path).resolve(): suite for suite, _ in plans}
        found = [p.resolve() for p in find_suites(None)]
        every = [ran.get(p) or load_suite(p) for p in found] + [s for p, s in ran.items() if p not in found]
        out = leaderboard.write([results.collect(s, tracker, **_modes(args)) for s in every], out_dir, tracker)
        print(f"your leaderboard: {out.resolve()}/index.html (and README.md, results.json; "
              f"{time.monotonic() - started:.0f} s in all)", file=sys.stderr)
    return 0


def _check_axes(suites, names: list[str]) -> None:
    """Every axis named is declared by a suite run: refused before anything trains."""
    known = {axis.axis for suite in suites for axis in suite.sensitivity}
    for name in names:
        if name not in known:
            raise UserError(f"no suite declares sensitivity axis '{name}' (declared: {', '.join(sorted(known))})",
                            field="--sensitivity")


def _candidate_plans(args, suite):
    """Each candidate of the axes asked for, with the selected targets it touches and the jobs they need: its own
    (key ``/under-axis=value``) and the headline's it does not change. A reading, or a candidate touching none
    of the selected targets, has no jobs and says why."""
    import glob

    from benchmark import planner, sensitivity

    selected = {t.id for t in planner.select_targets(suite, args.only)}
    for axis, candidate in sensitivity.candidates(suite, args.sensitivity):
        ids = sorted(t.id for t in sensitivity.touched(suite, axis, candidate) if t.id in selected)
        name = f"{axis.axis}={candidate.value} ({candidate.label})"
        if axis.kind == "reading" or not ids:
            yield name, ids, [], "a reading: judged on the headline's runs" if ids else \
                "touches none of the selected targets"
            continue
        yield name, ids, planner.plan(sensitivity.under(suite, axis, candidate), args.profile,
                                      [glob.escape(i) for i in ids], device=devices.resolve_device(args.device),
                                      **_modes(args)), ""


def _train_candidates(args, suite, train) -> list:
    """Each candidate of the axes asked for, for the selected targets it touches: its own jobs train; the jobs it
    does not change are the headline's, reused. A reading trains nothing."""
    outcomes = []
    for name, ids, jobs, why in _candidate_plans(args, suite):
        if not jobs:
            print(f"  sensitivity {name}: {why}", file=sys.stderr)
            continue
        own = sum(1 for job in jobs if job.variant)
        print(f"  sensitivity {name}: {own} jobs of its own, {len(jobs) - own} shared with the headline, for "
              f"{len(ids)} targets", file=sys.stderr)
        outcomes += train(jobs)
    return outcomes


def _print_sensitivity(verdicts, axes) -> None:
    from benchmark import report_sensitivity

    lines = report_sensitivity.terminal_lines(verdicts, axes)
    if lines:
        print("\n" + "\n".join(lines))


def _adaptive_rounds(args, suite, jobs, tracker, settings, train, trained=None):
    """Train the jobs (``trained``: their outcomes where a worker trained them already), judge, and (adaptive
    seeds) train more seeds for the jobs behind inconclusive targets until each decides or has its profile's
    maximum. Returns the last read-back (``.results``) and every round's outcomes, one per job (``.outcomes``)."""
    from types import SimpleNamespace

    from benchmark import adaptive, planner, results

    last = SimpleNamespace(results=None)
    selected = {t.id for t in planner.select_targets(suite, args.only)}

    def judge():
        last.results = results.collect(suite, tracker, profile=args.profile, device=settings.device, **_modes(args))
        records = last.results.records
        counts = {job.key: len(records[(args.profile, settings.device, job.triple)].job.seeds) for job in jobs
                  if (args.profile, settings.device, job.triple) in records}
        return [v for v in last.results.verdicts if v.target in selected], counts

    rounds = adaptive.grow_until_decided(jobs, train, judge, trained=trained,
                                         say=lambda line: print(f"  seeds: {line}", file=sys.stderr))
    return SimpleNamespace(results=last.results, outcomes=adaptive.combined(rounds.outcomes))


def cmd_plan(args) -> int:
    from tabulate import tabulate

    from benchmark import adaptive, estimate, planner

    _use_threads(args)
    suites = _load(args.suites)
    if args.sensitivity:
        _check_axes(suites, args.sensitivity)
    tracker = _tracker(args.tracking_uri)
    jobs = [job for suite in suites
            for job in planner.plan(suite, args.profile, args.only, device=devices.resolve_device(args.device),
                                    **_modes(args))]
    if args.only and not jobs:
        raise UserError(f"no target matches {args.only}", field="--only")
    found = estimate.estimate(jobs, tracker, calibrate=not args.no_calibrate, data_dir=_data_dir(args.data_dir),
                              batch=args.batch)
    if args.format == "json":
        print(json.dumps([e.as_dict() for e in found], indent=2))
        return 0
    rows = [[f"{e.experiment}/{e.method}/{e.dataset}", estimate.seeds_text(e), f"{e.steps:,}", f"{e.done}/{e.runs}",
             estimate.clock(e.estimated_seconds), e.basis] for e in found]
    print(tabulate(rows, headers=["job", "seeds", "steps", "done", "estimate", "from"], disable_numparse=True))
    print(estimate.summary(found))
    if any(job.seed_limit > len(job.seeds) for job in jobs):
        # the same shapes: the estimates (or calibrations) just made carry over
        at_most = estimate.estimate(adaptive.worst_case(jobs), tracker, batch=args.batch)
        print(estimate.worst_case(found, at_most))
    if args.sensitivity is not None:
        _plan_candidates(args, suites, tracker)
    return 0


def _plan_candidates(args, suites, tracker) -> None:
    """`bench plan --sensitivity`: per candidate, its own jobs' runs and the time they take here (the headline's
    jobs it shares are the plan above)."""
    from benchmark import estimate

    total: list = []
    print("\nsensitivity candidates (shown beside the headline, never counted):")
    for suite in suites:
        for name, _, jobs, why in _candidate_plans(args, suite):
            own = [job for job in jobs if job.variant]
            if not own:
                print(f"  {name}: {why or 'no job of its own'}")
                continue
            found = estimate.estimate(own, tracker, calibrate=not args.no_calibrate, data_dir=_data_dir(args.data_dir),
                                      batch=args.batch)
            total += found
            print(f"  {name}: {estimate.summary(found)}")
    if total:
        print(f"  all candidates: {estimate.summary(total)}")


def cmd_worker(args) -> int:
    """One worker of a shared run: works on every planned job until all are complete, then exits."""
    from benchmark import adaptive, progress, runner
    from benchmark.storage import redact

    tracker, settings, plans = _prepare_training(args)
    jobs = [job for _, suite_jobs in plans for job in suite_jobs]
    print(f"worker {os.uname().nodename}:{os.getpid()}: {len(jobs)} jobs at profile '{args.profile}' on "
          f"{settings.device}, storage {redact(settings.storage_url)}", file=sys.stderr)

    def train(round_jobs):
        return runner.work(round_jobs, settings, progress.for_terminal(round_jobs, settings.show_progress))

    outcomes = train(jobs)
    for suite, suite_jobs in plans:
        # every worker judges the same complete runs, so all grow the same jobs and share their seeds' units
        if any(job.seed_limit > len(job.seeds) for job in suite_jobs):
            outcomes += _adaptive_rounds(args, suite, suite_jobs, tracker, settings, train, trained=[]).outcomes
    print(_report(adaptive.combined(outcomes)), file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from benchmark import leaderboard, planner, results

    suites = _load(args.suites)
    tracker = _tracker(args.tracking_uri)
    collected = []
    for suite in suites:
        res = results.collect_verdicts(suite, tracker, profile=args.profile, device=args.device, **_modes(args))
        selected = {t.id for t in planner.select_targets(suite, args.only)}
        res.verdicts = [v for v in res.verdicts if v.target in selected]
        collected.append(res)
    if args.reference is not None:
        return _compare_with_reference(args, collected)
    if args.format == "json":
        print(json.dumps(leaderboard.as_json(collected), indent=2, default=float))
    else:
        for res in collected:
            fmt = "github" if args.format == "markdown" else "simple"
            print(f"## {res.suite.paper.title} ({res.suite.suite})\n" if args.format == "markdown"
                  else f"{res.suite.suite}: {res.suite.paper.title}")
            print(leaderboard.table(res.verdicts, fmt))
            print(f"\n{leaderboard.summary_line(res.verdicts)}")
            print(f"judged on {results.sources([v.as_dict() for v in res.verdicts])}")
            _print_sensitivity(res.verdicts, res.axes)
            print()
    if args.strict:
        from benchmark.report_outcomes import AGREE, counted, outcome

        if any(outcome(v) not in AGREE for r in collected for v in r.verdicts if counted(v)):
            return 1
    return 0


def _compare_with_reference(args, collected) -> int:
    from benchmark import leaderboard, reference, results

    path = Path(args.reference) if args.reference else reference.DEFAULT
    mine = leaderboard.as_json(collected)
    platforms = {s["suite"]: reference.platform_of([t for t in s["targets"] if t.get("run_ids")])
                 for s in mine["suites"]}
    theirs = reference.load(path)
    comparison = reference.compare(mine, theirs, platforms)
    judged_on = {s["suite"]: {"yours": results.sources(s["targets"]), "reference": results.sources(
        [t for r in theirs["suites"] if r["suite"] == s["suite"] for t in r["targets"]])} for s in mine["suites"]}
    if args.format == "json":
        print(json.dumps({"reference": str(path), "judged_on": judged_on, **comparison.as_json()}, indent=2,
                         default=float))
    else:
        for suite, same in comparison.same_platform.items():
            print(f"{suite}: {'the same platform as' if same else 'another (or an unrecorded) platform than'} "
                  f"the reference ({path})")
            print(f"  yours judged on {judged_on[suite]['yours']}\n"
                  f"  the reference's judged on {judged_on[suite]['reference']}")
        print(reference.table(comparison))
        print(f"\n{comparison.summary()}")
    return 1 if args.strict and (comparison.disagreeing or comparison.defects) else 0


def cmd_leaderboard(args) -> int:
    from benchmark import leaderboard, release, results

    out = release.output_dir(args.out, args.release, "--out")
    if args.release and args.suites:
        raise UserError("a release renders every suite under suites/; name none", field="--release")
    suites = _load(args.suites)
    tracker = _tracker(args.tracking_uri)
    collected = [results.collect(s, tracker, profile=args.profile, device=args.device, **_modes(args)) for s in suites]
    stamp = None
    if args.release:
        release.require_every_suite(collected)
        stamp = release.stamp(collected, tracker)
    out = leaderboard.write(collected, out, tracker, release=stamp)
    print(f"{'reference release' if stamp else 'your leaderboard'}: {out.resolve()}/index.html "
          "(and README.md, results.json)")
    return 0


def cmd_ui(args) -> int:
    from benchmark.tracking import bench_home, default_tracking_uri

    uri = args.tracking_uri or default_tracking_uri()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the UI will be reachable from other machines on {args.host}", file=sys.stderr)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", args.host,
               "--port", str(args.port)]
    if args.tracking_uri is None:
        command += ["--default-artifact-root", (bench_home() / "mlartifacts").as_uri()]
    # MLflow 3's UI opens in its GenAI workspace unless the address asks for the training runs
    base = f"http://{args.host}:{args.port}"
    print(f"MLflow UI on {base}/#/experiments?workflowType=machine_learning (Ctrl-C to stop)", file=sys.stderr)
    for name, exp_id in _experiments(uri):
        print(f"  {name}: {base}/#/experiments/{exp_id}/runs?workflowType=machine_learning", file=sys.stderr)
    os.execv(sys.executable, command)
    return 0  # pragma: no cover


def _experiments(uri: str) -> list[tuple[str, str]]:
    """The suites' experiments in the store, for direct links (none when the store cannot be read yet)."""
    try:
        tracker = _tracker(None if uri == _default_uri() else uri)
        return sorted((e.name, e.experiment_id) for e in tracker.client.search_experiments()
                      if e.name.startswith("bench/"))
    except (UserError, OSError):
        return []


def _default_uri() -> str:
    from benchmark.tracking import default_tracking_uri

    return default_tracking_uri()


COMMANDS = {"validate": cmd_validate, "targets": cmd_targets, "plan": cmd_plan, "run": cmd_run, "worker": cmd_worker,
            "compare": cmd_compare,
            "leaderboard": cmd_leaderboard, "ui": cmd_ui}

if __name__ == "__main__":
    sys.exit(main())
