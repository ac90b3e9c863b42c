"""Pydantic models shared by every layer: what goes in, what comes out.

They are the public contract. Inputs forbid unknown fields, so a typo in a field name is an
error instead of silently lost data.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_TEXT_CHARS = 32_000
"""Longest text one event may carry; longer documents should be split by the caller."""

KNOWN_KINDS = ("message", "document", "rating", "click", "query")
"""Kinds tailored knows; any other lower-case identifier is accepted as a custom kind."""

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_ID_CHARS = 200

SearchMode = Literal["hybrid", "bm25", "dense"]

Id = Annotated[int, Field(ge=0, lt=2**63)]
"""A stored row id: what SQLite's INTEGER holds."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    """Naive times are taken as UTC so that every stored time compares with every other.

    A time whose UTC instant falls outside years 1-9999 (``9999-12-31T23:59:59-14:00``)
    cannot be stored or compared, so it is refused here rather than failing deep inside.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time is outside years 1-9999 once converted to UTC") from exc


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A time normalised to UTC (naive means UTC); out of range in UTC is a validation error."""

# Characters refused in anything that names or labels (ids, roles, memory fields): C0 and
# C1 controls, DEL, lone surrogates (not encodable as UTF-8) and the Unicode line and
# paragraph separators. A newline in a role could otherwise forge lines of a prompt.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_TEXT_WHITESPACE = frozenset("\t\n\r\x0b\x0c")


def forbidden_char(value: str, allow: frozenset[str] = frozenset()) -> str | None:
    """The first character of ``value`` that no stored label may hold, as ``U+XXXX``; None if clean.

    ``allow`` lists control characters that are fine here (line breaks in free text).
    """
    if value.isprintable():  # fast path: no controls, surrogates or separators at all
        return None
    for ch in value:
        if ch not in allow and unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            return f"U+{ord(ch):04X}"
    return None


def _clean(value: str, what: str, allow: frozenset[str] = frozenset()) -> str:
    bad = forbidden_char(value, allow)
    if bad is not None:
        kind = "a lone surrogate" if 0xD800 <= int(bad[2:], 16) <= 0xDFFF else "a control character"
        raise ValueError(f"{what} contains {kind} ({bad})")
    return value


def check_id(value: str, what: str) -> str:
    """An id (session, source): 1-200 printable characters without surrounding spaces."""
    if not 0 < len(value) <= MAX_ID_CHARS or value != value.strip():
        raise ValueError(f"{what} must be 1-{MAX_ID_CHARS} characters without surrounding spaces")
    return _clean(value, what)


def check_text(value: str, what: str) -> str:
    """Free text: line breaks and tabs are fine; other control characters, NUL and lone
    surrogates (not encodable as UTF-8, so not storable) are not."""
    return _clean(value, what, _TEXT_WHITESPACE)


def check_user_id(value: str) -> str:
    """A user id as every layer accepts it: 1-200 printable characters without surrounding
    spaces, no ``/``, and not ``.`` or ``..``.

    The REST API names a user in its URL path (``/v1/users/{user_id}/...``), and HTTP
    servers decode ``%2F`` before routing while browsers resolve ``.`` and ``..`` segments,
    so such an id could be written but never read, exported or erased over HTTP.
    """
    check_id(value, "user_id")
    if "/" in value:
        raise ValueError("user_id must not contain '/' (it names the user in URL paths)")
    if value in (".", ".."):
        raise ValueError("user_id must not be '.' or '..' (they are not URL path segments)")
    return value


UserId = Annotated[str, AfterValidator(check_user_id)]
"""A user id checked by ``check_user_id``."""


MAX_PAYLOAD_DEPTH = 32
"""Deepest nesting of objects and lists a payload may have: deeper ones cannot be written
back as JSON (serializers stop at a depth) and no real payload needs them."""


def _check_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Keys are labels (no control characters); string values may hold line breaks and tabs;
    numbers are finite (``NaN`` and ``Infinity`` are not JSON); nesting is at most
    ``MAX_PAYLOAD_DEPTH``. Walked without recursion, so no payload can overflow the stack."""
    stack: list[tuple[Any, str, int]] = [(payload, "payload", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _clean(value, where, _TEXT_WHITESPACE)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where} holds {value}, which is not a JSON number")
        elif isinstance(value, (dict, list)):
            if depth > MAX_PAYLOAD_DEPTH:
                raise ValueError(f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    _clean(str(key), f"{where} key")
                    stack.append((item, f"{where}.{key}" if len(where) < 200 else where, depth + 1))
            else:
                stack.extend((item, where, depth + 1) for item in value)
    return payload


def one_line(value: str, what: str) -> str:
    """Line breaks and tabs become single spaces (a memory is one line of a profile); any
    other control character or a lone surrogate is refused."""
    _clean(value, what, _TEXT_WHITESPACE)
    if value.isprintable():
        return value
    return re.sub(r"[\t\n\r\x0b\x0c]+", " ", value)


class EventIn(BaseModel):
    """One interaction to remember, as a caller supplies it.

    Examples
    --------
    >>> EventIn(user_id="ana", text="I am vegetarian").kind
    'message'
    """

    model_config = ConfigDict(extra="forbid")

    user_id: str
    kind: str = "message"
    role: str | None = None
    text: str
    time: datetime | None = None
    session_id: str | None = None
    source_id: str | None = None
    payload: dict[str, Any] | None = None

    @field_validator("user_id")
    @classmethod
    def _user(cls, v: str) -> str:
        return check_user_id(v)

    @field_validator("session_id", "source_id")
    @classmethod
    def _ids(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else check_id(v, str(info.field_name))

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if not _KIND_RE.match(v):
            raise ValueError(f"kind {v!r} must be a lower-case identifier such as {', '.join(KNOWN_KINDS)}")
        return v

    @field_validator("role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        if v is not None and not 0 < len(v.strip()) <= 64:
            raise ValueError("role must be 1-64 characters")
        return None if v is None else _clean(v, "role")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty")
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(v)} characters; the limit is {MAX_TEXT_CHARS}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text is not valid Unicode (lone surrogate)") from exc
        if "\x00" in v:
            raise ValueError("text contains a NUL character")
        return v

    @field_validator("payload")
    @classmethod
    def _payload(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else _check_payload(v)

    @field_validator("time")
    @classmethod
    def _time(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _as_utc(v)


class Event(BaseModel):
    """A stored, immutable event with its provenance."""

    model_config = ConfigDict(frozen=True)

    id: Id
    tenant: str
    user_id: str
    kind: str
    role: str | None
    text: str
    time: datetime
    ingested_at: datetime
    session_id: str | None = None
    source_id: str | None = None
    payload: dict[str, Any] | None = None


class AddResult(BaseModel):
    """What one ``Engine.add`` call stored."""

    added: list[int] = Field(default_factory=list, description="ids of new events, in input order")
    duplicates: int = Field(0, description="events skipped because their source_id was already stored")
    embedded: int = Field(0, description="events embedded in this call (the rest are embedded at first search)")


class ScoreParts(BaseModel):
    """Why a hit ranked where it did: each retriever's contribution."""

    bm25: float = 0.0
    dense: float = 0.0
    recency: float = 0.0
    bm25_rank: int | None = None
    dense_rank: int | None = None


class SearchHit(BaseModel):
    event: Event
    score: float
    parts: ScoreParts


class ContextItem(BaseModel):
    event_id: int
    time: datetime
    kind: str
    role: str | None
    text: str
    score: float


class Context(BaseModel):
    """Evidence about a user, packed under a token budget, ready to embed in a prompt."""

    user_id: str
    query: str
    text: str = Field(description="the fenced block to put in a system message")
    items: list[ContextItem]
    memories: list[int] = Field(default_factory=list, description="ids of the profile memories included")
    tokens: int
    budget: int


class UserStats(BaseModel):
    user_id: str
    events: int
    first: datetime | None
    last: datetime | None


class Stats(BaseModel):
    tenant: str
    users: int
    events: int
    vectors: int
    kinds: dict[str, int]
    db_path: str | None = Field(description="the store's file (local use only; never sent by the server)")
    db_bytes: int | None = Field(description="size of the whole store file, all tenants (admin only over REST)")
    tenant_bytes: int = Field(0, description="bytes of this tenant's own text, payloads, memories and vectors")


class ApiKey(BaseModel):
    """An API key's public record; the secret itself is shown once, at creation."""

    id: str
    tenant: str
    admin: bool
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    user_id: str | None = None  # a user-scoped key reaches this one user of its tenant only


# -- memories: what the engine derives about a user -----------------------------------

MemoryKind = Literal["fact", "preference"]
Polarity = Literal["like", "dislike", "avoid"]
# Who made a memory: "user" (an edit, which extraction never overrides) or the name of the
# extractor that proposed it ("rules", "llm", or any registered third-party extractor).
MemorySource = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
MemoryStatus = Literal["active", "superseded", "retracted", "deleted"]


class MemoryIn(BaseModel):
    """A memory proposed by an extractor or a user, before evolution decides its fate.

    ``key`` names the aspect it is about: the attribute of a fact (``"occupation"``) or the
    topic of a preference (``"spicy food"``). A new value for the same kind and key
    supersedes the old one, unless ``multi`` says the aspect holds several values at once
    (pets, hobbies); then each value is its own memory.
    """

    model_config = ConfigDict(extra="forbid")

    kind: MemoryKind = Field(description="fact or preference; when left out, a preference if a polarity is given")
    key: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=1000)
    polarity: Polarity | None = None
    strength: float = Field(0.5, ge=0.0, le=1.0)
    confidence: float = Field(0.6, ge=0.0, le=1.0)
    multi: bool = False
    text: str = Field("", max_length=2000, description="the memory as a sentence about the user")
    evidence: list[int] = Field(default_factory=list, description="ids of the events it came from")
    valid_from: datetime | None = None
    retract: bool = Field(False, description="the user no longer holds this: close it, add nothing")

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, data: Any) -> Any:
        """A stance makes a preference: ``{"key": "tea", "value": "green", "polarity":
        "like"}`` needs no kind, as ``tailored memories add`` needs none."""
        if isinstance(data, dict) and "kind" not in data:
            return {**data, "kind": "preference" if data.get("polarity") else "fact"}
        return data

    @field_validator("key", "value", "text")
    @classmethod
    def _line(cls, v: str, info: ValidationInfo) -> str:
        return one_line(v, str(info.field_name))

    @field_validator("valid_from")
    @classmethod
    def _time(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _as_utc(v)


class Memory(BaseModel):
    """A stored memory with its lifetime and provenance. Never silently deleted:
    a replaced memory gets ``valid_to`` and ``superseded_by``."""

    id: Id
    tenant: str
    user_id: str
    kind: MemoryKind
    key: str
    value: str
    polarity: Polarity | None
    strength: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    multi: bool
    text: str
    source: MemorySource
    status: MemoryStatus
    pinned: bool
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: Id | None
    evidence: list[Id]
    created_at: datetime
    updated_at: datetime


class MemoryChange(BaseModel):
    """One entry of a memory's history: what happened, when, and why."""

    memory_id: Id
    at: datetime
    action: Literal[
        "created", "merged", "superseded", "retracted", "edited", "deleted", "pinned", "unpinned", "conflict"
    ]
    detail: str = ""
    other_id: Id | None = None


class Summary(BaseModel):
    """A per-user (optionally per-task) summary and the events it covers."""

    id: Id
    user_id: str
    task: str
    text: str
    covers_to_event: Id = Field(description="the last event id it accounts for")
    events_covered: Id
    created_at: datetime


class Profile(BaseModel):
    """The user's memories valid at ``as_of`` (now by default), with their summaries."""

    user_id: str
    as_of: datetime
    facts: list[Memory]
    preferences: list[Memory]
    summaries: list[Summary] = Field(default_factory=list)


class SensitiveUse(BaseModel):
    """One use of a user's sensitive memory or event in what the engine handed a model: the
    audit log the user can read and export. It names the item and its categories, not the
    fact again, so the log holds no copy of what it is about."""

    id: int = 0
    at: datetime
    purpose: str = Field(description="what the item was used for: context, safety, judge or recommend")
    source: Literal["memory", "event"]
    item_id: int
    categories: list[str]
    query: str = Field(description="the request the item was used for (at most 200 characters)")


class UserExport(BaseModel):
    """Everything stored for one user, in a portable form that ``Engine.import_user`` restores:
    events, memories with their history, summaries, and the sensitive-category settings and
    audit log."""

    format: Literal["tailored.user-export"] = "tailored.user-export"
    version: int = 2
    tenant: str
    user_id: str
    exported_at: datetime
    events: list[Event]
    memories: list[Memory] = Field(default_factory=list)
    changes: list[MemoryChange] = Field(default_factory=list)
    summaries: list[Summary] = Field(default_factory=list)
    sensitive_off: list[str] = Field(
        default_factory=list, description="sensitive categories the user switched personalization off for"
    )
    sensitive_uses: list[SensitiveUse] = Field(default_factory=list)

    @field_validator("user_id")
    @classmethod
    def _user(cls, v: str) -> str:
        return check_user_id(v)

    @model_validator(mode="after")
    def _storable(self) -> UserExport:
        """What an import writes as it is (memories, changes, summaries) must be storable:
        valid Unicode, and times that exist in UTC. Events are checked as ``EventIn`` on import.
        Memory texts are not held to ``MemoryIn``'s rules, so that data stored before them
        still round-trips; the context renders them neutral."""
        texts = [(f"memories.{n}", getattr(m, n)) for m in self.memories for n in ("key", "value", "text")]
        texts += [("changes.detail", c.detail) for c in self.changes]
        texts += [(f"summaries.{n}", getattr(s, n)) for s in self.summaries for n in ("task", "text")]
        for where, text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"{where} contains a lone surrogate") from exc
        times = [self.exported_at, *(e.time for e in self.events), *(e.ingested_at for e in self.events)]
        times += [t for m in self.memories for t in (m.valid_from, m.valid_to, m.created_at, m.updated_at) if t]
        times += [c.at for c in self.changes] + [s.created_at for s in self.summaries]
        times += [u.at for u in self.sensitive_uses]
        for t in times:
            _as_utc(t)
        return self


class ChatResult(BaseModel):
    """A personalized answer, the context it used and the events it stored."""

    text: str
    context: Context | None = None
    stored: list[int] = []
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    finish_reason: str = Field("stop", description="stop, or length when max_tokens cut the answer")


class Explanation(BaseModel):
    """Why the engine believes a memory: the events it came from and its history."""

    memory: Memory
    evidence: list[Event]
    changes: list[MemoryChange]


INTERACTION_KINDS = ("rating", "click", "purchase", "view")
"""Event kinds that say a user met a catalogue item (the item id in ``payload["item"]``)."""


class CatalogItem(BaseModel):
    """One thing a tenant can recommend: a movie, a product, an article.

    Items belong to the tenant, not to a user: every user of the tenant sees the same
    catalogue, and what a user did with an item is an event of theirs.

    Examples
    --------
    >>> CatalogItem(id="1", title="Toy Story (1995)", attributes={"genres": ["Animation"]}).id
    '1'
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    text: str = ""
    attributes: dict[str, Any] = {}

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v, "item id")

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        if not v.strip() or len(v) > 1000:
            raise ValueError("title must be 1-1000 characters")
        return one_line(v, "title")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(v)} characters; the limit is {MAX_TEXT_CHARS}")
        return check_text(v, "text")

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _check_payload(v)


class Recommendation(BaseModel):
    """One recommended item with its score and why it was chosen."""

    item: CatalogItem
    score: float
    rank: int
    explanation: str = ""
    because: list[str] = Field([], description="ids of the liked items or profile memories behind the pick")
    source: str = Field("", description="the recommender that ranked it")
