"""``tailored db ...``: the schema and health of the store, and copying it to another."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import embed, plugins
from ..engine import default_store_url
from ..errors import InvalidInput, ModelError
from ..memory import available_extractors
from ..store import Store, open_store
from ..store.copy import CopyReport, UserResult, copy_store, count_users, same_store
from .common import DbOpt, JsonOpt, console, err_console, print_json, print_table, require_store

app = typer.Typer(help="Schema migrations and integrity of the store, and copying it.", no_args_is_help=True)


def _open(db: str | None) -> Store:
    """The store, not migrated; a SQLite file must exist (these commands inspect a store,
    never create one)."""
    require_store(db)
    return open_store(db or default_store_url(), migrate=False)


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


def embedding_models() -> list[str]:
    """The vector model names of every installed embedder (``all-MiniLM-L6-v2`` for the
    default ``minilm``), read from their classes without loading any weights."""
    names = []
    for name in embed.available_embedders():
        try:
            cls = plugins.load(embed.GROUP, name, ModelError, embed.BUILTINS)
        except (ImportError, ModelError):
            continue
        model = getattr(cls, "name", None)
        if isinstance(model, str):
            names.append(model)
    return names


def _report_table(report: CopyReport) -> Table:
    table = Table(title="copied")
    for header in ("tenant", "users copied", "users skipped", "resumed", "replaced", "events copied"):
        table.add_column(header)
    for header in ("events skipped", "memories copied", "memories skipped", "log rows", "summaries", "vectors"):
        table.add_column(header)
    table.add_column("keys copied")
    table.add_column("keys skipped")
    for t in report.tenants:
        table.add_row(
            *map(
                str,
                (
                    t.tenant,
                    t.copied,
                    t.skipped,
                    t.resumed,
                    t.replaced,
                    t.events,
                    t.events_skipped,
                    t.memories,
                    t.memories_skipped,
                    t.changes,
                    t.summaries,
                    t.vectors,
                    t.keys,
                    t.keys_skipped,
                ),
            )
        )
    return table


@app.command()
def copy(
    source_url: Annotated[str, typer.Option("--from", help="The store to copy from (URL or SQLite path).")],
    target_url: Annotated[
        str, typer.Option("--to", help="The store to copy into; created if it is a new SQLite file.")
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="An embedding model whose vectors to copy (repeatable) [default: every installed embedder's].",
        ),
    ] = None,
    extractor: Annotated[
        list[str] | None,
        typer.Option(
            "--extractor", help="An extractor whose marks to copy (repeatable) [default: every installed one]."
        ),
    ] = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Copy only this tenant (repeatable) [default: all].")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Erase and copy again a target user that holds other data.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Copy every tenant and user to another store (any backends), verifying each user;
    run it again after an interruption to finish the copy."""
    if same_store(source_url, target_url):
        raise InvalidInput("the source and the target are the same store")
    models = model or embedding_models()
    extractors = extractor or available_extractors()
    source = _open(source_url)
    try:
        target = open_store(target_url)
        try:
            total = count_users(source, tenant)
            with Progress(
                TextColumn("copying users"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                disable=json_out or not err_console.is_terminal,
            ) as bar:
                task = bar.add_task("users", total=total)

                def advance(result: UserResult) -> None:
                    bar.advance(task)

                report = copy_store(
                    source,
                    target,
                    models=models,
                    extractors=extractors,
                    replace=replace,
                    tenants=tenant,
                    on_user=advance,
                )
        finally:
            target.close()
    finally:
        source.close()
    if json_out:
        print_json(report.as_dict())
    else:
        print_table(_report_table(report))
