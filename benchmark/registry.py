"""The one registry type behind every plug-in kind: datasets, methods, metrics, claim types, statistic types,
batch trainers and capabilities. A name is registered once; a second, different definition under the same name is
an error, so that a plug-in never silently replaces another (a module imported again re-registers its own
definition, which is the same place and is allowed).

A registry reads as a dict of name -> item. Tests may still put a stand-in under a name with plain item
assignment (``monkeypatch.setitem``); only ``add``, what the decorators call, refuses duplicates."""

from __future__ import annotations

from typing import Generic, TypeVar

Item = TypeVar("Item")


class Registry(dict[str, Item], Generic[Item]):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind  # what it holds, for the error: "method", "claim type", ...
        self._origins: dict[str, str] = {}  # name -> where its definition lives (module.qualname)

    def add(self, name: str, item: Item, where: str) -> Item:
        """Register ``item`` under ``name``; ``where`` names its definition (``module.qualname``)."""
        if not name:
            raise ValueError(f"{where} has no name")
        first = self._origins.setdefault(name, where)
        if first != where:
            raise ValueError(f"{self.kind} '{name}' is registered twice: by {first} and by {where}")
        self[name] = item
        return item

    def origin_of(self, name: str) -> str:
        """Where the definition registered under ``name`` lives (``module.qualname``)."""
        return self._origins[name]


def origin(obj: object) -> str:
    """Where a class or function is defined: its module and qualified name."""
    return f"{obj.__module__}.{obj.__qualname__}"
