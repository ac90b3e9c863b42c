"""Recommendation over a store: import a catalogue, fit and save a model, recommend with
explanations. The engine, CLI and server call this; it speaks only the store protocol.

A user the model was fitted on is ranked by the model; a user it has never seen (cold
start) by their profile's stated preferences: the genres and tags they name pick an
audience whose items rank first, with popularity as the prior (``cold``); other stated
likes are matched against item texts. Either way the profile's "avoid"/"dislike" preferences demote similar items,
a request (``ask``) pulls items like it up, and items the user already interacted with
(also after the fit) are left out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embed import Embedder
from ..errors import InvalidInput
from ..llm import ChatModel
from ..store.base import Scope, Store
from ..types import INTERACTION_KINDS, CatalogItem, Recommendation
from .base import BaseRecommender
from .cold import Labels, cold_scores
from .content import Content
from .data import Interactions
from .explain import Explainer
from .hybrid import Hybrid, standardise
from .imports import interaction_events, item_text, read_files, with_tags
from .models import load, make
from .popularity import Popularity
from .rerank import RerankInput, rerank

DEFAULT_PARTS = ("ease", "markov", "itemknn", "popularity", "content")
"""What ``fit`` blends by default: fast to fit (seconds to a minute), strong on full ranking;
EASE reads the whole history, Markov what follows the latest items."""

KEPT_PARTS = ("content",)
"""Parts a hybrid keeps at weight 0: content scores stated preferences and requests."""

DEFAULT_PARAMS: dict[str, dict[str, float]] = {
    "ease": {"l2": 200.0, "half_life": 3.0},
    "itemknn": {"k": 200, "half_life": 3.0},
}
"""Settings ``tailored bench recommend`` chose on MovieLens' validation items (recent items
weigh more: see ``EASE``)."""


@dataclass
class ImportResult:
    items: int
    interactions: int
    duplicates: int


@dataclass
class FitResult:
    path: str
    model: str
    fingerprint: str
    users: int
    items: int
    interactions: int
    weights: list[float]


def catalogue(store: Store, tenant: str) -> list[CatalogItem]:
    items: list[CatalogItem] = []
    while True:
        page = store.catalog_items(tenant, limit=5000, after=items[-1].id if items else "")
        if not page:
            return items
        items += page


def load_interactions(store: Store, tenant: str, items: Sequence[CatalogItem]) -> Interactions:
    return Interactions.from_rows(store.interactions(tenant, INTERACTION_KINDS), [it.id for it in items])


def import_files(
    store: Store, tenant: str, paths: Sequence[Path], rating_range: tuple[float, float] = (0.5, 5.0)
) -> ImportResult:
    """Items, tags and interactions of ``paths``, all checked first, then stored in one
    transaction: a bad line anywhere stores nothing."""
    cat = read_files(list(paths))
    if cat.tags and not cat.items:
        unknown = [i for i in cat.tags if not store.catalog_items(tenant, ids=[i])]
        if unknown:
            raise InvalidInput(f"tags name items not in the catalogue, such as {unknown[0]!r}")
        cat.items = {it.id: it for it in store.catalog_items(tenant, ids=list(cat.tags))}
    missing = [i for i in cat.tags if i not in cat.items]
    if missing:
        raise InvalidInput(f"tags name items not in the files' catalogue, such as {missing[0]!r}")
    items = with_tags(cat.items, cat.tags)
    known = {it.id: it.title for it in items}
    if cat.interactions:
        wanted = {str(r.get(k)) for _, _, r in cat.interactions for k in ("item", "item_id", "movieId") if r.get(k)}
        known.update({it.id: it.title for it in store.catalog_items(tenant, ids=sorted(wanted - set(known)))})
    events = interaction_events(cat, known, rating_range=rating_range)
    with store.transaction():
        if items:
            store.put_catalog_items(tenant, items)
        added = store.add_events(tenant, events) if events else None
    return ImportResult(len(items), len(added.added) if added else 0, added.duplicates if added else 0)


def item_vectors(embedder: Embedder, items: Sequence[CatalogItem]) -> np.ndarray:
    return embedder.embed([item_text(it) for it in items])


def fit(
    store: Store,
    tenant: str,
    path: Path,
    embedder: Embedder,
    model: str = "hybrid",
    parts: Sequence[str] = DEFAULT_PARTS,
    progress: Callable[[str], None] | None = None,
) -> FitResult:
    """Fit ``model`` on the tenant's interactions and save it to ``path``. A hybrid's
    weights are tuned on each user's last training item, then it is refitted on all."""
    from .hybrid import tune_weights
    from .metrics import leave_last_out, rank_metrics

    items = catalogue(store, tenant)
    data = load_interactions(store, tenant, items)
    if len(data) == 0:
        raise InvalidInput("no interactions to fit on: `tailored catalog add` a catalogue and interactions first")
    vectors = item_vectors(embedder, items) if model == "content" or "content" in parts else None

    def build(name: str) -> BaseRecommender:
        return Content(vectors) if name == "content" else make(name, **DEFAULT_PARAMS.get(name, {}))

    if model != "hybrid":
        rec = build(model).fit(data)
        weights = [1.0]
    else:
        valid = leave_last_out(data)
        comps = []
        for name in parts:
            if progress:
                progress(f"fitting {name} on the validation split")
            comps.append(build(name).fit(valid.train))
        scores = [c.score_users(valid.users) for c in comps]
        seen = valid.train.matrix()[valid.users]
        weights = tune_weights(scores, lambda s: float(rank_metrics(s, valid.targets, seen)[1].mean()))
        if progress:
            progress("refitting on all interactions")
        # a part weighted 0 on validation costs fit time and memory for nothing: left out
        kept = [(n, w) for n, w in zip(parts, weights) if w or n in KEPT_PARTS]
        weights = [w for _, w in kept]
        rec = Hybrid([build(n) for n, _ in kept], weights).fit(data)
    rec.save(path)
    return FitResult(str(path), model, rec.fingerprint, data.n_users, data.n_items, len(data), weights)


class Recommend:
    """Recommendations for users of one tenant from a saved model."""

    def __init__(self, store: Store, tenant: str, path: Path, embedder: Embedder) -> None:
        self.store, self.tenant, self.embedder = store, tenant, embedder
        if path.is_file():
            self.model: BaseRecommender | None = load(path)
        else:  # nothing fitted yet: popularity over the stored interactions, if any
            data = load_interactions(store, tenant, catalogue(store, tenant))
            self.model = Popularity().fit(data) if len(data) else None
        self.data = self.model._data() if self.model is not None else Interactions.from_rows([], [])
        self.items = {it.id: it for it in store.catalog_items(tenant, ids=self.data.items)}
        parts = self.model.components if isinstance(self.model, Hybrid) else [self.model]
        self.content = next((p for p in parts if isinstance(p, Content)), None)
        self._explainer: Explainer | None = None
        self._labels: Labels | None = None

    @property
    def explainer(self) -> Explainer:
        if self._explainer is None:
            self._explainer = Explainer(self.data)
        return self._explainer

    @property
    def labels(self) -> Labels:
        """The catalogue's labels and their audiences, built on the first cold user."""
        if self._labels is None:
            self._labels = Labels(self.data, self.items)
        return self._labels

    def _profile(
        self, user: str, hidden: frozenset[int] = frozenset()
    ) -> tuple[list[tuple[str, str]], list[str], list[str]]:
        """The user's preferences as (id, text) lines, likes and avoids; ``hidden`` ids left out."""
        mems = self.store.memories(Scope(self.tenant, user), kind="preference", statuses=["active"])
        mems = [m for m in mems if m.id not in hidden]
        likes = [m.value for m in mems if m.polarity == "like"]
        avoids = [m.value for m in mems if m.polarity in ("avoid", "dislike")]
        return [(str(m.id), m.text) for m in mems], likes, avoids

    def scores(
        self, user: str, ask: str = "", hidden: frozenset[int] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """(scores over the catalogue, items to leave out, whether the user was cold)."""
        profile, likes, avoids = self._profile(user, hidden)
        rows = self.store.interactions(self.tenant, INTERACTION_KINDS, user_id=user)
        seen = np.array([i for i in (self.data.item_index(r.item_id) for r in rows) if i is not None], dtype=np.int64)
        u = self.data.user_index(user)
        cold = u is None
        like_texts = likes + ([ask] if ask else [])
        like_vecs = self.embedder.embed(like_texts)
        avoid_vecs = self.embedder.embed(avoids)
        if cold:
            history = self.content.item_vectors[seen].mean(axis=0) if self.content and len(seen) else None
            scores = cold_scores(self.labels, self.content, like_texts, like_vecs, avoid_vecs, history)
            return scores, seen, True
        assert self.model is not None
        base = standardise(self.model.score_users(np.array([u])))[0]
        if self.content is not None and (likes or avoids or ask):
            extra = self.content.profile_scores(like_vecs, avoid_vecs)
            base = base + standardise(extra[None, :])[0]
        return base, seen, cold

    def recommend(
        self,
        user: str,
        k: int = 10,
        *,
        ask: str = "",
        exclude_seen: bool = True,
        chat_model: ChatModel | None = None,
        hidden: frozenset[int] = frozenset(),
        on_prompt: Callable[[list[tuple[str, str]]], None] | None = None,
    ) -> list[Recommendation]:
        """The top ``k``. ``hidden``: memory ids the user's settings keep out of
        personalization; ``on_prompt`` is told which profile lines the re-ranking model is
        handed (the engine's audit log)."""
        if not 1 <= k <= 100:
            raise InvalidInput("k must be 1-100")
        if self.model is None:
            return []  # no catalogue interactions at all: nothing to rank by
        scores, seen, cold = self.scores(user, ask, hidden)
        ranked = self.model.rank(scores, max(k, 20) if chat_model else k, seen=seen if exclude_seen else None)
        if cold and not self._profile(user, hidden)[0] and not ask and not len(seen):
            source = "popularity"
        else:
            source = ("cold-start profile" if cold else self.model.name) + (" + request" if ask else "")
        out = []
        for rank, (item_id, score) in enumerate(ranked, 1):
            because = [] if cold else self.explainer.because(user, item_id)
            why = (
                "because you liked " + " and ".join(self.items[b].title for b in because if b in self.items)
                if because
                else ("popular with other users" if source == "popularity" else "matches your stated preferences")
            )
            out.append(
                Recommendation(
                    item=self.items.get(item_id, CatalogItem(id=item_id, title=item_id)),
                    score=score,
                    rank=rank,
                    explanation=why,
                    because=[f"item:{b}" for b in because],
                    source=source,
                )
            )
        if chat_model is not None:
            out = self._rerank(user, out, ask, chat_model, hidden, on_prompt)
        return out[:k]

    def _rerank(
        self,
        user: str,
        recs: list[Recommendation],
        ask: str,
        model: ChatModel,
        hidden: frozenset[int] = frozenset(),
        on_prompt: Callable[[list[tuple[str, str]]], None] | None = None,
    ) -> list[Recommendation]:
        profile, _, _ = self._profile(user, hidden)
        if on_prompt is not None:
            on_prompt(profile[:10])
        rows = self.store.interactions(self.tenant, INTERACTION_KINDS, user_id=user)
        recent = [r for r in reversed(rows) if r.rating is None or r.rating >= 4.0][:10]
        history = [(r.item_id, self.items[r.item_id].title) for r in recent if r.item_id in self.items]
        inp = RerankInput([(r.item.id, r.item.title) for r in recs], profile[:10], history, ask)
        by_id = {r.item.id: r for r in recs}
        out = []
        for rank, ranked in enumerate(rerank(model, inp), 1):
            rec = by_id[ranked.item_id]
            update: dict[str, object] = {"rank": rank, "source": rec.source + " + llm rerank"}
            if ranked.why:
                update["explanation"] = ranked.why
                update["because"] = ranked.cites
            out.append(rec.model_copy(update=update))
        return out


def model_path(home: str | Path, tenant: str) -> Path:
    """The tenant's model file under ``home`` (the tenant id hashed: any id is a safe name)."""
    digest = hashlib.blake2b(tenant.encode(), digest_size=8).hexdigest()
    return Path(os.fspath(home)) / "models" / f"recommend-{digest}.npz"
