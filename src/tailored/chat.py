"""Personalized chat: the user's context goes into the system message, the turn is remembered.

The context is built for the latest user message and placed after any system prompt the
caller gave. The new user turn and the answer are stored together, in one ``Engine.add``
call, and only once the answer is complete: a failed or abandoned generation stores nothing.

Chat sits above retrieval and memory and below the ``Engine`` facade: it needs only the two
verbs of ``UserMemory``, which ``Engine`` provides, so it never reaches into the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from .errors import InvalidInput
from .llm.base import ChatModel, Message, MessagesIn, to_messages
from .types import AddResult, ChatResult, Context


class UserMemory(Protocol):
    """What personalized chat needs from the engine: a context to read, a log to append to."""

    def context(self, user_id: str, query: str, *, budget: int = ...) -> Context: ...

    def add(self, events: Sequence[Mapping[str, Any]]) -> AddResult: ...


PERSONALIZE = (
    "You are talking with a user you know. Tailor your answer to what the records below say "
    "about them, where it is relevant: honour their stated preferences, and steer away from "
    "what they dislike or avoid. Do not mention the records themselves."
)


class ChatStream:
    """An answer arriving in text chunks; the turn is stored once the last chunk is read.

    Iterate it for the chunks. Afterwards ``result`` holds the ``ChatResult``. Stopping
    early (or a failure) stores nothing.
    """

    def __init__(self, chunks: Iterator[str], finish: _Finish, context: Context | None) -> None:
        self._chunks = chunks
        self._finish = finish
        self.context = context
        self.result: ChatResult | None = None

    def __iter__(self) -> Iterator[str]:
        parts: list[str] = []
        for chunk in self._chunks:
            parts.append(chunk)
            yield chunk
        self.result = self._finish("".join(parts))


class _Finish:
    def __init__(
        self,
        engine: UserMemory,
        user_id: str,
        question: str,
        memory: bool,
        context: Context | None,
        model: ChatModel,
        session_id: str | None,
        prompt_tokens: int,
    ) -> None:
        self.engine, self.user_id, self.question, self.memory = engine, user_id, question, memory
        self.context, self.model, self.session_id, self.prompt_tokens = context, model, session_id, prompt_tokens

    def __call__(
        self,
        answer: str,
        completion_tokens: int | None = None,
        prompt_tokens: int | None = None,
        finish_reason: str | None = None,
    ) -> ChatResult:
        stored: list[int] = []
        if self.memory and answer.strip():
            turns = [
                {"user_id": self.user_id, "role": role, "text": text, "session_id": self.session_id}
                for role, text in (("user", self.question), ("assistant", answer))
            ]
            stored = self.engine.add(turns).added  # one transaction: both turns or neither
        return ChatResult(
            text=answer,
            context=self.context,
            stored=stored,
            prompt_tokens=prompt_tokens if prompt_tokens is not None else self.prompt_tokens,
            completion_tokens=completion_tokens if completion_tokens is not None else self.model.count_tokens(answer),
            model=self.model.name,
            finish_reason=finish_reason or "stop",
        )


def prepare(
    engine: UserMemory,
    user_id: str,
    messages: MessagesIn,
    *,
    memory: bool = True,
    budget: int = 1000,
    preface: str | None = None,
    query: str | None = None,
) -> tuple[list[Message], str, Context | None]:
    """The messages to send (context in the system message), the latest user text, the context.

    ``preface`` (written by the engine, e.g. a safety block) ends the system block, next to
    the request, where a small model heeds it most (as for the profile, see ``build_context``);
    ``query`` is what the context is built for, the latest user text by default."""
    msgs = to_messages(messages)
    users = [m for m in msgs if m.role == "user"]
    if not users or msgs[-1].role != "user":
        raise InvalidInput("the last message must be the user's")
    question = users[-1].content
    if not question.strip():
        raise InvalidInput("the user's message is empty")
    if not memory:
        return msgs, question, None
    ctx = engine.context(user_id, query or question, budget=budget)
    block = PERSONALIZE + "\n" + ctx.text + ("\n\n" + preface if preface else "")
    if msgs[0].role == "system":
        msgs[0] = Message(role="system", content=msgs[0].content + "\n\n" + block)
    else:
        msgs.insert(0, Message(role="system", content=block))
    return msgs, question, ctx


def personalized_chat(
    engine: UserMemory,
    user_id: str,
    messages: MessagesIn,
    model: ChatModel,
    *,
    memory: bool = True,
    stream: bool = False,
    budget: int = 1000,
    max_tokens: int = 512,
    temperature: float = 0.0,
    session_id: str | None = None,
    preface: str | None = None,
    query: str | None = None,
) -> ChatResult | ChatStream:
    """Answer ``messages`` for ``user_id`` with what the engine knows about them.

    Parameters
    ----------
    engine
        Supplies the context and stores the turn.
    user_id
        Whose memory to use.
    messages
        OpenAI-style messages; the last one is the user's new turn.
    model
        The chat model that answers.
    memory
        False answers without personalization and stores nothing.
    stream
        Return a ``ChatStream`` of text chunks instead of a ``ChatResult``.
    budget
        Token budget of the context.
    preface, query
        See ``prepare``: the engine's safety block, and the request the context is for.

    Returns
    -------
    ChatResult or ChatStream

    Raises
    ------
    InvalidInput
        The messages do not end with a user message.
    ModelError
        Generation failed; nothing was stored.

    Examples
    --------
    >>> from tailored import Engine
    >>> from tailored.testing import HashEmbedder, ScriptedChatModel
    >>> eng = Engine(store=str(tmp / "chat.db"), embedder=HashEmbedder())
    >>> _ = eng.add({"user_id": "ana", "text": "I am vegetarian"})
    >>> model = ScriptedChatModel(["Try the lentil curry."])
    >>> out = personalized_chat(eng, "ana", [{"role": "user", "content": "What should I cook?"}], model)
    >>> out.text, "vegetarian" in model.calls[0][0].content, len(out.stored)
    ('Try the lentil curry.', True, 2)
    """
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInput("user_id must be a non-empty string")  # before any work
    msgs, question, ctx = prepare(engine, user_id, messages, memory=memory, budget=budget, preface=preface, query=query)
    prompt_tokens = model.count_message_tokens(msgs)
    finish = _Finish(engine, user_id, question, memory, ctx, model, session_id, prompt_tokens)
    if stream:
        return ChatStream(model.stream(msgs, max_tokens=max_tokens, temperature=temperature), finish, ctx)
    out = model.generate(msgs, max_tokens=max_tokens, temperature=temperature)
    return finish(out.text, out.completion_tokens, out.prompt_tokens or prompt_tokens, out.finish_reason)


def fixed_reply(
    engine: UserMemory,
    user_id: str,
    messages: MessagesIn,
    reply: str,
    model: ChatModel,
    *,
    memory: bool = True,
    stream: bool = False,
    session_id: str | None = None,
) -> ChatResult | ChatStream:
    """Answer with ``reply``, written by the engine (a safety question), without calling the
    model; the turn is stored like any other, and streams as one chunk."""
    _, question, _ = prepare(engine, user_id, messages, memory=False)
    finish = _Finish(engine, user_id, question, memory, None, model, session_id, 0)
    if stream:
        return ChatStream(iter([reply]), finish, None)
    return finish(reply, None, 0, "stop")
