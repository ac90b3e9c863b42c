"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

An app switches to personalized answers by pointing its OpenAI client's base URL here and
passing ``user``: the user's context (from the caller's tenant) goes into the system
message, the configured model answers, and the turn is remembered. Without ``user`` the
request is answered plainly and nothing is stored. Extra request fields OpenAI defines
(``top_p``, ``seed``, ...) are accepted and not used; ``n`` above 1 is refused.
``tailored.safety`` (``off``, ``adapt``, ``ask``) chooses the chat's safety mode (``Engine.chat``).

The route is ``async``: waiting for the model happens on the event loop and generation on
the model's own threads (see ``server.generation``), so a flood of chats from one tenant
holds none of the worker threads other requests need; beyond the per-tenant, per-key and
queue limits it answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...chat import ChatStream
from ...errors import InvalidInput, TailoredError
from ...llm import ChatModel
from ...types import ChatResult, UserId, check_id, check_text
from ..deps import EngineDep, KeyDep, StateDep
from ..errors import error_body
from ..generation import ModelRunner, Piece

router = APIRouter(prefix="/v1", tags=["openai"])


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None

    @field_validator("content")
    @classmethod
    def _storable(cls, v: str | list[dict[str, Any]] | None) -> str | list[dict[str, Any]] | None:
        """The user's turn is stored after the answer: refuse what cannot be stored before
        the model spends time on it."""
        texts = [v] if isinstance(v, str) else [p["text"] for p in v or [] if isinstance(p.get("text"), str)]
        for text in texts:
            check_text(text, "content")
        return v


class TailoredOptions(BaseModel):
    """Extension field ``tailored`` of a chat request."""

    model_config = ConfigDict(extra="forbid")

    memory: bool = Field(True, description="false: answer without personalization and store nothing")
    budget: int = Field(1000, ge=50, le=32000, description="context token budget")
    session_id: str | None = Field(None, max_length=200)
    safety: Literal["off", "adapt", "ask"] = Field(
        "off",
        description="adapt: the user's facts that bear on a risky request go first in the context; "
        "ask: a risky request whose background is unknown gets a clarifying question first (needs user)",
    )

    @field_validator("session_id")
    @classmethod
    def _session(cls, v: str | None) -> str | None:
        return None if v is None else check_id(v, "session_id")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field("tailored", max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=500)
    user: UserId | None = Field(None, description="whose memory to use; 1-200 characters, no '/'")
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    n: int = Field(1, ge=1)
    tailored: TailoredOptions = Field(default_factory=TailoredOptions)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "tailored"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def _completion_body(result: ChatResult, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.text},
                "finish_reason": result.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }


async def _sse(first: Piece, rest: AsyncGenerator[Piece, None], model: str) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format; a failure after the first chunk is sent
    as an ``error`` event (the status line has already gone out)."""
    ident = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    try:
        yield chunk({"role": "assistant"}, None)
        piece = first
        while True:
            if piece.kind == "chunk":
                yield chunk({"content": piece.text}, None)
            elif piece.kind == "done":
                yield chunk({}, "stop")
                yield "data: [DONE]\n\n"
                return
            else:
                err = piece.error
                code = err.code if isinstance(err, TailoredError) else "internal"
                yield f"data: {json.dumps(error_body(code, str(err)))}\n\n"
                return
            piece = await anext(rest)
    finally:
        await rest.aclose()  # a client that left stops the generation


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: Request, engine: EngineDep, state: StateDep, key: KeyDep, body: ChatCompletionRequest
) -> Any:
    """Answer like OpenAI's endpoint, personalized for ``user`` when it is given."""
    if body.n != 1:
        raise InvalidInput("n must be 1")
    runner: ModelRunner = state.chat_model
    memory = body.tailored.memory and body.user is not None
    messages = [m.model_dump() for m in body.messages]
    kwargs: dict[str, Any] = {
        "memory": memory,
        "budget": body.tailored.budget,
        "max_tokens": body.max_completion_tokens or body.max_tokens or 512,
        "temperature": body.temperature,
        "session_id": body.tailored.session_id,
        "safety": body.tailored.safety,
    }
    if body.tailored.safety != "off" and not memory:
        raise InvalidInput("tailored.safety needs a user and tailored.memory: it reads and writes the user's memory")
    user = body.user or "anonymous"
    if body.stream:

        def start(model: ChatModel) -> ChatStream:
            stream: ChatStream = engine.chat(user, messages, model=model, stream=True, **kwargs)
            return stream

        first, rest = await runner.stream(request, key.tenant, key.id, start)
        return StreamingResponse(_sse(first, rest, runner.holder.name), media_type="text/event-stream")

    def answer(model: ChatModel) -> ChatResult:
        result: ChatResult = engine.chat(user, messages, model=model, **kwargs)
        return result

    result = await runner.complete(request, key.tenant, key.id, answer)
    return _completion_body(result, result.model or runner.holder.name)


@router.get("/models", response_model=ModelList)
async def models(_: KeyDep, state: StateDep) -> ModelList:
    runner: ModelRunner = state.chat_model
    return ModelList(data=[ModelCard(id=runner.holder.name, created=int(time.time()))])
