"""One place mapping the error tree to HTTP: every error is JSON with a stable code.

Body: ``{"error": {"code": "not_found", "message": "..."}}``.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    InvalidInput,
    ModelError,
    NotFound,
    StoreError,
    TailoredError,
    TenantIsolationError,
)
from .generation import ClientGone
from .limits import TooBusy


class TooLarge(InvalidInput):
    """A request within the body limit that still holds more than a limit allows."""

    code = "too_large"


STATUS: list[tuple[type[TailoredError], int]] = [
    (TooBusy, 429),
    (TooLarge, 413),
    (InvalidInput, 422),
    (NotFound, 404),
    (TenantIsolationError, 403),
    (ModelError, 503),
    (StoreError, 500),
    (TailoredError, 400),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(TailoredError)
    async def _tailored(_: Request, exc: TailoredError) -> JSONResponse:
        status = next(s for cls, s in STATUS if isinstance(exc, cls))
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooBusy) else None
        return error_response(status, exc.code, str(exc), headers)

    @app.exception_handler(ClientGone)
    async def _gone(_: Request, exc: ClientGone) -> JSONResponse:
        # Nobody reads this: the client disconnected while its request waited.
        return error_response(499, "client_closed_request", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return error_response(422, "invalid_input", f"{where}: {msg}" if where else msg)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: HTTPException | StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return error_response(500, "internal", f"internal error: {type(exc).__name__}")
