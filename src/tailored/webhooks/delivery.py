"""Sending what is due: claim, POST signed, record, retry with backoff.

Why this shape:
- the queue is the store's outbox, so deliveries survive a restart; a worker holds what
  it sends by a lease in the store (``claim_deliveries``), so several server processes, or
  a ``tailored webhooks deliver`` beside a server, never send one delivery at once. A
  worker that dies mid-send leaves its deliveries to be claimed again when the lease runs
  out: delivery is at least once, and receivers drop repeats by the event id;
- one claimed batch is sent by a small thread pool, so one slow receiver (up to the
  timeout) does not hold back the others;
- any 2xx is delivered; anything else (another status, a timeout, a refused connection, a
  redirect, which is not followed) is retried after ``RetryPolicy.delay``, and after
  ``max_attempts`` the delivery is failed and waits for a replay.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx

from ..errors import InvalidInput, TailoredError
from ..store import Store
from ..store.outbox import DueDelivery
from ..types import utcnow
from .signing import HEADER, sign
from .urls import check_url

log = logging.getLogger(__name__)


def _user_agent() -> str:
    try:
        return f"tailored-webhooks/{version('tailored')}"
    except PackageNotFoundError:
        return "tailored-webhooks"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: the n-th retry waits ``base_s * factor**(n-1)``,
    capped at ``max_delay_s``, times a random factor in ``1 ± jitter`` (so that receivers
    coming back from an outage are not hit by every retry in the same second).

    The default makes 12 attempts, waiting 10 s, 20 s, 40 s, ... 2560 s, then 1 h twice:
    about 3 h 25 min from the first attempt to the last.
    """

    base_s: float = 10.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    max_attempts: int = 12
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.factor < 1 or self.max_attempts < 1 or not 0 <= self.jitter < 1:
            raise InvalidInput("retry policy: base_s >= 0, factor >= 1, max_attempts >= 1, 0 <= jitter < 1")

    def nominal(self, attempts: int) -> float:
        """The wait after ``attempts`` failed attempts, before jitter."""
        return float(min(self.max_delay_s, self.base_s * self.factor ** (attempts - 1)))

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> float | None:
        """Seconds to wait after ``attempts`` failed attempts, or None when that was the last."""
        if attempts >= self.max_attempts:
            return None
        return self.nominal(attempts) * (1 + self.jitter * (2 * rng() - 1))

    def schedule(self) -> list[float]:
        """The nominal waits between the attempts (``max_attempts - 1`` of them)."""
        return [self.nominal(n) for n in range(1, self.max_attempts)]


@dataclass
class DeliveryReport:
    """What one ``run_once`` (or ``run_until_idle``) did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed
        self.lost_lease += other.lost_lease
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    status_code: int | None
    error: str | None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class Deliverer:
    """Sends due deliveries of every tenant of ``store`` (one claimed batch per ``run_once``).

    Parameters
    ----------
    store
        Where the outbox is.
    policy
        When to retry and when to give up.
    timeout_s
        For each POST as a whole (connect, send, answer). The lease is longer than this, so
        a delivery in flight is never claimed by another worker meanwhile.
    batch, concurrency
        Deliveries claimed at once, and sent at once.
    allow_private
        Send to non-public addresses (see ``urls.check_url``); checked again before each POST.
    transport
        An httpx transport (tests; a proxy); None for httpx's default.
    """

    def __init__(
        self,
        store: Store,
        *,
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        batch: int = 32,
        concurrency: int = 8,
        allow_private: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout_s <= 0 or batch < 1 or concurrency < 1:
            raise InvalidInput("timeout_s > 0, batch >= 1 and concurrency >= 1")
        self.store = store
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self.lease_s = timeout_s * 3 + 30
        self.batch = batch
        self.allow_private = allow_private
        self.owner = "w_" + secrets.token_hex(8)
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": _user_agent()},
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tailored-webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, due: DueDelivery) -> _Outcome:
        try:
            check_url(due.url, allow_private=self.allow_private)
        except InvalidInput as exc:
            return _Outcome(False, None, _short(str(exc)))
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(due.secret, due.body),
            "Tailored-Event-Id": due.event_id,
            "Tailored-Event-Type": due.event_type,
        }
        try:
            response = self._client.post(due.url, content=due.body, headers=headers)
        except httpx.TimeoutException:
            return _Outcome(False, None, f"timed out after {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            host = urlsplit(due.url).hostname
            return _Outcome(False, None, _short(f"{type(exc).__name__} ({host}): {exc}"))
        if response.is_success:
            return _Outcome(True, response.status_code, None)
        return _Outcome(False, response.status_code, _short(f"HTTP {response.status_code}: {response.text}"))

    def _finish(self, due: DueDelivery, outcome: _Outcome, report: DeliveryReport) -> None:
        now = utcnow()
        wait = None if outcome.delivered else self.policy.delay(due.attempts + 1)
        recorded = self.store.finish_delivery(
            due.id,
            self.owner,
            at=now,
            delivered=outcome.delivered,
            status_code=outcome.status_code,
            error=outcome.error,
            retry_at=now + timedelta(seconds=wait) if wait is not None else None,
        )
        report.attempted += 1
        if not recorded:
            report.lost_lease += 1
        elif outcome.delivered:
            report.delivered += 1
        elif wait is not None:
            report.retrying += 1
        else:
            report.failed += 1
            report.errors.append(f"delivery {due.id} failed for good: {outcome.error}")

    def run_once(self, now: datetime | None = None) -> DeliveryReport:
        """Claim one batch of due deliveries, send them, record each result."""
        report = DeliveryReport()
        claimed = self.store.claim_deliveries(self.owner, now=now or utcnow(), lease_s=self.lease_s, limit=self.batch)
        if not claimed:
            return report
        outcomes = list(self._pool.map(self._post, claimed))
        # One commit for the batch's results (a commit waits for the disk): if it fails, the
        # deliveries are sent again once their leases run out, as after a crash.
        with self.store.transaction():
            for due, outcome in zip(claimed, outcomes):
                self._finish(due, outcome, report)
        return report

    def run_until_idle(self) -> DeliveryReport:
        """Send batches until nothing is due (retries scheduled later stay queued)."""
        total = DeliveryReport()
        while True:
            report = self.run_once()
            total.add(report)
            if report.attempted == 0:
                return total


class DeliveryWorker:
    """A ``Deliverer`` in a daemon thread: polls every ``poll_s`` while idle, at once while
    there is more to send. ``stop`` finishes the batch in flight and returns; what is still
    queued stays in the store for the next start (or another process's worker)."""

    def __init__(self, deliverer: Deliverer, *, poll_s: float = 0.5) -> None:
        if poll_s <= 0:
            raise InvalidInput("poll_s must be > 0")
        self.deliverer = deliverer
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tailored-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s if timeout_s is not None else self.deliverer.timeout_s * 2 + 5)
        self.deliverer.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.deliverer.run_once()
            except TailoredError as exc:  # the store is busy or away: try again later
                log.warning("webhook delivery: %s", exc)
                report = DeliveryReport()
            if report.attempted == 0:
                self._stop.wait(self.poll_s)
