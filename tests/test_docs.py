"""Every CLI command has help text and a line in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from tailored.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    out = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        if sub:
            out.extend((f"{name} {s}", c) for s, c in sub.items())
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
