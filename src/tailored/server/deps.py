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


def engine_for_key(state: State, key: ApiKey) -> Engine:
    """The engine view a key may use: its tenant's, bound to its user for a user-scoped key.

    Every route and MCP tool that touches user data gets its engine here. A user-scoped
    key's view refuses any other user and every tenant-wide read with
    ``TenantIsolationError`` (403), whichever route or tool asks (see ``Engine.for_tenant``).
    """
    if key.admin:
        raise HTTPException(403, "admin keys manage tenants and keys; use a tenant key for user data")
    return state.engine.for_tenant(key.tenant, user=key.user_id)


async def get_tenant_engine(state: StateDep, key: KeyDep) -> Engine:
    """The engine of the caller's tenant (of its one user, for a user-scoped key); an admin
    key has no user data of its own."""
    return engine_for_key(state, key)


EngineDep = Annotated[Engine, Depends(get_tenant_engine)]


async def get_admin(key: KeyDep) -> ApiKey:
    if not key.admin:
        raise HTTPException(403, "this route needs an admin key")
    return key


AdminDep = Annotated[ApiKey, Depends(get_admin)]
