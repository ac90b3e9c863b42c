"""An MCP client from the official SDK over streamable HTTP (a real uvicorn server on
loopback) and over stdio (``python -m tailored mcp`` as a subprocess)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

import httpx2  # noqa: E402  (comes with mcp)
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from tailored import Engine  # noqa: E402
from tailored.keys import Keys  # noqa: E402
from tailored.server import Settings, create_app  # noqa: E402
from tailored.testing import HashEmbedder, ScriptedChatModel  # noqa: E402

from ..server_util import running  # noqa: E402


@dataclass
class Served:
    url: str
    acme: str  # tenant key of acme
    globex: str  # tenant key of globex
    ana: str  # acme key scoped to user ana
    admin: str
    engine: Engine

    def acme_engine(self) -> Engine:
        return self.engine.for_tenant("acme")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, acme = keys.create("acme")
    _, globex = keys.create("globex")
    _, ana = keys.create("acme", user="ana")
    _, admin = keys.create(None, admin=True)
    with running(create_app(Settings(), engine, chat_model=ScriptedChatModel())) as url:
        yield Served(url, acme, globex, ana, admin, engine)
    engine.close()


@asynccontextmanager
async def http_client(url: str, key: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
            yield client


def stdio_params(db: Path, user: str, *extra: str) -> StdioServerParameters:
    env = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "TAILORED", "PYTHON", "LANG"))}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "tailored", "mcp", "--user", user, "--db", str(db), "--embedder", "hash", *extra],
        env=env,
    )


def result_data(result: Any) -> Any:
    """A tool result's structured content (the SDK wraps a list return in ``result``)."""
    assert not result.is_error, result.content
    data = result.structured_content
    return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(getattr(c, "text", "") for c in result.content)
