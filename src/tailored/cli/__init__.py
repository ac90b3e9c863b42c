"""The ``tailored`` command line. One module per verb group; each command parses input,
calls ``Engine``, formats output. ``main`` turns a ``TailoredError`` into one line on
stderr and exit status 1.
"""

from __future__ import annotations

import sys

import typer

from ..errors import TailoredError
from . import batch, bench, data, db, demo, judge, profile, serve
from . import chat as chat_cli
from . import mcp as mcp_cli
from . import models as models_cli
from . import recommend as recommend_cli
from . import safety as safety_cli
from . import webhooks as webhooks_cli

app = typer.Typer(
    name="tailored",
    help="A personalization engine for LLM applications: remember users, retrieve what matters, tailor answers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data.register(app)
demo.register(app)
profile.register(app)
app.add_typer(bench.app, name="bench")
app.add_typer(models_cli.app, name="models")
chat_cli.register(app)
judge.register(app)
safety_cli.register(app)
app.add_typer(recommend_cli.catalog_app, name="catalog")
app.add_typer(recommend_cli.recommend_app, name="recommend")
app.add_typer(db.app, name="db")
app.add_typer(batch.app, name="batch")
app.add_typer(serve.keys_app, name="keys")
mcp_cli.register(app)
app.add_typer(webhooks_cli.app, name="webhooks")
app.command()(serve.serve)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Usage errors are reported by the parser (exit 2); a ``TailoredError``
    becomes one line on stderr and exit status 1."""
    try:
        app(args=argv)
    except TailoredError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
