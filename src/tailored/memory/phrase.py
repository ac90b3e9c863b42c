"""A disclosed clause as a short memory: third-person text, stance and key.

"Oh, I have a Jeep." becomes "Has a Jeep" (a fact); "I really don't like horror movies"
becomes "Does not like horror movies" (a dislike of ``horror movie``). The words stay the
user's: only the chit-chat around the statement is cut and the first person is turned into
the profile's third person, so nothing is invented. The stance reads the verbs and
negations; the key of a preference is its topic, normalised like every extractor's
(``normalize.normalize_key``), so the rules and the fast path meet on one key.

Examples
--------
>>> p = phrase("Oh, I have a Jeep.")
>>> (p.text, p.kind, p.polarity, p.key)
('Has a Jeep', 'fact', None, 'has jeep')
>>> p = phrase("Honestly, I don't like horror movies at all")
>>> (p.text, p.kind, p.polarity, p.key)
('Does not like horror movies at all', 'preference', 'dislike', 'horror movie')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..types import MemoryKind, Polarity
from .normalize import clean_phrase, normalize_key
from .rules import prepare, topics

_OPENER = re.compile(
    r"^(?:(?:oh|ooh|ah|aw|well|yes|yeah|yep|yup|no|nope|nah|haha|hahaha|lol|wow|hey|hi|hello|actually|honestly|"
    r"so|um|umm|hmm|hm|cool|great|nice|sure|okay|ok|really|right|indeed|totally|definitely|absolutely|"
    r"me too|same here|same|i see|i know|of course|that is (?:cool|great|awesome|nice|true|interesting|amazing)|"
    r"thanks|thank you|and|but|also|plus|anyway|anyways|then|now)\b[\s,!.;:-]*)+",
    re.I,
)
_IRREGULAR = {"am": "is", "have": "has", "do": "does", "go": "goes", "was": "was", "be": "is"}
_MODAL = frozenset("can cannot could would will should must might may used did was had".split())
# past tenses that do not end in -ed stay as they are ("I broke up" -> "Broke up")
_PAST = frozenset(
    "became began bought brought broke built came caught chose drove fell felt flew forgot found gave got "
    "grew heard held kept knew led left lost made met paid put quit ran read said sang sat saw sent set "
    "sold spent stood stole swam taught thought told took understood went woke won wore wrote".split()
)
_ADVERB = frozenset(
    "really also actually just still now currently usually often always never sometimes mostly totally truly "
    "absolutely definitely mainly recently generally especially even only basically kind sort pretty "
    "absolutely".split()
)
# hedges and fillers that say nothing about the user ("Also likes chess" is "Likes chess")
_FILLER = re.compile(
    r"^(?:(?:also|actually|really|just|still|honestly|definitely|totally|absolutely|even|then|so)\s+)+", re.I
)
_FILLER_AFTER = re.compile(
    r"^(is|was|has|does|did|can|cannot|will|would)\s+(?:also|actually|really|just|still)\s+", re.I
)
_TRAILING_FILLER = re.compile(r"(?:[\s,]+(?:too|as well|also|though|haha|lol))+$", re.I)
_NOT_VERB = frozenset("a an the to my your not no so very too".split())
_AVOID = re.compile(
    r"\b(?:allergic|avoid|avoids|vegan|vegetarian|pescatarian|gluten|lactose|"
    r"(?:does|do|did|will|would|can|could) not (?:eat|drink|touch|smoke|consume)|"
    r"cannot (?:eat|drink|have)|never (?:eat|drink|touch|smoke)|stay away from|stays away from)\b",
    re.I,
)
_NEGATIVE = re.compile(
    r"\b(?:hate|hates|dislike|dislikes|detest|detests|loathe|loathes|cannot stand|can't stand|"
    r"(?:does|do|did) not (?:really )?(?:like|love|enjoy|care for)|not (?:a |really a |much of a )?(?:big )?fan of|"
    r"not (?:really )?into|never liked|(?:is|am) afraid of|(?:is|am) scared of|fear of)\b",
    re.I,
)
_POSITIVE = re.compile(
    r"\b(?:like|likes|liked|love|loves|loved|enjoy|enjoys|enjoyed|adore|adores|prefer|prefers|"
    r"fan of|favorite|favourite|passion|passionate|into|obsessed with|crazy about|addicted to|fond of)\b",
    re.I,
)
_LIKE_OBJECT = re.compile(
    r"\b(?:likes?|loves?|enjoys?|adores?|prefers?|hates?|dislikes?|detests?|loathes?|cannot stand|"
    r"fan of|into|obsessed with|crazy about|fond of|afraid of|scared of|avoids?|allergic to|care for|"
    r"(?:does not|do not|never|cannot|will not|would not) (?:eat|drink|touch|smoke|consume|have)|"
    r"stays? away from)\s+(?P<obj>.+)$",
    re.I,
)
_FAVOURITE = re.compile(r"\bfavou?rite\s+(?P<what>[\w\s]+?)\s+(?:is|are)\s+(?P<obj>.+)$", re.I)
_PRONOUNS = [
    (re.compile(r"\bmy\b", re.I), "their"),
    (re.compile(r"\bmyself\b", re.I), "themself"),
    (re.compile(r"\bme\b", re.I), "them"),
    (re.compile(r"\bmine\b", re.I), "theirs"),
    (re.compile(r"\bI am\b", re.I), "they are"),
    (re.compile(r"\bI\b"), "they"),
]


@dataclass(frozen=True)
class Phrased:
    """A clause as a memory: ``text`` in the third person, its stance and key."""

    text: str
    kind: MemoryKind
    polarity: Polarity | None
    key: str
    value: str


def third_person(verb: str) -> str:
    """The verb's third-person singular ("have" -> "has", "watch" -> "watches").

    Examples
    --------
    >>> [third_person(v) for v in ["have", "watch", "study", "play", "go", "run", "broke"]]
    ['has', 'watches', 'studies', 'plays', 'goes', 'runs', 'broke']
    """
    low = verb.lower()
    if low in _IRREGULAR:
        out = _IRREGULAR[low]
    elif low in _MODAL or low in _PAST or low.endswith("ed"):
        out = low
    elif low.endswith(("s", "sh", "ch", "x", "z", "o")):
        out = low + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        out = low[:-1] + "ies"
    else:
        out = low + "s"
    return out if verb.islower() else out.capitalize() if verb[:1].isupper() else out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def rewrite(clause: str) -> str:
    """The clause without its opening chit-chat, in the third person.

    Examples
    --------
    >>> rewrite("Yes, I'm also a nurse and I love my job!")
    'Is a nurse and loves their job'
    >>> rewrite("My favorite color is blue.")
    'Favorite color is blue'
    """
    text = clean_phrase(_OPENER.sub("", prepare(clause).strip()))
    if not text:
        return ""
    words = text.split()
    if words[0] == "I" and len(words) > 1:
        i = 1
        while i < len(words) - 1 and words[i].lower() in _ADVERB:
            i += 1
        if words[i].lower() not in _NOT_VERB and words[i].isalpha():
            words[i] = third_person(words[i])
        words = words[1:]
    elif words[0].lower() == "my" and len(words) > 1:
        words = words[1:]
    text = " ".join(words)
    # later first-person subjects of the same sentence: "and I love" -> "and loves"
    text = re.sub(
        r"\b(and|but|so|because|since|when|while)\s+I\s+(?:(\w+)\s+)?(\w+)",
        lambda m: _conjugate_after(m),
        text,
    )
    for pattern, repl in _PRONOUNS:
        text = pattern.sub(repl, text)
    text = _TRAILING_FILLER.sub("", _FILLER.sub("", text))
    text = _FILLER_AFTER.sub(r"\1 ", text)
    return _upper_first(text)


def _conjugate_after(m: re.Match[str]) -> str:
    first, second = m.group(2), m.group(3)
    if first and first.lower() in _ADVERB:
        return f"{m.group(1)} {first} {third_person(second)}"
    if first:
        return f"{m.group(1)} {third_person(first)} {second}"
    return f"{m.group(1)} {third_person(second)}"


def stance(text: str) -> Polarity | None:
    """like / dislike / avoid, or None for a neutral fact.

    Examples
    --------
    >>> [stance(t) for t in ["Loves jazz", "Does not like olives", "Does not eat meat", "Has a Jeep"]]
    ['like', 'dislike', 'avoid', None]
    """
    if _AVOID.search(text):
        return "avoid"
    if _NEGATIVE.search(text):
        return "dislike"
    if re.search(r"\b(?:not|never|no longer)\b", text, re.I):
        return None  # a negated statement that is no stance the table knows: keep it a fact
    if _POSITIVE.search(text):
        return "like"
    return None


def phrase(clause: str) -> Phrased | None:
    """The memory a disclosed clause states, or None when nothing is left of it."""
    text = rewrite(clause)
    if len(text.split()) < 2:
        return None
    polarity = stance(text)
    if polarity is not None:
        fav = _FAVOURITE.search(text)
        m = _LIKE_OBJECT.search(text)
        obj = fav.group("obj") if fav else m.group("obj") if m else ""
        found = topics(obj) if obj else []
        if found:
            key = normalize_key(found[0])[:200]
            return Phrased(text, "preference", polarity, key, key)
    key = normalize_key(re.sub(r"\b(?:a|an|the|their)\b\s*", "", text), strip_activity=False)[:200]
    return Phrased(text, "fact", None, key or text.lower()[:200], text[:1000])
