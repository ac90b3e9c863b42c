"""``tailored serve`` on PostgreSQL, as a user starts it (a subprocess on a free port).

``--postgres`` starts its own server under the tailored home and stops it on exit; several
workers on one store see every acknowledged write at once, whichever of them answers (each
read is repeated on fresh connections, which land on either worker).

The PostgreSQL tests skip, with the reason, without the ``postgres`` extra. Their data dirs
are made with ``tempfile``, not under pytest's temp root: run as root, pgserver starts the
server as an unprivileged user, and a pytest session starting meanwhile resets that root
to 0700, after which the server can no longer open its own files (see tests/store/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server_util import free_port

READS = 20  # reads after each write: fresh connections, so both workers answer some


def need_postgres() -> None:
    for module in ("psycopg", "psycopg_pool", "pgvector"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[postgres]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tailored-serve-pg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str]
    # No connection is kept alive: each request opens its own, which either worker may accept.
    client: httpx.Client = field(default_factory=lambda: httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)))

    def said(self, prefix: str) -> str:
        return next(line.rsplit(": ", 1)[1].strip() for line in self.lines if line.startswith(prefix))


@contextmanager
def serve(args: list[str], env: dict[str, str], stop: int = signal.SIGTERM) -> Iterator[Served]:
    """``tailored serve ARGS`` until it answers; on exit, the signal ``stop`` and its exit."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tailored", "serve", "--port", str(port), "--embedder", "hash", *args],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    served = Served(proc, f"http://127.0.0.1:{port}", [])
    try:
        for line in proc.stdout:
            served.lines.append(line)
            if line.startswith("API docs"):
                break
        assert served.lines and served.lines[-1].startswith("API docs"), "".join(served.lines)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(served.url + "/v1/health", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            served.client.close()


def call(served: Served, method: str, path: str, key: str, body: Any = None) -> httpx.Response:
    """One request on a fresh connection (either worker may take it)."""
    return httpx.request(method, served.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def every(served: Served, method: str, path: str, key: str, body: Any = None) -> list[httpx.Response]:
    return [call(served, method, path, key, body) for _ in range(READS)]


def postmaster(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def stopped(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


def env_without_db(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TAILORED_DB", "TAILORED_HOME")}
    return {**env, **extra}


def test_postgres_quick_start_keeps_its_data_and_stops_with_the_server(base: Path) -> None:
    need_postgres()
    home = base / "home"
    home.mkdir(mode=0o700)  # as the SQLite backend makes it
    pgdata = home.resolve() / "postgres"
    env = env_without_db(TAILORED_HOME=str(home))
    with serve(["--postgres"], env) as first:
        url = first.said("PostgreSQL")
        assert url.startswith("postgresql://") and "/tailored?" in url and str(pgdata) in url
        key = first.said("First API key")
        event = {"events": [{"user_id": "ana", "role": "user", "text": "I keep bees on the roof"}]}
        assert call(first, "POST", "/v1/events", key, event).status_code == 200
        pid = postmaster(pgdata)
        assert pid is not None and running(pid)
    assert first.proc.returncode == 0  # SIGTERM: uvicorn shuts down, then PostgreSQL stops
    assert stopped(pid), "PostgreSQL still runs after tailored serve exited"

    # Killed outright, it leaves PostgreSQL running; the next start takes it over and stops it.
    with serve(["--postgres"], env, stop=signal.SIGKILL) as second:
        assert any(line.startswith("Keys exist already") for line in second.lines)
        hits = call(second, "POST", "/v1/users/ana/search", key, {"query": "bees"}).json()
        assert [h["event"]["text"] for h in hits] == ["I keep bees on the roof"]
        pid = postmaster(pgdata)
        assert pid is not None
    assert running(pid)
    with serve(["--postgres"], env, stop=signal.SIGINT) as third:
        assert call(third, "GET", "/v1/users/ana", key).json()["events"] == 1
        assert postmaster(pgdata) == pid
    assert third.proc.returncode == 0  # Ctrl-C: uvicorn ends quietly, then PostgreSQL stops
    assert stopped(pid), "PostgreSQL still runs after tailored serve was interrupted"


def test_postgres_refuses_db_and_writes_nothing(base: Path) -> None:
    home = base / "home"
    done = subprocess.run(
        [sys.executable, "-m", "tailored", "serve", "--postgres", "--db", str(base / "s.db")],
        env=env_without_db(TAILORED_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: --postgres serves on its own database: leave out --db (and unset $TAILORED_DB)"
    )
    assert not home.exists() and not (base / "s.db").exists()


def test_postgres_without_the_extra_names_it_in_one_line(base: Path) -> None:
    home = base / "home"
    code = "import sys\nsys.modules['pgserver'] = None\nfrom tailored.cli import main\nmain(['serve', '--postgres'])\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env_without_db(TAILORED_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: --postgres needs the postgres extra: pip install 'tailored[postgres]'")
    assert not home.exists()


@pytest.fixture
def store_url(base: Path) -> Iterator[str]:
    """A fresh database on a throwaway pgserver."""
    need_postgres()
    import psycopg
    from pgserver.postgres_server import get_server

    server = get_server(base / "data", cleanup_mode="delete")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE tailored")
        yield str(server.get_uri("tailored"))
    finally:
        server.cleanup()


def test_two_workers_see_every_write_at_once(store_url: str) -> None:
    with serve(["--workers", "2", "--db", store_url], env_without_db()) as served:
        admin = served.said("Admin key")

        # A key created through one worker authenticates on every later request; revoked, on none.
        created = call(served, "POST", "/v1/admin/keys", admin, {"tenant": "acme"}).json()
        key = created["key"]
        assert {r.status_code for r in every(served, "GET", "/v1/users", key)} == {200}

        # A search after an add sees the new event, whichever worker cached the user before.
        for n in range(2):
            body = {"events": [{"user_id": "bo", "role": "user", "text": f"note {n} about beekeeping"}]}
            assert call(served, "POST", "/v1/events", key, body).status_code == 200
            found = every(served, "POST", "/v1/users/bo/search", key, {"query": "beekeeping", "k": 10})
            assert {len(r.json()) for r in found} == {n + 1}

        # A memory edited is what every later context shows (both workers ranked the old one).
        for value in ("tea", "rye bread"):
            memory = {"kind": "preference", "key": value, "value": value, "polarity": "like"}
            assert call(served, "POST", "/v1/users/bo/memories", key, memory).status_code == 201
        tea = next(m for m in call(served, "GET", "/v1/users/bo/memories", key).json() if m["key"] == "tea")
        ask = {"query": "what should I drink", "budget": 400}
        assert all("tea" in r.json()["text"] for r in every(served, "POST", "/v1/users/bo/context", key, ask))
        edited = call(served, "PATCH", f"/v1/users/bo/memories/{tea['id']}", key, {"value": "green tea"}).json()
        contexts = [r.json() for r in every(served, "POST", "/v1/users/bo/context", key, ask)]
        assert all(edited["id"] in c["memories"] and tea["id"] not in c["memories"] for c in contexts)
        assert all("green tea" in c["text"] for c in contexts)

        # A user erased is gone for every later request.
        assert call(served, "DELETE", "/v1/users/bo", key).status_code == 200
        assert {r.status_code for r in every(served, "GET", "/v1/users/bo", key)} == {404}
        found = every(served, "POST", "/v1/users/bo/search", key, {"query": "beekeeping", "k": 10})
        assert {len(r.json()) for r in found} == {0}
        assert {r.status_code for r in every(served, "GET", "/v1/users/bo/memories", key)} == {404}

        assert call(served, "DELETE", f"/v1/admin/keys/{created['id']}", admin).status_code == 200
        assert {r.status_code for r in every(served, "GET", "/v1/users", key)} == {401}
    assert served.proc.returncode == 0
