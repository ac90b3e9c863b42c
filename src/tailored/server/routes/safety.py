"""``POST /v1/users/{user_id}/assess``: how risky a request is for this user (``Engine.assess``);
``GET /v1/users/{user_id}/sensitive``: their memories that reveal a sensitive category.

Scoped like every user route: the caller's tenant only, and with a user-scoped key that one
user only (``EngineDep`` is the key's view of the engine)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...safety import Assessment
from ...safety.labels import SensitiveMemory
from ..deps import EngineDep

router = APIRouter(prefix="/v1/users", tags=["safety"])


class AssessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: str = Field(min_length=1, max_length=8000, description="the user's request, as they would send it")


@router.post("/{user_id}/assess", response_model=Assessment)
def assess(engine: EngineDep, user_id: str, body: AssessRequest) -> Assessment:
    """The request's domain and risk for this user, the user's facts that bear on it (memory
    and event ids) and the background worth asking for. No chat model is involved."""
    return engine.assess(user_id, body.request)


@router.get("/{user_id}/sensitive", response_model=list[SensitiveMemory])
def sensitive(engine: EngineDep, user_id: str) -> list[SensitiveMemory]:
    """The user's current memories that reveal a sensitive category, with the categories."""
    return engine.sensitive(user_id)
