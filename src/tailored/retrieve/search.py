"""Hybrid retrieval over one user's events: BM25 + dense + recency, fused.

The steps, each a small function so that the benchmark can show its effect:
1. query analysis: a speaker the question names becomes a prior, not a search word;
2. BM25 over the user's own rows (``bm25.py``: an in-memory inverted index, the user's
   statistics only), each row's score scaled by its coverage (the IDF-weighted share of
   the query's words it contains), dense cosine from the user's in-memory vectors;
3. lexical trust: how much of the query the best BM25 row covers. Below 0.4 the words
   that match are incidental (the question and its answer share meaning, not words), and
   the ranking falls back to dense alone; the conversation-structure steps (4, 6) scale
   with the same trust;
4. neighbour smoothing: a turn also scores a share of its session neighbours' scores,
   because an answer is often split over a question and its reply;
5. per-retriever normalisation, then a weighted sum whose weights adapt to how sure each
   retriever is for this query (a clear winner counts more than a flat list);
6. priors: the named speaker, the dates the question mentions, and the best score of
   each row's session (evidence clusters in sessions);
7. a recency term (off by default), filters, and top-k whose first few hits are spread
   over sessions (a second hit from a session already shown must score clearly higher).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from ..embed.base import Embedder
from ..store.base import EventFilter, Scope, Store
from ..types import ScoreParts, SearchHit, SearchMode
from . import bm25 as okapi
from .index import UserIndexCache, UserView
from .query import DateSpec, analyse, mentioned_dates

_DAY_US = 86_400 * 1_000_000
# Query embeddings started ahead of the store read (``Retriever.embed_early``); one pool for
# every retriever of the process, its threads started on first use.
_EMBEDDING = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="query-embed")


@dataclass(frozen=True)
class RetrievalConfig:
    """Every knob of retrieval; the defaults are the benchmark-chosen ones
    (``docs/benchmarks/retrieval-locomo.md`` shows each step's effect)."""

    bm25_k1: float = 1.2  # Okapi BM25's term-frequency saturation ...
    bm25_b: float = 0.75  # ... and length normalisation, at their usual values
    coverage: bool = True  # scale BM25 rows by the share of the query they cover
    trust_low: float = 0.4  # lexical trust ramps from 0 at this coverage of the best row ...
    trust_high: float = 0.5  # ... to 1 here; trust_high <= 0 turns the ramp off
    neighbour_weight: float = 0.5
    dense_neighbour_weight: float = 0.3
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    adaptive: bool = True
    fusion: str = "weighted"  # "weighted" or "rrf"
    rrf_k: int = 60
    strip_speaker_names: bool = True
    speaker_weight: float = 0.5
    date_weight: float = 0.9
    session_weight: float = 0.2
    diversity: float = 0.2  # the first ``diverse_top`` hits: x (1 - diversity) per earlier hit of the session
    diverse_top: int = 5
    recency_weight: float = 0.0
    recency_half_life_days: float = 30.0

    def with_(self, **changes: object) -> RetrievalConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


def smooth(scores: np.ndarray, view: UserView, weight: float) -> np.ndarray:
    """Add ``weight`` times the mean of each row's same-session neighbours' scores."""
    if weight == 0 or len(scores) == 0:
        return scores
    padded = np.append(scores, 0.0)  # index -1 reads the appended zero
    return np.asarray(scores + weight * 0.5 * (padded[view.prev] + padded[view.next]), dtype=np.float64)


def median(scores: np.ndarray) -> float:
    """``np.median`` of a non-empty float array, by partition alone (a third of its time)."""
    n = len(scores)
    half = n // 2
    if n % 2:
        return float(np.partition(scores, half)[half])
    part = np.partition(scores, [half - 1, half])
    return float(part[half - 1] + part[half]) / 2


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] with the best score at 1 and the median at 0.

    When every score is the median (one row, or all tied) each row is the best one: a match
    (score above 0) is 1, no match 0. A user with one matching event gets a hit of 1, not 0.
    """
    if len(scores) == 0:
        return scores
    top = float(scores.max())
    base = median(scores)
    if top <= base:
        return np.where(scores > 0, 1.0, 0.0)
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


def best_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the ``k`` highest scores, best first (ties by position), without sorting all."""
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = -np.partition(-scores, k - 1)[k - 1]
    above = np.flatnonzero(scores > kth)
    part = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
    return part[np.lexsort((part, -scores[part]))]


def rank_among(scores: np.ndarray, row: int) -> int:
    """1-based rank of one row (ties broken by position), without sorting."""
    v = scores[row]
    return int(np.count_nonzero(scores > v) + np.count_nonzero(scores[:row] == v) + 1)


def fuse(b: np.ndarray, d: np.ndarray, cfg: RetrievalConfig) -> np.ndarray:
    """One score per row from the (smoothed) BM25 and dense scores."""
    if cfg.fusion == "rrf":
        fused = np.where(b > 0, cfg.bm25_weight / (cfg.rrf_k + rank_of(b)), 0.0)
        return np.asarray(fused + cfg.dense_weight / (cfg.rrf_k + rank_of(d)))
    wb, wd = cfg.bm25_weight, cfg.dense_weight
    if cfg.adaptive:
        wb *= confidence(b)
        wd *= confidence(d)
    return wb * normalise(b) + wd * normalise(d)


def speaker_prior(scores: np.ndarray, view: UserView, named: frozenset[int], weight: float) -> np.ndarray:
    """Scale down rows said by someone else when the query names who said it."""
    if weight == 0 or not named:
        return scores
    other = ~np.isin(view.speaker, list(named))
    return np.where(other, scores * (1.0 - weight), scores)


def session_prior(scores: np.ndarray, view: UserView, weight: float) -> np.ndarray:
    """Add ``weight`` times the best score of the row's session: evidence clusters in sessions."""
    if weight == 0 or view.n_sessions == 0:
        return scores
    best = np.zeros(view.n_sessions + 1)
    np.maximum.at(best, view.session, scores)  # code -1 writes the spare last slot
    best[-1] = 0.0
    return np.asarray(scores + weight * best[view.session], dtype=np.float64)


def date_match(view: UserView, specs: list[DateSpec]) -> np.ndarray:
    """How well each row's time fits the dates a query mentions: 1 inside a mentioned day
    (give or take one), month or year; 0.5 shortly after it (people tell of things a few
    days or weeks later); else 0."""
    day, year, month, dom = view.calendar()
    match = np.zeros(len(day))
    for spec in specs:
        if spec.year is not None and spec.month is not None and spec.day is not None:
            try:
                t = int(np.datetime64(f"{spec.year:04d}-{spec.month:02d}-{spec.day:02d}", "D").astype(np.int64))
            except ValueError:
                continue
            full = (day >= t - 1) & (day <= t + 1)
            soon = (day > t + 1) & (day <= t + 14)
        elif spec.year is not None and spec.month is not None:
            first = np.datetime64(f"{spec.year:04d}-{spec.month:02d}", "M")
            lo = int(first.astype("datetime64[D]").astype(np.int64))
            hi = int((first + 1).astype("datetime64[D]").astype(np.int64))
            full = (day >= lo) & (day < hi)
            soon = (day >= hi) & (day < hi + 31)
        elif spec.month is not None:
            next_month = spec.month % 12 + 1
            if spec.day is not None:
                full = (month == spec.month) & (np.abs(dom - spec.day) <= 1)
                soon = (month == spec.month) & (dom > spec.day + 1) | (month == next_month) & (dom <= spec.day)
            else:
                full = month == spec.month
                soon = month == next_month
        elif spec.year is not None:
            full = year == spec.year
            soon = np.zeros(len(day), dtype=bool)
        else:
            continue
        match = np.maximum(match, np.where(full, 1.0, np.where(soon, 0.5, 0.0)))
    return match


def date_prior(scores: np.ndarray, view: UserView, specs: list[DateSpec], weight: float) -> np.ndarray:
    """Scale down rows far from the dates the query mentions (if any row is near one)."""
    if weight == 0 or not specs:
        return scores
    match = date_match(view, specs)
    if not match.any():
        return scores
    return scores * (1.0 - weight * (1.0 - match))


def diversify(scores: np.ndarray, view: UserView, k: int, weight: float, top: int) -> list[int]:
    """The ``k`` best rows, the first ``top`` of them picked so that each earlier pick from
    the same session scales a row's score by ``1 - weight``: the head of the list covers
    more sessions, the rest keeps score order. Rows scored ``-inf`` are never picked."""
    rows = best_rows(scores, k + 4 * top)
    rows = rows[np.isfinite(scores[rows])]
    if weight == 0 or top <= 1:
        return [int(r) for r in rows[:k]]
    # (row, score, session) as Python values: the loop below reads each many times.
    pool = list(zip(rows.tolist(), scores[rows].tolist(), view.session[rows].tolist()))
    keep = 1.0 - weight
    picked: list[int] = []
    seen: dict[int, int] = {}
    while pool and len(picked) < min(top, k):
        best = max(
            range(len(pool)), key=lambda i: pool[i][1] - abs(pool[i][1]) * (1.0 - keep ** seen.get(pool[i][2], 0))
        )
        row, _, session = pool.pop(best)
        picked.append(row)
        if session >= 0:
            seen[session] = seen.get(session, 0) + 1
    return (picked + [r for r, _, _ in pool])[:k]


def trust(cov: np.ndarray, bm25: np.ndarray, cfg: RetrievalConfig) -> float:
    """Lexical trust from the coverage of the best BM25 row: 0 .. 1 between the two bounds."""
    if cfg.trust_high <= 0:
        return 1.0
    if len(bm25) == 0 or bm25.max() <= 0:
        return 0.0
    top = float(cov[int(np.argmax(bm25))])
    return float(np.clip((top - cfg.trust_low) / max(cfg.trust_high - cfg.trust_low, 1e-9), 0.0, 1.0))


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, config: RetrievalConfig | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.cache = UserIndexCache(store, embedder)
        self._recent: dict[str, np.ndarray] = {}
        self._recent_lock = threading.Lock()

    def bm25_scores(self, view: UserView, terms: list[str]) -> np.ndarray:
        """BM25 of every row of the user for the stemmed query ``terms``."""
        return okapi.scores(view.terms, terms, self.config.bm25_k1, self.config.bm25_b)

    def query_vector(self, text: str) -> np.ndarray:
        """The query's vector; the last few are kept, so ``Engine.context`` ranking the
        profile against the same query does not embed it a second time."""
        vec = self._recent.get(text)
        if vec is None:
            vec = self.embedder.embed_one(text)
            with self._recent_lock:  # server threads share the retriever
                self._recent[text] = vec
                while len(self._recent) > 32:
                    self._recent.pop(next(iter(self._recent)))
        return vec

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

    def recency(self, view: UserView, rows: np.ndarray | None = None) -> np.ndarray:
        """How recent each row (or each of ``rows``) is against the user's latest event:
        1 for the latest, halving every ``recency_half_life_days``."""
        times = view.data.times_us
        if len(times) == 0:
            return np.zeros(0)
        picked = times if rows is None else times[rows]
        age_days = (times.max() - picked) / _DAY_US
        return np.asarray(0.5 ** (age_days / self.config.recency_half_life_days), dtype=np.float64)

    def dense_scores(self, view: UserView, text: str, early: tuple[str, Future[np.ndarray]] | None) -> np.ndarray:
        """Cosine of every row with ``text`` (vectors are unit length); ``early`` is its
        vector on its way, used when it is the vector of ``text``."""
        vec = early[1].result() if early is not None and early[0] == text else self.query_vector(text)
        # einsum, not BLAS: a threaded matrix-vector product stalls when the cores are busy.
        scores: np.ndarray = np.einsum("ij,j->i", view.data.vectors, vec).astype(np.float64)
        return scores

    def embed_early(self, scope: Scope, query: str, mode: SearchMode) -> tuple[str, Future[np.ndarray]] | None:
        """Start embedding the query in the background before the user's view is checked
        against the store, so that the store read and BM25 run while the model does: the
        text to embed depends on the view only through its speakers' names, taken here
        from the last view built. ``scores`` uses the vector only if the guess held."""
        if mode == "bm25":
            return None
        last = self.cache.peek(scope)
        if last is None:
            return None
        text = analyse(query, last.speakers, self.config.strip_speaker_names and mode == "hybrid").dense_text
        return text, _EMBEDDING.submit(self.query_vector, text)

    def scores(
        self,
        view: UserView,
        query: str,
        mode: SearchMode,
        early: tuple[str, Future[np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(final score, raw BM25, raw dense) of every row of the user; ``early`` is the
        query's vector on its way (``embed_early``)."""
        cfg = self.config
        n = len(view.data.ids)
        zero = np.zeros(n)
        if mode == "bm25":
            bm25 = self.bm25_scores(view, analyse(query, view.speakers, strip_names=False).terms)
            return smooth(bm25, view, cfg.neighbour_weight), bm25, zero
        q = analyse(query, view.speakers, cfg.strip_speaker_names and mode == "hybrid")
        if mode == "dense":
            dense = self.dense_scores(view, q.dense_text, early)
            return dense, zero, dense
        bm25 = self.bm25_scores(view, q.terms)  # while the query is embedded
        lexical = bm25
        tau = 1.0
        if cfg.coverage or cfg.trust_high > 0:
            cov = okapi.coverage(view.terms, q.terms)
            tau = trust(cov, bm25, cfg)
            if cfg.coverage:
                lexical = bm25 * cov
        b = smooth(lexical, view, cfg.neighbour_weight)
        dense = self.dense_scores(view, q.dense_text, early)
        d = smooth(dense, view, cfg.dense_neighbour_weight * tau)
        fused = fuse(b, d, cfg.with_(bm25_weight=cfg.bm25_weight * tau) if tau < 1 else cfg)
        fused = speaker_prior(fused, view, q.speakers, cfg.speaker_weight)
        fused = date_prior(fused, view, mentioned_dates(query), cfg.date_weight)
        fused = session_prior(fused, view, cfg.session_weight * tau)
        return fused, bm25, dense

    def search(
        self,
        scope: Scope,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: EventFilter = EventFilter(),
    ) -> list[SearchHit]:
        cfg = self.config
        early = self.embed_early(scope, query, mode)
        view = self.cache.get(scope)
        if len(view.data.ids) == 0:
            return []
        fused, bm25, dense = self.scores(view, query, mode, early)
        total = fused + cfg.recency_weight * self.recency(view) if cfg.recency_weight else fused
        keep = self.mask(view, flt)
        if mode == "bm25":
            keep &= fused > 0
        total = np.where(keep, total, -np.inf)
        weight = cfg.diversity if mode == "hybrid" else 0.0
        rows = [r for r in diversify(total, view, k, weight, cfg.diverse_top) if keep[r]]
        if not rows:
            return []
        events = self.store.get_events(scope, [int(view.data.ids[r]) for r in rows])
        by_id = {e.id: e for e in events}
        rec = dict(zip(rows, self.recency(view, np.array(rows)).tolist()))
        hits = []
        for r in rows:
            event = by_id.get(int(view.data.ids[r]))
            if event is None:  # erased between the index read and now
                continue
            parts = ScoreParts(
                bm25=float(bm25[r]),
                dense=float(dense[r]),
                recency=float(rec[r]),
                bm25_rank=rank_among(bm25, r) if bm25[r] > 0 else None,
                dense_rank=rank_among(dense, r) if mode != "bm25" else None,
            )
            hits.append(SearchHit(event=event, score=float(total[r]), parts=parts))
        return hits
