"""Chat models, found through the ``tailored.chat_models`` entry-point group.

Built-ins register there too (see pyproject.toml): ``llama-cpp`` (local GGUF, the default),
``openai`` (any OpenAI-compatible server) and ``scripted`` (queued replies, for tests).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from ..errors import ModelError
from .base import ChatModel, Completion, Message
from .models import DEFAULT_MODEL


def available_chat_models() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="tailored.chat_models"))


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
    eps = {ep.name: ep for ep in entry_points(group="tailored.chat_models")}
    if backend in eps and backend != "llama-cpp":
        cls = eps[backend].load()
        model = cls(arg, **options) if arg else cls(**options)
    else:
        if backend == "llama-cpp":
            spec = arg or None
        if "llama-cpp" in eps:
            model = eps["llama-cpp"].load()(spec, **options)
        else:  # running from a source tree without the entry points installed
            from .llamacpp import LlamaCppChatModel

            model = LlamaCppChatModel(spec, **options)
    if not isinstance(model, ChatModel):
        raise ModelError(f"chat model {spec!r} is not a ChatModel")
    return model


__all__ = ["DEFAULT_MODEL", "ChatModel", "Completion", "Message", "available_chat_models", "load_chat_model"]
