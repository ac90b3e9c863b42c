"""``tailored serve`` as a user starts it: a subprocess, its printed key, several workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .server_util import free_port


def test_serve_with_two_workers_shares_one_store(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TAILORED_DB": str(tmp_path / "s.db"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tailored", "serve", "--port", str(port), "--workers", "2", "--embedder", "hash"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        key = ""
        for line in proc.stdout:
            if line.startswith("First API key"):
                key = line.rsplit(": ", 1)[1].strip()
            if line.startswith("API docs"):
                break
        assert key
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/v1/health", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        # Fresh connections land on either worker; every one must see every acknowledged write.
        for n in range(6):
            body = {"events": [{"user_id": "ana", "role": "user", "text": f"note {n} about beekeeping"}]}
            httpx.post(url + "/v1/events", json=body, headers=headers, timeout=30).raise_for_status()
            hits = httpx.post(
                url + "/v1/users/ana/search", json={"query": "beekeeping", "k": 10}, headers=headers, timeout=30
            ).json()
            assert len(hits) == n + 1
        assert httpx.get(url + "/v1/users/ana", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0


def test_bad_worker_count_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    done = subprocess.run(
        [sys.executable, "-m", "tailored", "serve", "--workers", "0"],
        env={**os.environ, "TAILORED_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: --workers must be 1-64, not 0"
    assert not db.exists()
