"""A user's profile and memories: read (now or as of a time), why, add, edit, delete, pin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ...types import Explanation, Memory, MemoryIn, Polarity, Profile, Summary, UtcDatetime, one_line
from ..deps import EngineDep

router = APIRouter(prefix="/v1/users/{user_id}", tags=["profile"])

MemoryId = Annotated[int, Path(ge=0, lt=2**63)]


class MemoryEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(None, min_length=1, max_length=1000)
    polarity: Polarity | None = None
    text: str | None = Field(None, max_length=2000)

    @field_validator("value", "text")
    @classmethod
    def _line(cls, v: str | None, info: ValidationInfo) -> str | None:
        """As in ``MemoryIn``: a memory is one line of a profile."""
        return None if v is None else one_line(v, str(info.field_name))


class PinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pinned: bool = True


class SummarizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field("general", min_length=1, max_length=100)
    force: bool = False


@router.get("/profile", response_model=Profile)
def get_profile(engine: EngineDep, user_id: str, as_of: Annotated[UtcDatetime | None, Query()] = None) -> Profile:
    """Current facts and preferences, or those valid at ``as_of``."""
    engine.user(user_id)
    return engine.profile(user_id, as_of=as_of)


@router.get("/memories", response_model=list[Memory])
def list_memories(engine: EngineDep, user_id: str) -> list[Memory]:
    """Every memory the user ever had (the history), oldest first."""
    engine.user(user_id)
    return engine.history(user_id)


@router.post("/memories", response_model=Memory, status_code=201)
def add_memory(engine: EngineDep, user_id: str, body: MemoryIn) -> Memory:
    """Add a memory on the user's word; it wins over extraction."""
    engine.user(user_id)
    return engine.remember(user_id, body.model_copy(update={"evidence": []}))


@router.get("/memories/{memory_id}", response_model=Explanation)
def why(engine: EngineDep, user_id: str, memory_id: MemoryId) -> Explanation:
    """A memory with its evidence events and change history."""
    return engine.why(user_id, memory_id)


@router.patch("/memories/{memory_id}", response_model=Memory)
def edit_memory(engine: EngineDep, user_id: str, memory_id: MemoryId, body: MemoryEdit) -> Memory:
    """Correct a memory: a new user-made version replaces it; the old one stays in history."""
    return engine.correct(user_id, memory_id, **body.model_dump(exclude_none=True))


@router.delete("/memories/{memory_id}", response_model=Memory)
def delete_memory(engine: EngineDep, user_id: str, memory_id: MemoryId) -> Memory:
    return engine.forget(user_id, memory_id)


@router.post("/memories/{memory_id}/pin", response_model=Memory)
def pin_memory(engine: EngineDep, user_id: str, memory_id: MemoryId, body: PinRequest | None = None) -> Memory:
    """Pin (no body, or ``{"pinned": true}``) or unpin (``{"pinned": false}``)."""
    return engine.pin(user_id, memory_id, pinned=body.pinned if body is not None else True)


@router.post("/summarize", response_model=Summary)
def summarize(engine: EngineDep, user_id: str, body: SummarizeRequest) -> Summary:
    """Build or refresh the user's summary for a task (from the profile)."""
    return engine.summarize(user_id, task=body.task, force=body.force)
