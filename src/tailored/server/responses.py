"""JSON bodies serialized once, by pydantic, in the route's worker thread.

For a plain ``def`` route FastAPI validates the returned value against ``response_model``
again and then serializes it, in one more worker-thread hop. The hot routes (search,
context, adding events) return values that are already validated models, so they hand
back the bytes directly; ``response_model`` still documents the shape in OpenAPI.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Response
from pydantic import TypeAdapter


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def json_response(value: Any, kind: Any) -> Response:
    """``value`` (an instance of ``kind``) as an ``application/json`` response."""
    return Response(_adapter(kind).dump_json(value, by_alias=True), media_type="application/json")
