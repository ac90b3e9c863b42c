"""The caller's tenant's webhooks: register, list, remove; the delivery log and replays.

Only a tenant key manages webhooks: an admin key has no tenant of its own, and a key scoped
to one user must not learn what happens to the tenant's other users.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ...errors import TenantIsolationError
from ...store.outbox import Delivery, DeliveryStatus, Webhook, WebhookEventType
from ...types import ApiKey
from ...webhooks import Webhooks
from ..deps import KeyDep, StateDep
from ..models import Page

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="http(s) URL that receives the events as signed POSTs")
    events: list[WebhookEventType] | None = Field(None, description="Events to send; all of them when left out")
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="Signing secret; a random one is made when left out"
    )


class WebhookCreated(Webhook):
    secret: str = Field(description="Signs every delivery (HMAC-SHA256); shown this once")


class Replayed(BaseModel):
    replayed: list[int] = Field(description="Ids of the new pending deliveries")


async def get_tenant_key(key: KeyDep) -> ApiKey:
    if key.admin:
        raise HTTPException(403, "admin keys manage tenants and keys; use a tenant key for webhooks")
    if key.user_id is not None:
        raise TenantIsolationError("a key scoped to one user cannot manage the tenant's webhooks")
    return key


TenantKeyDep = Annotated[ApiKey, Depends(get_tenant_key)]


def _hooks(state: StateDep) -> Webhooks:
    return Webhooks(state.engine.store, allow_private=state.settings.webhooks_allow_private)


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(key: TenantKeyDep, state: StateDep, body: WebhookCreate) -> WebhookCreated:
    """Register a URL; the answer holds the secret, which is never shown again."""
    webhook, secret = _hooks(state).add(key.tenant, body.url, events=body.events, secret=body.secret)
    return WebhookCreated(**webhook.model_dump(), secret=secret)


@router.get("", response_model=list[Webhook])
def list_webhooks(key: TenantKeyDep, state: StateDep) -> list[Webhook]:
    return _hooks(state).list(key.tenant)


@router.delete("/{webhook_id}", status_code=204)
def remove_webhook(key: TenantKeyDep, state: StateDep, webhook_id: str) -> Response:
    """Remove a webhook with its queued deliveries and its log."""
    _hooks(state).remove(key.tenant, webhook_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=Page[Delivery])
def list_deliveries(
    key: TenantKeyDep,
    state: StateDep,
    status: DeliveryStatus | None = None,
    webhook_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Page[Delivery]:
    """The delivery log, oldest first: attempts, last status code and error of each."""
    rows = _hooks(state).deliveries(key.tenant, status=status, webhook_id=webhook_id, limit=limit + 1, after_id=after)
    return Page(items=rows[:limit], next=str(rows[limit - 1].id) if len(rows) > limit else None)


@router.post("/deliveries/replay", response_model=Replayed)
def replay_failed(key: TenantKeyDep, state: StateDep) -> Replayed:
    """Queue every failed delivery of the tenant again."""
    return Replayed(replayed=_hooks(state).replay(key.tenant))


@router.post("/deliveries/{delivery_id}/replay", response_model=Replayed)
def replay_one(key: TenantKeyDep, state: StateDep, delivery_id: int) -> Replayed:
    """Queue one delivery again (any that is not pending)."""
    return Replayed(replayed=_hooks(state).replay(key.tenant, delivery_id))
