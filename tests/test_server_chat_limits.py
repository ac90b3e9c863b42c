"""One tenant's chats cannot stall the others: a real server, and as its model a real
OpenAI-compatible server on loopback (``FakeOpenAI``) that answers after a fixed delay."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tailored import Engine
from tailored.bench.serve import FakeOpenAI
from tailored.keys import Keys
from tailored.llm.openai_compat import OpenAIChatModel
from tailored.server import Settings, create_app
from tailored.server.limits import ChatGate, TooBusy
from tailored.testing import HashEmbedder

from .server_util import running

ASK = [{"role": "user", "content": "What should I cook?"}]


@dataclass
class Stack:
    url: str
    a: str  # tenant "acme"
    b: str  # tenant "globex"
    b2: str  # a second globex key
    engine: Engine
    upstream: FakeOpenAI

    def client(self, key: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


Make = Callable[..., Any]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Make]:
    """``make(settings, **upstream)`` -> a context manager yielding a running ``Stack``."""

    @contextmanager
    def make(settings: Settings | None = None, **upstream: Any) -> Iterator[Stack]:
        engine = Engine(tmp_path / f"chat-{time.monotonic_ns()}.db", embedder=HashEmbedder())
        keys = Keys(engine.store)
        _, a = keys.create("acme")
        _, b = keys.create("globex")
        _, b2 = keys.create("globex")
        engine.for_tenant("acme").add({"user_id": "ana", "text": "I am vegetarian"})
        with FakeOpenAI(**upstream) as up:
            model = OpenAIChatModel("fake", base_url=up.url, timeout=60)
            with running(create_app(settings or Settings(), engine, chat_model=model)) as url:
                yield Stack(url, a, b, b2, engine, up)
            model.close()
        engine.close()

    yield make


def chat_body(user: str = "ana", stream: bool = False) -> dict[str, Any]:
    return {"user": user, "messages": ASK, "stream": stream}


def flood(url: str, key: str, n: int, results: list[httpx.Response]) -> threading.Thread:
    """``n`` chat requests at once from one key, in a thread of their own."""

    async def run() -> None:
        limits = httpx.Limits(max_connections=n + 5)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:
            results.extend(
                await asyncio.gather(*(c.post("/v1/chat/completions", json=chat_body(f"bob{i}")) for i in range(n)))
            )

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    return thread


def assert_429(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "too_many_requests" and r.json()["error"]["message"]


def test_a_chat_flood_leaves_other_tenants_searches_health_and_chats_fast(make_stack: Make) -> None:
    # 45 waiting chats used to hold 45 of the server's 40 worker threads: searches and the
    # health check waited for seconds behind them.
    with make_stack(delay=0.3) as s, s.client(s.a) as a:
        results: list[httpx.Response] = []
        thread = flood(s.url, s.b, 45, results)
        time.sleep(0.5)  # the flood is in: every request is generating, queued or refused
        for _ in range(5):
            t = time.perf_counter()
            assert a.post("/v1/users/ana/search", json={"query": "vegetarian"}).status_code == 200
            assert httpx.get(s.url + "/v1/health", timeout=30).status_code == 200
            assert time.perf_counter() - t < 1.0
        t = time.perf_counter()
        mine = a.post("/v1/chat/completions", json=chat_body())
        assert mine.status_code == 200 and time.perf_counter() - t < 2.5  # served in turn, not after the backlog
        thread.join(timeout=60)
        codes = sorted(r.status_code for r in results)
        assert set(codes) == {200, 429} and codes.count(200) >= 4
        for r in results:
            if r.status_code == 429:
                assert_429(r)


def test_per_key_per_tenant_and_queue_limits(make_stack: Make) -> None:
    settings = Settings(chat_per_key=2, chat_per_tenant=3, chat_queue=2)
    with make_stack(settings, delay=1.0) as s, s.client(s.b) as b, s.client(s.b2) as b2, s.client(s.a) as a:
        first: list[httpx.Response] = []
        thread = flood(s.url, s.b, 2, first)  # one generating, one waiting
        time.sleep(0.3)
        assert "this API key" in b.post("/v1/chat/completions", json=chat_body()).json()["error"]["message"]
        second: list[httpx.Response] = []
        thread2 = flood(s.url, s.b2, 1, second)  # the tenant's third: waiting
        time.sleep(0.3)
        r = b2.post("/v1/chat/completions", json=chat_body())
        assert_429(r)
        assert "tenant 'globex'" in r.json()["error"]["message"]
        r = a.post("/v1/chat/completions", json=chat_body())  # one generating, two waiting: full
        assert_429(r)
        assert "queue is full" in r.json()["error"]["message"]
        thread.join(timeout=30)
        thread2.join(timeout=30)
        assert [r.status_code for r in first + second] == [200, 200, 200]
        assert a.post("/v1/chat/completions", json=chat_body()).status_code == 200  # all free again


def test_a_streaming_client_that_stops_reading_does_not_hold_the_model(make_stack: Make) -> None:
    # An answer far larger than the socket buffers; the client reads none of it.
    with make_stack(delay=0.0, chunks=8000, chunk_text="x" * 1000) as s, s.client(s.a, timeout=30) as a:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", int(s.url.rsplit(":", 1)[1])))
        body = json.dumps(chat_body("bob", stream=True)).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {s.b}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        stalled.sendall(head.encode() + body)
        try:
            time.sleep(1.0)
            t = time.perf_counter()
            r = a.post("/v1/chat/completions", json=chat_body())
            assert r.status_code == 200, r.text
            assert time.perf_counter() - t < 20
        finally:
            stalled.close()


def test_a_streaming_client_that_leaves_stops_the_generation_and_stores_nothing(make_stack: Make) -> None:
    with make_stack(delay=0.0, chunks=100, chunk_delay=0.05) as s, s.client(s.a) as a:
        with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {s.b}"}, timeout=30) as b:
            with b.stream("POST", "/v1/chat/completions", json=chat_body("bob", stream=True)) as r:
                assert r.status_code == 200
                next(r.iter_lines())  # the first chunk, then the client hangs up
        t = time.perf_counter()
        assert a.post("/v1/chat/completions", json=chat_body()).status_code == 200
        assert time.perf_counter() - t < 2.5  # not after the 5 s the abandoned answer would take
        assert s.engine.for_tenant("globex").users() == []  # an unfinished answer stores nothing


def test_streaming_through_an_openai_compatible_upstream(make_stack: Make) -> None:
    from openai import OpenAI

    with make_stack(delay=0.0, answer="Try a lentil curry.", chunks=3, chunk_text=" Enjoy!") as s:
        client = OpenAI(base_url=s.url + "/v1", api_key=s.a)
        chunks = client.chat.completions.create(model="tailored", user="ana", stream=True, messages=ASK)  # type: ignore[call-overload]
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Try a lentil curry. Enjoy! Enjoy!"
        texts = [e.text for e in s.engine.for_tenant("acme").events("ana")]
        assert texts[-1] == "Try a lentil curry. Enjoy! Enjoy!"
        client.close()


def test_the_gate_serves_tenants_in_turn() -> None:
    async def scenario() -> list[str]:
        gate = ChatGate(slots=1, per_tenant=10, per_key=10, queue=6)
        order: list[str] = []
        first = await gate.acquire("b", "kb")

        async def one(tenant: str) -> None:
            ticket = await gate.acquire(tenant, f"k{tenant}")
            order.append(tenant)
            await asyncio.sleep(0)
            gate.release(ticket)

        waiting = [asyncio.create_task(one(t)) for t in ("b", "b", "b", "a", "c")]
        gone = asyncio.create_task(one("d"))  # a client that leaves while queued
        await asyncio.sleep(0.01)
        with pytest.raises(TooBusy, match="queue is full"):
            await gate.acquire("e", "ke")
        gone.cancel()
        gate.release(first)
        await asyncio.gather(*waiting)
        assert gate.active == 0 and gate.waiting == 0
        return order

    assert asyncio.run(scenario()) == ["b", "a", "c", "b", "b"]


def test_bench_serve_chat_flood_writes_both_scenarios_into_one_report(tmp_path: Path) -> None:
    from tailored.bench.serve import serve

    kept = json.loads((Path(__file__).parents[1] / "docs/benchmarks/serve.json").read_text())["loads"]
    earlier = {k: v for k, v in kept["sqlite-w1"].items() if k not in ("backend", "workers")}
    (tmp_path / "serve.json").write_text(json.dumps(earlier))  # the single-scenario layout of old reports
    serve(scenario="chat-flood", users=3, events=20, seconds=2, embedder="hash", flood_clients=10, out=tmp_path)
    report = json.loads((tmp_path / "serve.json").read_text())
    assert set(report) == {"loads", "chat_flood"}  # the earlier single run is kept as SQLite, 1 worker
    assert report["loads"]["sqlite-w1"]["command"] == earlier["command"]
    flood = report["chat_flood"]
    assert flood["command"].startswith("tailored bench serve --scenario chat-flood --users 3 --events 20")
    assert flood["search_errors"] == 0 and flood["chats"]["errors"] == 0
    assert flood["alone"]["search"]["requests"] > 0 and flood["flooded"]["search"]["requests"] > 0
    assert flood["chats"]["answered"]["requests"] > 0 and flood["chats"]["refused_429"] > 0
    md = (tmp_path / "serve.md").read_text()
    assert "## Load" in md and "## Chat flood" in md and flood["command"] in md


def test_bench_serve_load_compares_postgresql_with_sqlite(tmp_path: Path) -> None:
    pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")
    from tailored.bench.serve import serve

    for postgres in (False, True):
        serve(users=3, events=20, clients=2, seconds=2, embedder="hash", postgres=postgres, out=tmp_path)
    loads = json.loads((tmp_path / "serve.json").read_text())["loads"]
    assert set(loads) == {"sqlite-w1", "postgresql-w1"}
    for run in loads.values():
        assert run["errors"] == run["lost"] == run["duplicated"] == 0 and run["ops"]["search"]["requests"] > 0
    assert loads["postgresql-w1"]["command"].endswith("--workers 1 --postgres")
    md = (tmp_path / "serve.md").read_text()
    assert "| PostgreSQL | 1 |" in md and "| SQLite | 1 |" in md
    assert "- 1 worker(s): PostgreSQL serves **" in md
