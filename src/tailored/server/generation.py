"""Running the chat model for HTTP requests without tying up the server's worker threads.

A generation runs on a small pool of its own (``chat_parallel`` threads; llama.cpp needs
one), entered through the ``ChatGate`` on the event loop. So a request waiting for the
model holds no worker thread, and searches, health checks and the dashboard keep their
threads whatever the chat load.

The client is watched while it waits: one that disconnects gives up its place in the
queue, and a streaming one that disconnects stops the generation at the next chunk. A
stream is generated into a buffer at the model's own speed (an answer is at most
``max_tokens`` chunks), so a client that stops reading holds its connection but never the
model. ``chat_timeout_s`` bounds one streamed generation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

from starlette.requests import Request

from ..chat import ChatStream
from ..errors import ModelError
from ..llm import ChatModel, load_chat_model
from ..llm.models import DEFAULT_MODEL
from ..types import ChatResult
from .limits import ChatGate, Ticket
from .settings import Settings

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready; nothing is left to send."""


class ModelHolder:
    """The configured chat model, loaded once, at the first request that needs it."""

    def __init__(self, spec: str | ChatModel | None) -> None:
        self.spec = spec
        self._model = spec if isinstance(spec, ChatModel) else None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        if self._model is not None:
            return self._model.name
        return str(self.spec or DEFAULT_MODEL)

    def get(self) -> ChatModel:
        """The model; loads it on first use (seconds, so call it on a generation thread)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = load_chat_model(self.spec if isinstance(self.spec, str) else None)
        return self._model


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (its body was already read, so nothing else comes)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result, or ``ClientGone`` (and ``work`` cancelled) if the client leaves first."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        watch.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    raise ClientGone("the client disconnected")


@dataclass
class Piece:
    """One item a streamed generation hands to the response."""

    kind: Literal["chunk", "done", "error"]
    text: str = ""
    error: BaseException | None = None


class ModelRunner:
    """The chat model behind its gate and its own threads, shared by every request."""

    def __init__(self, spec: str | ChatModel | None, settings: Settings) -> None:
        self.holder = ModelHolder(spec)
        self.gate = ChatGate(
            settings.chat_parallel, settings.chat_per_tenant, settings.chat_per_key, settings.chat_queue
        )
        self.timeout_s = settings.chat_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=self.gate.slots, thread_name_prefix="tailored-chat")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, ticket: Ticket, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``job`` on a generation thread; the ticket's slot is freed when the thread is
        done with it, not when the request is: a cancelled wait cannot stop a running thread,
        and two generations must never overlap on one model."""
        started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(self._pool, job)

        def done(_: asyncio.Future[T]) -> None:
            self.gate.observe(time.monotonic() - started)
            self.gate.release(ticket)

        future.add_done_callback(done)
        return future

    async def complete(
        self, request: Request, tenant: str, key: str, job: Callable[[ChatModel], ChatResult]
    ) -> ChatResult:
        """A whole answer: wait for a slot, then run ``job(model)`` on a generation thread."""
        ticket = await unless_disconnected(request, self.gate.acquire(tenant, key))
        try:
            future = self._start(ticket, lambda: job(self.holder.get()))
        except BaseException:
            self.gate.release(ticket)
            raise
        return await unless_disconnected(request, asyncio.shield(future))

    async def stream(
        self, request: Request, tenant: str, key: str, job: Callable[[ChatModel], ChatStream]
    ) -> tuple[Piece, AsyncGenerator[Piece, None]]:
        """The first piece of a streamed answer (an error before any text is raised, so it
        can still become an HTTP error), and an iterator of the rest."""
        ticket = await unless_disconnected(request, self.gate.acquire(tenant, key))
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Piece] = asyncio.Queue()
        stop = threading.Event()
        deadline = time.monotonic() + self.timeout_s

        def push(piece: Piece) -> None:
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        def produce() -> None:
            chunks: Iterator[str] = iter(job(self.holder.get()))
            try:
                for text in chunks:
                    if stop.is_set():
                        return  # the client left; closing the stream below stores nothing
                    if time.monotonic() > deadline:
                        push(Piece("error", error=ModelError(f"the answer took over {self.timeout_s:g} s")))
                        return
                    push(Piece("chunk", text))
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            push(Piece("done"))

        try:
            future = self._start(ticket, produce)
        except BaseException:
            self.gate.release(ticket)
            raise

        def failed(f: asyncio.Future[None]) -> None:
            if not f.cancelled() and f.exception() is not None:
                pieces.put_nowait(Piece("error", error=f.exception()))

        future.add_done_callback(failed)
        try:
            first = await unless_disconnected(request, pieces.get())
        except BaseException:
            stop.set()
            raise
        if first.kind == "error" and first.error is not None:
            raise first.error
        return first, self._rest(pieces, stop)

    async def _rest(self, pieces: asyncio.Queue[Piece], stop: threading.Event) -> AsyncGenerator[Piece, None]:
        """The remaining pieces; leaving early (the client went away) stops the generation."""
        try:
            while True:
                piece = await pieces.get()
                yield piece
                if piece.kind != "chunk":
                    return
        finally:
            stop.set()
