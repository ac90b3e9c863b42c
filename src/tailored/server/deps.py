"""Request dependencies: who is calling, and the engine scoped to their tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..engine import Engine
from ..keys import Keys
from ..types import ApiKey
from .settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API key from `tailored keys create`.")


@dataclass(frozen=True)
class State:
    engine: Engine
    keys: Keys
    settings: Settings
    chat_model: Any  # a ModelRunner: the chat model (loaded at the first chat), its gate and threads


# The dependencies that touch nothing but memory are ``async``: a plain ``def`` costs a
# worker-thread hop per request. ``get_key`` stays a ``def``: it reads the store.


async def get_state(request: Request) -> State:
    state: State = request.app.state.tailored
    return state


StateDep = Annotated[State, Depends(get_state)]


def get_key(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"})
    key = state.keys.verify(credentials.credentials)
    if key is None:
        raise HTTPException(401, "invalid or revoked API key", {"WWW-Authenticate": "Bearer"})
    return key


KeyDep = Annotated[ApiKey, Depends(get_key)]


async def get_tenant_engine(state: StateDep, key: KeyDep) -> Engine:
    """The engine of the caller's tenant; an admin key has no user data of its own."""
    if key.admin:
        raise HTTPException(403, "admin keys manage tenants and keys; use a tenant key for user data")
    return state.engine.for_tenant(key.tenant)


EngineDep = Annotated[Engine, Depends(get_tenant_engine)]


async def get_admin(key: KeyDep) -> ApiKey:
    if not key.admin:
        raise HTTPException(403, "this route needs an admin key")
    return key


AdminDep = Annotated[ApiKey, Depends(get_admin)]
