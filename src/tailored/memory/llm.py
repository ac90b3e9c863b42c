"""LLM extraction: a chat model reads the user's disclosing turns and returns memories as JSON.

Only the turns in which the fast path's classifier flags a disclosure go to the model
(``flagged_only``; chit-chat and questions never cost a call), and one session's flagged
turns go in one call (at most ``batch_turns``), each numbered with its event id, after the
user's current profile, so the model can return what is new, what changed and what the
user no longer holds (``no longer``: a retraction) instead of repeating what is known.

The prompt starts with a fixed prefix (the instructions, the schema and a worked example,
byte-identical from call to call) so that llama.cpp keeps its keys and values between calls
and evaluates only what follows it. The output is constrained to ``SCHEMA`` by llama.cpp's
JSON-schema grammar and kept short (evidence, stance, text; the kind and key are read here
from the stance and the text), then checked here, item by item:

- a text that copies a chat line ("Hi, ...", "Me too! ...", "That's cool! ...") or speaks of
  someone else ("His name was ...") is dropped, as is one holding a template slot ("[User
  1's name"); a preference with a first-person text ("I love running too!") is written
  again from its stance and key ("Likes running"), a fact with one is dropped;
- evidence ids must name turns of the batch (unknown ids are dropped; an item left without
  evidence is grounded on the one turn that shares its words, or dropped);
- ``valid_from`` is the time of the latest evidence turn;
- keys are normalised like the rules extractor's, so both extractors meet on one key;
- stance is cross-checked: where the rules read a negative stance (dislike/avoid) on the
  same topic in the same turn, a "like" from the model is corrected to it. Small models
  flip negations; the regex for "I don't like X" does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SchemaError
from ..llm.base import ChatModel
from ..text import neutral_line
from ..types import Event, Memory, MemoryIn, Polarity
from .base import Extractor
from .normalize import clean_phrase, normalize_key
from .phrase import phrase, rewrite
from .rules import RulesExtractor

if TYPE_CHECKING:
    from .fast import FastExtractor

MAX_NOTES = 24
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "notes": {
            "type": "array",
            "maxItems": MAX_NOTES,
            "items": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string", "maxLength": 90}],
                "minItems": 2,
                "maxItems": 2,
            },
        }
    },
    "required": ["notes"],
}
"""What the model must return: ``{"notes": [[12, "Loves hiking"], [13, "Does not eat meat"]]}``,
each note the number of the message it comes from and a short third-person sentence. Small on
purpose: on a CPU every answer token costs tens of milliseconds, so the kind, key, value and
stance are read here from the sentence (``phrase``: "Does not eat meat" is an avoidance), not
written by the model. The bounds (notes, sentence length) keep a looping model inside the
answer budget, so the grammar-constrained output always closes and parses."""

SYSTEM = """You write short notes about the USER from the user's own chat messages.

Rules:
- Only what the user states about themself: likes, dislikes, things they avoid, habits, job, home, family, pets, diet, allergies, age, name, studies, hobbies, past. Skip greetings, questions, small talk and what they say about other people.
- One note per fact: the number of the message it comes from, then a short sentence about the user in the third person, in the user's words: "Has a dog named Rex", "Works as a nurse".
- Keep the stance exactly: "Loves jazz", "Dislikes spicy food", "Does not eat meat", "Is allergic to nuts", "No longer likes coffee". A message with not/never/don't never gives a "Likes" note.
- The user's known notes are listed first. Do not repeat them.
- If nothing is worth keeping, return {"notes": []}."""

EXAMPLE_USER = """Known notes:
- Likes coffee

New messages from the user:
[101] Hi! I'm a nurse and I live in Lisbon with my cat Mia.
[102] Honestly I don't really like spicy food.
[104] I used to love coffee but these days I drink tea."""

EXAMPLE_ANSWER = json.dumps(
    {
        "notes": [
            [101, "Works as a nurse"],
            [101, "Lives in Lisbon"],
            [101, "Has a cat named Mia"],
            [102, "Dislikes spicy food"],
            [104, "No longer likes coffee"],
            [104, "Drinks tea"],
        ]
    }
)

FACT_ALIASES = {
    "city": "location",
    "home": "location",
    "residence": "location",
    "lives in": "location",
    "living": "location",
    "job": "occupation",
    "profession": "occupation",
    "work": "occupation",
    "career": "occupation",
    "employer": "workplace",
    "company": "workplace",
    "married": "relationship",
    "spouse": "relationship",
    "marital status": "relationship",
    "kids": "children",
    "child": "children",
    "pets": "pet",
    "allergies": "allergy",
    "study": "education",
    "studies": "education",
    "school": "education",
    "major": "education",
    "degree": "education",
    "origin": "hometown",
    "from": "hometown",
    "hobbies": "hobby",
    "siblings": "sibling",
}
MULTI_KEYS = frozenset(
    {"pet", "children", "grandchildren", "allergy", "hobby", "sibling", "language", "instrument", "sport"}
)
_WORD = re.compile(r"[a-z0-9]+")
_PLACEHOLDER = re.compile(r"\[[^\]]*\]|<[^>]*>")
_TEMPLATE_SLOT = re.compile(r"\[|<[^>]*>")  # "Hi, I'm [User 1's name", cut short in the text
_CHAT_COPY = re.compile(
    r"^(?:(?:hi|hello|hey|me too|thanks|thank you|yes|yeah|yep|no(?!\s+longer)|nope|oh|wow|cool|great|nice|sure|okay|ok|well|haha|lol)\b"
    r"|(?:he|she|they|his|her|their|its|it|it's|you|your|what|how|why|where|when|who|so|that|that's|this)\b"
    r"|i(?:'m| am) (?:sure|glad|not sure)\b|i (?:can imagine|guess|think|hope)\b)",
    re.I,
)  # a copied chat line or a sentence about someone else, not a description of the user
_FIRST_PERSON = re.compile(r"^(?:i|i'm|i've|i'd|i'll|my)\b", re.I)  # "I love running too!": the chat line, not a note
_STOP = frozenset("i a an the my to of in and or is am are for with at on do not like likes".split())


class LLMExtractor(Extractor):
    """Memories from a chat model's structured JSON output, checked against the events.

    Parameters
    ----------
    model
        A ``ChatModel``, a model spec for ``load_chat_model`` or ``None`` for the default
        local model (loaded at first use).
    batch_turns
        Most user turns per model call (one session's flagged turns go together).
    flagged_only
        Send only the turns the fast path's classifier flags (``fast``, the shipped one by
        default); False sends every user turn (``auto`` flags them itself).
    max_profile
        Most known memories shown to the model (the most recently updated first).
    max_tokens
        Answer budget per call.
    check_stance
        Correct a "like" where the rules read a negative stance on the same topic and turn.
    with_rules
        Keep the rules' precise readings of every user turn beside the model's notes (diets,
        allergies, avoidances, retractions, dislikes, typed single-valued facts: see
        ``fast.always``). The rules read negation and supersession better than a small
        model, and they cost no call. ``auto`` turns it off: its fast path keeps them already.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from tailored.testing import ScriptedChatModel
    >>> from tailored.types import Event
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ev = Event(id=5, tenant="t", user_id="ana", kind="message", role="user",
    ...            text="I can't stand olives.", time=t, ingested_at=t)
    >>> reply = '{"notes": [[5, "Dislikes olives"], [99, "Dislikes olives"]]}'
    >>> model = ScriptedChatModel([reply])
    >>> [(m.key, m.polarity, m.evidence) for m in LLMExtractor(model, flagged_only=False).extract([ev], [])]
    [('olive', 'dislike', [5])]
    """

    name = "llm"
    batch_size = 16

    def __init__(
        self,
        model: ChatModel | str | None = None,
        *,
        batch_turns: int = 16,
        max_profile: int = 40,
        max_tokens: int = 512,
        check_stance: bool = True,
        flagged_only: bool = True,
        fast: FastExtractor | None = None,
        with_rules: bool = True,
    ) -> None:
        if batch_turns < 1:
            from ..errors import InvalidInput

            raise InvalidInput("batch_turns must be at least 1")
        self._model = model
        self.batch_turns = batch_turns
        self.batch_size = batch_turns
        self.max_profile = max_profile
        self.max_tokens = max_tokens
        self.check_stance = check_stance
        self.flagged_only = flagged_only
        self.with_rules = with_rules
        self.turns_read = 0  # turns sent to the model so far
        self._fast = fast
        self._rules = RulesExtractor()

    @property
    def model(self) -> ChatModel:
        if not isinstance(self._model, ChatModel):
            from ..llm import load_chat_model

            self._model = load_chat_model(self._model)
        return self._model

    def close(self) -> None:
        if isinstance(self._model, ChatModel):
            self._model.close()

    # -- extraction ----------------------------------------------------------------------

    @property
    def fast(self) -> FastExtractor:
        if self._fast is None:
            from .fast import FastExtractor

            self._fast = FastExtractor()
        return self._fast

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        turns = [e for e in events if _is_users_own(e)]
        ruled: list[MemoryIn] = []
        if self.with_rules:
            from .fast import always

            ruled = [m for e in turns for m in self._rules.extract_event(e, profile) if always(m)]
        if self.flagged_only and turns:
            flagged = {e.id for e, _, _ in self.fast.flagged(turns)}
            turns = [e for e in turns if e.id in flagged]
        sessions: dict[str | None, list[Event]] = {}
        for e in turns:  # one call per session (in order of first turn), split only past batch_turns
            sessions.setdefault(e.session_id, []).append(e)
        out: list[MemoryIn] = []
        for session in sessions.values():
            for start in range(0, len(session), self.batch_turns):
                out.extend(self.extract_batch(session[start : start + self.batch_turns], profile))
        # the rules' reading of a topic in a turn stands: same key, or the same words
        owned = {(name, e) for m in ruled for e in m.evidence for name in (m.key, (m.text or "").lower())}
        return ruled + [
            m for m in out if not any((m.key, e) in owned or ((m.text or "").lower(), e) in owned for e in m.evidence)
        ]

    def extract_batch(self, batch: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        """One model call over ``batch`` (at most ``batch_turns`` events), validated.

        Output that does not parse (a small model can loop until the answer budget ends)
        is asked again in two halves, down to single turns, so one bad answer costs the
        turns it covered, not the batch."""
        if not batch:
            return []
        self.turns_read += len(batch)
        try:
            raw = self.model.generate_json(
                self.messages(batch, profile), SCHEMA, system=SYSTEM, max_tokens=self.max_tokens
            )
        except SchemaError:
            if len(batch) == 1:
                raise
            half = len(batch) // 2
            return self.extract_batch(batch[:half], profile) + self.extract_batch(batch[half:], profile)
        items = raw.get("notes", []) if isinstance(raw, dict) else []
        return self.validate(items, batch, profile)

    def messages(self, batch: Sequence[Event], profile: Sequence[Memory]) -> list[dict[str, str]]:
        """The prompt: a worked example (fixed, so its keys and values are computed once per
        model and reused), then the known memories and the numbered new turns."""
        return [
            {"role": "user", "content": EXAMPLE_USER},
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": self._prompt(batch, profile)},
        ]

    def _prompt(self, batch: Sequence[Event], profile: Sequence[Memory]) -> str:
        known = [m for m in profile if m.status == "active"]
        known.sort(key=lambda m: m.updated_at, reverse=True)
        lines = ["Known notes:"]
        for m in known[: self.max_profile]:
            note = m.text or (f"{m.key}: {m.value}" if m.kind == "fact" else f"{m.polarity} {m.key}")
            lines.append(f"- {neutral_line(note)}")
        if len(lines) == 1:
            lines.append("(none yet)")
        lines += ["", "New messages from the user:"]
        lines += [f"[{e.id}] {neutral_line(e.text)}" for e in batch]
        return "\n".join(lines)

    # -- validation ----------------------------------------------------------------------

    def validate(self, items: Sequence[Any], batch: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        """Turn the model's items into ``MemoryIn``s: drop malformed or ungrounded ones, keep
        only evidence ids of ``batch``, normalise keys, fix stance, skip known duplicates."""
        by_id = {e.id: e for e in batch}
        known = {(m.kind, m.key, m.value, m.polarity) for m in profile if m.status == "active"}
        negatives = self._negative_stances(batch) if self.check_stance else {}
        out: list[MemoryIn] = []
        seen: set[tuple[str, str, str, str | None, bool]] = set()
        for item in items:
            mem = self._one(item, by_id, negatives)
            if mem is None:
                continue
            ident = (mem.kind, mem.key, mem.value, mem.polarity, mem.retract)
            if ident in seen or (not mem.retract and ident[:4] in known):
                continue
            seen.add(ident)
            out.append(mem)
        return out

    def _one(self, item: Any, by_id: dict[int, Event], negatives: dict[tuple[int, str], MemoryIn]) -> MemoryIn | None:
        if isinstance(item, list):
            item = expand(item)
        if not isinstance(item, dict):
            return None
        kind = item.get("kind")
        raw_key = clean_phrase(str(item.get("key") or ""))
        value = clean_phrase(str(item.get("value") or ""))
        text = clean_phrase(str(item.get("text") or ""))
        retract = bool(item.get("retract", False))
        if kind not in ("fact", "preference") or not raw_key:
            return None
        if _PLACEHOLDER.search(value) or _PLACEHOLDER.search(raw_key) or _TEMPLATE_SLOT.search(text):
            return None  # a template slot ("[User 1's name]") is not a value
        if _CHAT_COPY.match(text):
            return None  # "Me too! We can go play frisbee", "His name was Leonardo"
        if _FIRST_PERSON.match(text):
            if kind == "fact":
                return None  # "I've never been to Ohio" as a "favorite place": a chat line, not a fact
            text = ""  # written again below from the stance and key: "Likes running"
        evidence = [
            i for i in item.get("evidence") or [] if isinstance(i, int) and not isinstance(i, bool) and i in by_id
        ]
        evidence = list(dict.fromkeys(evidence))
        subject = raw_key if kind == "preference" else value or text
        if not evidence or not _supported(subject, [by_id[i].text for i in evidence]):
            # cited turns that never name the subject: the model copied the worked example
            # ("Lives in Lisbon") or filled a slot ("unknown"); keep it only if a turn names it
            evidence = _ground(subject, by_id) if kind == "fact" else _ground(" ".join((raw_key, value, text)), by_id)
            if not evidence or not _supported(subject, [by_id[i].text for i in evidence]):
                return None
        polarity: Polarity | None = None
        if kind == "preference":
            pol = item.get("polarity")
            if pol not in ("like", "dislike", "avoid"):
                return None  # a preference without a stance is not one; never guess it
            polarity = pol
            key = normalize_key(raw_key)
            value = key
        else:
            key = raw_key.lower()
            key = FACT_ALIASES.get(key, key)
            value = value or text
            if not value:
                return None
        if polarity == "like" and not retract:
            for eid in evidence:
                fix = negatives.get((eid, key))
                if fix is not None:
                    polarity, text = fix.polarity, fix.text
                    break
        if not text:
            text = {"like": "Likes {}", "dislike": "Dislikes {}", "avoid": "Avoids {}"}.get(
                polarity or "", "{}"
            ).format(value if polarity else f"{key}: {value}")
        when = max(by_id[i].time for i in evidence)
        return MemoryIn(
            kind=kind,
            key=key[:200],
            value=value[:1000],
            polarity=polarity,
            strength=_unit(item.get("strength"), 0.6),
            confidence=_unit(item.get("confidence"), 0.7),
            multi=bool(item.get("multi", key in MULTI_KEYS)) if kind == "fact" else False,
            text=text[:2000],
            evidence=evidence,
            valid_from=when,
            retract=retract,
        )

    def _negative_stances(self, batch: Sequence[Event]) -> dict[tuple[int, str], MemoryIn]:
        found: dict[tuple[int, str], MemoryIn] = {}
        for event in batch:
            for mem in self._rules.extract_event(event):
                if mem.kind == "preference" and mem.polarity in ("dislike", "avoid") and not mem.retract:
                    found[(event.id, mem.key)] = mem
        return found


def expand(note: Any) -> dict[str, Any] | None:
    """A note (message number, sentence) as a full item: kind, key, value and stance read
    from the sentence the way the fast path reads a clause (``phrase``); "No longer ..." is
    a retraction.

    Examples
    --------
    >>> e = expand([3, "Dislikes olives"])
    >>> e["kind"], e["key"], e["polarity"], e["evidence"]
    ('preference', 'olive', 'dislike', [3])
    >>> e = expand([4, "I have a dog named Rex"])
    >>> e["kind"], e["text"]
    ('fact', 'Has a dog named Rex')
    >>> e = expand([5, "No longer likes coffee"])
    >>> e["key"], e["polarity"], e["retract"]
    ('coffee', 'like', True)
    """
    if not isinstance(note, list | tuple) or len(note) != 2:
        return None
    eid, raw = note
    text = clean_phrase(str(raw or ""))
    if not text:
        return None
    if _FIRST_PERSON.match(text):
        text = rewrite(text)  # "I love running" -> "Loves running": the note, not the chat line
    gone = re.match(r"^no longer\s+", text, re.I)
    p = phrase(text[gone.end() :] if gone else text)
    if p is None:
        return None
    out: dict[str, Any] = {"evidence": [eid], "text": text, "retract": bool(gone)}
    if p.kind == "fact" or p.polarity is None:
        return {**out, "kind": "fact", "key": p.key, "value": text, "polarity": "none"}
    return {**out, "kind": "preference", "key": p.key, "value": p.value, "polarity": p.polarity}


def _is_users_own(event: Event) -> bool:
    return event.role in (None, "user") and event.kind in ("message", "document", "rating")


def _unit(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return min(1.0, max(0.0, float(value)))


def _stems(text: str) -> set[str]:
    """Content words cut to four letters, so "horses" meets "horse" and "reading" "read"."""
    return {w[:4] for w in _WORD.findall(text.lower()) if w not in _STOP}


def _supported(subject: str, texts: Sequence[str]) -> bool:
    """Whether the turns name the memory's subject: share a content word (a number counts)."""
    said = set().union(*(_stems(t) for t in texts)) if texts else set()
    return bool(_stems(subject) & said)


def _ground(text: str, by_id: dict[int, Event]) -> list[int]:
    """The one batch turn sharing most content words with ``text``; none if no turn does."""
    words = set(_WORD.findall(text.lower())) - _STOP
    best, best_overlap = None, 0
    for eid, event in by_id.items():
        overlap = len(words & set(_WORD.findall(event.text.lower())))
        if overlap > best_overlap:
            best, best_overlap = eid, overlap
    return [best] if best is not None else []
