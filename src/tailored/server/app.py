"""``create_app(settings)``: the REST API, the OpenAI-compatible endpoint and the dashboard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.resources import files
from importlib.util import find_spec
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..embed import load_embedder
from ..embed.batching import BatchingEmbedder
from ..engine import Engine
from ..keys import Keys
from ..webhooks import Deliverer, DeliveryWorker
from . import docs, errors
from .deps import State
from .errors import error_body
from .generation import ModelRunner
from .headers import SecurityHeaders
from .routes import admin, events, judge, memories, meta, openai_compat, recommend, safety, users, webhooks
from .settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyLimit:
    """Refuse request bodies above ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def limited_receive() -> MutableMapping[str, Any]:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    # Answer now and tell the app the client went away; whatever the app
                    # then tries to send is dropped.
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: MutableMapping[str, Any]) -> None:
            if not refused:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps(error_body("too_large", f"request body above {self.limit} bytes")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def server_engine(settings: Settings) -> Engine:
    """The engine a server shares between requests: concurrent query embeddings are batched."""
    return Engine(settings.db, embedder=BatchingEmbedder(load_embedder(settings.embedder)))


def _webhook_lifespan(engine: Engine, settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Run a webhook delivery worker (a thread) for the server's life, stopping it cleanly
    at shutdown; queued deliveries stay in the store for the next start. Every worker
    process of ``--workers N`` runs one: leases in the store keep them apart."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.webhooks_worker:
            deliverer = Deliverer(engine.store, allow_private=settings.webhooks_allow_private)
            worker = DeliveryWorker(deliverer, poll_s=settings.webhooks_poll_s)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await asyncio.to_thread(worker.stop)

    return lifespan


def create_app(settings: Settings | None = None, engine: Engine | None = None, chat_model: Any = None) -> FastAPI:
    """Build the app. ``engine`` (and its store) is shared by every request and tenant.

    ``chat_model`` (a ``ChatModel``) answers ``/v1/chat/completions``; by default the model
    ``settings.model`` names is loaded at the first chat request.
    """
    settings = settings or Settings()
    engine = engine or server_engine(settings)
    app = FastAPI(
        lifespan=_webhook_lifespan(engine, settings),
        title="tailored",
        version=__version__,
        description="Personalization engine API. Authenticate with `Authorization: Bearer <key>`.",
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN; see server.docs
        redoc_url=None,
    )
    runner = ModelRunner(chat_model if chat_model is not None else settings.model, settings)
    app.state.tailored = State(engine=engine, keys=Keys(engine.store), settings=settings, chat_model=runner)
    errors.install(app)
    for module in (meta, users, memories, events, admin, openai_compat, judge, webhooks, recommend, safety):
        app.include_router(module.router)
    docs_csp = docs.install(app)
    if find_spec("mcp") is not None:  # the mcp extra: streamable HTTP at /mcp, same keys
        from . import mcp_http

        mcp_http.install(app, app.state.tailored)
    static = files("tailored.server").joinpath("static")
    app.mount("/dashboard", StaticFiles(directory=str(static), html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, docs_csp=docs_csp)  # outermost: a 413 gets the headers too
    return app


def app_from_env() -> FastAPI:
    """The app each worker process of ``tailored serve --workers N`` builds, from the
    ``TAILORED_*`` environment the parent set. Workers share the store file (SQLite in
    WAL mode takes writers from several processes) and each has its own embedder."""
    return create_app(Settings())
