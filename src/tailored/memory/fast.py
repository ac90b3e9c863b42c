"""The fast path: a learned disclosure classifier, no chat model.

For each of the user's own turns:

1. split it into sentences and clauses (``disclose.spans``), drop questions, and embed
   the rest with MiniLM;
2. keep the sentences and clauses the classifier (``disclose.DisclosureClassifier``) scores
   at or above its threshold;
3. in a flagged clause the rules read, their memories stand (typed facts, stances:
   they read negations well); every other flagged clause becomes a short memory
   (``phrase.phrase``): third-person text in the user's words, stance, key;
4. the rules' precise memories are kept whether the clause is flagged or not: diets,
   allergies, avoidances, retractions and changes over time ("used to", "anymore"),
   dislikes (persona lines, which the classifier learnt from, seldom say what people
   dislike) and typed single-valued facts (home, work, age), so a new value supersedes;
5. reinforce instead of repeating: a memory whose text is at least ``reinforce`` cosine
   to a known memory (or to one found earlier in the same batch from another turn) takes that memory's
   kind, key, value and stance, so evolution merges it (evidence added, confidence up)
   rather than adding a paraphrase beside it.

Every memory cites the event it came from and is valid from its time, like every extractor.
Cost: one MiniLM batch per ``extract`` call (a few ms per turn on a laptop core).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from ..types import Event, Memory, MemoryIn
from .base import Extractor
from .disclose import DisclosureClassifier, Span, spans
from .phrase import phrase
from .rules import RulesExtractor

if TYPE_CHECKING:
    from ..embed.base import Embedder

_TEXT_KINDS = frozenset({"message", "document"})
PRECISE_KEYS = frozenset({"diet", "allergy"})


_QUESTION = re.compile(
    r"\?\s*$|^\s*(?:what|which|why|how|who|where|when)\b"
    r"|^\s*(?:do|does|did|are|is|have|has|can|could|would|will)\s+(?:you|your|we|they|he|she|it|there)\b",
    re.I,
)


def asks(span: str) -> bool:
    """A question says nothing about the asker ("What is your favorite food?").

    Examples
    --------
    >>> [asks(s) for s in ["What do you do?", "do you have pets", "have two dogs", "I love pizza"]]
    [True, True, False, False]
    """
    return bool(_QUESTION.search(span))


CACHED_TEXTS = 20_000
"""Clause and memory vectors the fast path remembers (about 30 MB): a profile's memory texts
are compared with every new batch, and chat repeats its short clauses ("Thanks!")."""


@lru_cache(maxsize=1)
def shared_minilm() -> Embedder:
    """One MiniLM per process for every fast extractor (the classifier needs its vectors)."""
    from ..embed.cached import CachedEmbedder
    from ..embed.local import MiniLMEmbedder

    return CachedEmbedder(MiniLMEmbedder(), max_texts=CACHED_TEXTS)


@lru_cache(maxsize=1)
def shared_classifier() -> DisclosureClassifier:
    return DisclosureClassifier()


def always(m: MemoryIn) -> bool:
    """A rules memory kept whether or not the classifier flags its clause: a precise one, a
    dislike, or a typed single-valued fact (home, work, age: a new value supersedes)."""
    return precise(m) or m.polarity == "dislike" or (m.kind == "fact" and not m.multi)


def precise(m: MemoryIn) -> bool:
    """A rules memory the fast path never overrides: a diet, an allergy, an avoidance, a retraction."""
    return m.retract or m.key in PRECISE_KEYS or m.polarity == "avoid"


class FastExtractor(Extractor):
    """Memories from the clauses a learned classifier flags as disclosures; no chat model.

    Parameters
    ----------
    embedder
        MiniLM (the classifier was trained on its vectors); the process-wide one by default.
    classifier
        The disclosure classifier; the shipped, sha256-checked one by default.
    threshold, reinforce
        Override the classifier's flag threshold and paraphrase cosine (both chosen on
        Synthetic-Persona-Chat's valid split and stored with the weights).
    rules_likes
        Also keep every like the rules read, flagged or not ("I love sushi": short likes
        of one thing score low, as persona lines seldom read that way). On by default, as
        ``auto`` runs it. On Synthetic-Persona-Chat's valid split (conversations 801-1000)
        it costs precision against the persona lines and adds no recall there (P 0.247
        against 0.325, recall of stated lines 0.837 either way), because those persona lines
        seldom say "likes sushi"; but users do, and a profile without "Likes sushi" is worse.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from tailored.types import Event
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ev = Event(id=3, tenant="t", user_id="ana", kind="message", role="user",
    ...            text="Haha nice. I drive an old red pickup truck.", time=t, ingested_at=t)
    >>> [(m.text, m.evidence) for m in FastExtractor().extract([ev], [])]
    [('Drives an old red pickup truck', [3])]
    """

    name = "fast"
    batch_size = 256

    def __init__(
        self,
        embedder: Embedder | None = None,
        classifier: DisclosureClassifier | None = None,
        *,
        threshold: float | None = None,
        reinforce: float | None = None,
        rules_likes: bool = True,
    ) -> None:
        self.rules_likes = rules_likes
        self._embedder = embedder
        self._classifier = classifier
        self._threshold = threshold
        self._reinforce = reinforce
        self._rules = RulesExtractor()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_minilm()
        return self._embedder

    @property
    def classifier(self) -> DisclosureClassifier:
        if self._classifier is None:
            self._classifier = shared_classifier()
        return self._classifier

    @property
    def threshold(self) -> float:
        return self.classifier.threshold if self._threshold is None else self._threshold

    @property
    def reinforce(self) -> float:
        return self.classifier.reinforce if self._reinforce is None else self._reinforce

    # -- extraction ----------------------------------------------------------------------

    def flagged(self, events: Sequence[Event]) -> list[tuple[Event, Span, float]]:
        """The sentences and clauses of ``events`` the classifier flags, with their scores.

        A sentence and its clauses are scored apart and each kept on its own score: a
        long sentence can hold one fact that only its whole states, and a clause another."""
        own = [e for e in events if e.role in (None, "user") and e.kind in _TEXT_KINDS and e.text.strip()]
        cands = [(e, sp) for e in own for sp in spans(e.text) if not asks(sp.text)]
        if not cands:
            return []
        scores = self.classifier.scores(self.embedder.embed([sp.text for _, sp in cands]))
        return [(e, sp, float(s)) for (e, sp), s in zip(cands, scores, strict=True) if s >= self.threshold]

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        proposals: list[MemoryIn] = []
        for event in events:  # what the rules read precisely, flagged or not
            proposals += [
                m
                for m in self._rules.extract_event(event, profile)
                if always(m) or (self.rules_likes and m.polarity == "like")
            ]
        phrased: set[int] = set()
        for event, span, score in self.flagged(events):
            ruled, own = self._from_clause(event, span.text, score, profile)
            proposals += ruled + own
            phrased.update(id(m) for m in own)
        return self.reinforced(_unique(_fuller(proposals, phrased)), profile, only=phrased)

    def _from_clause(
        self, event: Event, clause: str, score: float, profile: Sequence[Memory]
    ) -> tuple[list[MemoryIn], list[MemoryIn]]:
        """A flagged clause's memories: the rules' reading of it, and its own phrase when the
        rules have none or theirs drops part of what the clause says (never beside a
        precise reading: a diet, an allergy, an avoidance, a retraction)."""
        ruled = self._rules.extract_event(event.model_copy(update={"text": clause}), profile)
        p = phrase(clause)
        if p is None or (ruled and (any(precise(m) for m in ruled) or not loses(ruled, p.text))):
            return ruled, []
        return ruled, [
            MemoryIn(
                kind=p.kind,
                key=p.key,
                value=p.value,
                polarity=p.polarity,
                strength=1.0 if p.polarity is None else 0.6,
                confidence=round(min(0.95, max(0.5, score)), 3),
                multi=p.kind == "fact",
                text=p.text,
                evidence=[event.id],
                valid_from=event.time,
            )
        ]

    def reinforced(
        self, proposals: list[MemoryIn], profile: Sequence[Memory], only: set[int] | None = None
    ) -> list[MemoryIn]:
        """Paraphrases of a known memory, or of an earlier proposal, reinforce it.

        ``only`` (ids of proposal objects) limits that to the fast path's own phrases: the
        rules' typed memories meet the profile through their keys, and "My favorite color is
        green now" must supersede "blue", not reinforce it."""
        adds = [i for i, p in enumerate(proposals) if not p.retract]
        known = [m for m in profile if m.status == "active" and m.text]
        if not adds:
            return proposals
        vecs = self.embedder.embed([proposals[i].text or proposals[i].value for i in adds] + [m.text for m in known])
        new, old = vecs[: len(adds)], vecs[len(adds) :]
        out: list[MemoryIn] = []
        kept: list[tuple[int, np.ndarray]] = []  # index in out, vector
        position = dict(zip(adds, range(len(adds)), strict=True))
        for i, p in enumerate(proposals):
            if i not in position:
                out.append(p)
                continue
            v = new[position[i]]
            if only is not None and id(p) not in only:  # the rules' typed memories supersede instead
                kept.append((len(out), v))
                out.append(p)
                continue
            if len(old):
                sims = old @ v
                j = int(np.argmax(sims))
                m = known[j]
                if (
                    sims[j] >= self.reinforce
                    and m.polarity == p.polarity
                    and not _rules_owned(p)
                    and not extends(m.text, p.text)
                ):
                    out.append(_as(m, p))
                    continue
            twin = next(
                (k for k, kv in kept if float(kv @ v) >= self.reinforce and out[k].evidence != p.evidence), None
            )
            if (
                twin is not None
                and out[twin].polarity == p.polarity
                and not _rules_owned(p)
                and not extends(out[twin].text or "", p.text)
            ):
                first = out[twin]
                out[twin] = first.model_copy(
                    update={
                        "evidence": list(dict.fromkeys(first.evidence + p.evidence)),
                        "valid_from": max(t for t in (first.valid_from, p.valid_from) if t is not None)
                        if first.valid_from or p.valid_from
                        else None,
                        "confidence": 1 - (1 - first.confidence) * (1 - p.confidence),
                    }
                )
                continue
            kept.append((len(out), v))
            out.append(p)
        return out


_WORD = re.compile(r"[a-z0-9]+")
_LIGHT = frozenset(
    "a an the to of in on at for with and or but is are was were be been has have had does do did "
    "they them their theirs themself it its this that who which very so too "
    "like love enjoy adore prefer really lot much big huge fan".split()
)


def _content(text: str) -> set[str]:
    words = (w if w in _LIGHT else w.rstrip("s") for w in _WORD.findall(text.lower()))
    return {w for w in words if w not in _LIGHT}


def loses(ruled: Sequence[MemoryIn], text: str) -> bool:
    """Whether the rules' reading of a clause drops what it says: "I like to play with my
    dolls" read as "Likes to play", "I have a cat and a dog" as "Has a cat", "I'm a stay at
    home dad" as "Is a stay". Then the clause's own phrase is kept beside the rules'
    typed memories (which still meet the profile through their keys).

    Examples
    --------
    >>> m = MemoryIn(kind="preference", key="play", value="play", polarity="like", text="Likes to play")
    >>> loses([m], "Likes to play with their dolls"), loses([m], "Likes to play")
    (True, False)
    """
    said = _content(text)
    if len(said) < 2:
        return False
    read: set[str] = set()
    for m in ruled:
        read |= _content(m.text or f"{m.key} {m.value}")
    return len(said - read) / len(said) >= 0.3


def extends(old: str, new: str) -> bool:
    """Whether ``new`` says what ``old`` says and more ("Likes to play with their dolls"
    after "Likes to play"): then it is a fact of its own, not a paraphrase to merge.

    Examples
    --------
    >>> extends("Likes to play", "Loves to play with their dolls")
    True
    >>> extends("Keeps honeybees on their roof", "Keeps honey bees up on their roof")
    False
    """
    before, after = _content(old), _content(new)
    return bool(after) and before <= after and len(after - before) / len(after) >= 0.3


def _fuller(proposals: list[MemoryIn], phrased: set[int]) -> list[MemoryIn]:
    """A phrase replaces the rules' reading of the same turn on the same key when that
    reading drops part of it ("Likes to play" beside "Likes to play with their dolls"):
    evolution would merge the two on their key and keep one text."""
    own = [p for p in proposals if id(p) in phrased]
    out: list[MemoryIn] = []
    for m in proposals:
        if id(m) not in phrased and not precise(m):
            twin = next(
                (
                    p
                    for p in own
                    if (p.kind, p.key, p.polarity) == (m.kind, m.key, m.polarity)
                    and p.evidence == m.evidence
                    and loses([m], p.text)
                ),
                None,
            )
            if twin is not None:
                continue
        out.append(m)
    return out


def _rules_owned(p: MemoryIn) -> bool:
    return precise(p)


def _as(m: Memory, p: MemoryIn) -> MemoryIn:
    """``p`` restated as the known memory ``m``, so evolution merges the two."""
    return p.model_copy(
        update={
            "kind": m.kind,
            "key": m.key,
            "value": m.value,
            "polarity": m.polarity,
            "text": m.text,
            "multi": m.multi,
        }
    )


def _unique(items: list[MemoryIn]) -> list[MemoryIn]:
    seen: set[tuple[str, str, str, str | None, bool, tuple[int, ...], str]] = set()
    out: list[MemoryIn] = []
    for m in items:
        ident = (m.kind, m.key, m.value, m.polarity, m.retract, tuple(m.evidence), m.text)
        if ident not in seen:
            seen.add(ident)
            out.append(m)
    return out
