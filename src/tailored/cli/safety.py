"""``tailored assess``: how risky a request is for one user, and which of their facts matter;
``tailored sensitive``: the user's memories that reveal a sensitive category."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from .common import DbOpt, EmbedderOpt, JsonOpt, TenantOpt, UserOpt, clip, console, open_engine, print_json, print_table


def assess(
    request: Annotated[str, typer.Argument(help="The user's request, as they would send it.")],
    user: UserOpt,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Assess REQUEST for USER: its domain, the risk for this user, the user's facts that bear
    on it (memory and event ids) and the background worth asking for. No chat model."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        found = eng.assess(user, request)
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


def sensitive(
    user: UserOpt,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """List USER's memories that reveal a sensitive category (health, medication, pregnancy,
    age, addiction, mental health, disability, money trouble, abuse, legal status)."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        found = eng.sensitive(user)
    if json_out:
        print_json([s.model_dump(mode="json") for s in found])
        return
    table = Table("id", "kind", "categories", "text")
    for s in found:
        table.add_row(str(s.memory_id), s.kind, ", ".join(s.categories), clip(s.text, 100))
    print_table(table)


def register(app: typer.Typer) -> None:
    app.command()(assess)
    app.command()(sensitive)
