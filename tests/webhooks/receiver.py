"""A real HTTP receiver on loopback (``http.server`` in a thread) whose answers a test
scripts: each request takes the next planned answer (a status code, or ``"hang"`` to
answer only after the sender's timeout), then the default one."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body was read

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str = ""
    plan: deque[int | str] = field(default_factory=deque)
    default: int = 200
    hang_s: float = 2.0
    got: list[Received] = field(default_factory=list)  # every request, answered well or not
    ok: list[Received] = field(default_factory=list)  # the requests answered 2xx
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_ok(self, n: int, timeout: float = 20.0) -> list[Received]:
        """Block until ``n`` requests were answered 2xx (or fail after ``timeout``)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.ok) >= n, timeout), f"{len(self.ok)} of {n} arrived"
            return list(self.ok)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            item = Received(dict(self.headers.items()), body, time.time())
            with receiver.lock:
                step = receiver.plan.popleft() if receiver.plan else receiver.default
                receiver.got.append(item)
            late = step == "hang"
            if late:  # answer only after the sender gave up: not a delivery
                time.sleep(receiver.hang_s)
                step = 200
            status = int(step)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")
            except OSError:
                return
            if 200 <= status < 300 and not late:
                with receiver.arrived:
                    receiver.ok.append(item)
                    receiver.arrived.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops concurrent connects (a 1 s SYN retry each)


@contextmanager
def receiving(*plan: int | str, default: int = 200) -> Iterator[Receiver]:
    receiver = Receiver(plan=deque(plan), default=default)
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
