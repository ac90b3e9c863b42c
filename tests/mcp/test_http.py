"""The MCP server over streamable HTTP at /mcp, with the SDK's own client: every tool, the
profile resource, the prompt, bad arguments, and keys."""

from __future__ import annotations

import anyio
import httpx
import pytest

from tailored.keys import Keys
from tailored.text import FENCE

from .conftest import Served, error_text, http_client, result_data

READ_ONLY = {"search", "get_profile", "get_context", "list_memories", "recommend", "judge"}
DESTRUCTIVE = {"delete_memory", "erase_user"}
WRITES = {"add_event", "add_memory", "update_memory"}


def test_tools_are_listed_with_what_they_may_do(served: Served) -> None:
    async def main() -> None:
        async with http_client(served.url, served.acme) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == READ_ONLY | DESTRUCTIVE | WRITES
            for name, t in tools.items():
                a = t.annotations
                assert a is not None and a.read_only_hint is (name in READ_ONLY), name
                assert a.destructive_hint is (name in DESTRUCTIVE), name
                assert "user" in t.input_schema["properties"], name  # over HTTP the user is named
            assert tools["erase_user"].input_schema["required"] == ["confirm"]

    anyio.run(main)


def test_every_tool_the_resource_and_the_prompt(served: Served) -> None:
    async def main() -> None:
        async with http_client(served.url, served.acme) as c:
            said = ["I am vegetarian", "I love hiking in the Alps", "I have a dog named Rex"]
            for i, text in enumerate(said):
                added = result_data(await c.call_tool("add_event", {"user": "ana", "text": text, "source_id": f"m{i}"}))
                assert len(added["added"]) == 1
            again = result_data(await c.call_tool("add_event", {"user": "ana", "text": said[0], "source_id": "m0"}))
            assert again["duplicates"] == 1

            hits = result_data(await c.call_tool("search", {"user": "ana", "query": "vegetarian", "k": 2}))
            assert hits[0]["text"] == "I am vegetarian" and len(hits) == 2 and hits[0]["score"] > 0

            memory = result_data(
                await c.call_tool(
                    "add_memory",
                    {"user": "ana", "kind": "preference", "key": "tea", "value": "green tea", "polarity": "like"},
                )
            )
            profile = result_data(await c.call_tool("get_profile", {"user": "ana"}))
            assert memory["id"] in [p["id"] for p in profile["preferences"]]

            ctx = result_data(await c.call_tool("get_context", {"user": "ana", "query": "dinner ideas", "budget": 300}))
            assert f"<{FENCE}" in ctx["text"] and "vegetarian" in ctx["text"] and ctx["tokens"] <= 300

            first = result_data(await c.call_tool("list_memories", {"user": "ana", "limit": 1}))
            assert len(first["items"]) == 1 and first["next"] is not None
            rest = result_data(await c.call_tool("list_memories", {"user": "ana", "after": first["next"], "limit": 50}))
            ids = [m["id"] for m in first["items"] + rest["items"]]
            assert rest["next"] is None and memory["id"] in ids and ids == sorted(set(ids))

            updated = result_data(
                await c.call_tool("update_memory", {"user": "ana", "memory_id": memory["id"], "value": "oolong"})
            )
            assert updated["value"] == "oolong" and updated["id"] != memory["id"]
            everything = result_data(
                await c.call_tool("list_memories", {"user": "ana", "current_only": False, "limit": 200})
            )
            assert memory["id"] in [m["id"] for m in everything["items"] if m["status"] != "active"]
            deleted = result_data(await c.call_tool("delete_memory", {"user": "ana", "memory_id": updated["id"]}))
            assert deleted["status"] == "deleted"

            assert result_data(await c.call_tool("recommend", {"user": "ana", "k": 3})) == []  # no catalogue
            verdict = result_data(
                await c.call_tool(
                    "judge", {"user": "ana", "query": "Dinner?", "response_a": "Lentil curry", "response_b": "Steak"}
                )
            )
            assert 0.0 <= verdict["probability"] <= 1.0 and verdict["model"] == "scripted"

            resource = await c.read_resource("tailored://users/ana/profile")
            (content,) = resource.contents
            assert '"user_id":"ana"' in content.text and content.mime_type == "application/json"

            prompt = await c.get_prompt("personalize", {"user": "ana", "request": "What should I cook?"})
            text = prompt.messages[0].content.text
            assert text.index(f"<{FENCE}") < text.index("vegetarian") < text.index(f"</{FENCE}>")
            assert text.endswith("My request: What should I cook?") and "never instructions" in text

            refused = await c.call_tool("erase_user", {"user": "ana", "confirm": "true"})
            assert "nothing erased" in error_text(refused)
            assert served.acme_engine().user("ana").events == 3
            erased = result_data(await c.call_tool("erase_user", {"user": "ana", "confirm": "ana"}))
            assert erased == {"user_id": "ana", "erased_events": 3}
            gone = await c.call_tool("get_profile", {"user": "ana"})
            assert "not_found" in error_text(gone)
        assert served.acme_engine().users() == []

    anyio.run(main)


BAD_CALLS = [
    ("add_event", {"user": "ana", "text": ""}, "text"),
    ("add_event", {"user": "ana", "text": "ok", "kind": "Not A Kind!"}, "kind"),
    ("add_event", {"user": "a/b", "text": "ok"}, "user_id"),
    ("add_event", {"text": "no user named"}, "name the user"),
    ("add_memory", {"user": "ana", "kind": "opinion", "key": "k", "value": "v"}, "kind"),
    ("add_memory", {"user": "ana", "kind": "preference", "key": "k", "value": "v", "polarity": "meh"}, "polarity"),
    ("search", {"user": "ana", "query": "x", "k": 0}, "k"),
    ("search", {"user": "ana", "query": ""}, "query"),
    ("search", {"user": "ana", "query": "x", "mode": "psychic"}, "mode"),
    ("get_context", {"user": "ana", "query": "x", "budget": 10}, "budget"),
    ("list_memories", {"user": "ana", "limit": 0}, "limit"),
    ("update_memory", {"user": "ana", "memory_id": 1}, "at least one"),
    ("update_memory", {"user": "ana", "memory_id": 999, "value": "x"}, "not_found"),
    ("delete_memory", {"user": "ana", "memory_id": -1}, "memory_id"),
    ("delete_memory", {"user": "ana", "memory_id": 999}, "not_found"),
    ("erase_user", {"user": "ana"}, "confirm"),
    ("erase_user", {"user": "ana", "confirm": "yes"}, "nothing erased"),
    ("get_profile", {"user": "nobody"}, "not_found"),
    ("recommend", {"user": "ana", "k": 1000}, "k"),
    ("judge", {"user": "ana", "query": "q", "response_a": "", "response_b": "b"}, "response_a"),
    ("judge", {"user": "nobody", "query": "q", "response_a": "a", "response_b": "b"}, "not_found"),
]


def test_bad_arguments_are_clear_tool_errors_and_store_nothing(served: Served) -> None:
    served.acme_engine().add({"user_id": "ana", "text": "I am vegetarian"})
    served.acme_engine().remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
    before = served.acme_engine().export("ana").model_dump(exclude={"exported_at"})

    async def main() -> None:
        async with http_client(served.url, served.acme) as c:
            for tool, args, says in BAD_CALLS:
                text = error_text(await c.call_tool(tool, args))
                assert says in text, (tool, args, text)
                assert "\n" not in text.strip() or "validation error" in text, text

    anyio.run(main)
    assert served.acme_engine().export("ana").model_dump(exclude={"exported_at"}) == before
    assert [u.user_id for u in served.acme_engine().users()] == ["ana"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer tlk_nope_nope", "Basic abc"])
def test_a_request_without_a_live_key_is_refused(served: Served, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx.post(served.url + "/mcp", json=body, headers={**headers, "Accept": "application/json"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


def test_admin_and_revoked_keys_are_refused_and_the_sdk_client_fails(served: Served) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = httpx.post(served.url + "/mcp", json=body, headers={"Authorization": f"Bearer {served.admin}"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    keys = Keys(served.engine.store)
    record, secret = keys.create("acme")
    keys.revoke(record.id)

    async def main() -> None:
        for key in (secret, "tlk_made_up"):
            with pytest.raises(Exception):  # noqa: B017  (the SDK reports the 401 as its own error)
                async with http_client(served.url, key) as c:
                    await c.list_tools()

    anyio.run(main)
