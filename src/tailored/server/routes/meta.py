"""Health and tenant statistics."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__
from ...types import Stats
from ..deps import EngineDep
from ..models import Health

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness; needs no key."""
    return Health(status="ok", version=__version__)


@router.get("/stats", response_model=Stats)
def stats(engine: EngineDep) -> Stats:
    s = engine.stats()
    return s.model_copy(update={"db_path": None})  # never reveal server paths
