"""LLM extraction: a chat model reads batches of the user's turns and returns memories as JSON.

Each call gets up to ``batch_turns`` of the user's own turns, each numbered with its event
id, and the user's current profile, so the model can return what is new, what changed and
what the user no longer holds (``retract``) instead of repeating what is known. The output
is constrained to ``SCHEMA`` and then checked here, item by item:

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
from typing import Any

from ..errors import SchemaError
from ..llm.base import ChatModel
from ..text import neutral_line
from ..types import Event, Memory, MemoryIn, Polarity
from .base import Extractor
from .normalize import clean_phrase, normalize_key
from .rules import RulesExtractor

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "memories": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["fact", "preference"]},
                    "key": {"type": "string"},
                    "value": {"type": "string"},
                    "polarity": {"type": "string", "enum": ["like", "dislike", "avoid", "none"]},
                    "text": {"type": "string"},
                    "evidence": {"type": "array", "items": {"type": "integer"}},
                    "retract": {"type": "boolean"},
                    "strength": {"type": "number"},
                    "confidence": {"type": "number"},
                    "multi": {"type": "boolean"},
                },
                "required": ["kind", "key", "value", "polarity", "text", "evidence", "retract"],
            },
        }
    },
    "required": ["memories"],
}
"""What the model must return: ``{"memories": [...]}``, each item a ``MemoryIn`` in JSON."""

SYSTEM = """You extract lasting facts and preferences about the USER from the user's own chat messages.

Rules:
- Only what the user states about themself: their likes, dislikes, things they avoid, habits, job, home, family, pets, diet, allergies, age, name, studies, hobbies. Skip greetings, questions, small talk and what they say about other people.
- STANCE IS EVERYTHING. "I don't like X", "I hate X", "I can't stand X", "X is not for me", "I'm not a fan of X" are polarity "dislike". "I don't eat X", "I avoid X", "I'm allergic to X" are polarity "avoid". A sentence with not/never/don't/no longer is NEVER a "like". Most preference statements people make are negative: read every negation before you choose the polarity.
- "I don't like X anymore", "I used to like X", "I'm not into X anymore": the user no longer likes X, so output that preference with "retract": true.
- The user's known memories are listed first. Do not repeat them. Output a memory again only if it changed (new value, new stance) or must be retracted.
- kind "fact" (polarity "none") for attributes: key is one of location, hometown, occupation, workplace, name, age, relationship, children, pet, diet, allergy, education, or another short attribute name. kind "preference" for likes, dislikes and avoidances: key is the topic in a few lower-case words ("spicy food", "jazz", "hiking").
- text is a short sentence about the user in the third person, e.g. "Dislikes spicy food", "Lives in Lisbon", "Has a dog named Rex".
- evidence lists the numbers of the messages the memory comes from.
- If nothing is worth keeping, return {"memories": []}."""

EXAMPLE_USER = """Known memories:
- preference like: coffee (Likes coffee)

New messages from the user:
[101] Hi! I'm a nurse and I live in Lisbon with my cat Mia.
[102] Honestly I don't really like spicy food.
[103] What about you, do you cook?
[104] I used to love coffee but these days I drink tea."""

EXAMPLE_ANSWER = json.dumps(
    {
        "memories": [
            {
                "kind": "fact",
                "key": "occupation",
                "value": "nurse",
                "polarity": "none",
                "text": "Works as a nurse",
                "evidence": [101],
                "retract": False,
            },
            {
                "kind": "fact",
                "key": "location",
                "value": "Lisbon",
                "polarity": "none",
                "text": "Lives in Lisbon",
                "evidence": [101],
                "retract": False,
            },
            {
                "kind": "fact",
                "key": "pet",
                "value": "cat named Mia",
                "polarity": "none",
                "text": "Has a cat named Mia",
                "evidence": [101],
                "retract": False,
            },
            {
                "kind": "preference",
                "key": "spicy food",
                "value": "spicy food",
                "polarity": "dislike",
                "text": "Dislikes spicy food",
                "evidence": [102],
                "retract": False,
            },
            {
                "kind": "preference",
                "key": "coffee",
                "value": "coffee",
                "polarity": "like",
                "text": "No longer likes coffee",
                "evidence": [104],
                "retract": True,
            },
            {
                "kind": "preference",
                "key": "tea",
                "value": "tea",
                "polarity": "like",
                "text": "Drinks tea",
                "evidence": [104],
                "retract": False,
            },
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
        User turns per model call.
    max_profile
        Most known memories shown to the model (the most recently updated first).
    max_tokens
        Answer budget per call.
    check_stance
        Correct a "like" where the rules read a negative stance on the same topic and turn.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from tailored.testing import ScriptedChatModel
    >>> from tailored.types import Event
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ev = Event(id=5, tenant="t", user_id="ana", kind="message", role="user",
    ...            text="I can't stand olives.", time=t, ingested_at=t)
    >>> reply = '{"memories": [{"kind": "preference", "key": "Olives", "value": "olives", "polarity": "dislike",'
    >>> reply += ' "text": "Dislikes olives", "evidence": [5, 99], "retract": false}]}'
    >>> [(m.key, m.polarity, m.evidence) for m in LLMExtractor(ScriptedChatModel([reply])).extract([ev], [])]
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
        max_tokens: int = 1024,
        check_stance: bool = True,
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

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        turns = [e for e in events if _is_users_own(e)]
        out: list[MemoryIn] = []
        for start in range(0, len(turns), self.batch_turns):
            out.extend(self.extract_batch(turns[start : start + self.batch_turns], profile))
        return out

    def extract_batch(self, batch: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        """One model call over ``batch`` (at most ``batch_turns`` events), validated.

        Output that does not parse (a small model can loop until the answer budget ends)
        is asked again in two halves, down to single turns, so one bad answer costs the
        turns it covered, not the batch."""
        if not batch:
            return []
        try:
            raw = self.model.generate_json(
                self.messages(batch, profile), SCHEMA, system=SYSTEM, max_tokens=self.max_tokens
            )
        except SchemaError:
            if len(batch) == 1:
                raise
            half = len(batch) // 2
            return self.extract_batch(batch[:half], profile) + self.extract_batch(batch[half:], profile)
        items = raw.get("memories", []) if isinstance(raw, dict) else []
        return self.validate(items, batch, profile)

    def messages(self, batch: Sequence[Event], profile: Sequence[Memory]) -> list[dict[str, str]]:
        """The prompt: a worked example, then the known memories and the numbered new turns."""
        return [
            {"role": "user", "content": EXAMPLE_USER},
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": self._prompt(batch, profile)},
        ]

    def _prompt(self, batch: Sequence[Event], profile: Sequence[Memory]) -> str:
        known = [m for m in profile if m.status == "active"]
        known.sort(key=lambda m: m.updated_at, reverse=True)
        lines = ["Known memories:"]
        for m in known[: self.max_profile]:
            stance = m.polarity or "fact"
            key, value, text = neutral_line(m.key), neutral_line(m.value), neutral_line(m.text)
            lines.append(
                f"- {m.kind} {stance}: {key} = {value} ({text})"
                if m.kind == "fact"
                else f"- {m.kind} {stance}: {key} ({text})"
            )
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
