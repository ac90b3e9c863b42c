"""``tailored db ...``: the schema and health of the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..engine import default_store_url
from ..errors import NotFound
from ..store import Store, open_store, scheme_of
from .common import DbOpt, console

app = typer.Typer(help="Schema migrations and integrity of the store.", no_args_is_help=True)


def _open(db: str | None) -> Store:
    """The store, not migrated; a SQLite file must exist (these commands inspect a store,
    never create one)."""
    url = db or default_store_url()
    path = url.removeprefix("sqlite:///")
    if scheme_of(url) == "sqlite" and not Path(path).is_file():
        raise NotFound(f"no store at {path}")
    return open_store(url, migrate=False)


@app.command()
def migrate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List pending steps; change nothing.")] = False,
    db: DbOpt = None,
) -> None:
    """Apply pending schema steps (opening a store does this too)."""
    store = _open(db)
    try:
        if dry_run:
            pending = store.migrate(dry_run=True)
            console.print("\n".join(pending) if pending else "nothing to migrate")
            return
        ran = store.migrate()
        console.print(f"applied {len(ran)} step(s): {', '.join(ran)}" if ran else "nothing to migrate")
    finally:
        store.close()


@app.command()
def check(db: DbOpt = None) -> None:
    """Run the store's integrity check; exit 1 unless it says ok."""
    store = _open(db)
    try:
        result = store.integrity_check()
    finally:
        store.close()
    console.print(result)
    if result != "ok":
        raise typer.Exit(1)
