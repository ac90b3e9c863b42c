"""Every CLI command has help text and a line in the README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main

from tailored.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def commands() -> list[tuple[str, Any]]:
    """Every command, groups expanded through click's own lookup (the bench group loads its
    commands only when asked, so its ``commands`` dict is empty)."""
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    out: list[tuple[str, Any]] = []
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        cmd = root.get_command(ctx, name)  # type: ignore[attr-defined]
        if hasattr(cmd, "list_commands"):
            out.extend((f"{name} {s}", cmd.get_command(ctx, s)) for s in cmd.list_commands(ctx))  # type: ignore[misc]
        else:
            out.append((name, cmd))
    return out


def test_every_command_has_help() -> None:
    missing = [name for name, cmd in commands() if not (getattr(cmd, "help", None) or "").strip()]
    assert missing == []


def test_every_command_is_in_the_readme() -> None:
    missing = []
    for name, _ in commands():
        group, _, sub = name.partition(" ")
        if f"tailored {name}" not in README and not (sub and f"tailored {group}" in README and sub in README):
            missing.append(name)
    assert missing == []


def test_bench_commands_are_all_listed() -> None:
    names = {n for n, _ in commands()}
    assert {f"bench {b}" for b in ("retrieval", "ingest", "latency", "serve", "qa", "extraction", "prefeval")} <= names


def test_help_does_not_import_the_benchmarks() -> None:
    """``tailored --help`` (and every other command) starts without numpy-heavy bench code."""
    code = (
        "import sys\n"
        "from tailored.cli import app\n"
        "try:\n    app(args=['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('tailored.bench')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_report_folders_are_named_out() -> None:
    """One name for one thing: every bench command takes --out, none --output."""
    for name, cmd in commands():
        opts = {o for p in cmd.params for o in p.opts}
        assert "--output" not in opts and "--install-completion" not in opts, name
        if name.startswith("bench "):
            assert "--out" in opts, name
