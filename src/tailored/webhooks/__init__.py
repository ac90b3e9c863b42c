"""Outbound webhooks: registrations, signed deliveries with retries, the delivery log.

The queue is the store's outbox (``tailored.store.outbox``): memory changes enqueue their
events in their own transactions. ``Webhooks`` manages a tenant's registrations and log;
``Deliverer`` sends what is due once; ``DeliveryWorker`` runs it in a thread (inside
``tailored serve``). ``sign`` / ``verify`` are the signature, for senders and receivers.
"""

from __future__ import annotations

from ..store.outbox import WEBHOOK_EVENTS, Delivery, Webhook, WebhookEventType
from .delivery import Deliverer, DeliveryReport, DeliveryWorker, RetryPolicy
from .service import Webhooks
from .signing import HEADER, sign, verify
from .urls import check_url

__all__ = [
    "HEADER",
    "WEBHOOK_EVENTS",
    "Deliverer",
    "Delivery",
    "DeliveryReport",
    "DeliveryWorker",
    "RetryPolicy",
    "Webhook",
    "WebhookEventType",
    "Webhooks",
    "check_url",
    "sign",
    "verify",
]
