"""Commands over stored data: add, search, context, events, export, import, erase, users, stats."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import InvalidInput, NotFound
from ..ingest import parse_bytes
from ..types import EventIn
from .common import (
    DbOpt,
    EmbedderOpt,
    JsonOpt,
    TenantOpt,
    UserOpt,
    YesOpt,
    clip,
    confirm,
    console,
    err_console,
    open_engine,
    parse_when,
    print_json,
    print_table,
    require_store,
)


def read_with_source_ids(path: Path, user: str | None, fmt: str) -> list[EventIn]:
    """The events of one file, each with a ``source_id``: its own, else one derived from the
    file's sha256 and the record's position in it.

    ``add`` commits in batches, so an interrupted run leaves a prefix stored; the store skips
    a source id it already holds for the user, so running the same file again stores only
    what is missing instead of a second copy of the prefix.
    """
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    events = parse_bytes(data, user, fmt, name=path.name)  # type: ignore[arg-type]
    return [
        e if e.source_id else e.model_copy(update={"source_id": f"file-{digest}:{n}"})
        for n, e in enumerate(events, start=1)
    ]


def add(
    files: Annotated[list[Path], typer.Argument(help="Chat JSON, JSONL events, or LoCoMo files.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id (fills a missing user_id).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto, chat, jsonl or locomo.")] = "auto",
    embed: Annotated[bool, typer.Option("--embed/--no-embed", help="Embed now, or at first search.")] = True,
    batch_size: Annotated[int, typer.Option(help="Events per transaction.")] = 512,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Remember the events in FILES. Every file is checked whole before anything is stored.

    Adding the same file again stores nothing twice: a record without a source_id gets one
    from the file's sha256 and its position, so a re-run after an interruption is safe.
    """
    if fmt not in ("auto", "chat", "jsonl", "locomo"):
        raise InvalidInput(f"--format must be auto, chat, jsonl or locomo, not {fmt!r}")
    if batch_size < 1:
        raise InvalidInput("--batch-size must be at least 1")
    parsed: list[EventIn] = []
    for path in files:
        parsed.extend(read_with_source_ids(path, user, fmt))
    with open_engine(db, tenant, embedder) as eng:
        added = duplicates = 0
        columns = (TextColumn("storing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=True) as progress:
            task = progress.add_task("add", total=len(parsed))
            for start in range(0, len(parsed), batch_size):
                batch = parsed[start : start + batch_size]
                result = eng.add(batch, embed=embed)
                added += len(result.added)
                duplicates += result.duplicates
                progress.advance(task, len(batch))
    users = len({e.user_id for e in parsed})
    console.print(f"added {added} events for {users} user(s); {duplicates} duplicate(s) skipped")


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: UserOpt,
    k: Annotated[int, typer.Option("-k", help="How many hits.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, bm25 or dense.")] = "hybrid",
    since: Annotated[str | None, typer.Option(help="Only events at or after this ISO time.")] = None,
    until: Annotated[str | None, typer.Option(help="Only events before this ISO time.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds (repeatable).")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session id.")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Search one user's events; each hit shows its score parts."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        hits = eng.search(
            user,
            query,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            since=parse_when(since, "--since"),
            until=parse_when(until, "--until"),
            kinds=kind,
            session_id=session,
        )
    if as_json:
        print_json(list(hits))
        return
    table = Table("score", "bm25", "dense", "time", "role", "text", title=f"{user}: {query}")
    for h in hits:
        table.add_row(
            f"{h.score:.3f}",
            f"{h.parts.bm25:.2f}",
            f"{h.parts.dense:.2f}",
            f"{h.event.time:%Y-%m-%d %H:%M}",
            h.event.role or "",
            clip(h.event.text, 160),
        )
    print_table(table)


def context(
    query: Annotated[str, typer.Argument(help="The request to build context for.")],
    user: UserOpt,
    budget: Annotated[int, typer.Option(help="Token budget.")] = 1000,
    records: Annotated[
        bool,
        typer.Option(
            "--records/--no-records",
            help="Include retrieved records (shown before the profile, which sits next to the request).",
        ),
    ] = True,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Print the context block an LLM prompt would embed for QUERY."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        ctx = eng.context(user, query, budget=budget, records=records)
    if as_json:
        print_json(ctx)
    else:
        sys.stdout.write(ctx.text + "\n")


def events(
    user: UserOpt,
    limit: Annotated[int, typer.Option(help="Page size.")] = 50,
    after: Annotated[int, typer.Option(help="Show events with an id above this.")] = 0,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """List a user's events, oldest id first, a page at a time."""
    with open_engine(db, tenant, create=False) as eng:
        page = eng.events(user, limit=limit, after_id=after)
    if as_json:
        print_json(list(page))
        return
    table = Table("id", "time", "kind", "role", "session", "text")
    for e in page:
        table.add_row(
            str(e.id), f"{e.time:%Y-%m-%d %H:%M}", e.kind, e.role or "", e.session_id or "", clip(e.text, 120)
        )
    print_table(table)


def export(
    user: UserOpt,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write, readable by you only [default: stdout].")
    ] = None,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Write everything stored for a user as portable JSON."""
    with open_engine(db, tenant, create=False) as eng:
        data = eng.export(user).model_dump_json(indent=2)
    if out is None:
        sys.stdout.write(data + "\n")
    else:
        write_private(out, data + "\n")
        console.print(f"wrote {out}")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600: an export holds everything a user said, so
    no other account on the machine may read it, not even for a moment after creation."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from exc
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def import_(
    file: Annotated[Path, typer.Argument(help="A file written by 'tailored export'.")],
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Restore a user from an export file (vectors are rebuilt at first search)."""
    with open_engine(db, tenant) as eng:
        result = eng.import_user(file)
    console.print(f"imported {len(result.added)} events; {result.duplicates} already present")


def erase(user: UserOpt, yes: YesOpt = False, db: DbOpt = None, tenant: TenantOpt = "default") -> None:
    """Remove every trace of a user: events, index entries, vectors."""
    require_store(db)
    confirm(f"Erase every trace of user {user!r}? This cannot be undone.", yes)
    with open_engine(db, tenant, create=False) as eng:
        eng.user(user)  # an unknown user is an error, as on the REST API
        removed = eng.erase(user)
    console.print(f"erased {removed} events of {user!r}")


def users(
    limit: Annotated[int, typer.Option(help="Page size.")] = 100,
    after: Annotated[str, typer.Option(help="Show users after this id.")] = "",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """List the tenant's users."""
    with open_engine(db, tenant, create=False) as eng:
        rows = eng.users(limit=limit, after=after)
    if as_json:
        print_json(list(rows))
        return
    table = Table("user", "events", "first", "last")
    for u in rows:
        table.add_row(u.user_id, str(u.events), f"{u.first:%Y-%m-%d}", f"{u.last:%Y-%m-%d}")
    print_table(table)


def stats(as_json: JsonOpt = False, db: DbOpt = None, tenant: TenantOpt = "default") -> None:
    """Counts of users, events and vectors, and the size of the store."""
    with open_engine(db, tenant, create=False) as eng:
        s = eng.stats()
    if as_json:
        print_json(s)
        return
    table = Table("metric", "value", title=f"tenant {s.tenant}")
    table.add_row("users", str(s.users))
    table.add_row("events", str(s.events))
    table.add_row("vectors", str(s.vectors))
    for k, v in sorted(s.kinds.items()):
        table.add_row(f"  kind {k}", str(v))
    table.add_row("database", s.db_path or "")
    table.add_row("size (bytes)", str(s.db_bytes))
    print_table(table)


def register(app: typer.Typer) -> None:
    for fn in (add, search, context, events, export, erase, users, stats):
        app.command()(fn)
    app.command("import")(import_)
