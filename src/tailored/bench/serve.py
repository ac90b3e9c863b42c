"""``tailored bench serve``: concurrent clients against a real ``tailored serve`` on loopback.

Two scenarios, each with its section in ``serve.md`` and its key in ``serve.json``:

- ``load`` (default). Setup (not timed): users x events synthetic events stored with vectors
  (texts drawn from a pool embedded once), a tenant key, the server started as a
  subprocess. Then ``clients`` concurrent clients search and add for ``seconds``; every
  acknowledged add is checked to be stored exactly once afterwards.
- ``chat-flood``. One tenant floods ``/v1/chat/completions`` while another searches. The
  server's chat model is ``FakeOpenAI``, an OpenAI-compatible server on loopback (its own
  process) that answers after a fixed delay, so the flood costs the server what waiting for
  a real model costs and no CPU of its own. Searches run alone first, then with the flood;
  the report compares their p95 (target: within 2x), and ``/v1/health``'s.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..embed import load_embedder
from ..engine import Engine
from ..keys import Keys
from ..retrieve.index import embed_text
from ..types import EventIn
from .common import local_postgres, machine, write_json
from .speed import synthetic_queries, synthetic_texts

console = Console()
Backend = Literal["sqlite", "postgresql"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a fake OpenAI-compatible upstream -----------------------------------------------------


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` (plain or streamed) and ``GET /v1/models``."""

    server: _UpstreamServer

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {"error": {"message": "not found"}})
            return
        self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "x"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        up = self.server
        with up.lock:
            up.requests += 1
        time.sleep(up.delay)
        if body.get("stream"):
            self._stream(up)
            return
        words = max(1, len(up.answer.split()))
        self._send(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": up.answer}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words},
            },
        )
        with up.lock:
            up.answered += 1

    def _stream(self, up: _UpstreamServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        sent = 0
        try:
            for n in range(up.chunks):
                delta = {"content": up.answer if n == 0 else up.chunk_text}
                event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
                event["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                sent += 1
                time.sleep(up.chunk_delay)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except OSError:  # the reader went away
            with up.lock:
                up.aborted += 1
                up.chunks_sent.append(sent)
            return
        with up.lock:
            up.answered += 1
            up.chunks_sent.append(sent)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _UpstreamServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, delay: float, answer: str, chunks: int, chunk_text: str, chunk_delay: float) -> None:
        super().__init__(("127.0.0.1", port), _UpstreamHandler)
        self.delay, self.answer, self.chunks = delay, answer, chunks
        self.chunk_text, self.chunk_delay = chunk_text, chunk_delay
        self.lock = threading.Lock()
        self.requests = 0
        self.answered = 0
        self.aborted = 0
        self.chunks_sent: list[int] = []


class FakeOpenAI:
    """A real OpenAI-compatible chat server on loopback that answers after ``delay`` seconds.

    It stands in for a model server (vLLM, llama.cpp's server, a hosted API) where what
    matters is the wait, not the words: a plain request gets ``answer``; a streamed one gets
    ``answer`` then ``chunks - 1`` more chunks of ``chunk_text``, ``chunk_delay`` apart.
    ``requests``, ``answered`` and ``aborted`` (streams whose reader left) count what it saw.

    Examples
    --------
    >>> with FakeOpenAI(delay=0.0) as up:  # doctest: +SKIP
    ...     OpenAIChatModel("fake", base_url=up.url).generate([{"role": "user", "content": "hi"}]).text
    'Hello from the fake upstream.'
    """

    def __init__(
        self,
        delay: float = 0.4,
        *,
        answer: str = "Hello from the fake upstream.",
        chunks: int = 4,
        chunk_text: str = " more",
        chunk_delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self._server = _UpstreamServer(port, delay, answer, max(1, chunks), chunk_text, chunk_delay)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The API root to give an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return self._server.requests

    @property
    def answered(self) -> int:
        return self._server.answered

    @property
    def aborted(self) -> int:
        return self._server.aborted

    @property
    def chunks_sent(self) -> list[int]:
        return list(self._server.chunks_sent)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def run_fake_openai(port: int, delay: float) -> None:
    """Serve ``FakeOpenAI`` on ``port`` until killed (the bench runs it as its own process)."""
    with FakeOpenAI(delay, port=port):
        threading.Event().wait()


# -- setup ---------------------------------------------------------------------------------


def _populate(db: str | Path, users: int, events: int, embedder: str, pool: int, tenant: str = "bench") -> str:
    emb = load_embedder(embedder)
    texts = synthetic_texts(pool, seed=7)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("embedding the text pool", total=1)
        vectors = emb.embed([embed_text("user", t) for t in texts])
        progress.advance(task)
        eng = Engine(db, tenant=tenant, embedder=emb)
        rng = random.Random(3)
        task = progress.add_task("storing users", total=users)
        for u in range(users):
            picks = [rng.randrange(pool) for _ in range(events)]
            batch = [
                EventIn(user_id=f"user{u:04d}", role="user", text=texts[i], session_id=f"s{n // 20}")
                for n, i in enumerate(picks)
            ]
            eng.store.add_events(tenant, batch, vectors[picks], emb.name)
            progress.advance(task)
        _, key = Keys(eng.store).create(tenant, label="bench serve")
        eng.close()
    return key


@contextmanager
def _server(
    db: str | Path, logs: Path, embedder: str, workers: int, extra: list[str], env: dict[str, str]
) -> Iterator[str]:
    """A ``tailored serve`` subprocess on a free port; its URL once it answers. Its output
    goes to ``server.log`` in ``logs``, shown if it does not start."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tailored", "serve", "--port", str(port), "--embedder", embedder]
    command += ["--workers", str(workers), *extra]
    log_path = logs / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, env={**os.environ, "TAILORED_DB": str(db), **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            for _ in range(600):
                if proc.poll() is not None:
                    break
                try:
                    httpx.get(url + "/v1/health", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"tailored serve exited with {proc.returncode}:\n{tail}")
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _warm(url: str, key: str, users: int) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("loading every user's index", total=users)
            for u in range(users):
                c.post(f"/v1/users/user{u:04d}/search", json={"query": "warm up"}).raise_for_status()
                progress.advance(task)


def _percentiles(values: list[float], elapsed: float) -> dict[str, float]:
    arr = np.array(values) if values else np.array([float("nan")])
    return {
        "requests": len(values),
        "per_s": len(values) / elapsed if elapsed else 0.0,
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "p99_ms": float(np.percentile(arr, 99)),
    }


# -- scenario: load --------------------------------------------------------------------------


async def _load(
    url: str, key: str, users: int, clients: int, seconds: float, add_share: float
) -> tuple[dict[str, list[float]], int, list[str]]:
    latencies: dict[str, list[float]] = {"search": [], "add": []}
    errors = 0
    acked: list[str] = []
    queries = synthetic_queries(2000, seed=11)
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(100 + n)
        counter = 0
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            while time.perf_counter() < deadline:
                user = f"user{rng.randrange(users):04d}"
                if rng.random() < add_share:
                    counter += 1
                    source = f"c{n}-{counter}"
                    body: dict[str, Any] = {
                        "events": [{"user_id": user, "role": "user", "text": rng.choice(queries), "source_id": source}]
                    }
                    t = time.perf_counter()
                    r = await c.post("/v1/events", json=body)
                    kind = "add"
                    if r.status_code == 200:
                        acked.append(f"{user}\x00{source}")
                else:
                    t = time.perf_counter()
                    r = await c.post(f"/v1/users/{user}/search", json={"query": rng.choice(queries), "k": 10})
                    kind = "search"
                latencies[kind].append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    errors += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies, errors, acked


def _stored_sources(eng: Engine) -> Counter[str]:
    """How often each (user, source id) is stored: an acknowledged add must be there once."""
    counts: Counter[str] = Counter()
    for user in eng.users(limit=100_000):
        after = 0
        while page := eng.events(user.user_id, limit=10_000, after_id=after):
            counts.update(f"{e.user_id}\x00{e.source_id}" for e in page if e.source_id is not None)
            after = page[-1].id
    return counts


@contextmanager
def _store(backend: Backend, tmp: Path) -> Iterator[str]:
    """A fresh, empty store of the backend: a SQLite file in ``tmp``, or a database on a
    throwaway PostgreSQL (pgserver) that is deleted afterwards."""
    if backend == "sqlite":
        yield str(tmp / "serve.db")
    else:
        with local_postgres() as url:
            yield url


def _run_load(
    users: int,
    events: int,
    clients: int,
    seconds: float,
    add_share: float,
    embedder: str,
    workers: int,
    backend: Backend,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _store(backend, Path(tmp)) as db:
        key = _populate(db, users, events, embedder, pool=min(4000, users * events))
        with _server(db, Path(tmp), embedder, workers, [], {}) as url:
            _warm(url, key, users)
            load_before = os.getloadavg()[0]
            with console.status(f"{clients} clients for {seconds:.0f} s..."):
                t0 = time.perf_counter()
                latencies, errors, acked = asyncio.run(_load(url, key, users, clients, seconds, add_share))
                elapsed = time.perf_counter() - t0
        with Engine(db, tenant="bench", embedder="hash") as eng:
            counts = _stored_sources(eng)
    lost = sum(1 for a in acked if counts.get(a, 0) == 0)
    duplicated = sum(1 for a in acked if counts.get(a, 0) > 1)
    ops = {kind: _percentiles(values, elapsed) for kind, values in latencies.items() if values}
    table = Table(
        "operation",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        title=f"{clients} clients, {users} users x {events} events, {seconds:.0f} s",
    )
    for kind, row in ops.items():
        table.add_row(
            kind,
            str(row["requests"]),
            f"{row['per_s']:.0f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
        )
    console.print(table)
    console.print(f"errors: {errors}; acknowledged adds: {len(acked)}, lost: {lost}, stored twice: {duplicated}")
    command = (
        f"tailored bench serve --users {users} --events {events} --clients {clients} "
        f"--seconds {seconds:g} --add-share {add_share:g} --embedder {embedder} --workers {workers}"
        + (" --postgres" if backend == "postgresql" else "")
    )
    return {
        "command": command,
        "machine": machine(),
        "backend": backend,
        "workers": workers,
        "load_before": load_before,
        "elapsed_s": elapsed,
        "errors": errors,
        "acked_adds": len(acked),
        "lost": lost,
        "duplicated": duplicated,
        "ops": ops,
    }


def _run_key(r: dict[str, Any]) -> str:
    return f"{r.get('backend', 'sqlite')}-w{r.get('workers', 1)}"


def _load_row(r: dict[str, Any]) -> str:
    search, add = r["ops"].get("search"), r["ops"].get("add")
    cells = [
        "PostgreSQL" if r.get("backend") == "postgresql" else "SQLite",
        str(r.get("workers", 1)),
        f"{search['per_s']:.0f}" if search else "-",
        *(f"{search[p]:.1f}" if search else "-" for p in ("p50_ms", "p95_ms", "p99_ms")),
        f"{add['per_s']:.0f}" if add else "-",
        f"{add['p95_ms']:.1f}" if add else "-",
        f"{r['errors']} / {r['lost']} / {r['duplicated']}",
        f"{r['load_before']:.1f}" if "load_before" in r else "-",
        f"`{r['command']}`",
    ]
    return "| " + " | ".join(cells) + " |"


def _comparisons(loads: dict[str, dict[str, Any]]) -> list[str]:
    """PostgreSQL against SQLite at the same worker count (target: within 25%)."""
    lines = []
    for key, pg in sorted(loads.items()):
        lite = loads.get(key.replace("postgresql", "sqlite"))
        if not key.startswith("postgresql") or lite is None:
            continue
        rate = pg["ops"]["search"]["per_s"] / lite["ops"]["search"]["per_s"]
        p95 = pg["ops"]["search"]["p95_ms"] / lite["ops"]["search"]["p95_ms"]
        met = rate >= 0.75 and p95 <= 1.25
        lines.append(
            f"- {pg['workers']} worker(s): PostgreSQL serves **{rate:.2f}x** SQLite's searches/s at "
            f"**{p95:.2f}x** its p95: {'within' if met else 'not within'} 25%."
        )
    return lines


def _load_section(loads: dict[str, dict[str, Any]]) -> list[str]:
    first = next(iter(loads.values()))
    return [
        "## Load: searches and adds",
        "",
        f"Machine: {first['machine']}",
        "",
        "A real `tailored serve` (uvicorn, `--workers` processes) on loopback; the clients run in another",
        "process on the same cores. Each search embeds its query with MiniLM (ONNX Runtime backend). Target: >= 200",
        "searches/s at p95 <= 100 ms with 8 clients over 100 users x 1,000 events; 0 errors. On PostgreSQL",
        "(`--postgres`: a throwaway pgserver, PostgreSQL 16 with pgvector, default settings, on the same",
        "machine) served searches within 25% of SQLite's. Each run's command is in its row; the load",
        "average is the machine's one-minute load just before the clients start (other work on the",
        "two cores shows there).",
        "",
        "| store | workers | searches/s | search p50 ms | p95 ms | p99 ms | adds/s | add p95 ms"
        " | errors / lost / duplicated | load avg | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[_load_row(r) for _, r in sorted(loads.items())],
        "",
        *_comparisons(loads),
        "",
    ]


# -- scenario: chat flood ------------------------------------------------------------------


async def _searches(url: str, key: str, users: int, clients: int, seconds: float, sink: list[float]) -> int:
    """``clients`` loops searching tenant A's users for ``seconds``; latencies into ``sink``."""
    queries = synthetic_queries(2000, seed=11)
    deadline = time.perf_counter() + seconds
    errors = 0

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(200 + n)
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            while time.perf_counter() < deadline:
                user = f"user{rng.randrange(users):04d}"
                t = time.perf_counter()
                r = await c.post(f"/v1/users/{user}/search", json={"query": rng.choice(queries), "k": 10})
                sink.append((time.perf_counter() - t) * 1000)
                errors += r.status_code != 200

    await asyncio.gather(*(client(n) for n in range(clients)))
    return errors


async def _health(url: str, seconds: float, sink: list[float]) -> None:
    """One probe of ``/v1/health`` every 100 ms."""
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            await c.get("/v1/health")
            sink.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.1)


async def _flood(url: str, key: str, clients: int, seconds: float, stats: dict[str, Any]) -> None:
    """``clients`` loops of tenant B asking for chat answers; on 429 each waits as long as
    ``Retry-After`` says (what the openai client does), then asks again."""
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:

        async def client(n: int) -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = await c.post(
                    "/v1/chat/completions",
                    json={"user": f"flooder{n % 4}", "messages": [{"role": "user", "content": f"question {n}?"}]},
                )
                took = (time.perf_counter() - t) * 1000
                if r.status_code == 200:
                    stats["answered_ms"].append(took)
                elif r.status_code == 429:
                    stats["refused"] += 1
                    wait = float(r.headers.get("Retry-After", "1"))
                    await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))
                else:
                    stats["errors"] += 1

        await asyncio.gather(*(client(n) for n in range(clients)))


async def _flood_phases(
    url: str, key_a: str, key_b: str, users: int, search_clients: int, flood_clients: int, seconds: float
) -> dict[str, Any]:
    alone: dict[str, list[float]] = {"search": [], "health": []}
    t0 = time.perf_counter()
    errors_alone, _ = await asyncio.gather(
        _searches(url, key_a, users, search_clients, seconds, alone["search"]),
        _health(url, seconds, alone["health"]),
    )
    elapsed_alone = time.perf_counter() - t0
    flooded: dict[str, list[float]] = {"search": [], "health": []}
    chats: dict[str, Any] = {"answered_ms": [], "refused": 0, "errors": 0}
    t0 = time.perf_counter()
    errors_flooded, _, _ = await asyncio.gather(
        _searches(url, key_a, users, search_clients, seconds, flooded["search"]),
        _health(url, seconds, flooded["health"]),
        _flood(url, key_b, flood_clients, seconds, chats),
    )
    elapsed_flooded = time.perf_counter() - t0
    return {
        "alone": {k: _percentiles(v, elapsed_alone) for k, v in alone.items()},
        "flooded": {k: _percentiles(v, elapsed_flooded) for k, v in flooded.items()},
        "search_errors": errors_alone + errors_flooded,
        "chats": {
            "answered": _percentiles(chats["answered_ms"], elapsed_flooded),
            "refused_429": chats["refused"],
            "errors": chats["errors"],
        },
    }


def _run_flood(
    users: int,
    events: int,
    search_clients: int,
    flood_clients: int,
    seconds: float,
    upstream_delay: float,
    embedder: str,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serve.db"
        key_a = _populate(db, users, events, embedder, pool=min(4000, users * events), tenant="bench")
        with Engine(db, tenant="flood", embedder=embedder) as eng:
            eng.add([{"user_id": f"flooder{n}", "text": f"I like topic {n}"} for n in range(4)])
            _, key_b = Keys(eng.store).create("flood", label="bench serve flood")
        port = _free_port()
        upstream = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from tailored.bench.serve import run_fake_openai; run_fake_openai({port}, {upstream_delay!r})",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            env = {"TAILORED_OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "TAILORED_OPENAI_API_KEY": "none"}
            with _server(db, Path(tmp), embedder, 1, ["--model", "openai:fake"], env) as url:
                _warm(url, key_a, users)
                with console.status(f"searches alone, then with {flood_clients} chat clients, {seconds:.0f} s each..."):
                    result = asyncio.run(
                        _flood_phases(url, key_a, key_b, users, search_clients, flood_clients, seconds)
                    )
        finally:
            upstream.terminate()
            upstream.wait(timeout=30)
    ratio = result["flooded"]["search"]["p95_ms"] / result["alone"]["search"]["p95_ms"]
    command = (
        f"tailored bench serve --scenario chat-flood --users {users} --events {events} "
        f"--search-clients {search_clients} --flood-clients {flood_clients} --seconds {seconds:g} "
        f"--upstream-delay {upstream_delay:g} --embedder {embedder}"
    )
    table = Table("phase", "what", "requests", "p50 ms", "p95 ms", "p99 ms", title="chat flood")
    for phase in ("alone", "flooded"):
        for what, row in result[phase].items():
            table.add_row(
                phase,
                what,
                str(row["requests"]),
                f"{row['p50_ms']:.1f}",
                f"{row['p95_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
            )
    console.print(table)
    chats = result["chats"]
    console.print(
        f"search p95 flooded / alone: {ratio:.2f} (target <= 2); chats answered {chats['answered']['requests']}, "
        f"refused with 429: {chats['refused_429']}, errors: {chats['errors']}; search errors: {result['search_errors']}"
    )
    return {"command": command, "machine": machine(), "search_p95_ratio": ratio, **result}


def _flood_section(r: dict[str, Any]) -> list[str]:
    rows = [
        f"| {phase} | {what} | {o['requests']} | {o['p50_ms']:.1f} | {o['p95_ms']:.1f} | {o['p99_ms']:.1f} |"
        for phase in ("alone", "flooded")
        for what, o in r[phase].items()
    ]
    chats = r["chats"]
    answered = chats["answered"]
    return [
        "## Chat flood: one tenant's chats against another tenant's searches",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {r['machine']}",
        "",
        "Tenant A searches; its searches run alone first, then for as long again while tenant B",
        "floods `/v1/chat/completions`. The server's model is an OpenAI-compatible server on",
        "loopback (its own process) that answers after a fixed delay. Chat clients that get 429",
        "wait as long as its `Retry-After` says, as the openai client does. A probe reads",
        "`/v1/health` every 100 ms. Target: tenant A's search p95 under the flood within 2x of",
        "its p95 alone.",
        "",
        "| phase | what | requests | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Search p95 flooded / alone: **{r['search_p95_ratio']:.2f}**. Search errors: {r['search_errors']}.",
        f"Chats answered: {answered['requests']} (p50 {answered['p50_ms']:.0f} ms, p95 {answered['p95_ms']:.0f} ms); "
        f"refused with 429: {chats['refused_429']}; other errors: {chats['errors']}.",
        "",
    ]


# -- the command ---------------------------------------------------------------------------


def _write_report(out: Path, name: str, result: dict[str, Any]) -> None:
    """Update this scenario's part of ``serve.json`` and rewrite ``serve.md`` from all parts."""
    path = out / "serve.json"
    report: dict[str, Any] = {}
    if path.exists():
        report = json.loads(path.read_text(encoding="utf-8"))
        if "command" in report:  # the single-scenario layout of earlier reports
            report = {"load": report}
        if "load" in report:  # one load run, before runs were kept per store and workers
            report["loads"] = {_run_key(report["load"]): report.pop("load")}
    if name == "load":
        report.setdefault("loads", {})[_run_key(result)] = result
    else:
        report[name] = result
    write_json(path, report)
    lines = ["# Server", ""]
    if report.get("loads"):
        lines += _load_section(report["loads"])
    if "chat_flood" in report:
        lines += _flood_section(report["chat_flood"])
    (out / "serve.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"wrote {out / 'serve.md'}")


def serve(
    scenario: Annotated[
        Literal["load", "chat-flood"], typer.Option(help="load: searches and adds; chat-flood: see the module doc.")
    ] = "load",
    users: Annotated[int, typer.Option(help="Users in the (searched) tenant.")] = 100,
    events: Annotated[int, typer.Option(help="Events per user.")] = 1000,
    clients: Annotated[int, typer.Option(help="Concurrent clients (load).")] = 8,
    seconds: Annotated[float, typer.Option(help="Duration of the load (of each phase for chat-flood).")] = 30.0,
    add_share: Annotated[float, typer.Option(help="Share of requests that add an event (load).")] = 0.1,
    search_clients: Annotated[int, typer.Option(help="Tenant A's concurrent searchers (chat-flood).")] = 2,
    flood_clients: Annotated[int, typer.Option(help="Tenant B's concurrent chat clients (chat-flood).")] = 60,
    upstream_delay: Annotated[float, typer.Option(help="Seconds the fake model takes per answer (chat-flood).")] = 0.4,
    embedder: Annotated[str, typer.Option(help="Embedder name.")] = "minilm",
    workers: Annotated[int, typer.Option(help="Server processes (tailored serve --workers; load).")] = 1,
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Serve from a throwaway PostgreSQL (pgserver) instead of SQLite (load).")
    ] = False,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("docs/benchmarks"),
) -> None:
    """Requests/s and latency percentiles of the REST API under concurrent load, or one
    tenant's search latency while another floods the chat endpoint."""
    if scenario == "load":
        backend: Backend = "postgresql" if postgres else "sqlite"
        result = _run_load(users, events, clients, seconds, add_share, embedder, workers, backend)
        _write_report(out, "load", result)
    else:
        result = _run_flood(users, events, search_clients, flood_clients, seconds, upstream_delay, embedder)
        _write_report(out, "chat_flood", result)
