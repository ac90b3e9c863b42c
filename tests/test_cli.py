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
    assert "added 0 events" in again.stdout and "3 duplicate" in again.stdout  # a re-run stores nothing twice

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
    assert len(json.loads(export.read_text())["events"]) == 3

    refused = run("erase", "--user", "ana", env_db=db, stdin="")
    assert refused.returncode != 0
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 3

    assert run("erase", "--user", "ana", "--yes", env_db=db).returncode == 0
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 0
    again = run("erase", "--user", "ana", "--yes", env_db=db)
    assert again.returncode == 1 and again.stderr.strip() == "Error: no user 'ana' in tenant 'default'"

    restored = run("import", str(export), env_db=db)
    assert restored.returncode == 0 and "imported 3" in restored.stdout
    users = json.loads(run("users", "--json", env_db=db).stdout)
    assert [(u["user_id"], u["events"]) for u in users] == [("ana", 3)]


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
    assert not db.exists()  # the files are checked before a store is opened


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


# -- re-running add ----------------------------------------------------------------------------


def test_adding_the_same_file_again_stores_nothing_twice(tmp_path: Path) -> None:
    """An add killed after its first batch leaves a prefix; running it again completes it."""
    db = tmp_path / "cli.db"
    rows = [{"user_id": "ana", "text": f"event number {n}"} for n in range(5)]  # no source ids
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n")
    whole = tmp_path / "whole.jsonl"
    whole.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = run("add", str(whole), "--batch-size", "2", env_db=db)
    assert "added 5 events" in out.stdout and "0 duplicate" in out.stdout
    again = run("add", str(whole), "--batch-size", "2", env_db=db)
    assert again.returncode == 0 and "added 0 events" in again.stdout and "5 duplicate" in again.stdout
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 5
    ids = {e["source_id"] for e in json.loads(run("events", "--user", "ana", "--json", env_db=db).stdout)}
    assert len(ids) == 5 and all(i.startswith("file-") for i in ids)
    other = run("add", str(first), env_db=db)  # another file: its own ids
    assert "added 2 events" in other.stdout


def test_a_rerun_after_an_interrupted_add_stores_only_the_rest(tmp_path: Path) -> None:
    """The first batch committed before the process died: the re-run adds the other three."""
    from tailored import Engine
    from tailored.cli.data import read_with_source_ids
    from tailored.testing import HashEmbedder

    db = tmp_path / "cli.db"
    whole = tmp_path / "whole.jsonl"
    whole.write_text("".join(json.dumps({"user_id": "ana", "text": f"event number {n}"}) + "\n" for n in range(5)))
    with Engine(db, embedder=HashEmbedder()) as eng:
        assert len(eng.add(read_with_source_ids(whole, None, "auto")[:2]).added) == 2
    out = run("add", str(whole), "--batch-size", "2", env_db=db)
    assert "added 3 events" in out.stdout and "2 duplicate" in out.stdout
    assert json.loads(run("stats", "--json", env_db=db).stdout)["events"] == 5


# -- read-only commands never create a store ---------------------------------------------------

READERS = [
    ["search", "--user", "ana", "sailing"],
    ["context", "--user", "ana", "sailing"],
    ["events", "--user", "ana"],
    ["export", "--user", "ana"],
    ["users"],
    ["stats"],
    ["profile", "--user", "ana"],
    ["profile", "--user", "ana", "--history"],
    ["profile", "--user", "ana", "--why", "1"],
    ["extract", "--user", "ana"],
    ["summarize", "--user", "ana"],
    ["memories", "edit", "1", "--user", "ana", "--text", "x"],
    ["memories", "pin", "1", "--user", "ana"],
    ["memories", "delete", "1", "--user", "ana", "--yes"],
    ["erase", "--user", "ana", "--yes"],
    ["keys", "list"],
    ["keys", "revoke", "k1", "--yes"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_reader_refuses_a_missing_store_and_creates_nothing(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "sub" / "missing.db"
    out = run(*args, "--db", str(db), env_db=tmp_path / "unused.db")
    assert out.returncode == 1, out.stdout
    assert out.stderr.strip().splitlines() == [f"Error: no store at {db}; check --db ('tailored add' creates one)"]
    assert list(tmp_path.iterdir()) == []


def test_a_reader_refuses_the_missing_default_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TAILORED_DB"}
    env["TAILORED_HOME"] = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-m", "tailored", "users"], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 1 and "no store at" in out.stderr and not (tmp_path / "home").exists()


def test_a_store_url_that_is_not_a_file_is_passed_on(tmp_path: Path) -> None:
    out = run("users", "--db", "nosuchdb://localhost/x", env_db=tmp_path / "unused.db")
    assert out.returncode == 1 and "unsupported store URL scheme 'nosuchdb'" in out.stderr
    for url in (f"sqlite:///{tmp_path / 'nope.db'}", f"sqlite:///{tmp_path / 'nope.db'}?mode=ro"):
        missing = run("users", "--db", url, env_db=tmp_path / "unused.db")
        assert missing.returncode == 1 and f"no store at {tmp_path / 'nope.db'};" in missing.stderr
    assert list(tmp_path.iterdir()) == []


# -- tables in pipes, --json everywhere --------------------------------------------------------

LONG = "I am pescatarian and I have been for years, since a long trip along the coast of Portugal"


@pytest.fixture
def long_store(tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    f = tmp_path / "long.jsonl"
    f.write_text(json.dumps({"user_id": "ana", "text": LONG, "time": "2024-03-01T10:00:00Z"}) + "\n")
    assert run("add", str(f), env_db=db).returncode == 0
    return db


@pytest.mark.parametrize(
    "args",
    [["search", "--user", "ana", "pescatarian"], ["events", "--user", "ana"], ["profile", "--user", "ana"]],
    ids=lambda a: a[0],
)
def test_piped_tables_keep_every_word(long_store: Path, args: list[str]) -> None:
    env = {**os.environ, "TAILORED_DB": str(long_store), "TAILORED_EMBEDDER": "hash"}
    env.pop("COLUMNS", None)  # a pipe: rich would draw 80 columns and cut the text
    out = subprocess.run(
        [sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "\u2026" not in out.stdout and "..." not in out.stdout
    lines = out.stdout.splitlines()
    header = lines[0].split("\t")
    assert len(header) > 2 and all(len(line.split("\t")) == len(header) for line in lines[1:])
    if args[0] == "profile":
        assert any("pescatarian" in line.lower() for line in lines[1:])
    else:
        assert any(LONG in line.split("\t") for line in lines[1:])


def test_a_terminal_still_gets_a_drawn_table(long_store: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "TAILORED_DB": str(long_store), "TAILORED_EMBEDDER": "hash", "COLUMNS": "100"}
    proc = subprocess.run(
        [sys.executable, "-m", "tailored", "events", "--user", "ana"], stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: everything is read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.returncode == 0, proc.stderr
    text = shown.decode()
    assert "\t" not in text and ("\u2503" in text or "\u2502" in text)  # box lines, no tabs


def command_options() -> dict[str, set[str]]:
    """Every non-bench command and the option names it takes."""
    import typer.main

    from tailored.cli import app

    root = typer.main.get_command(app)
    out: dict[str, set[str]] = {}
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        for full, sub in [(f"{name} {s}", c) for s, c in subs.items()] if subs else [(name, cmd)]:
            out[full] = {o for p in sub.params for o in p.opts}
    return out


def test_every_command_that_prints_a_table_takes_json() -> None:
    """The commands whose output is a table (bench commands write JSON reports to --out)."""
    tables = {"search", "events", "users", "stats", "profile", "models list", "keys list", "demo"}
    options = command_options()
    assert [name for name in sorted(tables) if "--json" not in options[name]] == []


def test_stats_and_keys_as_json(long_store: Path) -> None:
    assert json.loads(run("stats", "--json", env_db=long_store).stdout)["events"] == 1
    assert run("keys", "create", "--tenant", "default", env_db=long_store).returncode == 0
    keys = json.loads(run("keys", "list", "--json", env_db=long_store).stdout)
    assert [k["tenant"] for k in keys] == ["default"]


# -- export is private -------------------------------------------------------------------------


def test_export_file_is_readable_by_the_owner_only(long_store: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "ana.json"
    assert run("export", "--user", "ana", "-o", str(fresh), env_db=long_store).returncode == 0
    assert fresh.stat().st_mode & 0o777 == 0o600
    loose = tmp_path / "old.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    assert run("export", "--user", "ana", "--out", str(loose), env_db=long_store).returncode == 0
    assert loose.stat().st_mode & 0o777 == 0o600 and json.loads(loose.read_text())["events"]
    bad = run("export", "--user", "ana", "-o", str(tmp_path / "no" / "dir.json"), env_db=long_store)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


# -- the demo ------------------------------------------------------------------------------------


def test_demo_shows_profiles_context_and_two_answers(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    out = run("demo", "--model", "scripted", "--json", env_db=db)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["added"] == 70 and set(shown["profiles"]) == {"ava", "ben", "cleo"}
    ben = shown["profiles"]["ben"]
    assert any("war documentaries" in m["memory"].lower() for m in ben)
    assert all(m["they_said"] for m in ben)  # each memory shows the user's own words
    req = shown["request"]
    assert req["context"].startswith("<user_data") and "Barnaby" in req["context"]
    assert req["with_context"] and req["without_context"]
    again = json.loads(run("demo", "--no-answers", "--json", env_db=db).stdout)
    assert again["added"] == 0 and again["duplicates"] == 70 and "with_context" not in again["request"]


def test_demo_without_a_chat_model_says_so_in_one_line(tmp_path: Path) -> None:
    out = run("demo", env_db=tmp_path / "demo.db")  # the test's model cache is empty
    assert out.returncode == 0, out.stderr
    assert "profile of 'ben'" in out.stdout and "<user_data" in out.stdout
    notes = [line for line in out.stdout.splitlines() if line.startswith("No chat model")]
    assert len(notes) == 1 and "tailored models pull" in notes[0]
