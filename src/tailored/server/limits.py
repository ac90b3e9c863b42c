"""Admission and fair scheduling of chat generations, so one tenant cannot stall the others.

The chat model answers a few requests at a time (one for llama.cpp), and each answer takes
seconds. Requests wait for it on the event loop, never in a worker thread: a waiting chat
holds no thread that a search or a health check needs. Each tenant and each key may have
only so many chats admitted at once (generating or waiting), the waiting room is bounded,
and a full one answers 429 with ``Retry-After`` straight away. A freed slot goes to the
tenants in turn (round robin), so a tenant with many waiting chats delays another tenant's
chat by at most one answer per slot, not by its whole backlog.

Everything here runs on the event loop thread; no locks are needed.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

from ..errors import TailoredError


class TooBusy(TailoredError):
    """A limit on concurrent chats is reached; retry after ``retry_after`` seconds."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class Ticket:
    """One admitted request: counted against its tenant and key until released."""

    tenant: str
    key: str
    granted: bool = False
    released: bool = False
    waiter: asyncio.Future[None] | None = field(default=None, repr=False)


class ChatGate:
    """``slots`` generations at once; at most ``per_tenant`` / ``per_key`` chats of one
    tenant / key admitted, and at most ``queue`` waiting in all.

    Use ``ticket = await gate.acquire(tenant, key)`` (raises ``TooBusy`` when full) and
    ``gate.release(ticket)`` once the generation is over, even if the client left earlier.
    """

    def __init__(self, slots: int, per_tenant: int, per_key: int, queue: int) -> None:
        self.slots = max(1, slots)
        self.per_tenant = max(1, per_tenant)
        self.per_key = max(1, per_key)
        self.queue = max(0, queue)
        self.active = 0
        self._tenants: Counter[str] = Counter()
        self._keys: Counter[str] = Counter()
        self._waiting: OrderedDict[str, deque[Ticket]] = OrderedDict()
        self._seconds = 1.0  # moving average of one generation, for Retry-After

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the backlog's share of the slots, timed."""
        backlog = (self.active + self.waiting) / self.slots
        return max(1, min(300, math.ceil(backlog * self._seconds)))

    def observe(self, seconds: float) -> None:
        """Record how long one generation took (feeds ``retry_after``)."""
        self._seconds = 0.8 * self._seconds + 0.2 * max(0.0, seconds)

    def _refuse(self, why: str) -> TooBusy:
        wait = self.retry_after()
        return TooBusy(f"{why}; retry in {wait} s", wait)

    def _admit(self, tenant: str, key: str) -> Ticket:
        if self._tenants[tenant] >= self.per_tenant:
            raise self._refuse(f"tenant {tenant!r} has {self.per_tenant} chat requests in progress (the limit)")
        if self._keys[key] >= self.per_key:
            raise self._refuse(f"this API key has {self.per_key} chat requests in progress (the limit)")
        if self.active >= self.slots and self.waiting >= self.queue:
            raise self._refuse(f"the chat queue is full ({self.queue} requests waiting for the model)")
        self._tenants[tenant] += 1
        self._keys[key] += 1
        return Ticket(tenant, key)

    async def acquire(self, tenant: str, key: str) -> Ticket:
        """Admit a request and wait (cancellably, without a thread) for a generation slot."""
        ticket = self._admit(tenant, key)
        if self.active < self.slots and not self._waiting:
            self.active += 1
            ticket.granted = True
            return ticket
        ticket.waiter = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(tenant, deque()).append(ticket)
        try:
            await ticket.waiter
        except BaseException:
            self.release(ticket)  # gives the slot on if it was granted meanwhile
            raise
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Give the ticket's slot (or its place in the queue) back; idempotent."""
        if ticket.released:
            return
        ticket.released = True
        self._tenants[ticket.tenant] -= 1
        self._keys[ticket.key] -= 1
        for counter, name in ((self._tenants, ticket.tenant), (self._keys, ticket.key)):
            if counter[name] <= 0:
                del counter[name]
        if ticket.granted:
            self.active -= 1
            self._grant_next()
            return
        queue = self._waiting.get(ticket.tenant)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._waiting[ticket.tenant]

    def _grant_next(self) -> None:
        """Hand free slots to waiting tenants in turn, the first waiter of each."""
        while self.active < self.slots and self._waiting:
            tenant, queue = next(iter(self._waiting.items()))
            ticket = queue.popleft()
            if queue:
                self._waiting.move_to_end(tenant)
            else:
                del self._waiting[tenant]
            assert ticket.waiter is not None
            if ticket.waiter.done():  # cancelled while queued; its own release() skips the queue
                continue
            ticket.granted = True
            self.active += 1
            ticket.waiter.set_result(None)
