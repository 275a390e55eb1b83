"""Bad input at volume: hundreds of mutated suite files (missing keys, wrong types, out-of-range and huge
numbers, unknown names, duplicate target ids, alias cycles, unicode, truncation) are each either accepted or
rejected with one line `error: FILE:LINE: field: msg` and exit 2: never a traceback, a hang or a write."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import signal
from collections import Counter

import yaml
from conftest import REPO, TESTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.cli import main

BASES = {
    "engine": (TESTS / "suites" / "engine.yaml").read_text(),
    "alpha_gan": (REPO / "suites" / "alpha_gan.yaml").read_text(),  # a real suite, with anchors and aliases
}
PARSED = {name: yaml.load(text, Loader=yaml.CSafeLoader) for name, text in BASES.items()}  # copied per example
ERROR = re.compile(r"^error: x\.yaml(:\d+)?: [^\n]+$")
EXAMPLES = 500
TALLY: Counter = Counter()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "x" * 5000, "🙂é中\u202e", "no_such_method", "test_gaussian_fit", "-1", "1e400",
                     "narrow", "SGD", "fit.mean", "..", "../../etc/passwd"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=6), scalars, max_size=3),
                   # built afresh for every example: mutations below must never reach a shared object
                   st.builds(lambda: list(range(12_000))), st.builds(lambda: {"grid": []}),
                   st.builds(lambda: {"low": 1, "high": 0}))


def paths(node, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:20]):  # a huge list is one place to mutate, not thousands
            out += paths(v, prefix + (i,))
    return out


def parent_of(doc, path):
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


def mutate_tree(doc, data) -> None:
    """One structural mutation at a random place in the parsed suite."""
    path = data.draw(st.sampled_from([p for p in paths(doc) if p]))
    parent, last = parent_of(doc, path), path[-1]
    op = data.draw(st.sampled_from(["delete", "replace", "rename", "add", "duplicate_target", "swap"]))
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = copy.deepcopy(data.draw(values))
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(st.one_of(st.text(min_size=1, max_size=8), st.integers(), st.just("sorce")))] = \
            parent.pop(last)
    elif op == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = copy.deepcopy(data.draw(values))
    elif op == "duplicate_target" and isinstance(doc.get("targets"), list) and doc["targets"]:
        doc["targets"].append(copy.deepcopy(doc["targets"][0]))
    elif op == "swap" and isinstance(parent, list) and len(parent) > 1:
        parent.reverse()


TEXT_ATTACKS = [
    "cycle: &c [1, *c]\n",
    "datasets: &d {a: *d}\n",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
    "x: !!python/object/apply:os.system ['true']\n",
    "\t- tab\n", "[" * 3000 + "]" * 3000 + "\n", "key: 'unterminated\n", "\x00\x01\ufeff\n",
]


def mutate_text(text: str, data) -> str:
    op = data.draw(st.sampled_from(["none", "none", "truncate", "insert", "attack", "duplicate_line"]))
    if op == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    if op == "insert":
        at = data.draw(st.integers(0, len(text)))
        return text[:at] + data.draw(st.text(min_size=1, max_size=5)) + text[at:]
    if op == "attack":
        return text + data.draw(st.sampled_from(TEXT_ATTACKS))
    if op == "duplicate_line":
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, max(0, len(lines) - 1)))
        return "".join(lines[: i + 1] + lines[i:])
    return text


@contextlib.contextmanager
def time_limit(seconds: int):
    def hang(signum, frame):
        raise TimeoutError(f"validate hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_suites_are_accepted_or_rejected_in_one_line(tmp_path_factory, data):
    base = data.draw(st.sampled_from(sorted(BASES)))
    doc = copy.deepcopy(PARSED[base])
    for _ in range(data.draw(st.integers(1, 3))):
        if isinstance(doc, dict) and len(paths(doc)) > 1:
            mutate_tree(doc, data)
    dumped = data.draw(st.booleans())
    text = yaml.dump(doc, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False) if dumped else BASES[base]
    text = mutate_text(text, data)

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(folder)
        with time_limit(20), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", "x.yaml"])  # any exception but a UserError escapes and fails the test
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in folder.iterdir()) == ["x.yaml"], "validate wrote something"
    if code == 0:
        assert out.getvalue().startswith("x.yaml: ok (") and not err.getvalue()
        TALLY["accepted"] += 1
    else:
        assert code == 2, (code, err.getvalue())
        assert ERROR.match(err.getvalue().rstrip("\n")), err.getvalue()
        assert "Traceback" not in err.getvalue()
        TALLY["rejected"] += 1


def test_the_fuzzing_covered_both_outcomes():
    """Runs after the property test (file order): it must have tried the examples and seen both answers."""
    print(f"\nmutated suites: {sum(TALLY.values())} tried, {TALLY['rejected']} rejected with one line, "
          f"{TALLY['accepted']} accepted")
    if not TALLY:  # run on its own (-k): nothing to judge
        return
    assert sum(TALLY.values()) >= EXAMPLES
    assert TALLY["rejected"] >= EXAMPLES // 4 and TALLY["accepted"] >= 10
