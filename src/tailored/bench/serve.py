"""``tailored bench serve``: concurrent clients against a real ``tailored serve`` on loopback.

Setup (not timed): users x events synthetic events stored with vectors (texts drawn from
a pool embedded once), a tenant key, the server started as a subprocess. Then ``clients``
concurrent clients search and add for ``seconds``; every acknowledged add is checked to
be stored exactly once afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

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
from .common import machine, write_json
from .speed import synthetic_queries, synthetic_texts

console = Console()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _populate(db: Path, users: int, events: int, embedder: str, pool: int) -> str:
    emb = load_embedder(embedder)
    texts = synthetic_texts(pool, seed=7)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("embedding the text pool", total=1)
        vectors = emb.embed([embed_text("user", t) for t in texts])
        progress.advance(task)
        eng = Engine(db, tenant="bench", embedder=emb)
        rng = random.Random(3)
        task = progress.add_task("storing users", total=users)
        for u in range(users):
            picks = [rng.randrange(pool) for _ in range(events)]
            batch = [
                EventIn(user_id=f"user{u:04d}", role="user", text=texts[i], session_id=f"s{n // 20}")
                for n, i in enumerate(picks)
            ]
            eng.store.add_events("bench", batch, vectors[picks], emb.name)
            progress.advance(task)
        _, key = Keys(eng.store).create("bench", label="bench serve")
        eng.close()
    return key


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


def serve(
    users: Annotated[int, typer.Option(help="Users in the tenant.")] = 100,
    events: Annotated[int, typer.Option(help="Events per user.")] = 1000,
    clients: Annotated[int, typer.Option(help="Concurrent clients.")] = 8,
    seconds: Annotated[float, typer.Option(help="Duration of the load.")] = 30.0,
    add_share: Annotated[float, typer.Option(help="Share of requests that add an event.")] = 0.1,
    embedder: Annotated[str, typer.Option(help="Embedder name.")] = "minilm",
    workers: Annotated[int, typer.Option(help="Server processes (tailored serve --workers).")] = 1,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("docs/benchmarks"),
) -> None:
    """Requests/s and latency percentiles of the REST API under concurrent load."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serve.db"
        key = _populate(db, users, events, embedder, pool=min(4000, users * events))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TAILORED_DB": str(db)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tailored",
                "serve",
                "--port",
                str(port),
                "--embedder",
                embedder,
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
                for _ in range(600):
                    try:
                        c.get("/v1/health")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                with Progress(console=console, transient=True) as progress:
                    task = progress.add_task("loading every user's index", total=users)
                    for u in range(users):
                        c.post(f"/v1/users/user{u:04d}/search", json={"query": "warm up"}).raise_for_status()
                        progress.advance(task)
            with console.status(f"{clients} clients for {seconds:.0f} s..."):
                t0 = time.perf_counter()
                latencies, errors, acked = asyncio.run(_load(url, key, users, clients, seconds, add_share))
                elapsed = time.perf_counter() - t0
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        eng = Engine(db, tenant="bench", embedder="hash")
        stored = eng.store._read(
            "SELECT user_id || char(0) || source_id, count(*) FROM events WHERE tenant = 'bench'"
            " AND source_id IS NOT NULL GROUP BY 1"
        )
        eng.close()
    counts = dict(stored)
    lost = sum(1 for a in acked if counts.get(a, 0) == 0)
    duplicated = sum(1 for a in acked if counts.get(a, 0) > 1)
    results: dict[str, Any] = {
        "elapsed_s": elapsed,
        "errors": errors,
        "acked_adds": len(acked),
        "lost": lost,
        "duplicated": duplicated,
        "ops": {},
    }
    table = Table(
        "operation",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        title=f"{clients} clients, {users} users x {events} events, {seconds:.0f} s",
    )
    for kind, values in latencies.items():
        if not values:
            continue
        arr = np.array(values)
        row = {
            "requests": len(values),
            "per_s": len(values) / elapsed,
            "p50_ms": float(np.percentile(arr, 50)),
            "p95_ms": float(np.percentile(arr, 95)),
            "p99_ms": float(np.percentile(arr, 99)),
        }
        results["ops"][kind] = row
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
    )
    write_json(out / "serve.json", {"command": command, "machine": machine(), **results})
    lines = [
        "# Server load",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}",
        "",
        f"A real `tailored serve` (uvicorn, {workers} process(es)) on loopback; the clients run in another",
        "process on the same cores. Each search embeds its query with MiniLM (ONNX Runtime backend). Target: >= 200",
        "searches/s at p95 <= 100 ms with 8 clients over 100 users x 1,000 events; 0 errors.",
        "",
        "| operation | requests | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
        *[
            f"| {k} | {r['requests']} | {r['per_s']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} |"
            for k, r in results["ops"].items()
        ],
        "",
        f"Errors: {errors}. Acknowledged adds: {len(acked)}; lost: {lost}; stored more than once: {duplicated}.",
        "",
    ]
    (out / "serve.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"wrote {out / 'serve.md'}")
