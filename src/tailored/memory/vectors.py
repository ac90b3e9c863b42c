"""Vectors of profile memories, cached per user so a context does not re-embed them.

Keyed by user (then by memory text), bounded to the most recently used users, and dropped
when a user is erased: the cache never outlives the data, nor grows without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..embed.base import Embedder


class MemoryVectors:
    def __init__(self, max_users: int = 1024) -> None:
        self.max_users = max_users
        self._users: OrderedDict[tuple[str, str], dict[str, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()
        self.embedded = 0  # texts embedded so far (how often the cache missed)

    def get(self, tenant: str, user_id: str, texts: Sequence[str], embedder: Embedder) -> dict[str, np.ndarray]:
        """The vector of each text, embedding only those not cached for this user."""
        key = (tenant, user_id)
        with self._lock:
            known = dict(self._users.get(key, {}))
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, embedder.embed(missing)))
        with self._lock:
            self.embedded += len(missing)
            self._users[key] = {t: known[t] for t in texts}  # only the live texts stay
            self._users.move_to_end(key)
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
        return known

    def forget(self, tenant: str, user_id: str) -> None:
        with self._lock:
            self._users.pop((tenant, user_id), None)
