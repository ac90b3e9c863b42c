"""Health and tenant statistics."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__
from ...types import Stats
from ..deps import EngineDep
from ..models import Health

router = APIRouter(prefix="/v1", tags=["meta"])


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness; needs no key. Async: it must answer even when every worker thread is busy."""
    return Health(status="ok", version=__version__)


@router.get("/stats", response_model=Stats)
def stats(engine: EngineDep) -> Stats:
    """The caller's tenant only: its own counts and bytes (``tenant_bytes``). The store
    file's path and size are shared by every tenant, so they are never sent."""
    s = engine.stats()
    return s.model_copy(update={"db_path": None, "db_bytes": None})
