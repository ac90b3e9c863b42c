"""A user's recommendations: the tenant's fitted model (``tailored recommend fit``), or
for a user without interactions their profile and popularity, each item with why.

With ``rerank=true`` the chat model re-ranks the top 20 and explains each pick. It runs on
the chat model's own threads behind the same gate as chat (see ``server.generation``), so
re-ranking shares the model fairly and never overlaps a generation on it. A server with
no chat model to load answers 422 ``no_chat_model``, not a server error: the request
asked for what this server cannot do, and it can be repeated without ``rerank``.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from ...errors import InvalidInput, ModelNotFound
from ...llm import ChatModel
from ...types import Recommendation
from ..deps import EngineDep, KeyDep, StateDep
from ..generation import ModelRunner

router = APIRouter(prefix="/v1/users/{user_id}", tags=["recommend"])


class NoChatModel(InvalidInput):
    """``rerank=true`` on a server whose chat model is not there to load."""

    code = "no_chat_model"


@router.get("/recommendations", response_model=list[Recommendation])
async def recommendations(
    request: Request,
    engine: EngineDep,
    state: StateDep,
    key: KeyDep,
    user_id: str,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    ask: Annotated[str, Query(max_length=500, description="A request combined with the profile.")] = "",
    exclude_seen: bool = True,
    rerank: Annotated[
        bool, Query(description="Let the chat model re-rank the top 20 and explain each pick (slower).")
    ] = False,
) -> list[Recommendation]:
    """The user's top ``k`` catalogue items, best first, with explanations."""
    if not rerank:
        return await run_in_threadpool(engine.recommend, user_id, k, ask=ask, exclude_seen=exclude_seen)
    # the ranking itself first (bad input and unknown users answer before the model loads)
    await run_in_threadpool(engine.recommend, user_id, k, ask=ask, exclude_seen=exclude_seen)
    runner: ModelRunner = state.chat_model

    def run(model: ChatModel) -> Any:
        return engine.recommend(user_id, k, ask=ask, exclude_seen=exclude_seen, rerank=True, model=model)

    try:
        return cast(list[Recommendation], await runner.complete(request, key.tenant, key.id, run))
    except ModelNotFound as exc:
        raise NoChatModel(f"rerank=true needs a chat model and this server has none to load: {exc}") from exc
