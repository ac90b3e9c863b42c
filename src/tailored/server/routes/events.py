"""Adding events in batches; idempotent by source id."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import InvalidInput
from ...types import AddResult
from ..deps import EngineDep, StateDep
from ..models import EventsBatch
from ..responses import json_response

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post("", response_model=AddResult)
def add_events(engine: EngineDep, state: StateDep, body: EventsBatch) -> Response:
    """Store a batch as one transaction; events whose source id is stored are skipped."""
    if len(body.events) > state.settings.max_batch:
        raise InvalidInput(f"a batch holds at most {state.settings.max_batch} events")
    return json_response(engine.add(body.events, embed=body.embed), AddResult)
