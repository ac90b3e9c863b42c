"""``tailored assess``: how risky a request is for one user, and which of their facts matter;
``tailored sensitive``: the user's memories that reveal a sensitive category, the categories
switched off (``--off`` / ``--on``) and the audit log of their uses (``--uses``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..engine import Engine
from ..errors import InvalidInput
from ..safety.consent import ALL
from .common import (
    DbOpt,
    EmbedderOpt,
    JsonOpt,
    ModelOpt,
    TenantOpt,
    UserOpt,
    clip,
    console,
    open_engine,
    print_json,
    print_table,
)
from .data import write_private


def assess(
    request: Annotated[str, typer.Argument(help="The user's request, as they would send it.")],
    user: UserOpt,
    refine: Annotated[
        bool, typer.Option("--refine", help="Let the chat model (--model) refine the domain and the risk.")
    ] = False,
    model: ModelOpt = None,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Assess REQUEST for USER: its domain, the risk for this user, the user's facts that bear
    on it (memory and event ids) and the background worth asking for. No chat model unless
    --refine."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        found = eng.assess(user, request, refine=refine, model=model)
    if json_out:
        print_json(found)
        return
    console.print(
        f"domain {found.domain}, risk [bold]{found.risk}[/]" + (" (risky request)" if found.risky_request else "")
    )
    if found.facts:
        table = Table("source", "id", "categories", "text")
        for f in found.facts:
            table.add_row(f.source, str(f.id), ", ".join(f.categories), clip(f.text, 100))
        print_table(table)
    for m in found.missing:
        console.print(f"ask: {m.question}", markup=False, highlight=False)


def _names(value: str | None) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def sensitive(
    user: UserOpt,
    off: Annotated[
        str | None,
        typer.Option(help="Switch personalization off for these categories (comma-separated, or 'all')."),
    ] = None,
    on: Annotated[
        str | None, typer.Option(help="Switch these categories back on (comma-separated, or 'all' for every one).")
    ] = None,
    uses: Annotated[
        bool, typer.Option("--uses", help="Show the audit log of the user's sensitive items' uses.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="With --uses: write the whole log as JSONL, readable by you only."),
    ] = None,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """List USER's memories that reveal a sensitive category (health, medication, pregnancy,
    age, addiction, mental health, disability, money trouble, abuse, legal status) and the
    categories switched off. Switched-off categories stay stored and listed, but no context,
    safety block or judge uses them. ``--uses`` shows every use of a sensitive item."""
    if out is not None and not uses:
        raise InvalidInput("--out writes the audit log: pass --uses with it")
    with open_engine(db, tenant, embedder, create=False) as eng:
        if off is not None or on is not None:
            current = set(eng.sensitive_off(user)) | set(_names(off))
            back = set(_names(on))
            current = set() if ALL in back else current - back
            eng.set_sensitive_off(user, sorted(current))
        if uses:
            _show_uses(eng, user, out, json_out)
            return
        found = eng.sensitive(user)
        switched = eng.sensitive_off(user)
    if json_out:
        print_json({"off": switched, "memories": [s.model_dump(mode="json") for s in found]})
        return
    table = Table("id", "kind", "categories", "text")
    for s in found:
        table.add_row(str(s.memory_id), s.kind, ", ".join(s.categories), clip(s.text, 100))
    print_table(table)
    console.print(f"switched off: {', '.join(switched) or 'none'}", markup=False, highlight=False)


def _show_uses(eng: Engine, user: str, out: Path | None, json_out: bool) -> None:
    log = eng.sensitive_uses(user, limit=None)
    if out is not None:
        write_private(out, "".join(u.model_dump_json() + "\n" for u in log))
        console.print(f"wrote {len(log)} uses to {out}")
    elif json_out:
        print_json([u.model_dump(mode="json") for u in log])
    else:
        table = Table("id", "at", "purpose", "item", "categories", "request")
        for u in log:
            table.add_row(
                str(u.id),
                u.at.isoformat(timespec="seconds"),
                u.purpose,
                f"{u.source} {u.item_id}",
                ", ".join(u.categories),
                clip(u.query, 60),
            )
        print_table(table)


def register(app: typer.Typer) -> None:
    app.command()(assess)
    app.command()(sensitive)
