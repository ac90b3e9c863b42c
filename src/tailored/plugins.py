"""The one loader of extension points: ``tailored.*`` entry-point groups.

Every backend kind (stores, embedders, chat models, extractors) registers in its group,
the built-ins included (see pyproject.toml), and is found here by name. A source tree
run without installing has no entry points: the built-ins are then found through the
``builtins`` map their caller passes, so the two paths load the same classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from .errors import TailoredError


def available(group: str, builtins: Mapping[str, str] | None = None) -> list[str]:
    """The names registered in ``group`` (``tailored.stores``, ...), sorted."""
    return sorted({ep.name for ep in entry_points(group=group)} | set(builtins or {}))


def load(group: str, name: str, error: type[TailoredError], builtins: Mapping[str, str] | None = None) -> Any:
    """The object registered as ``name`` in ``group``; ``error`` (naming what is
    available) when there is none. ``builtins`` maps names to ``module:attribute``."""
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    if builtins and name in builtins:
        module, _, attr = builtins[name].partition(":")
        return getattr(import_module(module), attr)
    kind = group.removeprefix("tailored.").rstrip("s").replace("_", " ")
    raise error(f"unknown {kind} {name!r}; available: {', '.join(available(group, builtins)) or 'none'}")
