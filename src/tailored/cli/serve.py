"""``tailored serve`` and ``tailored keys ...``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..engine import Engine
from ..errors import InvalidInput
from ..keys import Keys
from .common import DbOpt, EmbedderOpt, JsonOpt, YesOpt, confirm, console, print_json, print_table, require_store

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str | None, typer.Option(help="Tenant the key belongs to.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin key (manages tenants and keys).")] = False,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key by.")] = None,
    db: DbOpt = None,
) -> None:
    """Create a key; its secret is printed once and stored only as a hash."""
    with Engine(db) as eng:
        record, secret = Keys(eng.store).create(tenant, admin=admin, label=label)
    console.print(f"key {record.id} for {'admin' if admin else 'tenant ' + record.tenant}:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """List keys (never their secrets)."""
    require_store(db)
    with Engine(db) as eng:
        rows = Keys(eng.store).list()
    if as_json:
        print_json(list(rows))
        return
    table = Table("id", "tenant", "admin", "label", "created", "revoked")
    for k in rows:
        table.add_row(
            k.id,
            k.tenant,
            "yes" if k.admin else "",
            k.label or "",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    print_table(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id.")], yes: YesOpt = False, db: DbOpt = None
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    require_store(db)
    confirm(f"Revoke key {key_id}?", yes)
    with Engine(db) as eng:
        Keys(eng.store).revoke(key_id)
    console.print(f"revoked {key_id}")


def serve(
    host: Annotated[str, typer.Option(envvar="TAILORED_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="TAILORED_PORT", help="Port.")] = 8000,
    db: DbOpt = None,
    embedder: EmbedderOpt = "minilm",
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", envvar="TAILORED_MODEL", help="Chat model for /v1/chat/completions."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            envvar="TAILORED_WORKERS",
            help="Server processes, 1-64. One process runs Python on one core at a time; on a "
            "machine with cores to spare, 2 or more raise throughput (each loads the models).",
        ),
    ] = 1,
) -> None:
    """Run the REST API, the OpenAI-compatible endpoint and the dashboard."""
    import os

    if not 1 <= workers <= 64:
        raise InvalidInput(f"--workers must be 1-64, not {workers}")

    import uvicorn

    from ..server import Settings, create_app
    from ..server.app import server_engine

    settings = Settings(db=db, host=host, port=port, embedder=embedder, model=model)
    engine = server_engine(settings) if workers == 1 else Engine(db)
    keys = Keys(engine.store)
    url = f"http://{host}:{port}"
    if not keys.list():
        _, admin_secret = keys.create(None, admin=True, label="first admin key")
        _, secret = keys.create("default", label="first key")
        typer.echo(f"First API key (tenant 'default', shown once): {secret}")
        typer.echo(f"Admin key (manages tenants and keys, shown once): {admin_secret}")
    else:
        typer.echo("Keys exist already; create another with: tailored keys create --tenant T")
    typer.echo(f"Dashboard: {url}/dashboard/")
    typer.echo(f"API docs:  {url}/docs")
    if workers == 1:
        uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning")
        return
    os.environ.update(TAILORED_DB=engine.store.url, TAILORED_EMBEDDER=embedder)
    if model:
        os.environ["TAILORED_MODEL"] = model
    engine.close()
    uvicorn.run(
        "tailored.server.app:app_from_env", factory=True, workers=workers, host=host, port=port, log_level="warning"
    )
