"""Named schema steps, shared by every backend: a step is a plain function registered in
order under its own name, and a name is never registered twice. Each backend's
``Migrations`` adds how it records and applies steps in its own database."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass
class NamedSteps(Generic[C]):
    name: str
    steps: list[tuple[str, Callable[[C], None]]] = field(default_factory=list)

    def __call__(self, fn: Callable[[C], None]) -> Callable[[C], None]:
        """Register ``fn`` as the next step; its function name is the step name."""
        if any(name == fn.__name__ for name, _ in self.steps):
            raise ValueError(f"duplicate migration step {fn.__name__!r}")
        self.steps.append((fn.__name__, fn))
        return fn

    def not_in(self, done: Iterable[str]) -> list[str]:
        """The step names not among ``done``, in order."""
        applied = set(done)
        return [name for name, _ in self.steps if name not in applied]
