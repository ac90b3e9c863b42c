"""``tailored mcp --user U``: the MCP server over stdio, for a desktop client.

It serves one user of the embedded store (``--db``, ``--tenant`` as every command), fixed
here, so the tools take no user argument and reach no other user: the engine view is
bound to the user (``Engine.for_tenant(..., user=U)``), as a user-scoped API key's is.
stdout carries the protocol; nothing else is printed there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from ..errors import InvalidInput
from ..types import check_user_id
from .common import DbOpt, EmbedderOpt, ModelOpt, TenantOpt, UserOpt, open_engine

if TYPE_CHECKING:
    from ..server.mcp_tools import ModelJob


def mcp(
    user: UserOpt,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
    model: ModelOpt = None,
) -> None:
    """Serve USER's memory to an MCP client over stdio (tools, the profile resource, a prompt).

    A desktop client starts it as a command, e.g. ``tailored mcp --user ana --db ~/tailored.db``.
    The store is created if missing. ``--model`` is the chat model of the judge tool.
    """
    try:
        check_user_id(user)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    try:
        from ..server.mcp_tools import Caller, build_server
    except ImportError as exc:  # the SDK is the mcp extra
        raise InvalidInput("the MCP server needs the mcp extra: pip install 'tailored[mcp]'") from exc
    with open_engine(db, tenant, embedder) as eng:

        async def in_thread(job: ModelJob) -> Any:
            """Work on the chat model (``--model``, loaded once by the engine), off the event loop."""
            import anyio.to_thread

            return await anyio.to_thread.run_sync(job, model)

        caller = Caller(eng.for_tenant(tenant, user=user), user, in_thread)
        build_server(lambda ctx: caller, user_argument=False).run("stdio")


def register(app: typer.Typer) -> None:
    app.command()(mcp)
