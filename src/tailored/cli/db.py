"""``tailored db ...``: the schema and health of the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..engine import default_store_url
from ..errors import NotFound
from ..store.sqlite import SQLiteStore, migrations
from .common import DbOpt, console

app = typer.Typer(help="Schema migrations and integrity of the store.", no_args_is_help=True)


def _path(db: str | None) -> str:
    """The store's file; it must exist (these commands inspect a store, never create one)."""
    path = (db or default_store_url()).removeprefix("sqlite:///")
    if not Path(path).is_file():
        raise NotFound(f"no store at {path}")
    return path


@app.command()
def migrate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List pending steps; change nothing.")] = False,
    db: DbOpt = None,
) -> None:
    """Apply pending schema steps (opening a store does this too)."""
    store = SQLiteStore(_path(db), migrate=False)
    try:
        pending = migrations.pending(store._conn)
        if dry_run:
            console.print("\n".join(pending) if pending else "nothing to migrate")
            return
        ran = migrations.apply(store._conn)
        console.print(f"applied {len(ran)} step(s): {', '.join(ran)}" if ran else "nothing to migrate")
    finally:
        store.close()


@app.command()
def check(db: DbOpt = None) -> None:
    """Run SQLite's integrity check; exit 1 unless it says ok."""
    store = SQLiteStore(_path(db), migrate=False)
    try:
        result = store.integrity_check()
    finally:
        store.close()
    console.print(result)
    if result != "ok":
        raise typer.Exit(1)
