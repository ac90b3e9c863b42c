"""How the SQLite backend writes values: times as integer microseconds since the epoch
(UTC), vectors as little-endian float32 BLOBs (portable across machines)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np


def us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def dt(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def encode(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype="<f4").tobytes()
