"""No cycle among the engine's modules: the graph of which benchmark/ module imports which, read from the source
with ``ast``, has none.

Every import counts wherever it is written: at module level and inside functions (a deferred import only hides
a cycle until the function runs), as ``import benchmark.x``, ``from benchmark import x``, ``from benchmark.x
import y`` or a relative import. Imports under ``if TYPE_CHECKING:`` are left out: they never execute, they only
annotate. A module importing a package depends on the package's ``__init__``; ``from package import module``
depends on that module."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = "benchmark"


def module_files(root: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` (at ``path``) imports."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                base = package[:len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in modules else source)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_engine_imports_point_down_without_a_cycle():
    graph = import_graph()
    assert len(graph) > 40, "the graph was read from the wrong place"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_reader_sees_every_form_of_import_and_finds_a_planted_cycle(tmp_path):
    """The check can fail: deferred, relative and ``from package import module`` imports each close a cycle it
    reports, and a ``TYPE_CHECKING`` import does not."""
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from benchmark.b import thing\n")
    (pkg / "b.py").write_text("def f():\n    from benchmark import c\n")  # deferred, package form
    (pkg / "c.py").write_text("from .sub import d\n")  # relative, names a module
    (pkg / "sub" / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import benchmark.a\n")
    graph = import_graph(tmp_path)
    assert graph["benchmark.a"] == {"benchmark.b"}
    assert graph["benchmark.b"] == {"benchmark.c"}
    assert graph["benchmark.c"] == {"benchmark.sub.d"}
    assert find_cycle(graph) is None  # the only way back to a is under TYPE_CHECKING
    (pkg / "sub" / "d.py").write_text("from ..a import thing\n")  # two dots: from the package above
    cycle = find_cycle(import_graph(tmp_path))
    assert cycle == ["benchmark.a", "benchmark.b", "benchmark.c", "benchmark.sub.d", "benchmark.a"]
