"""Safe YAML loading that remembers where every value came from, for one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import UserError

Path_ = tuple[str | int, ...]


class LocatedYaml:
    """A parsed YAML document plus the line of every key and value in it."""

    def __init__(self, data: Any, lines: dict[Path_, int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that exists in the file."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def error(self, path: Path_, message: str) -> UserError:
        return UserError(message, file=self.file, line=self.line_of(path), field=dotted(path))


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{_shown(part)}" if out else _shown(part))
    return out or "(document)"


def _shown(name: object) -> str:
    """A key as the one-line error shows it: quoted when it is empty, padded, or holds a line break."""
    text = str(name)
    return text if text and text.isprintable() and text.strip() == text else repr(text)


def load(path: Path | str, display_name: str | None = None) -> LocatedYaml:
    path = Path(path)
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("no such file", file=name) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read: {exc.__class__.__name__}", file=name) from None
    # SafeLoader only: a suite can never construct Python objects. libyaml's when PyYAML was built with it (the
    # wheels are): its nodes carry the same marks, and it parses about twenty times faster than pure Python,
    # which every command and test that loads the shipped suites pays. One parse gives both the nodes (lines)
    # and the data.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise UserError(f"YAML syntax error: {problem}", file=name, line=line, field="yaml") from None
    except yaml.YAMLError as exc:
        raise UserError(f"YAML error: {exc}".splitlines()[0], file=name, field="yaml") from None
    except RecursionError:
        raise UserError("YAML nesting is too deep", file=name, field="yaml") from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if root is not None:
        _walk(root, (), lines, name, set(), [0])
    return LocatedYaml(data, lines, name)


# Anchors and aliases are welcome (suites share budgets with them), but an alias may not contain itself,
# and aliases of aliases may not expand a small file into millions of values ("billion laughs"): the
# schema check would walk every one of them.
MAX_VALUES = 200_000
MAX_DEPTH = 60


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], name: str, active: set[int],
          count: list[int]) -> None:
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise UserError(f"the document expands to more than {MAX_VALUES} values (aliases of aliases?)",
                        file=name, line=node.start_mark.line + 1, field=dotted(path))
    if len(path) > MAX_DEPTH:
        raise UserError("YAML nesting is too deep", file=name, line=node.start_mark.line + 1, field="yaml")
    if id(node) in active:
        raise UserError("an alias refers to a value that contains it (a cycle)", file=name,
                        line=node.start_mark.line + 1, field=dotted(path))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                raise UserError(f"duplicate key '{key}'", file=name, line=key_node.start_mark.line + 1,
                                field=dotted(path + (key,)))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, name, active, count)
        active.discard(id(node))
    elif isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), lines, name, active, count)
        active.discard(id(node))
