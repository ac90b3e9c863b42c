"""A user's recommendations: the tenant's fitted model (``tailored recommend fit``), or
for a user without interactions their profile and popularity, each item with why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...types import Recommendation
from ..deps import EngineDep

router = APIRouter(prefix="/v1/users/{user_id}", tags=["recommend"])


@router.get("/recommendations", response_model=list[Recommendation])
def recommendations(
    engine: EngineDep,
    user_id: str,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    ask: Annotated[str, Query(max_length=500, description="A request combined with the profile.")] = "",
    exclude_seen: bool = True,
) -> list[Recommendation]:
    """The user's top ``k`` catalogue items, best first, with explanations."""
    return engine.recommend(user_id, k, ask=ask, exclude_seen=exclude_seen)
