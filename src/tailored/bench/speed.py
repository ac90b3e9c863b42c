"""Speed benchmarks on synthetic events: ingest throughput and search latency.

``tailored bench ingest`` compares the engine's ingest rate with the embedding model's own
rate measured in the same run (the model is the bound), and measures ingest with vectors
supplied or deferred. ``tailored bench latency`` measures search latency, query embedding
included, for one user with many events.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..embed import load_embedder
from ..engine import Engine
from ..retrieve.index import embed_text
from ..types import EventIn
from .common import local_postgres, machine, write_json

console = Console()

_SUBJECTS = "I|my sister|my partner|our team|my neighbour|my son|my doctor|my friend Sam|my boss|we".split("|")
_VERBS = "love|hate|tried|booked|cooked|read|watched|bought|visited|planned|cancelled|recommended".split("|")
_OBJECTS = (
    "a vegan lasagna|the new jazz album|a trip to Lisbon|hiking boots|a sci-fi novel|the science museum|"
    "a road bike|sushi downtown|a yoga class|the football final|a cabin in the mountains|spicy ramen|"
    "a pottery workshop|the opera|a used car|green tea|a chess tournament|a beach holiday|an electric guitar|"
    "a podcast about history|running shoes|a birthday cake|the farmers market|a documentary on whales"
).split("|")
_WHEN = "yesterday|last week|this morning|on Sunday|in March|twice this month|after work|on holiday".split("|")


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)}"
        f" ({rng.randint(1, 999)})"
        for _ in range(n)
    ]


def synthetic_queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    forms = ["what did they say about {o}?", "did I ever mention {o}", "{o} {w}", "who {v} {o}?"]
    return [
        rng.choice(forms).format(o=rng.choice(_OBJECTS), w=rng.choice(_WHEN), v=rng.choice(_VERBS)) for _ in range(n)
    ]


def _events(user: str, texts: list[str]) -> list[EventIn]:
    return [EventIn(user_id=user, role="user", text=t, session_id=f"s{i // 20}") for i, t in enumerate(texts)]


TARGET_P95_MS = 10.0  # hybrid search, one user with 10,000 events, query embedding included


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def _timed(call: Callable[..., object], *args: object, **kwargs: object) -> float:
    """Milliseconds one call takes."""
    start = time.perf_counter()
    call(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def _timings(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95), "p99_ms": _pct(ms, 99), "mean_ms": statistics.fmean(ms)}


def ingest(
    events: Annotated[int, typer.Option(help="Events per measurement.")] = 2000,
    batch: Annotated[int, typer.Option("--batch-size", help="Events per add() call.")] = 256,
    embedder: Annotated[str, typer.Option(help="Embedder name.")] = "minilm",
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Store into a throwaway PostgreSQL (pgserver) instead of SQLite.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("docs/benchmarks"),
) -> None:
    """Ingest throughput: embedded, vectors supplied, deferred; beside the model's own rate.
    With ``--postgres`` the report is ``ingest-postgresql.md``."""
    emb = load_embedder(embedder)
    texts = synthetic_texts(events)
    emb.embed(texts[:64])  # warm-up
    results: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        _store_url(postgres) as pg_url,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task("model alone", total=4)
        t = time.perf_counter()
        vectors = emb.embed([embed_text("user", x) for x in texts])
        results["model_sentences_per_s"] = events / (time.perf_counter() - t)
        progress.advance(task)

        def run(name: str, user: str, **kwargs: Any) -> None:
            progress.update(task, description=name)
            eng = Engine(pg_url or Path(tmp) / f"{name}.db", embedder=emb)
            evs = _events(user, texts)
            t0 = time.perf_counter()
            for i in range(0, events, batch):
                if "vectors" in kwargs:
                    eng.store.add_events(eng.tenant, evs[i : i + batch], vectors[i : i + batch], emb.name)
                else:
                    eng.add(evs[i : i + batch], **kwargs)
            results[f"{name}_events_per_s"] = events / (time.perf_counter() - t0)
            eng.close()
            progress.advance(task)

        run("embedded", "u1", embed=True)
        run("vectors_supplied", "u2", vectors=True)
        run("deferred", "u3", embed=False)
    results["embedded_vs_model"] = results["embedded_events_per_s"] / results["model_sentences_per_s"]
    table = Table("measure", "value", title=f"ingest, {events} events, batches of {batch}")
    for k, v in results.items():
        table.add_row(k, f"{v:.2f}" if k.endswith("model") else f"{v:,.0f}")
    console.print(table)
    command = f"tailored bench ingest --events {events} --batch-size {batch} --embedder {embedder}"
    name = "ingest"
    if postgres:
        command += " --postgres"
        name = "ingest-postgresql"
    write_json(out / f"{name}.json", {"command": command, "machine": machine(), "results": results})
    lines = [
        "# Ingest throughput" + (" on PostgreSQL (pgserver, default settings, same machine)" if postgres else ""),
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}",
        "",
        "| measure | value |",
        "| --- | --- |",
        *[f"| {k} | {v:.2f} |" if k.endswith("model") else f"| {k} | {v:,.0f} |" for k, v in results.items()],
        "",
        "`model_sentences_per_s` is the embedding model alone on the same texts in the same run;",
        "`embedded` is `Engine.add` embedding and storing (one transaction per batch);",
        "`vectors_supplied` stores precomputed vectors; `deferred` stores without vectors",
        "(they are computed at the user's first search). Targets: embedded >= 0.8 x model,",
        "supplied and deferred >= 5,000 events/s.",
        "",
    ]
    (out / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"wrote {out / f'{name}.md'}")


@contextmanager
def _store_url(postgres: bool) -> Iterator[str | None]:
    """A throwaway PostgreSQL database's URL, or None for SQLite files."""
    if not postgres:
        yield None
        return
    with local_postgres() as url:
        yield url


def latency(
    events: Annotated[int, typer.Option(help="Events of the one user searched.")] = 10_000,
    queries: Annotated[int, typer.Option(help="Timed searches per mode.")] = 200,
    k: Annotated[int, typer.Option("-k", help="Hits per search.")] = 10,
    embedder: Annotated[str, typer.Option(help="Embedder name.")] = "minilm",
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("docs/benchmarks"),
) -> None:
    """Search latency for one user with many events, query embedding included."""
    emb = load_embedder(embedder)
    texts = synthetic_texts(events)
    qs = synthetic_queries(queries)
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        eng = Engine(Path(tmp) / "latency.db", embedder=emb)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("embedding and storing events", total=events)
            for i in range(0, events, 512):
                eng.add(_events("u", texts[i : i + 512]))
                progress.advance(task, min(512, events - i))
            t = time.perf_counter()
            eng.search("u", "warm up the user index")
            cold_ms = (time.perf_counter() - t) * 1000
            for mode in ("hybrid", "bm25", "dense"):
                task = progress.add_task(f"searching ({mode})", total=len(qs))
                times = []
                for q in qs:
                    times.append(_timed(eng.search, "u", q, k=k, mode=mode))
                    progress.advance(task)
                rows[mode] = _timings(times)
        eng.close()
    embed = _timings([_timed(emb.embed_one, q) for q in qs])  # the model's share of every search
    embed_ms = embed["mean_ms"]
    load = os.getloadavg()[0]
    table = Table("mode", "p50 ms", "p95 ms", "p99 ms", title=f"search latency, one user with {events:,} events")
    for mode, r in rows.items():
        table.add_row(mode, f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}")
    table.add_row("query embedding alone", f"{embed['p50_ms']:.1f}", f"{embed['p95_ms']:.1f}", f"{embed['p99_ms']:.1f}")
    console.print(table)
    console.print(f"first search (index load): {cold_ms:.0f} ms; query embedding alone: {embed_ms:.1f} ms")
    command = f"tailored bench latency --events {events} --queries {queries} -k {k} --embedder {embedder}"
    write_json(
        out / "latency.json",
        {
            "command": command,
            "machine": machine(),
            "modes": rows,
            "cold_ms": cold_ms,
            "embed_ms": embed_ms,
            "embed": embed,
            "load_average_1m": load,
            "target_hybrid_p95_ms": TARGET_P95_MS,
        },
    )
    lines = [
        "# Search latency",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}",
        "",
        f"One user with {events:,} synthetic events (vectors stored), {queries} synthetic queries per mode,",
        f"wall time of `Engine.search` including the query embedding. Target: hybrid p95 <= {TARGET_P95_MS:g} ms.",
        "",
        "| mode | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- |",
        *[f"| {m} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} |" for m, r in rows.items()],
        f"| query embedding alone, no search | {embed['p50_ms']:.1f} | {embed['p95_ms']:.1f} | {embed['p99_ms']:.1f} |",
        "",
        f"First search for the user (loads its vectors and indexes its words in memory): {cold_ms:.0f} ms.",
        f"The machine's 1-minute load average at the end was {load:.1f} on {os.cpu_count()} CPUs;",
        "other jobs running at the same time slow every timing above.",
        "",
    ]
    (out / "latency.md").write_text("\n".join(lines), encoding="utf-8")
    console.print(f"wrote {out / 'latency.md'}")
