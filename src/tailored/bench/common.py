"""What every benchmark shares: where data lives, the machine it ran on, writing reports."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..errors import InvalidInput, NotFound

DATA_ENV = "TAILORED_DATA"

OutOpt = Annotated[Path, typer.Option("--out", help="Folder the report, its JSON and any plot go to.")]
"""Every bench command that writes a report names its folder ``--out``."""


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every bench's progress bars: what, how far, how long, how long left."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def data_dir() -> Path:
    """Evaluation data: ``$TAILORED_DATA``, else ``../shared/data`` next to the checkout."""
    return Path(os.environ.get(DATA_ENV, "../shared/data"))


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise NotFound(f"{what} not found at {path} (set --data or ${DATA_ENV})")
    return path


def machine() -> dict[str, Any]:
    import tailored

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tailored": tailored.__version__,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


@contextmanager
def local_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL 16 with pgvector (pgserver) in a temp dir; yields a fresh
    database's URL and deletes the server's files on exit."""
    try:
        import psycopg

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pgserver.postgres_server import get_server
    except ImportError as exc:
        raise InvalidInput("the postgresql backend needs the postgres extra: pip install 'tailored[postgres]'") from exc
    base = Path(tempfile.mkdtemp(prefix="tailored-scale-pg-"))
    server: Any = None
    try:
        server = get_server(base / "data", cleanup_mode="delete")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE tailored_scale")
        yield str(server.get_uri("tailored_scale"))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(base, ignore_errors=True)
