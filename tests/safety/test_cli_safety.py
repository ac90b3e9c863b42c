"""``tailored assess`` and ``tailored chat --safety`` through the real command: output, and
one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tailored import Engine
from tailored.embed import Embedder

pytestmark = pytest.mark.slow


def tailored(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tailored", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,
    )


def test_assess_prints_the_assessment(tmp_path: Path, minilm: Embedder) -> None:
    db = tmp_path / "cli.db"
    with Engine(db, embedder=minilm) as eng:
        eng.add(
            [
                {"user_id": "ana", "text": t}
                for t in ("The tram was late", "Honestly being 30 weeks pregnant makes stairs hard")
            ]
        )
    out = tailored("assess", "Which wine goes best with salmon?", "--user", "ana", "--db", str(db), "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["domain"] == "substances" and body["risk"] == "high"
    assert body["facts"][0]["categories"] == ["pregnancy"]
    table = tailored("assess", "Which wine goes best with salmon?", "--user", "bob", "--db", str(db))
    assert table.returncode == 0 and "risk medium" in table.stdout and "ask: " in table.stdout
    with Engine(db, embedder=minilm, extractor=None) as eng:
        eng.remember("ana", {"kind": "fact", "key": "condition", "value": "epilepsy", "text": "has epilepsy"})
    listed = tailored("sensitive", "--user", "ana", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [m["categories"] for m in json.loads(listed.stdout)["memories"]] == [["health_condition"]]


def test_sensitive_switches_categories_and_exports_the_audit_log(tmp_path: Path, minilm: Embedder) -> None:
    db = tmp_path / "cli.db"
    with Engine(db, embedder=minilm) as eng:
        eng.add([{"user_id": "ana", "text": "Honestly being 30 weeks pregnant makes stairs hard"}])
    assert tailored("assess", "Which wine goes best with salmon?", "--user", "ana", "--db", str(db)).returncode == 0
    switched = tailored("sensitive", "--user", "ana", "--db", str(db), "--off", "pregnancy,medication")
    assert switched.returncode == 0, switched.stderr
    assert "switched off: medication, pregnancy" in switched.stdout
    again = tailored("sensitive", "--user", "ana", "--db", str(db), "--on", "medication", "--json")
    assert json.loads(again.stdout)["off"] == ["pregnancy"]
    out = tailored("assess", "Which wine goes best with salmon?", "--user", "ana", "--db", str(db), "--json")
    assert json.loads(out.stdout)["facts"] == []  # pregnancy is switched off
    log = tmp_path / "uses.jsonl"
    wrote = tailored("sensitive", "--user", "ana", "--db", str(db), "--uses", "--out", str(log))
    assert wrote.returncode == 0, wrote.stderr
    (use,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert use["purpose"] == "assess" and use["categories"] == ["pregnancy"] and use["source"] == "event"
    assert log.stat().st_mode & 0o077 == 0
    cleared = tailored("sensitive", "--user", "ana", "--db", str(db), "--on", "all", "--json")
    assert json.loads(cleared.stdout)["off"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["assess", "x", "--user", "ana", "--db", "{tmp}/absent.db"],
        ["assess", "  ", "--user", "ana", "--db", "{db}"],
        ["chat", "--user", "ana", "--db", "{db}", "--safety", "loud"],
        ["chat", "--user", "ana", "--db", "{db}", "--safety", "adapt", "--no-memory"],
        ["sensitive", "--user", "ana", "--db", "{db}", "--off", "astrology"],
        ["sensitive", "--user", "ana", "--db", "{db}", "--out", "{tmp}/uses.jsonl"],
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "e.db"
    Engine(db, embedder="hash").close()
    out = tailored(*[a.format(tmp=tmp_path, db=db) for a in args], stdin="hello\n")
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "absent.db").exists()


def test_profile_marks_sensitive_memories_and_the_switched_off_ones(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Engine(db, embedder="hash", extractor=None) as eng:
        eng.remember("ana", {"kind": "fact", "key": "condition", "value": "epilepsy", "text": "has epilepsy"})
        eng.remember("ana", {"kind": "preference", "key": "tea", "value": "green tea", "polarity": "like"})
    shown = tailored("profile", "--user", "ana", "--db", str(db), "--embedder", "hash")
    assert shown.returncode == 0, shown.stderr
    rows = {line.split("\t")[2] for line in shown.stdout.splitlines()[1:]}
    assert "has epilepsy sensitive: health_condition" in rows
    assert not any("green tea" in r and "sensitive" in r for r in rows)
    tailored("sensitive", "--user", "ana", "--db", str(db), "--embedder", "hash", "--off", "all")
    shown = tailored("profile", "--user", "ana", "--db", str(db), "--embedder", "hash")
    assert "has epilepsy sensitive: health_condition (off)" in shown.stdout
