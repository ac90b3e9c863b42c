"""``tailored judge FILE`` in a subprocess: results, resumption, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAILORED_DB": str(db), "TAILORED_EMBEDDER": "hash", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    f = tmp_path / "pairs.jsonl"
    rows = [
        {"id": "1", "query": "Dinner?", "response_a": "Lentil curry", "response_b": "Steak", "label": "a"},
        {"id": "2", "query": "Trip?", "response_a": "Museum", "response_b": "Beach", "persona": "Loves the sea"},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def test_judge_a_file_for_a_persona_then_resume(tmp_path: Path, pairs: Path) -> None:
    out = tmp_path / "out.jsonl"
    db = tmp_path / "none.db"
    r = run("judge", str(pairs), "--persona", "I am vegetarian", "--model", "scripted", "--out", str(out), db=db)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["1", "2"] and rows[0]["label"] == "a"
    assert {"winner", "probability", "confidence", "order_probabilities"} <= set(rows[0]["judgement"])
    assert not db.exists()  # a persona needs no store
    again = run("judge", str(pairs), "--persona", "x", "--model", "scripted", "--out", str(out), db=db)
    assert again.returncode == 0 and len(out.read_text().splitlines()) == 2
    default = run("judge", str(pairs), "--model", "scripted", "--no-explain", db=db)
    assert default.returncode == 0 and (tmp_path / "pairs.judged.jsonl").is_file()


@pytest.mark.parametrize(
    "args,message",
    [
        (["missing.jsonl"], "no such file"),
        (["BAD"], "line 1"),
        (["PAIRS", "--user", "ghost"], "no store at"),
        (["PAIRS", "--persona", " "], "--persona is empty"),
        (["PAIRS", "--out", "PAIRS"], "--out must not be the input file"),
        (["PAIRS", "--method", "both"], "--method must be pointwise or pairwise"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, pairs: Path, args: list[str], message: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "query": "q", "response_a": "x"}\n')
    argv = [str(pairs) if a == "PAIRS" else str(bad) if a == "BAD" else a for a in args]
    r = run("judge", *argv, "--model", "scripted", db=tmp_path / "none.db")
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_an_unknown_user_of_an_existing_store_is_one_line(tmp_path: Path, pairs: Path) -> None:
    db = tmp_path / "s.db"
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"user_id": "ana", "text": "I am vegetarian"}) + "\n")
    assert run("add", str(events), db=db).returncode == 0
    r = run("judge", str(pairs), "--user", "ghost", "--model", "scripted", db=db)
    assert r.returncode == 1 and "no user 'ghost'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    ok = run("judge", str(pairs), "--user", "ana", "--model", "scripted", "--no-explain", db=db)
    assert ok.returncode == 0, ok.stderr
