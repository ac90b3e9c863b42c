"""``auto``, the engine's default extractor: the fast path always, a chat model on request.

The fast path (``memory.fast``: a learned disclosure classifier over MiniLM, with the rules
owning diets, allergies, retractions, changes over time and typed facts, and every like
they read kept too) reads every turn. When the
user has opted in (``llm=True``, or ``$TAILORED_EXTRACT_LLM=1``) a chat model (``model``,
else ``$TAILORED_MODEL``, else the local default) also reads the turns the fast path
flagged, and only those, so chit-chat never costs a model call. What the model finds
joins the fast path's findings; paraphrases of one another reinforce one memory.

Trade-offs: the fast path needs no chat model, costs milliseconds per turn and keeps the
user's own words, but it only rewrites what was said (it does not infer "Is a nurse" from
"I work nights on the ward"). The model reads meaning and writes cleaner memories, at
seconds per flagged turn on a CPU and with the model's own mistakes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..types import Event, Memory, MemoryIn
from .base import Extractor
from .fast import FastExtractor

if TYPE_CHECKING:
    from ..llm.base import ChatModel
    from .llm import LLMExtractor

OPT_IN_ENV = "TAILORED_EXTRACT_LLM"


def opted_in() -> bool:
    """Whether ``$TAILORED_EXTRACT_LLM`` asks for the chat model (1, true, yes, on)."""
    return os.environ.get(OPT_IN_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class AutoExtractor(Extractor):
    """The fast path on every turn; a chat model on the flagged turns when opted in.

    Parameters
    ----------
    llm
        Use the chat model too; None reads ``$TAILORED_EXTRACT_LLM``.
    model
        The chat model (or its spec) for that; None: ``$TAILORED_MODEL`` or the local default.
    fast
        The fast path to use (the shipped classifier by default).
    """

    name = "auto"
    batch_size = 64

    def __init__(
        self,
        llm: bool | None = None,
        model: ChatModel | str | None = None,
        fast: FastExtractor | None = None,
    ) -> None:
        self.fast = fast or FastExtractor()
        self.use_llm = opted_in() if llm is None else llm
        self._model = model
        self._llm: LLMExtractor | None = None

    @property
    def llm(self) -> LLMExtractor:
        if self._llm is None:
            from .llm import LLMExtractor

            self._llm = LLMExtractor(
                self._model, flagged_only=False, with_rules=False
            )  # extract() passes the flagged turns
        return self._llm

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        found = self.fast.extract(events, profile)
        if not self.use_llm:
            return found
        flagged_ids = {e.id for e, _, _ in self.fast.flagged(events)}
        flagged = [e for e in events if e.id in flagged_ids]
        if not flagged:
            return found
        return self.fast.reinforced(found + self.llm.extract(flagged, profile), profile)
