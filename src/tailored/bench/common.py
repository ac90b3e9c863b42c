"""What every benchmark shares: where data lives, the machine it ran on, writing reports."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from ..errors import NotFound

DATA_ENV = "TAILORED_DATA"


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
