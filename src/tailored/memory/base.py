"""The extractor interface: events in, proposed memories out.

An extractor only proposes (``MemoryIn``: adds, updates, retractions). Evolution
(``memory.evolve``) decides what is stored, superseded or merged, so every extractor gets
the same history, conflict and user-edit rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..types import Event, Memory, MemoryIn


class Extractor(ABC):
    """Turns a user's new events into proposed memories.

    Attributes
    ----------
    name
        Recorded as each memory's ``source`` (``rules``, ``llm``).
    batch_size
        How many events one ``extract`` call should get.
    """

    name: str = "extractor"
    batch_size: int = 64

    @abstractmethod
    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        """Proposals from ``events`` (time order). ``profile`` holds the user's current
        memories, so an extractor can update or retract instead of duplicating.
        Each proposal's ``evidence`` lists the ids of the events it came from and its
        ``valid_from`` is the time of the latest of them."""
