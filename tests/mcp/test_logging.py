"""Building the MCP server leaves the process's logging as it was (the SDK's constructor
calls ``logging.basicConfig`` with a Rich handler on the root logger)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("mcp", reason="mcp is not installed: pip install -e '.[mcp]'")


def test_building_the_server_leaves_the_root_logger_alone() -> None:
    from tailored.server.mcp_tools import build_server

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = []  # as in a server process (basicConfig does nothing once there are any)
    try:
        build_server(lambda ctx: None, user_argument=True)  # type: ignore[arg-type,return-value]
        assert (root.handlers, root.level) == ([], saved[1])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
