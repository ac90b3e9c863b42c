"""Security headers on every response.

The dashboard is a page that holds an API key, so it must not be framed (clickjacking) and
may run only its own script, style and requests: a script injected through stored data,
were one ever to slip past ``textContent``, could then neither run inline nor send the key
anywhere. API responses are data and get the strictest policy. ``nosniff`` keeps browsers
from reading a JSON body or an export as HTML.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

COMMON: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def csp_for(path: str, docs_csp: str) -> str:
    """The Content-Security-Policy of a path: the dashboard's, the API docs', or the API's."""
    if path.startswith("/dashboard"):
        return DASHBOARD_CSP
    if path in ("/docs", "/redoc") or path.startswith("/docs/"):
        return docs_csp
    return API_CSP


class SecurityHeaders:
    """ASGI middleware adding the headers above, unless a response set its own."""

    def __init__(self, app: Any, docs_csp: str = API_CSP) -> None:
        self.app = app
        self.docs_csp = docs_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*COMMON, (b"content-security-policy", csp_for(scope.get("path", ""), self.docs_csp).encode())]

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
