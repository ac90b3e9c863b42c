"""Hybrid retrieval over one user's events: BM25 + dense + recency, fused.

The steps, each a small function so that the benchmark can show its effect:
1. BM25 from the store's full-text index, dense cosine from the user's in-memory vectors;
2. neighbour smoothing: a turn also scores a share of its session neighbours' scores,
   because an answer is often split over a question and its reply;
3. per-retriever normalisation, then a weighted sum whose weights adapt to how sure each
   retriever is for this query (a clear winner counts more than a flat list);
4. a small recency term, filters, top-k.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import numpy as np

from ..embed.base import Embedder
from ..store.base import EventFilter, Scope, Store
from ..types import ScoreParts, SearchHit, SearchMode
from .index import UserIndexCache, UserView
from .query import query_terms

_DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class RetrievalConfig:
    """Every knob of retrieval; the defaults are the benchmark-chosen ones."""

    bm25_candidates: int = 400
    neighbour_weight: float = 0.5
    dense_neighbour_weight: float = 0.3
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    adaptive: bool = True
    fusion: str = "weighted"  # "weighted" or "rrf"
    rrf_k: int = 60
    recency_weight: float = 0.02
    recency_half_life_days: float = 30.0

    def with_(self, **changes: object) -> RetrievalConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


def smooth(scores: np.ndarray, view: UserView, weight: float) -> np.ndarray:
    """Add ``weight`` times the mean of each row's same-session neighbours' scores."""
    if weight == 0 or len(scores) == 0:
        return scores
    padded = np.append(scores, 0.0)  # index -1 reads the appended zero
    return scores + weight * 0.5 * (padded[view.prev] + padded[view.next])


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] with the best score at 1 and the median at 0."""
    if len(scores) == 0:
        return scores
    top = float(scores.max())
    base = float(np.median(scores))
    if top <= base:
        return np.zeros_like(scores)
    return np.clip((scores - base) / (top - base), 0.0, 1.0)


def confidence(scores: np.ndarray, k: int = 10) -> float:
    """How clearly the top hit stands out from the next ones (0 flat .. 1 a clear winner)."""
    if len(scores) < 2:
        return 1.0
    top = np.sort(scores)[::-1][: k + 1]
    if top[0] <= 0:
        return 0.0
    return float((top[0] - top[1:].mean()) / top[0])


def rank_of(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each row (ties broken by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, config: RetrievalConfig | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.cache = UserIndexCache(store, embedder)

    def bm25_scores(self, scope: Scope, view: UserView, query: str) -> np.ndarray:
        scores = np.zeros(len(view.data.ids), dtype=np.float64)
        for event_id, score in self.store.text_search(scope, query_terms(query), self.config.bm25_candidates):
            row = view.position.get(event_id)
            if row is not None:
                scores[row] = score
        return scores

    def dense_scores(self, view: UserView, query: str) -> np.ndarray:
        if len(view.data.ids) == 0:
            return np.zeros(0)
        q = self.embedder.embed_one(query)
        return np.asarray(view.data.vectors @ q, dtype=np.float64)

    def mask(self, view: UserView, flt: EventFilter) -> np.ndarray:
        data = view.data
        keep = np.ones(len(data.ids), dtype=bool)
        if flt.since is not None:
            keep &= data.times_us >= int(flt.since.timestamp() * 1e6)
        if flt.until is not None:
            keep &= data.times_us < int(flt.until.timestamp() * 1e6)
        if flt.kinds:
            kinds = set(flt.kinds)
            keep &= np.array([k in kinds for k in data.kinds], dtype=bool)
        if flt.session_id is not None:
            keep &= np.array([s == flt.session_id for s in data.sessions], dtype=bool)
        return keep

    def recency(self, view: UserView) -> np.ndarray:
        times = view.data.times_us
        if len(times) == 0:
            return np.zeros(0)
        age_days = (times.max() - times) / _DAY_US
        return np.asarray(0.5 ** (age_days / self.config.recency_half_life_days), dtype=np.float64)

    def search(
        self,
        scope: Scope,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: EventFilter = EventFilter(),
    ) -> list[SearchHit]:
        cfg = self.config
        view = self.cache.get(scope)
        n = len(view.data.ids)
        if n == 0:
            return []
        bm25 = self.bm25_scores(scope, view, query) if mode in ("hybrid", "bm25") else np.zeros(n)
        dense = self.dense_scores(view, query) if mode in ("hybrid", "dense") else np.zeros(n)
        b = smooth(bm25, view, cfg.neighbour_weight)
        d = smooth(dense, view, cfg.dense_neighbour_weight)
        rec = self.recency(view)
        if mode == "bm25":
            fused = b
        elif mode == "dense":
            fused = d
        elif cfg.fusion == "rrf":
            fused = np.where(b > 0, cfg.bm25_weight / (cfg.rrf_k + rank_of(b)), 0.0)
            fused = fused + cfg.dense_weight / (cfg.rrf_k + rank_of(d))
        else:
            wb, wd = cfg.bm25_weight, cfg.dense_weight
            nb, nd = normalise(b), normalise(d)
            if cfg.adaptive:
                wb *= confidence(b)
                wd *= confidence(d)
            fused = wb * nb + wd * nd
        total = fused + cfg.recency_weight * rec
        keep = self.mask(view, flt)
        total = np.where(keep, total, -np.inf)
        if mode == "bm25":
            keep &= b > 0
        rows = [int(r) for r in np.argsort(-total, kind="stable")[:k] if keep[r]]
        if not rows:
            return []
        b_rank, d_rank = rank_of(b), rank_of(d)
        events = self.store.get_events(scope, [int(view.data.ids[r]) for r in rows])
        by_id = {e.id: e for e in events}
        hits = []
        for r in rows:
            event = by_id.get(int(view.data.ids[r]))
            if event is None:  # erased between the index read and now
                continue
            parts = ScoreParts(
                bm25=float(bm25[r]),
                dense=float(dense[r]),
                recency=float(rec[r]),
                bm25_rank=int(b_rank[r]) if bm25[r] > 0 else None,
                dense_rank=int(d_rank[r]) if mode != "bm25" else None,
            )
            hits.append(SearchHit(event=event, score=float(total[r]), parts=parts))
        return hits

