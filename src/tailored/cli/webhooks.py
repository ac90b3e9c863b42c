"""``tailored webhooks add | list | remove | deliveries | replay | deliver``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..engine import Engine
from ..errors import InvalidInput
from ..store.outbox import WEBHOOK_EVENTS, DeliveryStatus
from ..webhooks import Deliverer, Webhooks
from .common import DbOpt, JsonOpt, TenantOpt, YesOpt, confirm, console, print_json, print_table, require_store

app = typer.Typer(
    help="Outbound webhooks: signed POSTs when a user's memories change or a user is erased.",
    no_args_is_help=True,
)

AllowPrivateOpt = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        envvar="TAILORED_WEBHOOKS_ALLOW_PRIVATE",
        help="Allow URLs on private and loopback addresses (receivers on this network).",
    ),
]


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the events.")],
    tenant: TenantOpt = "default",
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help=f"An event to send (repeat for more): {', '.join(WEBHOOK_EVENTS)}; all."),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (16+ characters); a random one is made and shown once.")
    ] = None,
    allow_private: AllowPrivateOpt = False,
    db: DbOpt = None,
) -> None:
    """Register a URL; prints its id and the secret that signs every delivery (shown once)."""
    with Engine(db, tenant=tenant) as eng:
        webhook, key = Webhooks(eng.store, allow_private=allow_private).add(tenant, url, events=event, secret=secret)
    console.print(f"webhook {webhook.id} for tenant {tenant}: {', '.join(webhook.events)}")
    console.print("signing secret (shown once):")
    typer.echo(key)


@app.command("list")
def list_(tenant: TenantOpt = "default", as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """List the tenant's webhooks (never their secrets)."""
    require_store(db)
    with Engine(db, tenant=tenant) as eng:
        rows = Webhooks(eng.store).list(tenant)
    if as_json:
        print_json(list(rows))
        return
    table = Table("id", "url", "events", "created")
    for w in rows:
        table.add_row(w.id, w.url, ",".join(w.events), f"{w.created_at:%Y-%m-%d %H:%M}")
    print_table(table)


@app.command("remove")
def remove(
    webhook_id: Annotated[str, typer.Argument(help="The webhook id.")],
    tenant: TenantOpt = "default",
    yes: YesOpt = False,
    db: DbOpt = None,
) -> None:
    """Remove a webhook with its queued deliveries and its delivery log."""
    require_store(db)
    confirm(f"Remove webhook {webhook_id} and its queue?", yes)
    with Engine(db, tenant=tenant) as eng:
        Webhooks(eng.store).remove(tenant, webhook_id)
    console.print(f"removed {webhook_id}")


@app.command("deliveries")
def deliveries(
    tenant: TenantOpt = "default",
    status: Annotated[str | None, typer.Option(help="pending, delivered, failed or replayed.")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="Only this webhook's deliveries.")] = None,
    limit: Annotated[int, typer.Option(help="Most rows to show.")] = 100,
    after: Annotated[int, typer.Option(help="Show deliveries after this id.")] = 0,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The delivery log: each delivery's event, status, attempts, last status code and error."""
    require_store(db)
    if status is not None and status not in ("pending", "delivered", "failed", "replayed"):
        raise InvalidInput(f"--status must be pending, delivered, failed or replayed, not {status!r}")
    chosen: DeliveryStatus | None = status  # type: ignore[assignment]
    with Engine(db, tenant=tenant) as eng:
        rows = Webhooks(eng.store).deliveries(tenant, status=chosen, webhook_id=webhook, limit=limit, after_id=after)
    if as_json:
        print_json(list(rows))
        return
    table = Table("id", "webhook", "event", "type", "user", "status", "attempts", "code", "last error", "next try")
    for d in rows:
        table.add_row(
            str(d.id),
            d.webhook_id,
            d.event_id,
            d.event_type,
            d.user_id,
            d.status,
            str(d.attempts),
            str(d.last_status_code or ""),
            d.last_error or "",
            f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.next_attempt_at and d.status == "pending" else "",
        )
    print_table(table)


@app.command("replay")
def replay(
    delivery_id: Annotated[int | None, typer.Argument(help="The delivery to send again.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Replay every failed delivery of the tenant.")] = False,
    tenant: TenantOpt = "default",
    db: DbOpt = None,
) -> None:
    """Queue one delivery again, or with --failed every failed one; a worker sends them."""
    require_store(db)
    if (delivery_id is None) == (not failed):
        raise InvalidInput("name one delivery id, or pass --failed (not both)")
    with Engine(db, tenant=tenant) as eng:
        new = Webhooks(eng.store).replay(tenant, None if failed else delivery_id)
    console.print(f"queued {len(new)} deliveries" + (f": {', '.join(map(str, new))}" if new else ""))


@app.command("deliver")
def deliver(
    timeout: Annotated[float, typer.Option(help="Seconds each POST may take.")] = 10.0,
    allow_private: AllowPrivateOpt = False,
    db: DbOpt = None,
) -> None:
    """Send every due delivery of every tenant, then exit; retries not yet due stay queued.

    A running `tailored serve` delivers all along; this is for a store without a server."""
    require_store(db)
    with Engine(db) as eng, Deliverer(eng.store, timeout_s=timeout, allow_private=allow_private) as deliverer:
        report = deliverer.run_until_idle()
    console.print(
        f"attempted {report.attempted}: {report.delivered} delivered, {report.retrying} to retry,"
        f" {report.failed} failed"
    )
    for line in report.errors:
        console.print(line)
