"""The tenant isolation table extended to MCP tools: a key of tenant globex reaches no user
of acme through any tool, the resource or the prompt, and a key scoped to ana reaches ana
only. A tool missing from the table fails ``test_the_table_covers_every_tool``."""

from __future__ import annotations

from typing import Any

import anyio

from .conftest import Served, error_text, http_client, result_data

SECRET = "acme secret plan"

# Every tool, with arguments naming the other side's user (``{memory_id}``: one of theirs).
TABLE: list[tuple[str, dict[str, Any]]] = [
    ("add_event", {"text": "planted"}),
    ("add_memory", {"kind": "fact", "key": "plan", "value": "planted"}),
    ("search", {"query": "secret plan"}),
    ("get_profile", {}),
    ("get_context", {"query": "secret plan"}),
    ("list_memories", {"current_only": False}),
    ("update_memory", {"memory_id": "{memory_id}", "value": "rewritten"}),
    ("delete_memory", {"memory_id": "{memory_id}"}),
    ("recommend", {"k": 5}),
    ("judge", {"query": "my secret plan?", "response_a": "a", "response_b": "b"}),
    ("erase_user", {"confirm": "{user}"}),
]


def _args(args: dict[str, Any], user: str, memory_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {"user": user}
    for k, v in args.items():
        out[k] = memory_id if v == "{memory_id}" else user if v == "{user}" else v
    return out


def _seed(served: Served, user: str) -> int:
    eng = served.acme_engine()
    eng.add({"user_id": user, "text": f"{user}: {SECRET}", "source_id": f"{user}-1"})
    return eng.remember(user, {"kind": "fact", "key": "plan", "value": SECRET}).id


def _untouched(served: Served, user: str, memory_id: int) -> None:
    eng = served.acme_engine()
    assert [e.text for e in eng.events(user)] == [f"{user}: {SECRET}"]
    (memory,) = eng.history(user)
    assert memory.id == memory_id and memory.value == SECRET and memory.status == "active"


def test_the_table_covers_every_tool(served: Served) -> None:
    async def main() -> None:
        async with http_client(served.url, served.acme) as c:
            names = {t.name for t in (await c.list_tools()).tools}
        assert names == {name for name, _ in TABLE}

    anyio.run(main)


def test_another_tenants_key_reaches_no_user_of_acme(served: Served) -> None:
    memory_id = _seed(served, "ana")

    async def main() -> None:
        async with http_client(served.url, served.globex) as c:
            for name, args in TABLE:
                result = await c.call_tool(name, _args(args, "ana", memory_id))
                text = " ".join(getattr(x, "text", "") for x in result.content)
                assert SECRET not in text, name
                if result.is_error:
                    assert "not_found" in text, (name, text)
                elif name == "search":  # globex's own "ana" (made by add_event above) only
                    assert [h["text"] for h in result_data(result)] == ["planted"]
            try:
                resource = await c.read_resource("tailored://users/ana/profile")
            except Exception as exc:  # the SDK raises a resource error as an exception
                assert "not_found" in str(exc) and SECRET not in str(exc)
            else:
                raise AssertionError(f"read acme's user: {resource}")
            prompt = await c.get_prompt("personalize", {"user": "ana", "request": "my secret plan?"})
            assert SECRET not in prompt.messages[0].content.text

    anyio.run(main)
    _untouched(served, "ana", memory_id)
    # globex's writes landed in globex only
    assert {u.user_id for u in served.engine.for_tenant("globex").users()} <= {"ana"}


def test_a_user_key_reaches_its_user_only(served: Served) -> None:
    bob_memory = _seed(served, "bob")
    ana_memory = _seed(served, "ana")

    async def main() -> None:
        async with http_client(served.url, served.ana) as c:
            for name, args in TABLE:
                refused = await c.call_tool(name, _args(args, "bob", bob_memory))
                text = error_text(refused)
                assert "tenant_isolation" in text and "scoped to user 'ana'" in text and SECRET not in text, name
            prompt = await c.get_prompt("personalize", {"request": "what is my plan?"})
            assert "ana" in prompt.messages[0].content.text
            for uri in ("tailored://users/bob/profile",):
                try:
                    read = await c.read_resource(uri)
                except Exception as exc:  # refused: the SDK raises the resource error
                    assert "tenant_isolation" in str(exc) and SECRET not in str(exc)
                else:
                    raise AssertionError(f"read {uri}: {read}")
            # ana, by name or by default: every tool works (erase last: it removes ana's key too)
            for name, args in TABLE:
                call = _args(args, "ana", ana_memory)
                if name != "erase_user":
                    call.pop("user")
                if "memory_id" in call:  # ana's current memory (add_memory superseded the first)
                    current = result_data(await c.call_tool("list_memories", {}))["items"]
                    call["memory_id"] = current[0]["id"]
                result = await c.call_tool(name, call)
                assert not result.is_error, (name, result.content)

    anyio.run(main)
    _untouched(served, "bob", bob_memory)
    assert served.acme_engine().history("ana") == []  # erased through the tool
    assert all(k.user_id != "ana" for k in served.acme_engine().store.list_keys())  # with the keys scoped to ana


def test_a_session_opened_with_one_key_acts_with_the_key_of_each_request(served: Served) -> None:
    """The session id alone reaches nothing: a request carrying acme's session id but ana's
    (or globex's) key acts with that request's key."""
    import httpx

    _seed(served, "bob")
    accept = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=served.url, timeout=30) as http:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        opened = http.post("/mcp", json=init, headers={**accept, "Authorization": f"Bearer {served.acme}"})
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        http.post("/mcp", json=done, headers={**accept, **session, "Authorization": f"Bearer {served.acme}"})

        def call(key: str, n: int) -> str:
            body = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "get_profile", "arguments": {"user": "bob"}},
            }
            r = http.post("/mcp", json=body, headers={**accept, **session, "Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
            return r.text

        assert SECRET in call(served.acme, 1)  # the session's own key reads bob
        as_ana = call(served.ana, 2)
        assert "tenant_isolation" in as_ana and SECRET not in as_ana
        as_globex = call(served.globex, 3)
        assert "not_found" in as_globex and SECRET not in as_globex
