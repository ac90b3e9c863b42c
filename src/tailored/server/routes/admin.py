"""Tenants and keys, for admin keys only."""

from __future__ import annotations

from fastapi import APIRouter

from ...types import ApiKey
from ..deps import AdminDep, StateDep
from ..models import KeyCreate, KeyCreated

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/tenants", response_model=list[str])
def tenants(_: AdminDep, state: StateDep) -> list[str]:
    from ...keys import ADMIN_TENANT

    return [t for t in state.engine.store.tenants() if t != ADMIN_TENANT]


@router.get("/keys", response_model=list[ApiKey])
def list_keys(_: AdminDep, state: StateDep) -> list[ApiKey]:
    return state.keys.list()


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(_: AdminDep, state: StateDep, body: KeyCreate) -> KeyCreated:
    record, secret = state.keys.create(body.tenant, label=body.label, user=body.user_id)
    return KeyCreated(id=record.id, tenant=record.tenant, user_id=record.user_id, key=secret)


@router.delete("/keys/{key_id}", response_model=ApiKey)
def revoke_key(_: AdminDep, state: StateDep, key_id: str) -> ApiKey:
    state.keys.revoke(key_id)
    return next(k for k in state.keys.list() if k.id == key_id)
