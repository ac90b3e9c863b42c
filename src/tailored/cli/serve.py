"""``tailored serve`` and ``tailored keys ...``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from ..engine import DEFAULT_HOME, Engine
from ..errors import InvalidInput, StoreError
from ..keys import Keys
from .common import DbOpt, EmbedderOpt, JsonOpt, YesOpt, confirm, console, print_json, print_table, require_store

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str | None, typer.Option(help="Tenant the key belongs to.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin key (manages tenants and keys).")] = False,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key by.")] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Scope the key to this one user of the tenant (for that user's agent)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Create a key; its secret is printed once and stored only as a hash."""
    with Engine(db) as eng:
        record, secret = Keys(eng.store).create(tenant, admin=admin, label=label, user=user)
    who = "admin" if admin else f"tenant {record.tenant}" + (f", user {record.user_id} only" if user else "")
    console.print(f"key {record.id} for {who}:")
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
    table = Table("id", "tenant", "user", "admin", "label", "created", "revoked")
    for k in rows:
        table.add_row(
            k.id,
            k.tenant,
            k.user_id or "",
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


def _drop_dead_handles(pgdata: Path) -> None:
    """Forget the pgserver handles of processes that no longer run.

    pgserver counts the processes using a data directory in ``.handle_pids.json`` and stops
    the server when the last one exits; a ``tailored serve`` killed with SIGKILL leaves its
    pid there, and the server would then never be stopped again."""
    from pgserver.postgres_server import PostgresServer

    path = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(pids, list):
            path.write_text(json.dumps([p for p in pids if isinstance(p, int) and _running(p)]))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def _exit_quietly(sig: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextmanager
def local_postgres(home: Path) -> Iterator[str]:
    """A PostgreSQL server with pgvector (pgserver), its data in ``home/postgres``, with a
    ``tailored`` database; yields that database's URL and stops the server on exit.

    SIGTERM and SIGHUP end the process through ``SystemExit`` while it runs, so that the
    server is stopped then too (uvicorn re-raises a SIGTERM it handled once it has shut
    down, which would otherwise kill the process before any cleanup)."""
    try:
        import psycopg

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pgserver.postgres_server import get_server
    except ImportError as exc:
        raise StoreError("--postgres needs the postgres extra: pip install 'tailored[postgres]'") from exc
    if not home.exists():
        home.mkdir(mode=0o700, parents=True)  # as the SQLite backend makes it
    pgdata = home.resolve() / "postgres"
    if pgdata.exists():
        _drop_dead_handles(pgdata)
    ending = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, _exit_quietly) for sig in ending}
    server = None
    try:
        try:
            server = get_server(pgdata, cleanup_mode="stop")
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tailored'").fetchone() is None:
                    conn.execute("CREATE DATABASE tailored")
        except (OSError, psycopg.Error, subprocess.SubprocessError) as exc:
            raise StoreError(f"could not start PostgreSQL in {pgdata}: {exc} (its log: {pgdata / 'log'})") from exc
        yield str(server.get_uri("tailored"))
    finally:
        if server is not None:
            server.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="Start a local PostgreSQL with pgvector (the postgres extra), its data in "
            "$TAILORED_HOME/postgres, and serve on it; it stops when the server does.",
        ),
    ] = False,
) -> None:
    """Run the REST API, the OpenAI-compatible endpoint and the dashboard."""
    if not 1 <= workers <= 64:
        raise InvalidInput(f"--workers must be 1-64, not {workers}")
    if postgres and db:
        raise InvalidInput("--postgres serves on its own database: leave out --db (and unset $TAILORED_DB)")
    with ExitStack() as stack:
        if postgres:
            home = Path(os.environ.get("TAILORED_HOME", DEFAULT_HOME))
            db = stack.enter_context(local_postgres(home))
            typer.echo(f"PostgreSQL (stops with this server): {db}")
        _serve(host, port, db, embedder, model, workers)


def _serve(host: str, port: int, db: str | None, embedder: str, model: str | None, workers: int) -> None:
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
        try:
            uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="warning")
        finally:
            engine.close()
        return
    os.environ.update(TAILORED_DB=engine.store.url, TAILORED_EMBEDDER=embedder)
    if model:
        os.environ["TAILORED_MODEL"] = model
    engine.close()
    uvicorn.run(
        "tailored.server.app:app_from_env", factory=True, workers=workers, host=host, port=port, log_level="warning"
    )
