"""Signing and verifying webhook bodies: HMAC-SHA256 over ``timestamp.body``.

The header has the Stripe / Standard Webhooks shape, ``Tailored-Signature: t=<unix
seconds>,v1=<hex digest>``. The timestamp is inside what is signed, so a receiver that
refuses old timestamps refuses a replayed request too; the body is signed byte for byte,
so a receiver must verify the raw body before parsing it. Pure functions, no I/O: the
README's verification recipe is the same computation in plain Python.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Tailored-Signature"
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Tailored-Signature`` header value for ``body`` sent at ``timestamp`` (now).

    >>> sign("whsec_test", b'{"id":"evt_1"}', timestamp=1700000000)[:13]
    't=1700000000,'
    """
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"


def verify(secret: str, header: str, body: bytes, *, tolerance_s: int = TOLERANCE_S, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` with a timestamp within
    ``tolerance_s`` of ``now``. Several ``v1=`` entries may be present (one per secret
    during a rotation); one match is enough. Compared in constant time."""
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [v for k, _, v in fields if k == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = signature(secret, t, body)
    return any(hmac.compare_digest(expected, v) for k, _, v in fields if k == "v1")
