"""``Engine``: the one object applications use.

It owns a store, an embedder, a retriever and the models it loaded, and exposes the verbs:
add, search, context, events, export, import_user, erase, users, user, stats (events and
users); profile, extract, history, why, remember, correct, forget, pin, summarize
(memories); chat; judge. Everything below it is replaceable.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, overload

from pydantic import ValidationError

from .chat import ChatStream, fixed_reply, personalized_chat
from .context.builder import TokenCounter, build_context
from .embed import Embedder, load_embedder
from .errors import InvalidInput, NotFound, TenantIsolationError, explain
from .judge import Calibrator, Judge
from .llm import ChatModel, load_chat_model
from .llm.base import to_messages
from .memory import load_extractor
from .memory import profile as memory_profile
from .memory.base import Extractor
from .memory.summary import summary_writer
from .memory.vectors import MemoryVectors
from .retrieve.index import embed_text
from .retrieve.search import RetrievalConfig, Retriever
from .safety import Assessment, Assessor
from .safety.assess import strongest
from .safety.consent import Purpose, blocked, check_off, uses
from .safety.guidance import SAFETY_MODES, SafetyMode, adapt_block, answer_memory, next_question, read_turns
from .safety.labels import SensitiveMemory, sensitive_memories
from .store import EventFilter, Scope, Store, open_store
from .store.base import every_sensitive_use
from .store.restore import restore_sensitive
from .text import estimate_tokens
from .types import (
    AddResult,
    ChatResult,
    Context,
    Event,
    EventIn,
    Explanation,
    Memory,
    MemoryIn,
    Profile,
    Recommendation,
    SearchHit,
    SearchMode,
    SensitiveUse,
    Stats,
    Summary,
    UserExport,
    UserStats,
    check_user_id,
    utcnow,
)

DEFAULT_HOME = "tailored-data"


def default_store_url() -> str:
    """``$TAILORED_DB`` if set, else ``$TAILORED_HOME/tailored.db`` (home defaults to ./tailored-data)."""
    if os.environ.get("TAILORED_DB"):
        return os.environ["TAILORED_DB"]
    home = Path(os.environ.get("TAILORED_HOME", DEFAULT_HOME))
    return str(home / "tailored.db")


def _coerce(events: EventIn | Mapping[str, Any] | Iterable[EventIn | Mapping[str, Any]]) -> list[EventIn]:
    items: Iterable[Any] = [events] if isinstance(events, (EventIn, Mapping)) else events
    out = []
    for n, item in enumerate(items):
        if isinstance(item, EventIn):
            out.append(item)
            continue
        try:
            out.append(EventIn.model_validate(item))
        except ValidationError as exc:
            raise InvalidInput(f"event {n}: {explain(exc)}") from exc
    return out


class Engine:
    """Remember users and retrieve what matters for a query.

    Parameters
    ----------
    store
        A store URL or path (``sqlite:///file.db``), or an open store. Defaults to
        ``$TAILORED_HOME/tailored.db``.
    tenant
        Every call is scoped to this tenant; users of other tenants are invisible.
    embedder
        A registered embedder name (``minilm``, the default, or ``hash``) or an instance.
        It is loaded on first use, so commands that never embed start fast.
    extractor
        What reads new events into the profile before ``profile``, ``context`` and
        ``summarize``: ``auto`` (the default: the fast path over MiniLM, plus the chat
        model on flagged turns when ``$TAILORED_EXTRACT_LLM=1``), ``fast``, ``rules``,
        ``llm``, any registered name, an instance, or None for no extraction.
    min_relative_score
        Context records scoring below this share of the best hit's score are left out.
    assistant_weight, assistant_item_tokens
        Assistant turns rank lower and show shorter in a context than the user's own
        words (see ``build_context``); 1.0 and a large cap treat both roles alike.

    Examples
    --------
    >>> from tailored.testing import HashEmbedder
    >>> eng = Engine(store=str(tmp / "doc.db"), embedder=HashEmbedder())
    >>> eng.add({"user_id": "ana", "text": "I am allergic to peanuts"}).added
    [1]
    >>> eng.search("ana", "peanut allergy")[0].event.text
    'I am allergic to peanuts'
    """

    def __init__(
        self,
        store: str | Path | Store | None = None,
        *,
        tenant: str = "default",
        embedder: str | Embedder = "minilm",
        retrieval: RetrievalConfig | None = None,
        count_tokens: TokenCounter = estimate_tokens,
        extractor: str | Extractor | None = "auto",
        min_relative_score: float = 0.3,
        assistant_weight: float = 0.5,
        assistant_item_tokens: int = 80,
    ) -> None:
        if assistant_weight < 0 or assistant_item_tokens < 1:
            raise InvalidInput("assistant_weight must be >= 0 and assistant_item_tokens >= 1")
        self.store: Store = (
            store
            if store is not None and not isinstance(store, (str, Path))
            else open_store(store or default_store_url())
        )
        self.tenant = tenant
        self.bound_user: str | None = None  # set by ``for_tenant(..., user=U)``: this one user only
        self._embedder_spec = embedder
        self._embedder: Embedder | None = embedder if isinstance(embedder, Embedder) else None
        self._retrieval = retrieval or RetrievalConfig()
        self._retriever: Retriever | None = None
        self.count_tokens = count_tokens
        self._extractor_spec = extractor
        self.min_relative_score = min_relative_score
        self.assistant_weight = assistant_weight
        self.assistant_item_tokens = assistant_item_tokens
        # Caches, shared by every ``for_tenant`` view (the server makes one per request):
        self._extractors: dict[str, Extractor] = {}
        self._chat_models: dict[str | None, ChatModel] = {}
        self._memory_vectors = MemoryVectors()
        self._recommenders: dict[tuple[str, str, int], Any] = {}
        self._assessors: dict[str, Assessor] = {}  # by embedder name: holds the domain example vectors

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.close()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            assert isinstance(self._embedder_spec, str)
            self._embedder = load_embedder(self._embedder_spec)
        return self._embedder

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.store, self.embedder, self._retrieval)
        return self._retriever

    def for_tenant(self, tenant: str, *, user: str | None = None) -> Engine:
        """The same store, models and caches, scoped to another tenant (the server's view).

        With ``user`` the view reaches that one user and nothing else: any other user, and
        the tenant-wide ``users`` and ``stats``, raise ``TenantIsolationError``. Every verb
        that touches a user's data names it through ``_scope`` (or ``add``, per event), so
        this is the one place a user-scoped API key is enforced.

        Views share the store: close only the engine they came from.
        """
        _ = self.retriever  # created once here, so that every view shares its cache
        view = copy.copy(self)
        view.tenant = tenant
        view.bound_user = user
        return view

    def _scope(self, user_id: str) -> Scope:
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidInput("user_id must be a non-empty string")
        self._check_user(user_id)
        return Scope(self.tenant, user_id)

    def _check_user(self, user_id: str | None) -> None:
        """Refuse any user but the bound one (None: a tenant-wide read)."""
        if self.bound_user is not None and user_id != self.bound_user:
            what = "tenant-wide data" if user_id is None else "another user"
            raise TenantIsolationError(f"this key is scoped to user {self.bound_user!r}: it cannot reach {what}")

    # -- writes -----------------------------------------------------------------------

    def add(
        self,
        events: EventIn | Mapping[str, Any] | Iterable[EventIn | Mapping[str, Any]],
        *,
        embed: bool = True,
    ) -> AddResult:
        """Store events as one transaction: all of them, or (on any bad one) none.

        With ``embed=False`` vectors are computed at the user's next search instead, which
        makes bulk ingest bound by the disk rather than the model.
        """
        batch = _coerce(events)
        for event in batch:
            self._check_user(event.user_id)
        if not batch:
            return AddResult()
        vectors = None
        model = None
        if embed:
            vectors = self.embedder.embed([embed_text(e.role, e.text) for e in batch])
            model = self.embedder.name
        return self.store.add_events(self.tenant, batch, vectors, model)

    def erase(self, user_id: str) -> int:
        """Remove every trace of a user (rows, index entries, vectors); returns events removed."""
        scope = self._scope(user_id)
        removed = self.store.erase_user(scope)
        if self._retriever is not None:
            self._retriever.cache.forget(scope)
        self._memory_vectors.forget(scope.tenant, scope.user_id)
        return removed

    def import_user(self, data: UserExport | Mapping[str, Any] | str | Path) -> AddResult:
        """Restore a user from ``export``'s JSON (into this engine's tenant)."""
        if isinstance(data, (str, Path)):
            path = Path(data)
            if not path.is_file():
                raise NotFound(f"no such file: {path}")
            try:
                data = UserExport.model_validate_json(path.read_bytes())
            except ValidationError as exc:
                raise InvalidInput(f"{path.name} is not a tailored user export: {explain(exc)}") from exc
        elif not isinstance(data, UserExport):
            try:
                data = UserExport.model_validate(data)
            except ValidationError as exc:
                raise InvalidInput(f"not a tailored user export: {explain(exc)}") from exc
        # An export describes one user: everything is restored under that user.
        fields = ("kind", "role", "text", "time", "session_id", "source_id", "payload")
        events = _coerce([{"user_id": data.user_id, **{f: getattr(e, f) for f in fields}} for e in data.events])
        scope = self._scope(data.user_id)
        with self.store.transaction():
            # Events already stored (by source id) are looked up before the add, so that the
            # ids the add hands out map to exactly the events it stored.
            existing = self.store.event_ids_by_source(scope, [e.source_id for e in events if e.source_id])
            result = self.add(events, embed=False)
            added = iter(result.added)
            id_map = {}
            for old, new in zip(data.events, events):
                if new.source_id is not None and new.source_id in existing:
                    id_map[old.id] = existing[new.source_id]
                else:
                    id_map[old.id] = next(added)
            memory_map = memory_profile.import_memories(self.store, scope, data, id_map)
            # The log is appended: entries already held (the same export imported again) are skipped.
            held = {(u.at, u.purpose, u.source, u.query) for u in every_sensitive_use(self.store, scope)}
            fresh = [u for u in data.sensitive_uses if (u.at, u.purpose, u.source, u.query) not in held]
            off = sorted(set(data.sensitive_off) | set(self.store.sensitive_off(scope)))
            restore_sensitive(self.store, scope, check_off(off), fresh, id_map, memory_map)
        return result

    # -- reads ------------------------------------------------------------------------

    def search(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        session_id: str | None = None,
    ) -> list[SearchHit]:
        """The user's events that best answer ``query``, best first, with score parts."""
        if not query.strip():
            raise InvalidInput("query is empty")
        if k < 1:
            raise InvalidInput("k must be at least 1")
        if mode not in ("hybrid", "bm25", "dense"):
            raise InvalidInput(f"mode must be hybrid, bm25 or dense, not {mode!r}")
        flt = EventFilter(since=since, until=until, kinds=tuple(kinds) if kinds else None, session_id=session_id)
        return self.retriever.search(self._scope(user_id), query, k=k, mode=mode, flt=flt)

    def context(
        self,
        user_id: str,
        query: str,
        *,
        budget: int = 1000,
        k: int = 30,
        profile: bool = True,
        records: bool = True,
        task: str = "general",
    ) -> Context:
        """What the engine knows for ``query``, fenced as user data, under ``budget`` tokens.
        The current profile (pinned and most relevant first) and the ``task`` summary are
        packed first and shown last, after the best evidence, next to the request.
        ``records=False`` leaves the evidence out, for a prompt that needs only who the user is."""
        if budget < 50:
            raise InvalidInput("budget must be at least 50 tokens")
        if not (profile or records):
            raise InvalidInput("a context needs the profile, the records or both")
        off = self._sensitive_off(user_id)
        hits = self.search(user_id, query, k=k) if records else []
        hits = [h for h in hits if not blocked(h.event.text, off)]
        memories: list[Memory] = []
        summary = None
        if profile:
            current = self.profile(user_id)
            kept = [m for m in current.facts + current.preferences if not blocked(m.text, off)]
            memories = self._rank_memories(query, kept)
            summary = next((s.text for s in current.summaries if s.task == task), None)
            if summary is not None and blocked(summary, off):
                summary = None
        quotes = {i: q for i, q in self._quotes(user_id, memories).items() if not blocked(q, off)}
        ctx = build_context(
            user_id,
            query,
            hits,
            budget=budget,
            count=self.count_tokens,
            profile=memories,
            summary=summary,
            min_relative_score=self.min_relative_score,
            assistant_weight=self.assistant_weight,
            assistant_item_tokens=self.assistant_item_tokens,
            quotes=quotes,
        )
        shown = set(ctx.memories)
        self._audit(
            user_id,
            "context",
            query,
            [("event", i.event_id, i.text) for i in ctx.items]
            + [("memory", m.id, f"{m.text}\n{quotes.get(m.id, '')}") for m in memories if m.id in shown],
        )
        return ctx

    def _sensitive_off(self, user_id: str) -> frozenset[str]:
        return frozenset(self.store.sensitive_off(self._scope(user_id)))

    def _audit(
        self, user_id: str, purpose: Purpose, query: str, items: Sequence[tuple[Literal["memory", "event"], int, str]]
    ) -> None:
        """Record the sensitive ones among ``items`` handed to a model (see ``safety.consent``)."""
        found = uses(purpose, query, items)
        if found:
            self.store.log_sensitive_uses(self._scope(user_id), found)

    def _quotes(self, user_id: str, memories: list[Memory]) -> dict[int, str]:
        """Each memory's latest evidence event with role ``user`` (or no role): the user's
        own words. Assistant turns and named speakers (two people in one log) are not quoted."""
        ids = sorted({e for m in memories for e in m.evidence})
        said = {e.id: e.text for e in self.store.get_events(self._scope(user_id), ids) if e.role in (None, "user")}
        quotes = {}
        for m in memories:
            own = [e for e in m.evidence if e in said]
            if own:
                quotes[m.id] = said[max(own)]
        return quotes

    def _rank_memories(self, query: str, memories: list[Memory]) -> list[Memory]:
        """Pinned first, then by similarity to the query (memory vectors are cached by text)."""
        if len(memories) < 2:
            return memories
        vectors = self._memory_vectors.get(
            memories[0].tenant, memories[0].user_id, [m.text for m in memories], self.embedder
        )
        q = self.retriever.query_vector(query)
        return sorted(memories, key=lambda m: (not m.pinned, -float(vectors[m.text] @ q)))

    def events(
        self,
        user_id: str,
        *,
        limit: int = 100,
        after_id: int = 0,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        session_id: str | None = None,
    ) -> list[Event]:
        """A page of the user's events in id order; pass the last id as ``after_id`` for the next."""
        if not 1 <= limit <= 10_000 or not 0 <= after_id < 2**63:
            raise InvalidInput("limit must be 1-10000 and after_id a non-negative 64-bit integer")
        flt = EventFilter(since=since, until=until, kinds=tuple(kinds) if kinds else None, session_id=session_id)
        return self.store.list_events(self._scope(user_id), flt, limit=limit, after_id=after_id)

    def export(self, user_id: str) -> UserExport:
        """Everything stored for the user, portable to another store with ``import_user``."""
        scope = self._scope(user_id)
        self.user(user_id)  # NotFound unless they own something: events, memories or summaries
        events: list[Event] = []
        while True:
            page = self.store.list_events(scope, limit=5000, after_id=events[-1].id if events else 0)
            events.extend(page)
            if len(page) < 5000:
                break
        return UserExport(
            tenant=self.tenant,
            user_id=user_id,
            exported_at=utcnow(),
            events=events,
            memories=self.store.memories(scope),
            changes=self.store.memory_log(scope),
            summaries=self.store.summaries(scope, latest=False),
            sensitive_off=self.store.sensitive_off(scope),
            sensitive_uses=every_sensitive_use(self.store, scope),
        )

    def user(self, user_id: str) -> UserStats:
        """One user's counts; ``NotFound`` if the tenant has no such user."""
        found = self.store.user_stats(self._scope(user_id))
        if found is None:
            raise NotFound(f"no user {user_id!r} in tenant {self.tenant!r}")
        return found

    def users(self, *, limit: int = 1000, after: str = "") -> list[UserStats]:
        self._check_user(None)
        return self.store.users(self.tenant, limit=limit, after=after)

    def stats(self) -> Stats:
        self._check_user(None)
        return self.store.stats(self.tenant)

    # -- memories and profiles ----------------------------------------------------------

    def _get_extractor(self, spec: str | Extractor) -> Extractor:
        if isinstance(spec, Extractor):
            return spec
        if spec not in self._extractors:
            self._extractors[spec] = load_extractor(spec)
        return self._extractors[spec]

    def extract(self, user_id: str, extractor: str | Extractor = "auto", *, max_events: int | None = None) -> list[int]:
        """Derive memories from the user's events not yet read by ``extractor``.

        Returns the ids of memories created or changed. Incremental: run it as often as
        you like; each event is read once per extractor.
        """
        return memory_profile.extract(self.store, self._scope(user_id), self._get_extractor(extractor), max_events)

    def profile(self, user_id: str, *, as_of: datetime | None = None, refresh: bool = True) -> Profile:
        """The user's facts and preferences valid at ``as_of`` (default now), with summaries.

        With ``refresh`` the engine's extractor first reads any new events.
        """
        if refresh and self._extractor_spec is not None:
            self.extract(user_id, self._extractor_spec)
        return memory_profile.profile(self.store, self._scope(user_id), as_of)

    def history(self, user_id: str) -> list[Memory]:
        """Every memory the user ever had, current or not, oldest first."""
        return memory_profile.history(self.store, self._scope(user_id))

    def why(self, user_id: str, memory_id: int) -> Explanation:
        """The evidence events and the change history behind a memory."""
        return memory_profile.why(self.store, self._scope(user_id), memory_id)

    def remember(self, user_id: str, memory: MemoryIn | dict[str, Any]) -> Memory:
        """Add a memory on the user's word; it wins over anything extracted."""
        return memory_profile.remember(self.store, self._scope(user_id), memory)

    def correct(self, user_id: str, memory_id: int, **changes: Any) -> Memory:
        """Replace a memory with the user's correction (value, polarity, text, ...)."""
        return memory_profile.correct(self.store, self._scope(user_id), memory_id, changes)

    def forget(self, user_id: str, memory_id: int) -> Memory:
        """Delete a memory on the user's request; it is not extracted again from old statements."""
        return memory_profile.delete(self.store, self._scope(user_id), memory_id)

    def pin(self, user_id: str, memory_id: int, pinned: bool = True) -> Memory:
        """Pin (or unpin) a memory: always in the context, never replaced by extraction."""
        return memory_profile.pin(self.store, self._scope(user_id), memory_id, pinned)

    def summarize(
        self,
        user_id: str,
        *,
        task: str = "general",
        model: ChatModel | str | None = None,
        min_new_events: int = 20,
        force: bool = False,
    ) -> Summary:
        """The user's ``task`` summary, rebuilt when ``min_new_events`` arrived since the last.

        Without ``model`` it is written from the profile; with a chat model (or a model spec)
        the model writes it from the profile, the new events and the previous summary.
        """
        if self._extractor_spec is not None:
            self.extract(user_id, self._extractor_spec)
        writer = summary_writer(task, None if model is None else self._chat_model(model))
        return memory_profile.summarize(self.store, self._scope(user_id), task, writer, min_new_events, force)

    # -- recommendation ---------------------------------------------------------------

    def recommend_model_path(self) -> Path:
        """Where ``recommend_fit`` saves the tenant's model: beside a SQLite file, else in
        ``$TAILORED_HOME/models``."""
        from .recommend.service import model_path
        from .store import local_file

        db = local_file(self.store.url)
        home = db.parent if db is not None else Path(os.environ.get("TAILORED_HOME", DEFAULT_HOME))
        return model_path(home, self.tenant)

    def catalog_add(self, paths: Sequence[str | Path], *, rating_range: tuple[float, float] = (0.5, 5.0)) -> Any:
        """Import catalogue items, tags and interactions (CSV or JSONL, MovieLens files as
        they are), every line checked first and everything stored in one transaction."""
        from .recommend.service import import_files

        self._check_user(None)
        return import_files(self.store, self.tenant, [Path(p) for p in paths], rating_range)

    def recommend_fit(self, *, model: str = "hybrid", path: str | Path | None = None) -> Any:
        """Fit a recommender on the tenant's interactions and save it (``FitResult``)."""
        from .recommend.service import fit

        self._check_user(None)
        return fit(self.store, self.tenant, Path(path) if path else self.recommend_model_path(), self.embedder, model)

    def recommend(
        self,
        user_id: str,
        k: int = 10,
        *,
        ask: str = "",
        rerank: bool = False,
        model: ChatModel | str | None = None,
        exclude_seen: bool = True,
        path: str | Path | None = None,
    ) -> list[Recommendation]:
        """The user's top ``k`` catalogue items with explanations: from the fitted model, or
        for a user without interactions from their profile and popularity; ``ask`` adds a
        request; ``rerank`` lets the chat model reorder the top 20 and explain each pick."""
        from .recommend.service import Recommend

        self._scope(user_id)
        target = Path(path) if path else self.recommend_model_path()
        key = (self.tenant, str(target), target.stat().st_mtime_ns if target.is_file() else 0)
        rec = self._recommenders.get(key)
        if rec is None:
            rec = Recommend(self.store, self.tenant, target, self.embedder)
            if target.is_file():  # without a model, popularity follows the store: not cached
                self._recommenders.clear()
                self._recommenders[key] = rec
        chat = self._chat_model(model) if rerank else None
        off = self._sensitive_off(user_id)
        prefs = self.store.memories(self._scope(user_id), kind="preference", statuses=["active"]) if off else []
        hidden = frozenset(m.id for m in prefs if blocked(m.text, off))

        def on_prompt(lines: list[tuple[str, str]]) -> None:
            self._audit(user_id, "recommend", ask, [("memory", int(i), t) for i, t in lines])

        return rec.recommend(
            user_id, k, ask=ask, exclude_seen=exclude_seen, chat_model=chat, hidden=hidden, on_prompt=on_prompt
        )

    # -- chat -------------------------------------------------------------------------

    def _chat_model(self, spec: ChatModel | str | None) -> ChatModel:
        """A model instance as is; a spec loaded once per engine (loading reads the weights)."""
        if isinstance(spec, ChatModel):
            return spec
        if spec not in self._chat_models:
            self._chat_models[spec] = load_chat_model(spec)
        return self._chat_models[spec]

    @overload
    def chat(
        self,
        user_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: ChatModel | str | None = None,
        memory: bool = True,
        stream: Literal[False] = False,
        budget: int = 1000,
        max_tokens: int = 512,
        temperature: float = 0.0,
        session_id: str | None = None,
        safety: SafetyMode = "off",
    ) -> ChatResult: ...

    @overload
    def chat(
        self,
        user_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: ChatModel | str | None = None,
        memory: bool = True,
        stream: Literal[True],
        budget: int = 1000,
        max_tokens: int = 512,
        temperature: float = 0.0,
        session_id: str | None = None,
        safety: SafetyMode = "off",
    ) -> ChatStream: ...

    @overload
    def chat(
        self,
        user_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: ChatModel | str | None = None,
        memory: bool = True,
        stream: bool,
        budget: int = 1000,
        max_tokens: int = 512,
        temperature: float = 0.0,
        session_id: str | None = None,
        safety: SafetyMode = "off",
    ) -> ChatResult | ChatStream: ...

    def chat(
        self,
        user_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        model: ChatModel | str | None = None,
        memory: bool = True,
        stream: bool = False,
        budget: int = 1000,
        max_tokens: int = 512,
        temperature: float = 0.0,
        session_id: str | None = None,
        safety: SafetyMode = "off",
    ) -> ChatResult | ChatStream:
        """Answer OpenAI-style ``messages`` for ``user_id``, personalized with their context.

        ``model`` is a ``ChatModel``, a model spec (``qwen2.5-1.5b``, a GGUF path,
        ``openai:NAME``) or None for the default local model, loaded once per engine. The new
        user turn and the answer are stored in one ``add`` only after generation succeeded;
        ``memory=False`` neither reads nor writes memory. Returns a ``ChatResult``, or with
        ``stream=True`` a ``ChatStream`` of text chunks. See ``tailored.chat``.

        ``safety`` (see ``tailored.safety.guidance``): ``off``; ``adapt`` puts the user's facts
        that bear on a risky request first in the context, with guidance to account for them;
        ``ask`` first answers a risky request whose key background is unknown with one
        clarifying question (at most three per request), remembers the user's reply as a
        memory, then answers as ``adapt`` does.
        """
        if safety not in SAFETY_MODES:
            raise InvalidInput(f"safety must be one of {', '.join(SAFETY_MODES)}, not {safety!r}")
        if safety != "off" and not memory:
            raise InvalidInput("the safety modes read and write the user's memory: they need memory=True")
        model = self._chat_model(model)
        self._scope(user_id)  # validate the id before a model loads
        if memory:  # the turn will be stored: the id must be one every write accepts
            try:
                check_user_id(user_id)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from exc
        preface = query = None
        if safety != "off":
            turns = read_turns([(m.role, m.content) for m in to_messages(messages)])
            if safety == "ask" and turns.reply is not None:
                self.remember(user_id, answer_memory(*turns.reply))
            found = self._assess(user_id, turns.request)
            asking = next_question(found, turns) if safety == "ask" else None
            if asking is not None:
                return fixed_reply(self, user_id, messages, asking, model, stream=stream, session_id=session_id)
            preface, query = adapt_block(found), turns.request
            if preface is not None:
                shown = [(f.source, f.id, f.text) for f in strongest(found.facts)]
                self._audit(user_id, "safety", turns.request, shown)
        return personalized_chat(
            self,
            user_id,
            messages,
            model,
            memory=memory,
            stream=stream,
            budget=budget,
            max_tokens=max_tokens,
            temperature=temperature,
            session_id=session_id,
            preface=preface,
            query=query,
        )

    # -- safety -----------------------------------------------------------------------

    def assess(
        self, user_id: str, request: str, *, refine: bool = False, model: ChatModel | str | None = None
    ) -> Assessment:
        """How risky ``request`` is for this user: its domain, a risk level, the user's facts
        that bear on it (memories and events found by search, with ids) and the background
        worth asking for. Rules and embeddings, no chat model. See ``tailored.safety``.

        With ``refine`` a chat model (``model``, as for ``chat``: None is the default local
        one) also reads the request, two forward passes, and refines the domain and the risky
        verdict (``tailored.safety.refine``).

        Facts of the categories the user switched off are left out; those returned are
        recorded in the user's audit log (``sensitive_uses``), since the caller is about to
        use them."""
        found = self._assess(user_id, request, self._chat_model(model) if refine else None)
        self._audit(user_id, "assess", request, [(f.source, f.id, f.text) for f in found.facts])
        return found

    def _assess(self, user_id: str, request: str, model: ChatModel | None = None) -> Assessment:
        off = self._sensitive_off(user_id)
        name = self.embedder.name
        if name not in self._assessors:
            self._assessors[name] = Assessor(self.embedder)
        return self._assessors[name].assess(self, user_id, request, off, model)

    def sensitive(self, user_id: str) -> list[SensitiveMemory]:
        """The user's current memories that reveal a sensitive category (health, medication,
        pregnancy, age, addiction, mental health, disability, money trouble, abuse, legal
        status), each with its categories: labelled now, by rules, never stored."""
        return sensitive_memories(self.profile(user_id))

    def sensitive_off(self, user_id: str) -> list[str]:
        """The sensitive categories the user switched personalization off for (``all``: every one)."""
        return self.store.sensitive_off(self._scope(user_id))

    def set_sensitive_off(self, user_id: str, categories: Sequence[str] | str) -> list[str]:
        """Switch personalization off for exactly ``categories`` (``["all"]``: every sensitive
        category; ``[]``: none). Memories and events of those categories stay stored and
        visible to the user, but no context, safety block or judge uses them from now on."""
        off = check_off(categories)
        self.store.set_sensitive_off(self._scope(user_id), off, at=utcnow())
        return off

    def sensitive_uses(self, user_id: str, *, limit: int | None = 100, after_id: int = 0) -> list[SensitiveUse]:
        """A page of the user's audit log, oldest first: every use of a memory or event of a
        sensitive category in what the engine handed a model. Pass the last id as ``after_id``;
        ``limit=None`` reads the whole log."""
        if limit is None:
            return every_sensitive_use(self.store, self._scope(user_id))
        if not 1 <= limit <= 10_000 or not 0 <= after_id < 2**63:
            raise InvalidInput("limit must be 1-10000 and after_id a non-negative 64-bit integer")
        return self.store.sensitive_uses(self._scope(user_id), limit=limit, after_id=after_id)

    # -- judge ------------------------------------------------------------------------

    def judge(
        self,
        model: ChatModel | str | None = None,
        *,
        calibrator: Calibrator | Literal["auto"] | None = "auto",
        threshold: float | None = None,
        method: Literal["pointwise", "pairwise"] = "pointwise",
    ) -> Judge:
        """A personalized judge that knows this engine's users (of this tenant).

        ``eng.judge().compare("ana", query, a, b)`` says which response Ana would prefer,
        with a probability; ``compare(Persona(text=...), ...)`` judges for free text. The
        model is loaded once per engine, as for ``chat``; ``calibrator="auto"`` uses the one
        saved for the model's name. ``method``: ``pointwise`` reads each response alone (no
        position bias), ``pairwise`` reads the pair in both orders. See ``tailored.judge.Judge``.
        """
        return Judge(
            self._chat_model(model), _JudgeProfiles(self), calibrator=calibrator, threshold=threshold, method=method
        )


class _JudgeProfiles:
    """The engine as the judge's source of profiles: memories of the categories the user
    switched off are left out, and the sensitive ones handed over are recorded in the
    user's audit log (all of them: the judge may use any)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def user(self, user_id: str) -> UserStats:
        return self.engine.user(user_id)

    def profile(self, user_id: str) -> Profile:
        full = self.engine.profile(user_id)
        off = self.engine._sensitive_off(user_id)
        facts = [m for m in full.facts if not blocked(m.text, off)]
        preferences = [m for m in full.preferences if not blocked(m.text, off)]
        self.engine._audit(user_id, "judge", "", [("memory", m.id, m.text) for m in facts + preferences])
        return full.model_copy(update={"facts": facts, "preferences": preferences})
