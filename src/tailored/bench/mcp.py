"""``tailored bench mcp``: the MCP tools' latency against the same calls over REST.

One ``tailored serve`` subprocess on loopback serves one SQLite store holding one user with
``--events`` synthetic events (vectors computed at ingest). This process is the client:
REST through one keep-alive ``httpx`` client (``POST /v1/users/{u}/search`` and
``/context``), MCP through the SDK's own client over streamable HTTP at ``/mcp`` in one
connection (``search`` and ``get_context`` tools), both with the same tenant key and the
same queries. The calls alternate (REST search, MCP search, REST context, MCP context, in
an order shuffled per round), so both transports see the same load and caches; each call
is timed from the client, request to parsed answer, after ``--warmup`` rounds.
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from ..engine import Engine
from ..errors import InvalidInput, TailoredError
from ..keys import Keys
from .common import OutOpt, machine, progress_columns, write_json

console = Console()
USER = "ana"

TOPICS = [
    "cooking vegetarian curries",
    "hiking in the Alps",
    "my dog Rex",
    "learning Portuguese",
    "jazz records",
    "training for a half marathon",
    "growing tomatoes",
    "reading science fiction",
    "saving for a flat in Lisbon",
    "avoiding peanuts",
]
QUERIES = [
    "what does she cook for dinner?",
    "where does she like to hike?",
    "what is her dog called?",
    "which language is she learning?",
    "what music does she listen to?",
    "is she training for a race?",
    "what grows in her garden?",
    "what books does she read?",
    "where does she want to live?",
    "what is she allergic to?",
]


def _events(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    verbs = ["I love", "I tried", "Yesterday I was", "I keep thinking about", "I am planning", "I read about"]
    return [
        {
            "user_id": USER,
            "role": "user",
            "text": f"{rng.choice(verbs)} {rng.choice(TOPICS)} ({i})",
            "source_id": str(i),
        }
        for i in range(n)
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(_pct(ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(db: Path, port: int, embedder: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TAILORED_DB": str(db), "TAILORED_EMBEDDER": embedder}
    cmd = [sys.executable, "-m", "tailored", "serve", "--port", str(port), "--db", str(db), "--embedder", embedder]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TailoredError("tailored serve exited before it answered")
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TailoredError("tailored serve did not answer within 120 s")


async def _measure(url: str, key: str, rounds: int, warmup: int, seed: int, progress: Progress) -> dict[str, Any]:
    import httpx
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    rng = random.Random(seed)
    times: dict[str, list[float]] = {f"{t} {op}": [] for t in ("rest", "mcp") for op in ("search", "context")}
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as rest,
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http)) as mcp,
    ):

        async def rest_search(q: str) -> None:
            r = await rest.post(f"/v1/users/{USER}/search", json={"query": q, "k": 10})
            assert r.status_code == 200 and len(r.json()) == 10, r.text

        async def rest_context(q: str) -> None:
            r = await rest.post(f"/v1/users/{USER}/context", json={"query": q, "budget": 1000})
            assert r.status_code == 200 and r.json()["text"], r.text

        async def mcp_search(q: str) -> None:
            result = await mcp.call_tool("search", {"user": USER, "query": q, "k": 10})
            assert not result.is_error and len(result.structured_content["result"]) == 10, result.content

        async def mcp_context(q: str) -> None:
            result = await mcp.call_tool("get_context", {"user": USER, "query": q, "budget": 1000})
            assert not result.is_error and result.structured_content["text"], result.content

        calls: dict[str, Callable[[str], Awaitable[None]]] = {
            "rest search": rest_search,
            "mcp search": mcp_search,
            "rest context": rest_context,
            "mcp context": mcp_context,
        }
        task = progress.add_task("REST and MCP calls, alternating", total=(warmup + rounds) * len(calls))
        for i in range(warmup + rounds):
            order = list(calls)
            rng.shuffle(order)
            for name in order:
                # a query of its own for every call: the server keeps the last 32 query vectors,
                # so a repeated query would skip the embedding on one transport and not the other
                query = f"{QUERIES[i % len(QUERIES)]} {i * len(calls) + list(calls).index(name)}"
                started = time.perf_counter()
                await calls[name](query)
                if i >= warmup:
                    times[name].append((time.perf_counter() - started) * 1000)
                progress.advance(task)
        protocol = mcp.protocol_version
    return {"protocol_version": protocol, "times": times}


def _report(result: dict[str, Any], command: str) -> str:
    rows = result["results"]
    lines = [
        "# MCP tools vs REST: latency of the same calls",
        "",
        f"Command: `{command}`",
        "",
        f"One `tailored serve` process on loopback (SQLite, embedder `{result['embedder']}`), one user with "
        f"{result['events']:,} events; {result['rounds']} rounds after {result['warmup']} warm-up rounds, each round "
        "one call of each kind in a shuffled order, sequentially from one client process (REST: one keep-alive "
        "httpx client; MCP: the official SDK's client over streamable HTTP, protocol "
        f"{result['protocol_version']}, SDK {result['mcp_sdk']}). Times are client-side, request to parsed answer, "
        "each call with a query of its own, so every call embeds its query. The server does the same work for "
        "both (`Engine.search`, `Engine.context`); MCP's search answers compact hits (event id, text, kind, "
        "role, time, session, score), REST's also carry each retriever's score and rank and the payload. "
        "Machine: "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}, tailored "
        f"{result['machine']['tailored']}; 1-minute load average {result['load_before']} at the start and "
        f"{result['load_after']} at the end (above 2, other jobs shared the CPUs: the figures are then upper bounds).",
        "",
        "| call | REST p50 | MCP p50 | MCP - REST at p50 | REST p95 | MCP p95 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for op in ("search", "context"):
        r, m = rows[f"rest {op}"], rows[f"mcp {op}"]
        lines.append(
            f"| {op} | {r['p50_ms']:.2f} ms | {m['p50_ms']:.2f} ms | **{m['p50_ms'] - r['p50_ms']:+.2f} ms** | "
            f"{r['p95_ms']:.2f} ms | {m['p95_ms']:.2f} ms |"
        )
    gap = rows["mcp search"]["p50_ms"] - rows["rest search"]["p50_ms"]
    verdict = "met" if gap <= 5.0 else "not met"
    lines += ["", f"Target: MCP search within 5 ms of REST at p50: **{verdict}** ({gap:+.2f} ms).", ""]
    return "\n".join(lines)


def mcp(
    events: Annotated[int, typer.Option(help="Events of the one user.")] = 1000,
    rounds: Annotated[int, typer.Option(help="Measured rounds (each: one call of each kind).")] = 200,
    warmup: Annotated[int, typer.Option(help="Rounds run first and not counted.")] = 20,
    embedder: Annotated[str, typer.Option(help="Embedder of the store and the server (minilm, hash).")] = "minilm",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic events and the call order.")] = 0,
    out: OutOpt = Path("docs/benchmarks"),
) -> None:
    """MCP tool latency (search, context) over streamable HTTP vs the same calls over REST."""
    import importlib.metadata

    import anyio

    if events < 10 or rounds < 10 or warmup < 0:
        raise InvalidInput("--events and --rounds must be at least 10, --warmup at least 0")
    command = "tailored bench mcp" + "".join(
        f" --{k} {v}"
        for k, v, d in (("events", events, 1000), ("rounds", rounds, 200), ("warmup", warmup, 20), ("seed", seed, 0))
        if v != d
    )
    if embedder != "minilm":
        command += f" --embedder {embedder}"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with Engine(db, embedder=embedder) as eng:
            with console.status(f"storing {events} events with vectors"):
                eng.add(_events(events, seed))
            _, key = Keys(eng.store).create("default", label="bench mcp")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        load_before = round(os.getloadavg()[0], 2)
        proc = _serve(db, port, embedder)
        try:
            _wait_up(url, proc)
            with Progress(*progress_columns(), console=console) as progress:
                measured = anyio.run(_measure, url, key, rounds, warmup, seed, progress)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "command": command,
        "events": events,
        "rounds": rounds,
        "warmup": warmup,
        "embedder": embedder,
        "seed": seed,
        "mcp_sdk": importlib.metadata.version("mcp"),
        "protocol_version": measured["protocol_version"],
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "machine": machine(),
        "results": {name: _summary(ms) for name, ms in measured["times"].items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "mcp.json", result)
    report = _report(result, command)
    (out / "mcp.md").write_text(report, encoding="utf-8")
    console.print(report)
