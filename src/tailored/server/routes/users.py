"""Users of the caller's tenant: list, get, erase, events, search, context, export, import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...types import AddResult, Context, Event, SearchHit, UserExport, UserStats
from ..deps import EngineDep, StateDep
from ..errors import TooLarge
from ..models import ContextRequest, Erased, Page, SearchRequest
from ..responses import json_response

router = APIRouter(prefix="/v1/users", tags=["users"])

UserPath = Annotated[str, "user id"]


@router.get("", response_model=Page[UserStats])
def list_users(
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str, Query(max_length=200)] = "",
) -> Page[UserStats]:
    rows = engine.users(limit=limit + 1, after=after)
    return Page(items=rows[:limit], next=rows[limit - 1].user_id if len(rows) > limit else None)


@router.get("/{user_id}", response_model=UserStats)
def get_user(engine: EngineDep, user_id: str) -> UserStats:
    return engine.user(user_id)


@router.delete("/{user_id}", response_model=Erased)
def erase_user(engine: EngineDep, user_id: str) -> Erased:
    """Erase every trace of the user (rows, index entries, vectors)."""
    engine.user(user_id)  # 404 for an unknown user
    return Erased(user_id=user_id, erased_events=engine.erase(user_id))


@router.get("/{user_id}/events", response_model=Page[Event])
def list_events(
    engine: EngineDep,
    user_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    kind: Annotated[list[str] | None, Query()] = None,
    session_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[Event]:
    rows = engine.events(user_id, limit=limit + 1, after_id=after, kinds=kind, session_id=session_id)
    return Page(items=rows[:limit], next=str(rows[limit - 1].id) if len(rows) > limit else None)


@router.post("/{user_id}/search", response_model=list[SearchHit])
def search(engine: EngineDep, user_id: str, body: SearchRequest) -> Response:
    hits = engine.search(
        user_id,
        body.query,
        k=body.k,
        mode=body.mode,
        since=body.since,
        until=body.until,
        kinds=body.kinds,
        session_id=body.session_id,
    )
    return json_response(hits, list[SearchHit])


@router.post("/{user_id}/context", response_model=Context)
def context(engine: EngineDep, user_id: str, body: ContextRequest) -> Response:
    return json_response(engine.context(user_id, body.query, budget=body.budget, records=body.records), Context)


@router.get("/{user_id}/export", response_model=UserExport)
def export(engine: EngineDep, user_id: str) -> UserExport:
    return engine.export(user_id)


@router.post("/import", response_model=AddResult, responses={413: {"description": "more events than allowed"}})
def import_user(engine: EngineDep, state: StateDep, body: UserExport) -> AddResult:
    """Restore a user from an export (into the caller's tenant); at most
    ``max_import_events`` events and as many memories (413 beyond)."""
    cap = state.settings.max_import_events
    for what, count in (("events", len(body.events)), ("memories", len(body.memories))):
        if count > cap:
            raise TooLarge(f"an import holds at most {cap} {what}; this one has {count} (split it, or use the CLI)")
    return engine.import_user(body)
