"""How the PostgreSQL backend writes values: times as ``timestamptz`` (microseconds, like
Python's ``datetime``), payloads as ``json`` (the caller's text kept verbatim, key order
included), vectors as pgvector ``vector`` values.

Microsecond integers (for ``user_index`` and ``user_version``) are computed by the server
from the stored ``timestamptz`` with exact numeric arithmetic: a float round trip through
``datetime.timestamp()`` can be off by one microsecond, and the two reads must agree.
"""

from __future__ import annotations

import json
from typing import Any


def us_sql(column: str) -> str:
    """SQL for ``column`` (a ``timestamptz``) as integer microseconds since the epoch."""
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def payload_json(payload: dict[str, Any] | None) -> str | None:
    return json.dumps(payload, ensure_ascii=False) if payload is not None else None
