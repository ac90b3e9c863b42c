"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

An app switches to personalized answers by pointing its OpenAI client's base URL here and
passing ``user``: the user's context (from the caller's tenant) goes into the system
message, the configured model answers, and the turn is remembered. Without ``user`` the
request is answered plainly and nothing is stored. Extra request fields OpenAI defines
(``top_p``, ``seed``, ...) are accepted and not used; ``n`` above 1 is refused.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...chat import ChatStream
from ...errors import InvalidInput
from ...llm import ChatModel, load_chat_model
from ...llm.models import DEFAULT_MODEL
from ...types import ChatResult
from ..deps import EngineDep, KeyDep, StateDep

router = APIRouter(prefix="/v1", tags=["openai"])


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None


class TailoredOptions(BaseModel):
    """Extension field ``tailored`` of a chat request."""

    model_config = ConfigDict(extra="forbid")

    memory: bool = Field(True, description="false: answer without personalization and store nothing")
    budget: int = Field(1000, ge=50, le=32000, description="context token budget")
    session_id: str | None = Field(None, max_length=200)


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field("tailored", max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=500)
    user: str | None = Field(None, min_length=1, max_length=200)
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


class ModelHolder:
    """Loads the configured chat model once, and serialises generation (llama.cpp is not
    safe to call from several threads at once)."""

    def __init__(self, spec: str | ChatModel | None) -> None:
        self.spec = spec
        self._model = spec if isinstance(spec, ChatModel) else None
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        if self._model is not None:
            return self._model.name
        return str(self.spec or DEFAULT_MODEL)

    def get(self) -> ChatModel:
        if self._model is None:
            with self.lock:
                if self._model is None:
                    self._model = load_chat_model(self.spec if isinstance(self.spec, str) else None)
        return self._model


def _completion_body(result: ChatResult, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }


def _sse(stream: ChatStream, model: str, lock: threading.Lock) -> Iterator[str]:
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

    with lock:
        yield chunk({"role": "assistant"}, None)
        for piece in stream:
            yield chunk({"content": piece}, None)
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


@router.post("/chat/completions", response_model=None)
def chat_completions(engine: EngineDep, state: StateDep, body: ChatCompletionRequest) -> Any:
    """Answer like OpenAI's endpoint, personalized for ``user`` when it is given."""
    if body.n != 1:
        raise InvalidInput("n must be 1")
    holder: ModelHolder = state.chat_model
    model = holder.get()
    memory = body.tailored.memory and body.user is not None
    messages = [m.model_dump() for m in body.messages]
    kwargs: dict[str, Any] = {
        "memory": memory,
        "budget": body.tailored.budget,
        "max_tokens": body.max_completion_tokens or body.max_tokens or 512,
        "temperature": body.temperature,
        "session_id": body.tailored.session_id,
    }
    user = body.user or "anonymous"
    if body.stream:
        stream = engine.chat(user, messages, model=model, stream=True, **kwargs)
        return StreamingResponse(_sse(stream, model.name, holder.lock), media_type="text/event-stream")
    with holder.lock:
        result = engine.chat(user, messages, model=model, **kwargs)
    return _completion_body(result, model.name)


@router.get("/models", response_model=ModelList)
def models(_: KeyDep, state: StateDep) -> ModelList:
    holder: ModelHolder = state.chat_model
    return ModelList(data=[ModelCard(id=holder.name, created=int(time.time()))])
