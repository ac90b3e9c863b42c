"""``AsyncEngine``: the ``Engine`` for ``asyncio`` applications.

One core, two faces (as httpx's ``Client`` and ``AsyncClient``): every verb runs the very
same ``Engine`` method, in a worker thread (``asyncio.to_thread``), and awaits it. Why a
thread pool rather than a second, async core:

- the work under every verb is blocking by nature: SQLite calls, psycopg's pool, numpy and
  the embedding model, llama.cpp. An async core would hand each of them to a thread anyway,
  and would have to be kept equal to the sync one line by line;
- a verb runs whole in one thread, so a store transaction (bound to its thread on both
  backends) never spans two threads, and the engine's caches see the same calls as from
  sync code.

The event loop is never blocked: while one verb embeds or writes, other coroutines run.
What is not gained: the verbs of one engine still share its locks (one SQLite writer at a
time) and the interpreter. That is also why the REST server keeps ``Engine``: its data routes
are plain functions that FastAPI runs in its thread pool, one hop per request, the hop an
``AsyncEngine`` verb would make (an ``async`` route calling two verbs would make two), and
chat and judge already run in the model runner's own threads, which gate the model. The methods are made from ``Engine``'s by ``_threaded``, so a
verb's signature and docstring are ``Engine``'s; a parity test checks that every public
``Engine`` method has its face here and that both faces answer alike.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from .chat import ChatStream
from .engine import Engine
from .llm import ChatModel
from .safety.guidance import SafetyMode
from .store import Store
from .types import ChatResult, Memory

P = ParamSpec("P")
R = TypeVar("R")


def _threaded(
    method: Callable[Concatenate[Engine, P], R],
) -> Callable[Concatenate[AsyncEngine, P], Coroutine[Any, Any, R]]:
    """The async face of an ``Engine`` method: the same call on the wrapped engine, in a
    worker thread, awaited (same parameters, same result, same errors)."""
    name = method.__name__

    async def face(self: AsyncEngine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[..., R] = getattr(self.engine, name)
        return await asyncio.to_thread(bound, *args, **kwargs)

    functools.update_wrapper(face, method)
    return face


class AsyncChatStream:
    """A streamed answer for ``async for``: each chunk is read from the engine's stream in a
    worker thread (generation blocks). ``result`` is set once the last chunk is read."""

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream
        self.context = stream.context

    @property
    def result(self) -> ChatResult | None:
        return self._stream.result

    async def __aiter__(self) -> AsyncIterator[str]:
        chunks = iter(self._stream)
        done = object()
        while True:
            chunk = await asyncio.to_thread(next, chunks, done)
            if chunk is done:
                return
            assert isinstance(chunk, str)
            yield chunk


class AsyncEngine:
    """Remember users and retrieve what matters for a query, with ``await``.

    Takes ``Engine``'s parameters (or an ``Engine`` to wrap, as ``engine=``) and offers its
    verbs as coroutines; see ``Engine`` for each verb. ``for_tenant`` is immediate (no I/O).

    Examples
    --------
    >>> import asyncio
    >>> from tailored.testing import HashEmbedder
    >>> async def main() -> str:
    ...     async with AsyncEngine(store=str(tmp / "adoc.db"), embedder=HashEmbedder()) as eng:
    ...         await eng.add({"user_id": "ana", "text": "I am allergic to peanuts"})
    ...         hits = await eng.search("ana", "peanut allergy")
    ...         return hits[0].event.text
    >>> asyncio.run(main())
    'I am allergic to peanuts'
    """

    def __init__(
        self, store: str | Path | Store | None = None, *, engine: Engine | None = None, **options: Any
    ) -> None:
        if engine is not None and (store is not None or options):
            raise TypeError("pass either an Engine to wrap or Engine's parameters, not both")
        self.engine = engine if engine is not None else Engine(store, **options)

    @property
    def tenant(self) -> str:
        return self.engine.tenant

    @property
    def store(self) -> Store:
        return self.engine.store

    def for_tenant(self, tenant: str, *, user: str | None = None) -> AsyncEngine:
        """The async face of ``Engine.for_tenant``: the same caches, another tenant (or one user)."""
        return AsyncEngine(engine=self.engine.for_tenant(tenant, user=user))

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.close)

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # events and users
    add = _threaded(Engine.add)
    erase = _threaded(Engine.erase)
    import_user = _threaded(Engine.import_user)
    search = _threaded(Engine.search)
    context = _threaded(Engine.context)
    events = _threaded(Engine.events)
    export = _threaded(Engine.export)
    user = _threaded(Engine.user)
    users = _threaded(Engine.users)
    stats = _threaded(Engine.stats)
    # memories
    extract = _threaded(Engine.extract)
    profile = _threaded(Engine.profile)
    history = _threaded(Engine.history)
    why = _threaded(Engine.why)
    remember = _threaded(Engine.remember)
    forget = _threaded(Engine.forget)
    pin = _threaded(Engine.pin)
    summarize = _threaded(Engine.summarize)
    # recommendation
    recommend_model_path = _threaded(Engine.recommend_model_path)
    catalog_add = _threaded(Engine.catalog_add)
    recommend_fit = _threaded(Engine.recommend_fit)
    recommend = _threaded(Engine.recommend)
    # safety
    assess = _threaded(Engine.assess)
    sensitive = _threaded(Engine.sensitive)
    sensitive_off = _threaded(Engine.sensitive_off)
    set_sensitive_off = _threaded(Engine.set_sensitive_off)
    sensitive_uses = _threaded(Engine.sensitive_uses)
    # judge: loading the model is the blocking part; the ``Judge`` it returns is the sync one
    judge = _threaded(Engine.judge)

    async def chat(
        self,
        user_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: ChatModel | str | None = None,
        memory: bool = True,
        stream: bool = False,
        budget: int = 1000,
        max_tokens: int = 512,
        temperature: float = 0.0,
        session_id: str | None = None,
        safety: SafetyMode = "off",
    ) -> ChatResult | AsyncChatStream:
        """``Engine.chat``, awaited; with ``stream=True`` an ``AsyncChatStream`` to ``async for``."""

        def call() -> ChatResult | ChatStream:
            return self.engine.chat(
                user_id,
                messages,
                model=model,
                memory=memory,
                stream=stream,
                budget=budget,
                max_tokens=max_tokens,
                temperature=temperature,
                session_id=session_id,
                safety=safety,
            )

        answer = await asyncio.to_thread(call)
        return AsyncChatStream(answer) if isinstance(answer, ChatStream) else answer

    async def correct(self, user_id: str, memory_id: int, **changes: Any) -> Memory:
        """``Engine.correct``, awaited (spelled out: its ``**changes`` cannot pass through
        ``_threaded``'s typed parameters)."""
        return await asyncio.to_thread(functools.partial(self.engine.correct, user_id, memory_id, **changes))

    def __repr__(self) -> str:
        return f"AsyncEngine(store={self.engine.store.url!r}, tenant={self.tenant!r})"
