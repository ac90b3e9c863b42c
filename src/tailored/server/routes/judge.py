"""``POST /v1/judge``: which of two responses a user (or a persona) would prefer.

The user, if named, must belong to the caller's tenant (the engine view is the tenant's, so
another tenant's user is simply not found: 404). The model runs on the chat model's own
threads behind the same gate as chat (see ``server.generation``), so judging shares the
model fairly with chat and never overlaps a generation on it.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ...judge import Judgement, Persona
from ...judge.models import MAX_PERSONA_CHARS, MAX_QUERY_CHARS, MAX_RESPONSE_CHARS
from ...llm import ChatModel
from ...types import UserId, check_text
from ..deps import EngineDep, KeyDep, StateDep
from ..generation import ModelRunner

router = APIRouter(prefix="/v1", tags=["judge"])


class JudgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    response_a: str = Field(min_length=1, max_length=MAX_RESPONSE_CHARS)
    response_b: str = Field(min_length=1, max_length=MAX_RESPONSE_CHARS)
    user: UserId | None = Field(None, description="judge for this user's profile (of the caller's tenant)")
    persona: str | None = Field(None, max_length=MAX_PERSONA_CHARS, description="judge for this free-text persona")
    explain: bool = Field(True, description="also return the model's rationale and 1-10 confidence (slower)")
    threshold: float | None = Field(None, ge=0.5, le=1.0, description="abstain below this confidence")
    method: Literal["pointwise", "pairwise"] = Field(
        "pointwise", description="pointwise: each response read alone; pairwise: the pair in both orders"
    )

    @field_validator("query", "response_a", "response_b", "persona")
    @classmethod
    def _free_text(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Refused here (422), as every free text is, before it reaches a prompt."""
        return v if v is None else check_text(v, str(info.field_name))


@router.post("/judge", response_model=Judgement)
async def judge(request: Request, engine: EngineDep, state: StateDep, key: KeyDep, body: JudgeRequest) -> Judgement:
    """Judge the pair in both orders; the probability is that response A is preferred."""
    if body.user is not None:
        engine.user(body.user)  # 404 before the model is touched
    who = Persona(text=body.persona, user_id=body.user) if (body.persona or body.user) else None
    runner: ModelRunner = state.chat_model

    def run(model: ChatModel) -> Any:
        judge = engine.judge(model, threshold=body.threshold, method=body.method)
        return judge.compare(who, body.query, body.response_a, body.response_b, explain=body.explain)

    return cast(Judgement, await runner.complete(request, key.tenant, key.id, run))
