"""``tailored profile``, ``tailored memories ...``, ``tailored extract``, ``tailored summarize``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..errors import InvalidInput
from ..safety.consent import ALL
from ..safety.sensitive import categories
from ..types import Memory
from .common import (
    DbOpt,
    EmbedderOpt,
    JsonOpt,
    TenantOpt,
    UserOpt,
    YesOpt,
    confirm,
    console,
    open_engine,
    parse_when,
    print_json,
    print_table,
    require_store,
)

memories_app = typer.Typer(help="Edit a user's memories: add, edit, delete, pin.", no_args_is_help=True)


def _memory_cell(m: Memory, off: frozenset[str]) -> Text:
    """The memory's text, and below it the sensitive categories it reveals (those switched
    off marked so): the labels are the same as ``tailored sensitive`` shows."""
    cell = Text(m.text)
    found = categories(m.text)
    if found:
        names = [f"{c} (off)" if ALL in off or c in off else c for c in found]
        cell.append("\nsensitive: " + ", ".join(names), style="yellow")
    return cell


def _table(rows: list[Memory], title: str, off: frozenset[str] = frozenset()) -> Table:
    table = Table("id", "kind", "memory", "stance", "conf.", "source", "status", "valid", "evidence", title=title)
    for m in rows:
        valid = f"{m.valid_from:%Y-%m-%d} .. {m.valid_to:%Y-%m-%d}" if m.valid_to else f"since {m.valid_from:%Y-%m-%d}"
        table.add_row(
            str(m.id),
            m.kind,
            _memory_cell(m, off),
            m.polarity or "",
            f"{m.confidence:.2f}",
            m.source,
            m.status + (" (pinned)" if m.pinned else ""),
            valid,
            ",".join(map(str, m.evidence)),
        )
    return table


def profile(
    user: UserOpt,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Show the profile as it was at this ISO time.")] = None,
    history: Annotated[bool, typer.Option("--history", help="Every memory ever held, current or not.")] = False,
    why: Annotated[int | None, typer.Option("--why", help="Evidence and history of one memory id.")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Show what the engine believes about a user, when, and why."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        if why is not None:
            explanation = eng.why(user, why)
            if as_json:
                print_json(explanation)
                return
            print_table(_table([explanation.memory], f"memory {why}"))
            ev = Table("event", "time", "role", "text", title="evidence")
            for e in explanation.evidence:
                ev.add_row(str(e.id), f"{e.time:%Y-%m-%d %H:%M}", e.role or "", e.text)
            print_table(ev)
            ch = Table("time", "action", "detail", title="changes")
            for c in explanation.changes:
                ch.add_row(f"{c.at:%Y-%m-%d %H:%M}", c.action, c.detail)
            print_table(ch)
            return
        if history:
            rows = eng.history(user)
            if as_json:
                print_json(list(rows))
            else:
                print_table(_table(rows, f"{user}: every memory", frozenset(eng.sensitive_off(user))))
            return
        p = eng.profile(user, as_of=parse_when(as_of, "--as-of"))
        off = frozenset(eng.sensitive_off(user))
    if as_json:
        print_json(p)
        return
    print_table(_table(p.preferences + p.facts, f"{user} as of {p.as_of:%Y-%m-%d %H:%M}", off))
    for s in p.summaries:
        console.print(f"[bold]summary ({s.task})[/]: {s.text}", soft_wrap=True)


@memories_app.command("add")
def memories_add(
    user: UserOpt,
    key: Annotated[str, typer.Option(help="Topic of a preference or attribute of a fact.")],
    value: Annotated[str, typer.Option(help="The value.")],
    polarity: Annotated[str | None, typer.Option(help="like, dislike or avoid (a preference).")] = None,
    text: Annotated[str, typer.Option(help="The memory as a sentence.")] = "",
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Add a memory on the user's word (it wins over extraction)."""
    kind = "preference" if polarity else "fact"
    with open_engine(db, tenant) as eng:
        m = eng.remember(user, {"kind": kind, "key": key, "value": value, "polarity": polarity, "text": text})
    console.print(f"added memory {m.id}: {m.text}")


@memories_app.command("edit")
def memories_edit(
    memory_id: Annotated[int, typer.Argument(help="The memory id.")],
    user: UserOpt,
    value: Annotated[str | None, typer.Option(help="New value.")] = None,
    polarity: Annotated[str | None, typer.Option(help="New stance: like, dislike or avoid.")] = None,
    text: Annotated[str | None, typer.Option(help="New sentence.")] = None,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Correct a memory; the old version stays in the history."""
    if value is None and polarity is None and text is None:
        raise InvalidInput("nothing to change: pass --value, --polarity or --text")
    with open_engine(db, tenant, create=False) as eng:
        m = eng.correct(user, memory_id, value=value, polarity=polarity, text=text)
    console.print(f"memory {memory_id} is now memory {m.id}: {m.text}")


@memories_app.command("delete")
def memories_delete(
    memory_id: Annotated[int, typer.Argument(help="The memory id.")],
    user: UserOpt,
    yes: YesOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Delete a memory; it is not extracted again from earlier statements."""
    require_store(db)
    confirm(f"Delete memory {memory_id} of {user!r}?", yes)
    with open_engine(db, tenant, create=False) as eng:
        eng.forget(user, memory_id)
    console.print(f"deleted memory {memory_id}")


@memories_app.command("pin")
def memories_pin(
    memory_id: Annotated[int, typer.Argument(help="The memory id.")],
    user: UserOpt,
    unpin: Annotated[bool, typer.Option("--unpin", help="Remove the pin instead.")] = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Pin a memory: always in the context, never replaced by extraction."""
    with open_engine(db, tenant, create=False) as eng:
        m = eng.pin(user, memory_id, pinned=not unpin)
    console.print(f"memory {m.id} {'pinned' if m.pinned else 'unpinned'}")


def extract(
    user: UserOpt,
    extractor: Annotated[
        str, typer.Option(help="auto (the fast path, plus the model if opted in), fast, rules or llm.")
    ] = "auto",
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Derive memories from the user's events the extractor has not read yet."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        with console.status(f"extracting with {extractor}..."):
            touched = eng.extract(user, extractor)
    console.print(f"{len(touched)} memories created or changed")


def summarize(
    user: UserOpt,
    task: Annotated[str, typer.Option(help="What the summary is for (general, writing style, diet...).")] = "general",
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Chat model to write it (default: from the profile, no LLM).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even without enough new events.")] = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Build or refresh the user's summary for a task."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        s = eng.summarize(user, task=task, model=model, force=force)
    console.print(f"[bold]{s.task}[/] (covers {s.events_covered} events): {s.text}")


def register(app: typer.Typer) -> None:
    app.command()(profile)
    app.command()(extract)
    app.command()(summarize)
    app.add_typer(memories_app, name="memories")
