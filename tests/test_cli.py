"""The real ``tailored`` command in a subprocess: output, exit codes, nothing written on error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env_db: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAILORED_DB": str(env_db), "TAILORED_EMBEDDER": "hash", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    f = tmp_path / "events.jsonl"
    rows = [
        {
            "user_id": "ana",
            "kind": "message",
            "role": "user",
            "text": "I love sailing on weekends",
            "time": "2024-03-01T10:00:00Z",
            "source_id": "a1",
        },
        {
            "user_id": "ana",
            "kind": "message",
            "role": "user",
            "text": "My cat is called Pixel",
            "time": "2024-03-02T10:00:00Z",
            "source_id": "a2",
        },
        {"kind": "message", "role": "user", "text": "Filled user from the flag", "time": "2024-03-03T10:00:00Z"},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return f


def test_add_search_context_export_erase(tmp_path: Path, events_file: Path) -> None:
    db = tmp_path / "cli.db"
    out = run("add", "--user", "ana", str(events_file), env_db=db)
    assert out.returncode == 0, out.stderr
    assert "added 3 events" in out.stdout
    again = run("add", "--user", "ana", str(events_file), env_db=db)
    assert "2 duplicate" in again.stdout  # the line without source_id is stored again

    hits = json.loads(run("search", "--user", "ana", "sailing", "--json", env_db=db).stdout)
    assert hits[0]["event"]["text"] == "I love sailing on weekends"
    assert set(hits[0]["parts"]) >= {"bm25", "dense", "recency"}

    ctx = run("context", "--user", "ana", "what is my cat called", env_db=db).stdout
    assert "Pixel" in ctx and ctx.startswith("<user_data")
    bare = json.loads(
        run("context", "--user", "ana", "what is my cat called", "--no-records", "--json", env_db=db).stdout
    )
    assert bare["items"] == [] and "Relevant records" not in bare["text"]

    export = tmp_path / "ana.json"
    assert run("export", "--user", "ana", "-o", str(export), env_db=db).returncode == 0
    assert len(json.loads(export.read_text())["events"]) == 4

    refused = run("erase", "--user", "ana", env_db=db, stdin="")
    assert refused.returncode != 0
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 4

    assert run("erase", "--user", "ana", "--yes", env_db=db).returncode == 0
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 0

    restored = run("import", str(export), env_db=db)
    assert restored.returncode == 0 and "imported 4" in restored.stdout
    users = json.loads(run("users", "--json", env_db=db).stdout)
    assert [(u["user_id"], u["events"]) for u in users] == [("ana", 4)]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"user_id": "ana", "text": "ok"}\n{"user_id": ', "malformed JSON"),
        ('{"user_id": "ana", "text": "ok", "mood": "happy"}\n', "unknown field"),
        ('{"text": "who am I"}\n', "missing user_id"),
        ('{"user_id": "ana", "text": ""}\n', "text is empty"),
        ("plain prose, not a known format", "unknown format"),
    ],
)
def test_bad_files_give_one_line_and_write_nothing(tmp_path: Path, content: str, needle: str) -> None:
    db = tmp_path / "cli.db"
    good = tmp_path / "good.jsonl"
    good.write_text('{"user_id": "ana", "text": "first good event"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    out = run("add", str(good), str(bad), env_db=db)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and needle in lines[0]
    assert "Traceback" not in out.stderr
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 0


def test_invalid_utf8_and_missing_file(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"user_id": "ana", "text": "caf\xe9"}\n')
    out = run("add", str(bad), env_db=db)
    assert out.returncode == 1 and "not valid UTF-8" in out.stderr
    missing = run("add", "--user", "ana", str(tmp_path / "nope.json"), env_db=db)
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_bad_options_are_errors(tmp_path: Path, events_file: Path) -> None:
    db = tmp_path / "cli.db"
    run("add", "--user", "ana", str(events_file), env_db=db)
    out = run("search", "--user", "ana", "x", "--mode", "magic", env_db=db)
    assert out.returncode == 1 and "mode must be" in out.stderr
    out = run("search", "--user", "ana", "x", "--since", "last tuesday", env_db=db)
    assert out.returncode == 1 and "ISO 8601" in out.stderr
    out = run("export", "--user", "nobody", env_db=db)
    assert out.returncode == 1 and "no user 'nobody'" in out.stderr


def test_unknown_option_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    out = run("events", "--user", "ana", "--colour", "red", env_db=tmp_path / "cli.db")
    assert out.returncode == 2 and "No such option" in out.stderr and "Traceback" not in out.stderr
