"""The webhook outbox, as every backend writes it: which memory changes are announced, what
an announcement holds, and the records of registrations and deliveries.

Why it sits in ``store/``: an announcement is written in the same transaction as the change
it announces (the outbox pattern), so a change is never lost nor announced without having
happened. The one place that sees every change of every memory is the change log
(``MemoryStore.log_change``); the backends enqueue there, and in ``erase_user``. This module
holds the backend-neutral part, so that SQLite and PostgreSQL announce exactly alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel

from ..types import Memory

WebhookEventType = Literal["memory.created", "memory.updated", "memory.superseded", "memory.deleted", "user.erased"]
WEBHOOK_EVENTS: tuple[WebhookEventType, ...] = get_args(WebhookEventType)

DeliveryStatus = Literal["pending", "delivered", "failed", "replayed"]

# A change-log action -> the event it announces. "conflict" notes that one memory was kept
# over another; both memories' own changes (a creation, a supersession) are announced by
# their own actions, so a conflict note announces nothing.
_ANNOUNCED: dict[str, WebhookEventType] = {
    "created": "memory.created",
    "merged": "memory.updated",
    "retracted": "memory.updated",
    "pinned": "memory.updated",
    "unpinned": "memory.updated",
    "superseded": "memory.superseded",
    "edited": "memory.superseded",  # the user's correction replaced it (its status: superseded)
    "deleted": "memory.deleted",
}


def event_for(action: str) -> WebhookEventType | None:
    """The event a change-log action announces, or None for one that announces nothing."""
    return _ANNOUNCED.get(action)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def memory_event_data(
    memory: Memory, action: str, *, at: datetime, detail: str, other_id: int | None
) -> dict[str, Any]:
    """The ``data`` of a memory event: the memory as it is after the change, and the change."""
    return {
        "memory": {
            "id": memory.id,
            "kind": memory.kind,
            "key": memory.key,
            "value": memory.value,
            "polarity": memory.polarity,
            "strength": memory.strength,
            "confidence": memory.confidence,
            "multi": memory.multi,
            "text": memory.text,
            "source": memory.source,
            "status": memory.status,
            "pinned": memory.pinned,
            "valid_from": _iso(memory.valid_from),
            "valid_to": _iso(memory.valid_to),
            "superseded_by": memory.superseded_by,
            "evidence": list(memory.evidence),
            "created_at": _iso(memory.created_at),
            "updated_at": _iso(memory.updated_at),
        },
        "change": {"action": action, "at": _iso(at), "detail": detail, "other_id": other_id},
    }


def erased_event_data(events_removed: int) -> dict[str, Any]:
    """The ``data`` of ``user.erased``: a count only. The envelope names the user by id;
    nothing else of the user is in it."""
    return {"events_removed": events_removed}


def subscribed(events: str, event_type: str) -> bool:
    """Whether a registration's event list (comma-separated, as stored) includes ``event_type``."""
    return event_type in events.split(",")


class Webhook(BaseModel):
    """A registration's public record; its secret is shown once, when it is created."""

    id: str
    tenant: str
    url: str
    events: list[WebhookEventType]
    created_at: datetime


class Delivery(BaseModel):
    """One event to one registration: the delivery log's row."""

    id: int
    webhook_id: str
    event_id: str
    event_type: WebhookEventType
    user_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class StoredWebhook:
    """A registration as stored, with its secret (signing needs it, so it is kept as is)."""

    webhook: Webhook
    secret: str


@dataclass(frozen=True)
class DueDelivery:
    """A delivery a worker has claimed: where to send what, signed with which secret.

    ``body`` is the exact JSON to POST; it is the same on every attempt and every replay,
    so a receiver can drop a repeat by the event id inside it."""

    id: int
    webhook_id: str
    url: str
    secret: str
    event_id: str
    event_type: WebhookEventType
    body: bytes
    attempts: int  # attempts made before this one


def event_id(number: int) -> str:
    return f"evt_{number}"


def envelope(number: int, event_type: str, tenant: str, user_id: str, created_at: datetime, data_json: str) -> bytes:
    """The body of an event, built the same way for every attempt: ``data_json`` is stored
    as written when the event was enqueued, and put in as is."""
    head = json.dumps(
        {
            "id": event_id(number),
            "type": event_type,
            "created_at": created_at.isoformat(),
            "tenant": tenant,
            "user_id": user_id,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return (head[:-1] + ',"data":' + data_json + "}").encode()


def dump_data(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
