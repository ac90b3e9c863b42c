"""Streamable HTTP for the MCP server at ``/mcp``, behind the REST API's keys.

Every HTTP request to ``/mcp`` carries ``Authorization: Bearer <key>``, checked like a REST
request's (401 without a live key, 403 for an admin key). The key travels with the request
to the tools (``ctx.request_context.request``), so each tool call acts with the key of the
request that carried it: a session id alone reaches nothing. The engine view comes from
``engine_for_key``, the one place keys are turned into what they may reach.

The SDK's session manager runs inside the app's lifespan (``lifespan``), one per start.
The SDK's DNS-rebinding check (a Host allow-list) is off: it protects servers that trust
any local caller, and every request here needs a key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from ..types import ApiKey
from .deps import State, engine_for_key
from .errors import error_body
from .generation import ModelRunner
from .mcp_tools import Caller, ModelJob, build_server

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

KEY_SCOPE = "tailored.key"  # where the checked key rides in the ASGI scope


def _access(state: State) -> Callable[[Context], Caller]:
    def access(ctx: Context) -> Caller:
        request = ctx.request_context.request
        key: ApiKey | None = None if request is None else request.scope.get(KEY_SCOPE)
        if request is None or key is None:  # never: the endpoint refuses requests without a key
            raise PermissionError("no API key")
        checked: ApiKey = key
        runner: ModelRunner = state.chat_model

        async def run_model(job: ModelJob) -> Any:
            return await runner.complete(request, checked.tenant, checked.id, job)

        return Caller(engine_for_key(state, key), key.user_id, run_model)

    return access


class McpEndpoint:
    """The ASGI app at ``/mcp``: check the key, then hand the request to the SDK."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.server: MCPServer = build_server(_access(state), user_argument=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        scheme, _, secret = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            await _refuse(send, 401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'")
            return
        key = await anyio.to_thread.run_sync(self.state.keys.verify, secret.strip())
        if key is None:
            await _refuse(send, 401, "unauthorized", "invalid or revoked API key")
            return
        try:
            engine_for_key(self.state, key)
        except HTTPException as exc:
            await _refuse(send, exc.status_code, "forbidden", str(exc.detail))
            return
        scope[KEY_SCOPE] = key
        await self.server.session_manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the SDK's session manager (a fresh one per app start)."""
        self.server.streamable_http_app(
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with self.server.session_manager.run():
            yield


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, state: State) -> None:
    """Route ``/mcp`` to the MCP server, whose session manager runs inside the app's
    lifespan (around the lifespan the app already has)."""
    from starlette.routing import Route

    endpoint = McpEndpoint(state)
    app.router.routes.append(Route("/mcp", endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value, endpoint.running():
            yield value

    app.router.lifespan_context = lifespan
