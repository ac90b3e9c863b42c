"""Request and response bodies of the REST API (separate from the engine's own types)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..types import EventIn, SearchMode, UserId, UtcDatetime

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next`` back as the cursor for the following page."""

    items: list[T]
    next: str | None = Field(None, description="cursor of the next page; null on the last page")


class EventsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, description="stored as one transaction, all or none")
    embed: bool = Field(True, description="embed now, or at the user's first search")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(10, ge=1, le=100)
    mode: SearchMode = "hybrid"
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    kinds: list[str] | None = None
    session_id: str | None = None


class ContextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    budget: int = Field(1000, ge=50, le=32000)
    records: bool = True  # false: the profile and summary only


class Erased(BaseModel):
    user_id: str
    erased_events: int


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64)
    label: str | None = Field(None, max_length=200)
    user_id: UserId | None = Field(None, description="scope the key to this one user of the tenant")


class KeyCreated(BaseModel):
    id: str
    tenant: str
    user_id: str | None = None
    key: str = Field(description="the secret; shown only in this response")


class Health(BaseModel):
    status: str
    version: str
