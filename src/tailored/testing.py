"""Deterministic test doubles for fast tests and executable docs.

Every capability is also tested with the real models; these only make the fast tier fast.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np

from .embed.base import Embedder
from .errors import ModelError
from .llm.base import ChatModel, Completion, GenerateOptions, Message

_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder(Embedder):
    """Bag-of-words hashed into a fixed number of buckets: texts sharing words are close."""

    name = "hash-256"
    dimensions = 256
    batch_size = 1024

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dimensions] += 1.0
            out[row, 0] += 1e-3  # no all-zero rows
        return out


class ScriptedChatModel(ChatModel):
    """A chat model that answers from a queue: replies in order, then ``default``.

    A queued exception is raised instead of answering, to test failure paths. Every call's
    messages are kept in ``calls``. Token counts are word counts.

    Examples
    --------
    >>> model = ScriptedChatModel(["Hello Ana!", '{"diet": "vegetarian"}'])
    >>> model.generate([{"role": "user", "content": "Hi, I am Ana"}]).text
    'Hello Ana!'
    >>> model.generate_json([{"role": "user", "content": "Her diet?"}], {"type": "object"})
    {'diet': 'vegetarian'}
    >>> model.generate([{"role": "user", "content": "And now?"}]).text
    'ok'
    """

    name = "scripted"
    supports_logprobs = True

    def __init__(self, replies: Sequence[str | BaseException] = (), *, default: str | None = "ok") -> None:
        self.replies: deque[str | BaseException] = deque(replies)
        self.default = default
        self.calls: list[list[Message]] = []

    def _next(self, messages: list[Message]) -> str:
        self.calls.append(list(messages))
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise ModelError("the scripted chat model has no replies left")
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def _complete(self, messages: list[Message], options: GenerateOptions) -> Completion:
        text = self._next(messages)
        prompt = sum(self.count_tokens(m.content) for m in messages)
        return Completion(text=text, prompt_tokens=prompt, completion_tokens=self.count_tokens(text), model=self.name)

    def _stream(self, messages: list[Message], options: GenerateOptions) -> Iterator[str]:
        text = self._next(messages)
        yield from re.findall(r"\S+\s*|\s+", text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _next_token_logprobs(self, messages: list[Message], top_k: int) -> dict[str, float]:
        words = self._next(messages).split()
        return {words[0] if words else "": 0.0}
