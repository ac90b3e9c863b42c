"""Options every command shares, declared once, and the engine they configure."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

from ..engine import Engine
from ..errors import InvalidInput

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
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def open_engine(db: str | None, tenant: str = "default", embedder: str = "minilm") -> Engine:
    return Engine(store=db, tenant=tenant, embedder=embedder)


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
