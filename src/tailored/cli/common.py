"""Options every command shares, declared once, and the engine they configure."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ..engine import Engine, default_store_url
from ..errors import InvalidInput, NotFound
from ..store import local_file

console = Console()
err_console = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="TAILORED_DB", help="Store URL or SQLite path [default: $TAILORED_HOME/tailored.db]."),
]
TenantOpt = Annotated[str, typer.Option("--tenant", envvar="TAILORED_TENANT", help="Tenant to act in.")]
EmbedderOpt = Annotated[
    str, typer.Option("--embedder", envvar="TAILORED_EMBEDDER", help="Embedder name (minilm, hash).")
]
UserOpt = Annotated[str, typer.Option("--user", "-u", help="The user to act on.")]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        envvar="TAILORED_MODEL",
        help="A model name (qwen2.5-1.5b), a GGUF path, or openai:NAME with $TAILORED_OPENAI_BASE_URL.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def require_store(db: str | None) -> None:
    """Refuse a SQLite store that does not exist.

    Opening a store creates and migrates it, which is right for commands that write and
    wrong for commands that only read: a typo in ``--db`` would leave an empty store behind
    and answer "no such user" about the wrong file.

    Raises
    ------
    NotFound
        The store is a SQLite path with no file behind it.
    """
    path = local_file(db or default_store_url())
    if path is not None and not path.is_file():
        hint = "check --db" if db else "pass --db or set $TAILORED_DB"
        raise NotFound(f"no store at {path}; {hint} ('tailored add' creates one)")


def open_engine(db: str | None, tenant: str = "default", embedder: str = "minilm", *, create: bool = True) -> Engine:
    """The engine a command works on; with ``create=False`` a missing SQLite store is an
    error instead of a new empty file (for commands that only read)."""
    if not create:
        require_store(db)
    return Engine(store=db, tenant=tenant, embedder=embedder)


def to_terminal() -> bool:
    """Whether stdout is a terminal: tables are drawn for people, tab-separated for pipes."""
    return sys.stdout.isatty()


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters on a terminal (a table stays readable there);
    whole when piped, where a cut value would be lost."""
    if not to_terminal() or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


def print_table(table: Table, *, titled: bool = False) -> None:
    """Draw ``table`` on a terminal; when piped, print it as tab-separated lines with a header
    and every value whole (a drawn table wraps and cuts cells to the pipe's 80 columns).

    ``titled`` puts the title on a line of its own first, for output meant to be read (the
    demo) rather than cut into fields."""
    if to_terminal():
        console.print(table)
        return
    if titled and table.title:
        sys.stdout.write(f"\n{table.title}\n")
    columns = table.columns
    rows = [[str(c.header) for c in columns]]
    cells = [list(c.cells) for c in columns]
    rows += [[str(col[i]) for col in cells] for i in range(table.row_count)]
    for row in rows:
        sys.stdout.write("\t".join(" ".join(v.split()) for v in row) + "\n")


def parse_when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: {value!r} is not an ISO 8601 time") from exc


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        sys.stdout.write(value.model_dump_json(indent=2) + "\n")
        return
    data = (
        [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        if isinstance(value, list)
        else value
    )
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput("refusing to run a destructive command without a terminal; pass --yes")
    if not typer.confirm(question, default=False):
        raise typer.Abort()
