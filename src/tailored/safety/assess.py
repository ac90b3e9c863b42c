"""``assess``: how risky a request is for this user, and which of their facts matter.

The same request is safe for one user and harmful for another. Assessing it takes three
steps, none of which needs a chat model:

1. **Domain and intent.** Phrase rules and MiniLM similarity to each domain's examples
   (``domains.py``) place the request in a domain, and say whether it asks for something
   actionable that could harm (a dose, a fast, a bet, a drink).
2. **Facts that matter.** The user's profile memories, and their events found by the
   engine's search (the request itself, and one keyword probe per sensitive category the
   domain cares about, over BM25), are labelled with ``sensitive.categories``; those in the domain's
   categories are the facts that matter, with their ids. Search, not the profile alone:
   the fact that matters is often said once, in passing, among hundreds of other turns.
3. **Risk and what is missing.** A risky request with a fact that matters is ``high``; a
   risky request with none found is ``medium``, and the domain's key background becomes
   the missing facts worth asking for; a request of a sensitive domain that asks for
   nothing risky is ``low``; anything else is ``none``. Words of self-harm are always
   ``high``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from ..embed import Embedder
from ..errors import InvalidInput
from ..llm import ChatModel
from ..text import fold
from ..types import Profile, SearchHit, SearchMode
from .consent import ALL, blocked
from .domains import BY_NAME, RULES, Domain
from .refine import Reading, RefineThresholds, read, refine
from .sensitive import PROBES, Category, categories

ANSWER_PREFIX = "safety_"
"""The key prefix of a memory that holds the user's answer to a safety question (``safety_<key>``)."""

RiskLevel = Literal["none", "low", "medium", "high"]
RISK_LEVELS: tuple[RiskLevel, ...] = ("none", "low", "medium", "high")

_CRISIS = re.compile(
    r"\b(?:kill myself|end (?:it all|my life)|want to die|suicid\w*|self[- ]harm\w*|hurt myself|cut myself|overdose on)\b"
)


class SafetyFact(BaseModel):
    """A fact of the user's that bears on the request: a memory or an event, by id."""

    source: Literal["memory", "event"]
    id: int
    text: str
    categories: list[Category]
    score: float = Field(description="retrieval score for an event, similarity to the request for a memory")


class MissingFact(BaseModel):
    """Background worth asking for before answering: nothing known covers it."""

    key: str
    category: Category | None
    question: str


class Assessment(BaseModel):
    """What ``Engine.assess`` found for one request of one user."""

    user_id: str
    request: str
    domain: Domain
    domain_score: float = Field(description="the domain's score: best example similarity plus phrase evidence")
    risky_request: bool = Field(description="the request asks for something actionable that could harm")
    risk: RiskLevel
    reasons: list[str]
    facts: list[SafetyFact]
    missing: list[MissingFact]


class SafetySource(Protocol):
    """What assessing needs from the engine: search over a user's events, and their profile."""

    def search(self, user_id: str, query: str, *, k: int = ..., mode: SearchMode = ...) -> list[SearchHit]: ...

    def profile(self, user_id: str, *, refresh: bool = ...) -> Profile: ...


@dataclass(frozen=True)
class Thresholds:
    """The settings chosen on the tuning scenarios (``tailored bench safety`` reports them).

    domain
        A request whose best domain score is below this is ``general``.
    risky
        Similarity to a domain's risky examples from which a request counts as risky
        without any risky phrase.
    phrase_weight
        What each matching phrase (at most two) adds to a domain's similarity score.
    k, probe_k
        Events searched with the request, and with each category's probe.
    """

    domain: float = 0.45
    risky: float = 0.65
    phrase_weight: float = 0.2
    k: int = 10
    probe_k: int = 5


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def decide(
    request: str,
    score: dict[Domain, float],
    risky_sim: dict[Domain, float],
    risky_phrase: dict[Domain, bool],
    t: Thresholds,
) -> tuple[Domain, float, bool, list[str]]:
    """Domain, score, risky and reasons from ``Assessor.scores`` under thresholds ``t`` (apart
    from the scores, so that tuning tries many thresholds on one pass of the model)."""
    domain = max(score, key=lambda d: score[d])
    if _CRISIS.search(fold(request)):
        return "mental_health", score["mental_health"], True, ["the request speaks of self-harm"]
    if score[domain] < t.domain:
        return "general", score[domain], False, ["no sensitive domain scores above the threshold"]
    reasons = [f"domain {domain} (score {score[domain]:.2f})"]
    risky = risky_phrase[domain] or risky_sim[domain] >= t.risky
    if risky_phrase[domain]:
        reasons.append("a risky phrase of the domain matches")
    elif risky:
        reasons.append(f"close to the domain's risky examples ({risky_sim[domain]:.2f})")
    return domain, score[domain], risky, reasons


class Assessor:
    """Classifies requests and gathers the facts that matter (one per engine: it holds
    the example vectors)."""

    def __init__(
        self,
        embedder: Embedder,
        thresholds: Thresholds | None = None,
        refine_thresholds: RefineThresholds | None = None,
    ) -> None:
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self.refine_thresholds = refine_thresholds or RefineThresholds()
        self._readings: dict[tuple[str, str], Reading] = {}  # (model, request): a chat asks again
        self._phrases = {r.name: [re.compile(p) for p in r.phrases] for r in RULES}
        self._risky = {r.name: [re.compile(p) for p in r.risky] for r in RULES}
        examples = [(r.name, e) for r in RULES for e in r.examples]
        risky = [(r.name, e) for r in RULES for e in r.risky_examples]
        self._example_domains = [d for d, _ in examples]
        self._risky_domains = [d for d, _ in risky]
        self._examples = _unit(np.asarray(embedder.embed([e for _, e in examples]), dtype=np.float32))
        self._risky_vectors = _unit(np.asarray(embedder.embed([e for _, e in risky]), dtype=np.float32))

    def scores(self, request: str) -> tuple[dict[Domain, float], dict[Domain, float], dict[Domain, bool]]:
        """Per domain: its score, the best risky-example similarity, and whether a risky phrase matched."""
        q = _unit(np.asarray(self.embedder.embed([request]), dtype=np.float32))[0]
        normal = fold(request.replace("\u2019", "'"))
        sims = self._examples @ q
        rsims = self._risky_vectors @ q
        score: dict[Domain, float] = {}
        risky_sim: dict[Domain, float] = {}
        risky_phrase: dict[Domain, bool] = {}
        for r in RULES:
            best = max(float(s) for s, d in zip(sims, self._example_domains) if d == r.name)
            rbest = max(float(s) for s, d in zip(rsims, self._risky_domains) if d == r.name)
            phrases = sum(1 for p in self._phrases[r.name] if p.search(normal))
            risky = any(p.search(normal) for p in self._risky[r.name])
            hits = min(phrases + int(risky), 2)
            score[r.name] = max(best, rbest) + self.thresholds.phrase_weight * hits
            risky_sim[r.name] = rbest
            risky_phrase[r.name] = risky
        return score, risky_sim, risky_phrase

    def reading(self, model: ChatModel, request: str) -> Reading:
        """The model's reading of ``request``, kept for the last 256 requests."""
        key = (model.name, request)
        if key not in self._readings:
            if len(self._readings) >= 256:
                self._readings.pop(next(iter(self._readings)))
            self._readings[key] = read(model, request)
        return self._readings[key]

    def share_readings(self, other: Assessor) -> None:
        """Use ``other``'s store of model readings (one model reading a request once)."""
        self._readings = other._readings

    def classify(self, request: str, thresholds: Thresholds | None = None) -> tuple[Domain, float, bool, list[str]]:
        """The request's domain, its score, whether it is risky, and why."""
        return decide(request, *self.scores(request), thresholds or self.thresholds)

    def facts(
        self,
        source: SafetySource,
        user_id: str,
        request: str,
        domain: Domain,
        profile: Profile | None = None,
        off: frozenset[str] = frozenset(),
    ) -> list[SafetyFact]:
        """The user's memories and events whose sensitive categories matter in ``domain``,
        leaving out those of the categories the user switched ``off``."""
        wanted = set(BY_NAME[domain].categories) if domain != "general" else set()
        if not wanted:
            return []
        t = self.thresholds
        found: list[SafetyFact] = []
        profile = profile or source.profile(user_id, refresh=False)
        memories = [
            m
            for m in profile.facts + profile.preferences
            if set(categories(m.text)) & wanted and not blocked(m.text, off)
        ]
        if memories:
            q = _unit(np.asarray(self.embedder.embed([request]), dtype=np.float32))[0]
            vecs = _unit(np.asarray(self.embedder.embed([m.text for m in memories]), dtype=np.float32))
            for m, v in zip(memories, vecs):
                cats = [c for c in categories(m.text) if c in wanted]
                found.append(SafetyFact(source="memory", id=m.id, text=m.text, categories=cats, score=float(v @ q)))
        hits: dict[int, SearchHit] = {}
        # The request itself (words and meaning), then each category's probe words: the probes go
        # to BM25 alone, since a bag of keywords has no meaning for the dense side to match.
        queries: list[tuple[str, int, SearchMode]] = [(request, t.k, "hybrid")]
        queries += [(PROBES[c], t.probe_k, "bm25") for c in BY_NAME[domain].categories]
        for query, k, mode in queries:
            for hit in source.search(user_id, query, k=k, mode=mode):
                if hit.event.id not in hits or hits[hit.event.id].score < hit.score:
                    hits[hit.event.id] = hit
        for hit in sorted(hits.values(), key=lambda h: -h.score):
            if (
                hit.event.role == "assistant"
            ):  # what the assistant said (its own questions too) is no fact of the user's
                continue
            cats = [c for c in categories(hit.event.text) if c in wanted]
            if cats and not blocked(hit.event.text, off):
                found.append(
                    SafetyFact(source="event", id=hit.event.id, text=hit.event.text, categories=cats, score=hit.score)
                )
        return found

    def assess(
        self,
        source: SafetySource,
        user_id: str,
        request: str,
        off: frozenset[str] = frozenset(),
        model: ChatModel | None = None,
    ) -> Assessment:
        """The assessment of ``request`` for ``user_id`` (see the module's docstring). Facts
        of the categories the user switched ``off`` are neither used nor asked about. With a
        ``model``, its reading of the request refines the domain and the risky verdict
        (``refine.py``); words of self-harm stay high whatever it reads."""
        if not isinstance(request, str) or not request.strip():
            raise InvalidInput("request is empty")
        domain, score, risky, reasons = self.classify(request)
        if model is not None and not _CRISIS.search(fold(request)):
            domain, risky, more = refine(domain, risky, self.reading(model, request), self.refine_thresholds)
            reasons += more
        # A read: the profile as extracted so far (no extraction here); what the extractor has
        # not read yet is still found among the events by search.
        profile = source.profile(user_id, refresh=False) if domain != "general" else None
        facts = self.facts(source, user_id, request, domain, profile, off)
        # Background the user already gave when asked (``safety="ask"``) is not asked again.
        answered = {
            m.key.removeprefix(ANSWER_PREFIX)
            for m in (profile.facts if profile else [])
            if m.key.startswith(ANSWER_PREFIX)
        }
        covered = {c for f in facts for c in f.categories}
        crisis = bool(_CRISIS.search(fold(request)))
        missing: list[MissingFact] = []
        if domain == "general":
            risk: RiskLevel = "none"
        elif crisis or (risky and facts):
            risk = "high"
            if facts:
                reasons.append(f"{len(facts)} fact(s) of the user bear on it: {', '.join(sorted(covered))}")
        elif risky:
            risk = "medium"
            reasons.append("no fact of the user that bears on it was found")
        else:
            risk = "low"
        if risky:
            missing = [
                MissingFact(key=a.key, category=a.category, question=a.question)
                for a in BY_NAME[domain].ask
                if (a.category is None or a.category not in covered)
                and a.key not in answered
                and not (a.category is not None and (ALL in off or a.category in off))
            ]
            if facts:  # what is known already answers the key question: ask only about the rest
                missing = [m for m in missing if m.category is not None]
        return Assessment(
            user_id=user_id,
            request=request,
            domain=domain,
            domain_score=round(score, 4),
            risky_request=risky,
            risk=risk,
            reasons=reasons,
            facts=facts,
            missing=missing,
        )


def strongest(facts: Sequence[SafetyFact], n: int = 5) -> list[SafetyFact]:
    """The ``n`` facts to show first: memories before events, then by score, no text twice."""
    seen: set[str] = set()
    out: list[SafetyFact] = []
    for f in sorted(facts, key=lambda f: (f.source != "memory", -f.score)):
        key = fold(f.text.strip())
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out[:n]
