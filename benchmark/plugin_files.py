"""Plug-ins kept outside the repository: the files ``BENCH_PLUGINS`` names (paths separated as in ``PATH``; a
folder stands for every ``*.py`` in it whose name does not start with ``_``), imported after the shipped ones, so
that a paper's own dataset, method, metric or capability needs no edit of bench (``docs/adding-a-paper.md``).

The variable is read wherever plug-ins are: by every command and by the worker processes they start, which
inherit it. The files' contents are part of the catalog's cache key, so an edit is seen at once."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from benchmark.errors import UserError

VARIABLE = "BENCH_PLUGINS"


def named_files() -> list[Path]:
    """The plug-in files ``BENCH_PLUGINS`` names, in its order (a folder's files sorted by name)."""
    files: list[Path] = []
    for entry in filter(None, os.environ.get(VARIABLE, "").split(os.pathsep)):
        path = Path(entry).expanduser().resolve()
        if path.is_dir():
            files.extend(p for p in sorted(path.glob("*.py")) if not p.name.startswith("_"))
        elif path.suffix == ".py" and path.is_file():
            files.append(path)
        else:
            raise UserError(f"{entry}: neither a .py file nor a folder", field=VARIABLE)
    return files


def module_name(path: Path) -> str:
    """A module name of its own for each file: two plug-in files of one name in two folders stay apart, and
    importing one file again finds the module already there."""
    tag = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"bench_plugin_{stem}_{tag}"


def import_named() -> None:
    """Import every file ``BENCH_PLUGINS`` names (each once per process); their decorators register them."""
    for path in named_files():
        name = module_name(path)
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise UserError(f"{path}: cannot be imported as a Python module", field=VARIABLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # a broken file is not half-registered for the next try
            raise


def content_hash() -> str:
    """A hash of the named files' paths and contents ('' when there are none)."""
    files = named_files()
    if not files:
        return ""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]
