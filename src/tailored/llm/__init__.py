"""Chat models, found through the ``tailored.chat_models`` entry-point group.

Built-ins register there too (see pyproject.toml): ``llama-cpp`` (local GGUF, the default),
``openai`` (any OpenAI-compatible server) and ``scripted`` (queued replies, for tests).
"""

from __future__ import annotations

from typing import Any

from .. import plugins
from ..errors import ModelError
from .base import ChatModel, Completion, Message
from .models import DEFAULT_MODEL

GROUP = "tailored.chat_models"
BUILTINS = {
    "llama-cpp": "tailored.llm.llamacpp:LlamaCppChatModel",
    "openai": "tailored.llm.openai_compat:OpenAIChatModel",
    "scripted": "tailored.testing:ScriptedChatModel",
}


def available_chat_models() -> list[str]:
    return plugins.available(GROUP, BUILTINS)


def load_chat_model(spec: str | ChatModel | None = None, **options: Any) -> ChatModel:
    """A chat model from a spec.

    ``None`` is ``$TAILORED_MODEL`` or the default local model; a known model name
    (``qwen2.5-1.5b``) or a GGUF path runs locally; ``openai:NAME`` talks to the server at
    ``$TAILORED_OPENAI_BASE_URL``; any other registered backend name is instantiated with
    ``options``.

    Examples
    --------
    >>> load_chat_model("scripted").generate([{"role": "user", "content": "hi"}]).text
    'ok'
    """
    if isinstance(spec, ChatModel):
        return spec
    backend, _, arg = (spec or "").partition(":")
    if backend in available_chat_models() and backend != "llama-cpp":
        cls = plugins.load(GROUP, backend, ModelError, BUILTINS)
        model = cls(arg, **options) if arg else cls(**options)
    else:  # a model name or a GGUF path (or llama-cpp:PATH): the local backend
        local = plugins.load(GROUP, "llama-cpp", ModelError, BUILTINS)
        model = local((arg or None) if backend == "llama-cpp" else spec, **options)
    if not isinstance(model, ChatModel):
        raise ModelError(f"chat model {spec!r} is not a ChatModel")
    return model


__all__ = ["DEFAULT_MODEL", "ChatModel", "Completion", "Message", "available_chat_models", "load_chat_model"]
