"""``tailored mcp --user U`` over stdio, with the SDK's client spawning it as a desktop client
does: one user, fixed at start; tools without a user argument; other users refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
from mcp import Client

from tailored import Engine
from tailored.testing import HashEmbedder
from tailored.text import FENCE

from .conftest import error_text, result_data, stdio_params


def test_every_tool_resource_and_prompt_for_the_one_user(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    with Engine(db, embedder=HashEmbedder()) as eng:
        eng.add({"user_id": "bob", "text": "bob's secret plan"})

    async def main() -> None:
        async with Client(stdio_params(db, "ana")) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert all("user" not in t.input_schema.get("properties", {}) for t in tools.values())
            assert tools["erase_user"].annotations.destructive_hint is True
            assert tools["search"].annotations.read_only_hint is True

            for i, text in enumerate(["I am vegetarian", "I love hiking", "I have a dog named Rex"]):
                assert result_data(await c.call_tool("add_event", {"text": text, "source_id": f"s{i}"}))["added"]
            hits = result_data(await c.call_tool("search", {"query": "vegetarian", "k": 1}))
            assert [h["text"] for h in hits] == ["I am vegetarian"]
            memory = result_data(await c.call_tool("add_memory", {"kind": "fact", "key": "city", "value": "Lisbon"}))
            profile = result_data(await c.call_tool("get_profile", {}))
            assert profile["user_id"] == "ana" and memory["id"] in [f["id"] for f in profile["facts"]]
            ctx = result_data(await c.call_tool("get_context", {"query": "dinner"}))
            assert f"<{FENCE}" in ctx["text"] and "bob" not in ctx["text"]
            page = result_data(await c.call_tool("list_memories", {"limit": 100}))
            assert memory["id"] in [m["id"] for m in page["items"]]
            fixed = result_data(await c.call_tool("update_memory", {"memory_id": memory["id"], "value": "Porto"}))
            assert fixed["value"] == "Porto"
            assert result_data(await c.call_tool("delete_memory", {"memory_id": fixed["id"]}))["status"] == "deleted"

            assert result_data(await c.call_tool("recommend", {"k": 3})) == []  # no catalogue yet
            (content,) = (await c.read_resource("tailored://users/ana/profile")).contents
            assert '"user_id":"ana"' in content.text
            try:
                other = await c.read_resource("tailored://users/bob/profile")
            except Exception as exc:
                assert "tenant_isolation" in str(exc) and "secret" not in str(exc)
            else:
                raise AssertionError(f"read bob: {other}")
            prompt = await c.get_prompt("personalize", {"request": "Dinner ideas?"})
            assert "vegetarian" in prompt.messages[0].content.text

            assert "k" in error_text(await c.call_tool("search", {"query": "x", "k": 0}))
            assert "text" in error_text(await c.call_tool("add_event", {"text": ""}))
            # there is no user argument here: one sent anyway is ignored, the user stays ana
            stray = result_data(await c.call_tool("search", {"query": "secret plan", "user": "bob"}))
            assert stray and all("bob" not in h["text"] for h in stray)
            assert "nothing erased" in error_text(await c.call_tool("erase_user", {"confirm": "true"}))
            erased = result_data(await c.call_tool("erase_user", {"confirm": "ana"}))
            assert erased["erased_events"] == 3

    anyio.run(main)
    with Engine(db, embedder=HashEmbedder()) as eng:
        assert [u.user_id for u in eng.users()] == ["bob"]  # bob untouched, ana erased


def test_a_bad_user_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "TAILORED_DB": str(tmp_path / "x.db")}
    r = subprocess.run(
        [sys.executable, "-m", "tailored", "mcp", "--user", "a/b"], capture_output=True, text=True, env=env
    )
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1 and "user_id" in r.stderr
    assert not (tmp_path / "x.db").exists()
