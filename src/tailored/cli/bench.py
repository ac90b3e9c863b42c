"""``tailored bench ...``: benchmark commands that write reports under docs/benchmarks/.

Each benchmark module exposes a typer command function. The modules pull in numpy,
matplotlib, dataset loaders and the HTTP client, none of which any other command needs, so
they are imported only when a bench command is looked up (to run it, or for its help):
``tailored --help`` and every other command start without them.
"""

from __future__ import annotations

from importlib import import_module

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

# command name -> (module under tailored.bench, function in it)
COMMANDS: dict[str, tuple[str, str]] = {
    "retrieval": ("retrieval", "retrieval"),
    "ingest": ("speed", "ingest"),
    "latency": ("speed", "latency"),
    "scale": ("scale", "scale"),
    "vectors": ("vectors", "vectors"),
    "serve": ("serve", "serve"),
    "qa": ("qa", "qa"),
    "extraction": ("extraction", "extraction"),
    "prefeval": ("prefeval", "prefeval"),
    "judge": ("judge", "judge"),
    "recommend": ("recommend", "recommend"),
    "webhooks": ("webhooks", "webhooks"),
    "mcp": ("mcp", "mcp"),
    "safety": ("safety", "safety"),
}


def load_command(name: str) -> TyperCommand:
    """Import the module behind ``tailored bench NAME`` and build its click command."""
    module, function = COMMANDS[name]
    single = typer.Typer(add_completion=False)
    single.command(name)(getattr(import_module(f"tailored.bench.{module}"), function))
    command = typer.main.get_command(single)
    assert isinstance(command, TyperCommand)  # a Typer with one command and no callback is that command
    command.name = name
    return command


class LazyBenchGroup(TyperGroup):
    """A command group that knows its commands' names up front and imports one only when
    it is asked for."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | None:  # type: ignore[override]
        return load_command(cmd_name) if cmd_name in COMMANDS else None


app = typer.Typer(
    cls=LazyBenchGroup,
    help="Benchmarks: each writes a report (Markdown and JSON) into the folder given by --out.",
    no_args_is_help=True,
)
