"""``POST /v1/users/{user_id}/assess``: how risky a request is for this user (``Engine.assess``);
``GET /v1/users/{user_id}/sensitive``: their memories that reveal a sensitive category;
``GET`` / ``PUT /v1/users/{user_id}/sensitive/settings``: the categories switched off;
``GET /v1/users/{user_id}/sensitive/uses``: the audit log of their sensitive items' uses.

Scoped like every user route: the caller's tenant only, and with a user-scoped key that one
user only (``EngineDep`` is the key's view of the engine)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from ...safety import CATEGORIES, Assessment
from ...safety.consent import ALL
from ...safety.labels import SensitiveMemory
from ...types import SensitiveUse
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


class SensitiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    off: list[str] = Field(
        max_length=20,
        description="sensitive categories whose memories and events no model is handed; 'all' for every one",
    )


class SensitiveSettingsOut(SensitiveSettings):
    known: list[str] = Field(description="every category name the settings accept")


def _settings(off: list[str]) -> SensitiveSettingsOut:
    return SensitiveSettingsOut(off=off, known=[ALL, *CATEGORIES])


@router.get("/{user_id}/sensitive/settings", response_model=SensitiveSettingsOut)
def sensitive_settings(engine: EngineDep, user_id: str) -> SensitiveSettingsOut:
    """The sensitive categories the user switched personalization off for."""
    return _settings(engine.sensitive_off(user_id))


@router.put("/{user_id}/sensitive/settings", response_model=SensitiveSettingsOut)
def set_sensitive_settings(engine: EngineDep, user_id: str, body: SensitiveSettings) -> SensitiveSettingsOut:
    """Replace the set of switched-off categories (``[]``: all on again). A user need not
    exist yet: an app may record the choice before anything else."""
    return _settings(engine.set_sensitive_off(user_id, body.off))


@router.get("/{user_id}/sensitive/uses", response_model=list[SensitiveUse])
def sensitive_uses(
    engine: EngineDep,
    user_id: str,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    after_id: Annotated[int, Query(ge=0, lt=2**63)] = 0,
) -> list[SensitiveUse]:
    """A page of the user's audit log, oldest first; pass the last id as ``after_id``."""
    return engine.sensitive_uses(user_id, limit=limit, after_id=after_id)
