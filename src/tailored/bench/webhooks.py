"""``tailored bench webhooks``: how soon and how fast memory changes reach a receiver.

The receiver is a plain ``http.server`` in a subprocess on loopback (so that it does not
share the sender's interpreter), answering 200 at once and writing down when each event
arrived. The sender is what ``tailored serve`` runs: a ``DeliveryWorker`` thread with the
server's defaults (batch 32, 8 sends at once, 10 s timeout), polling at ``--poll``.

- **latency**: changes are made one at a time at ``--rate`` per second (``Engine.remember``,
  each its own transaction); each one's latency is from the moment its commit returned to
  the moment the receiver read the POST. An idle worker looks every ``poll`` seconds, so
  about half a poll is waiting; the rest is claiming, signing, sending and recording;
- **throughput**: ``--backlog`` changes are queued with the worker stopped (as after a
  receiver outage or a restart), then the worker is started; deliveries per second is the
  backlog over the time until the receiver had them all.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from ..engine import Engine
from ..errors import InvalidInput, TailoredError
from ..testing import HashEmbedder
from ..webhooks import Deliverer, DeliveryWorker, Webhooks
from .common import OutOpt, local_postgres, machine, progress_columns, write_json

console = Console()
TENANT = "bench"

RECEIVER = r"""
import sys, time, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[1], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        data = json.loads(body)
        memory = data.get("data", {}).get("memory", {})
        out.write(f"{data['id']}\t{memory.get('key', '')}\t{at}\n")
    def log_message(self, *a):
        pass
class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops concurrent connects: each waits a 1 s SYN retry
server = Server(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Receiver:
    """The receiver subprocess and what it wrote down: event key -> arrival time."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "received.tsv"
        self.log.touch()
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.log)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/hook"

    def arrivals(self) -> dict[str, float]:
        rows = [line.split("\t") for line in self.log.read_text().splitlines() if line.count("\t") == 2]
        return {key: float(at) for _, key, at in rows}

    def wait_for(self, keys: set[str], timeout_s: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.arrivals()
            if keys <= got.keys() or time.monotonic() > deadline:
                return got
            time.sleep(0.02)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _worker(engine: Engine, poll_s: float) -> DeliveryWorker:
    worker = DeliveryWorker(Deliverer(engine.store, allow_private=True), poll_s=poll_s)
    worker.start()
    return worker


def _latency(engine: Engine, rx: Receiver, n: int, rate: float, poll_s: float, progress: Progress) -> dict[str, Any]:
    committed: dict[str, float] = {}
    worker = _worker(engine, poll_s)
    task = progress.add_task(f"latency, poll {poll_s:g} s", total=n)
    try:
        for i in range(n):
            key = f"lat{poll_s:g}-{i}"
            engine.remember("ana", {"kind": "fact", "key": key, "value": f"value {i}"})
            committed[key] = time.time()
            progress.advance(task)
            time.sleep(max(0.0, 1.0 / rate - 0.001))
        got = rx.wait_for(set(committed), timeout_s=60)
    finally:
        worker.stop()
    ms = [(got[k] - t) * 1000 for k, t in committed.items() if k in got]
    return {
        "poll_s": poll_s,
        "changes": n,
        "rate_per_s": rate,
        "delivered": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(_pct(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
    }


def _throughput(engine: Engine, rx: Receiver, n: int, poll_s: float, progress: Progress) -> dict[str, Any]:
    task = progress.add_task("throughput: queue the backlog", total=n)
    keys = set()
    for i in range(n):
        key = f"bulk-{i}"
        engine.remember("bo", {"kind": "fact", "key": key, "value": f"value {i}"})
        keys.add(key)
        progress.advance(task)
    send = progress.add_task("throughput: deliver it", total=n)
    t0 = time.time()
    worker = _worker(engine, poll_s)
    try:
        while True:
            got = {k: v for k, v in rx.arrivals().items() if k in keys}
            progress.update(send, completed=len(got))
            if len(got) == n or time.time() - t0 > 300:
                break
            time.sleep(0.05)
    finally:
        worker.stop()
    seconds = max(got.values()) - t0 if got else float("nan")
    return {"backlog": n, "delivered": len(got), "seconds": round(seconds, 2), "per_s": round(len(got) / seconds, 1)}


def webhooks(
    out: OutOpt = Path("docs/benchmarks"),
    changes: Annotated[int, typer.Option(help="Changes made one at a time for the latency runs.")] = 200,
    rate: Annotated[float, typer.Option(help="Changes per second in the latency runs.")] = 20.0,
    backlog: Annotated[int, typer.Option(help="Changes queued before the throughput run.")] = 2000,
    poll: Annotated[list[float] | None, typer.Option(help="Idle poll interval(s) to measure latency at.")] = None,
    postgres: Annotated[
        bool, typer.Option("--postgres", help="Also run on a throwaway PostgreSQL (pgserver).")
    ] = False,
) -> None:
    """Webhook delivery latency (commit to receipt, p50/p95) and throughput, local receiver."""
    if changes < 10 or backlog < 10 or rate <= 0:
        raise InvalidInput("--changes and --backlog must be at least 10, --rate above 0")
    polls = poll or [0.5, 0.05]
    runs: list[dict[str, Any]] = []
    stores = ["sqlite", "postgresql"] if postgres else ["sqlite"]
    with tempfile.TemporaryDirectory(prefix="tailored-bench-webhooks-") as tmp, Progress(*progress_columns()) as bar:
        for kind in stores:
            folder = Path(tmp) / kind
            folder.mkdir()
            rx = Receiver(folder)
            try:
                if kind == "sqlite":
                    runs.append(_run(str(folder / "bench.db"), kind, rx, changes, rate, backlog, polls, bar))
                else:
                    with local_postgres() as url:
                        runs.append(_run(url, kind, rx, changes, rate, backlog, polls, bar))
            except TailoredError as exc:
                runs.append({"store": kind, "error": str(exc)})
            finally:
                rx.close()
    command = "tailored bench webhooks" + (" --postgres" if postgres else "")
    if (changes, rate, backlog) != (200, 20.0, 2000) or poll:
        command += f" --changes {changes} --rate {rate:g} --backlog {backlog}"
        command += "".join(f" --poll {p:g}" for p in polls)
    payload = {"command": command, "machine": machine(), "runs": runs}
    write_json(out / "webhooks.json", payload)
    (out / "webhooks.md").write_text(report(payload), encoding="utf-8")
    console.print(f"wrote {out / 'webhooks.md'} and {out / 'webhooks.json'}")


def _run(
    url: str,
    kind: str,
    rx: Receiver,
    changes: int,
    rate: float,
    backlog: int,
    polls: list[float],
    bar: Progress,
) -> dict[str, Any]:
    with Engine(url, tenant=TENANT, embedder=HashEmbedder()) as engine:
        Webhooks(engine.store, allow_private=True).add(TENANT, rx.url, events=["memory.created"])
        engine.add([{"user_id": "ana", "text": "hello"}, {"user_id": "bo", "text": "hello"}])
        latency = [_latency(engine, rx, changes, rate, p, bar) for p in polls]
        throughput = _throughput(engine, rx, backlog, min(polls), bar)
    return {"store": kind, "latency": latency, "throughput": throughput}


def report(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = [
        "# Webhook delivery: latency and throughput",
        "",
        f"Command: `{payload['command']}`",
        "",
        f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, tailored {m['tailored']}.",
        "The receiver is an `http.server` subprocess on loopback answering 200 at once; the sender is",
        "the `DeliveryWorker` that `tailored serve` runs (batch 32, 8 sends at once), in the process that",
        "makes the changes. Latency: from the return of the change's commit to the receiver reading",
        "the POST. Throughput: a backlog queued with the worker stopped, then drained.",
        "",
        "| store | idle poll | changes (rate) | delivered | p50 | p95 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in payload["runs"]:
        if "error" in run:
            lines.append(f"| {run['store']} | n/a | n/a | n/a | n/a | n/a | {run['error']} |")
            continue
        for lat in run["latency"]:
            lines.append(
                f"| {run['store']} | {lat['poll_s']:g} s | {lat['changes']} ({lat['rate_per_s']:g}/s) |"
                f" {lat['delivered']} | {lat['p50_ms']} ms | {lat['p95_ms']} ms | {lat['max_ms']} ms |"
            )
    lines += ["", "| store | backlog | delivered | seconds | deliveries/s |", "|---|---|---|---|---|"]
    for run in payload["runs"]:
        if "error" in run:
            continue
        t = run["throughput"]
        lines.append(f"| {run['store']} | {t['backlog']} | {t['delivered']} | {t['seconds']} | {t['per_s']} |")
    lines += [
        "",
        "An idle worker looks for due deliveries every poll interval (`TAILORED_WEBHOOKS_POLL_S`,",
        "0.5 s by default), so about half of it is waiting; a shorter poll costs one indexed read",
        "per interval per server process.",
        "",
    ]
    return "\n".join(lines)
