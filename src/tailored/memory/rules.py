"""Rule-based extraction: fast, deterministic, no model.

Only the user's own words count: events with role ``user`` (or no role) of kind
``message`` or ``document``, and ratings (kind ``rating``). Each text is split into
sentences and clauses; every clause is matched against one table of ``(regex, handler)``
rules (``RULES``), most specific first. A rule's match claims its span of the clause, so a
later, more general rule cannot read the same words again: "I don't really like X" is
claimed by the negative rule and never seen by the positive one.

Stance is the point. Most real preference statements are negative ("I don't eat pork",
"I can't stand horror films"), and reading one as a like is worse than missing it.

Examples
--------
>>> from datetime import datetime, timezone
>>> from tailored.types import Event
>>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> ev = Event(id=1, tenant="t", user_id="ana", kind="message", role="user",
...            text="I don't really like spicy foods, but I love sushi.", time=t, ingested_at=t)
>>> [(m.key, m.polarity) for m in RulesExtractor().extract([ev], [])]
[('spicy food', 'dislike'), ('sushi', 'like')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..types import Event, Memory, MemoryIn, Polarity
from .base import Extractor
from .normalize import clean_phrase, normalize_key, normalize_title, singular

# -- text preparation --------------------------------------------------------------------

_CONTRACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), r)
    for p, r in [
        (r"\bi[’']m\b|\bim\b(?=\s+(?:a|an|not|so|really|very|allergic|vegan|vegetarian|from|into)\b)", "I am"),
        (r"\bi[’']ve\b", "I have"),
        (r"\bi[’']d\b", "I would"),
        (r"\bi[’']ll\b", "I will"),
        (r"\b(do|does|did|is|are|was|were|have|has|would|could|should)n[’']?t\b", r"\1 not"),
        (r"\bcan[’']?t\b|\bcan not\b", "cannot"),
        (r"\bwon[’']t\b", "will not"),
        (r"\b(it|that|what|there)[’']s\b", r"\1 is"),
        (r"[’]", "'"),
        # a change of state reads as the new state: "I've become vegan" -> "I am vegan"
        (
            r"\bI (?:have |had )?(?:recently |just |now )?(?:become|became|went|turned|gone)\s+(?=(?:a |an )?\w)",
            "I am ",
        ),
        (r"\bI am now\b", "I am"),
    ]
]
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_CLAUSE = re.compile(
    r"\s*,?\s*\b(?:but|and|so|although|though|while|whereas|plus)\s+"
    r"(?=(?:(?:now|also|actually|then|these days|nowadays|still)\s+)*"
    r"(?:I\b|my\b|(?:prefer|like|love|enjoy|hate|adore|dislike|avoid|can't|cannot|allergic|"
    r"vegetarian|vegan|pescatarian)\b))",
    re.I,
)
_SUBJECTLESS = re.compile(r"^(?:(?:now|also|actually|then|these days|nowadays|still)\s+)*(?!I\b|my\b)", re.I)
_QUESTION_START = re.compile(
    r"^\s*(?:do|does|did|would|are|is|can|could|will|should|have|has|what|why|how|who)\b", re.I
)
_NOT_ASSERTED = re.compile(
    r"\b(?:what|which|that|if|whether|who|whom|thing|things|something|everything|anything|think|wonder|"
    r"say|said|says|believe|guess you|hope|wish|unless|as if|as though|pretend|imagine|suppose|supposing|assuming|"
    r"roleplay|role-play|where|thinks)\s*,?\s*$",
    re.I,
)
_LIKE_BEFORE = re.compile(r"\blike\s*$", re.I)  # "explain it like I'm five"; not "Like, I'm allergic"
_ANYMORE = re.compile(r"\b(?:anymore|any more|no longer|not any longer)\b", re.I)


def prepare(text: str) -> str:
    """Expand contractions and rewrite changes of state, keeping the text's case.

    Examples
    --------
    >>> prepare("I've become vegan and I don't eat eggs")
    'I am vegan and I do not eat eggs'
    """
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return text


def clauses(text: str) -> list[str]:
    """Sentences split into clauses that each carry their own first-person statement.

    Examples
    --------
    >>> clauses("I used to like tea, but now prefer coffee. I live in Porto and I love it!")
    ['I used to like tea', 'I now prefer coffee.', 'I live in Porto', 'I love it!']
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(prepare(text)):
        sentence = sentence.strip()
        if not sentence or (sentence.endswith("?") and _QUESTION_START.match(sentence)):
            continue
        for part in _CLAUSE.split(sentence):
            part = part.strip(" ,")
            if not part:
                continue
            if (
                out
                and _SUBJECTLESS.match(part)
                and re.match(
                    r"^(?:(?:now|also|actually|then|still)\s+)*(?:prefer|like|love|enjoy|hate|adore|dislike|avoid|cannot)\b",
                    part,
                    re.I,
                )
            ):
                part = "I " + part
            elif out and re.match(r"^(?:also\s+)?(?:allergic|vegetarian|vegan|pescatarian)\b", part, re.I):
                part = "I am " + part  # "I'm vegetarian and allergic to nuts"
            out.append(part)
    return out


# -- objects: from the words after a verb to clean topics --------------------------------

_CUT = re.compile(
    r"\s*(?:\b(?:because|since|due to|as (?:they|it|he|she|we|I|these|those|this)|in order to|"
    r"when|whenever|if|but|though|although|which|who|where|while|unless|until|"
    r"except|especially|like when|and then|so that|so I|as long as|ever since|than)\b|[:;()—–\"]|\s-\s|[.!?]).*$",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:so much|a lot|a bunch|very much|too|as well|anymore|any more|these days|nowadays|lately|"
    r"right now|now|again|at all|in general|though|actually|really|honestly|more|most|either|the most|originally|"
    r"more than anything|for sure|of course|personally|haha|lol|and stuff|and things|and all that|"
    r"and everything|and more|etc|either way|all the time|every day|sometimes|often|recently|this year|yesterday|today|"
    r"last (?:year|month|week|summer|winter|spring|fall|night)|a while ago|"
    r"(?:a few|a couple of|two|three|four|five|\d+) (?:years|months|weeks|days) ago))+$",
    re.I,
)
_LONG_TAIL = re.compile(
    r"\s+(?:with|every|on weekends?|on the weekends?|in my (?:free|spare) time|for|during|at night|"
    r"in the (?:morning|evening|summer|winter)|whenever|all day)\b.*$",
    re.I,
)
_LIST = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&|as well as|plus)\s+|\s*/\s*", re.I)
_COMPOUNDS = re.compile(
    r"\b(rock|mac|fish|salt|peanut butter|rhythm|dungeons|black|bed|bread|pros|arts|rock|cookies|"
    r"rice|beans|ham|chips|lord|law|sweet|hide|hip|big|tom|pb) and (roll|cheese|chips|pepper|jelly|blues|"
    r"dragons|white|breakfast|butter|cons|crafts|cream|beans|rice|eggs|salsa|order|sour|seek|hop|small|jerry|j)\b",
    re.I,
)
_VAGUE = frozenset(
    "it that this you your yours him her them they these those he she we us there something anything "
    "everything nothing what which one ones stuff thing things "
    "myself yourself".split()
)
_VAGUE_HEADS = re.compile(
    r"^(?:to\s+)?(?:hear|know|think|say|tell|imagine|believe|be|have|get|see you|chat|talk)\b", re.I
)
_PEOPLE = re.compile(
    r"^my\s+(?:wife|husband|kids?|children|family|mom|mother|dad|father|parents|son|daughter|friends?|"
    r"boyfriend|girlfriend|partner|brother|sister|job|life|cat|dog)\b",
    re.I,
)
_QUANTITY_OPENING = re.compile(
    r"^((?:to [\w-]+\s+)?)(?:a lot of|lots of|a bunch of|plenty of|a (?:wide )?variety of|(?:all|many|different|various) (?:kinds|sorts|types) of)"
    r"\s+(?:(?:different|various) (?:kinds|sorts|types) of\s+|different\s+)?",
    re.I,
)  # "to watch a lot of different kinds of movies" names movies; "games with a lot of text" keeps it
_HOBBY_VERBS = frozenset(
    "go play watch read listen cook bake dance run swim hike travel eat drink sing write draw paint collect make "
    "spend hang ride walk visit learn meet try explore take do build fish shop camp garden knit sew study work help "
    "volunteer teach see get sleep relax stay use grow fix restore code jog bike surf ski skate climb sail hunt "
    "stream craft design cycle golf box wrestle lift train practice practise chat talk".split()
)
MAX_TOPIC_WORDS = 7
MAX_RELATIVE_TOPIC_WORDS = 10  # "beauty products that are tested on animals" names one thing


def _relative(words: list[str], i: int) -> bool:
    """``that`` opening a relative clause after a noun ("products that contain retinol"),
    not standing for something unnamed ("I like that")."""
    return words[i] == "that" and 0 < i < len(words) - 1


def topics(raw: str, *, drop_quantity: bool = False) -> list[str]:
    """The topics named by the words after a verb: cut at a subordinate clause, trailing
    adverbials removed, lists split, vague or overlong items dropped. ``drop_quantity``
    drops an item's opening "a lot of" (right for a like: "to watch a lot of movies";
    wrong under a negation: "I don't eat a lot of meat" is not "avoids meat").

    Examples
    --------
    >>> topics("spicy food and rock and roll, especially on weekends")
    ['spicy food', 'rock and roll']
    >>> topics("it so much")
    []
    """
    text = _CUT.sub("", raw.strip())
    text = _TRAILING.sub("", text)
    text = _COMPOUNDS.sub(lambda m: f"{m.group(1)}\x00{m.group(2)}", text)
    out: list[str] = []
    infinitive, verb = False, ""
    for n, item in enumerate(_LIST.split(text)):
        item = _TRAILING.sub("", clean_phrase(item.replace("\x00", " and ")))
        whole = item
        if len(item.split()) > 3:
            item = _LONG_TAIL.sub("", item)
            item = re.sub(r"\s+that\s+\S+$", "", item)  # a relative clause the cut left with a verb alone
        cut = item != whole
        item = clean_phrase(_QUANTITY_OPENING.sub(r"\1", item) if drop_quantity else item)
        if n == 0:
            infinitive = item.lower().startswith("to ")
            # a verb whose phrase was cut ("to hang out with friends") has lost what a
            # later item would be the object of
            verb = _infinitive_verb(item) if infinitive and not cut else ""
        elif infinitive and not item.lower().startswith("to "):
            # "I like to dance, run and swim": each item is "to ..."; but in "to watch movies
            # and TV shows" the second item is another object of the first verb
            item = f"{verb} {item}" if verb and _plural_object(item) else f"to {item}"
        words = item.lower().split()
        relative = any(_relative(words, i) for i in range(len(words)))
        if (
            not words
            or len(words) > (MAX_RELATIVE_TOPIC_WORDS if relative else MAX_TOPIC_WORDS)
            or any(w.strip("'") in _VAGUE and not _relative(words, i) for i, w in enumerate(words))
            or _VAGUE_HEADS.match(item)
            or _PEOPLE.match(item)
            or not re.search(r"[a-z]", item, re.I)
        ):
            continue
        out.append(item)
    return out


def _infinitive_verb(item: str) -> str:
    """``to watch`` of "to watch movies", ``to listen to`` of "to listen to jazz"; none for
    a verb outside ``_HOBBY_VERBS`` ("to minimize waste"), whose list may be of verbs the
    table lacks ("to minimize waste and reuse bags")."""
    words = item.split()
    if len(words) < 3 or words[1].lower() not in _HOBBY_VERBS:
        return ""
    if len(words) >= 4 and words[2].lower() == "to":
        return " ".join(words[:3])
    return " ".join(words[:2])


def _plural_object(item: str) -> bool:
    """Whether a list item reads as a plural noun ("TV shows", "magazines") rather than a
    verb ("chill", "meditate"): without a part-of-speech tagger, the plural is the tell."""
    words = item.lower().split()
    return 0 < len(words) <= 2 and words[0] not in _HOBBY_VERBS and singular(words[-1]) != words[-1]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- building proposals ------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A rule's match in one clause of one event."""

    match: re.Match[str]
    clause: str
    event: Event
    profile: Sequence[Memory]

    def group(self, name: str) -> str:
        return self.match.group(name) or ""

    def pref(
        self, phrase: str, polarity: Polarity, strength: float, confidence: float, text: str, *, retract: bool = False
    ) -> MemoryIn:
        key = normalize_key(phrase)
        return MemoryIn(
            kind="preference",
            key=key,
            value=key,
            polarity=polarity,
            strength=strength,
            confidence=confidence,
            text=_upper_first(text.format(phrase)),
            evidence=[self.event.id],
            valid_from=self.event.time,
            retract=retract,
        )

    def fact(
        self, key: str, value: str, text: str, *, confidence: float = 0.8, multi: bool = False, retract: bool = False
    ) -> MemoryIn:
        return MemoryIn(
            kind="fact",
            key=key,
            value=value,
            strength=1.0,
            confidence=confidence,
            multi=multi,
            text=_upper_first(text),
            evidence=[self.event.id],
            valid_from=self.event.time,
            retract=retract,
        )


Handler = Callable[[Hit], list[MemoryIn]]

# adverbs that may sit between "I" and the verb without changing its stance
ADV = (
    r"(?:(?:really|truly|absolutely|just|also|totally|definitely|still|actually|kind of|sort of|especially|now|"
    r"generally|usually|personally|honestly|do|very|much|quite|genuinely|seriously|so|always|particularly|"
    r"pretty much|mostly|certainly|simply|strongly|even|literally|tend to|greatly|deeply|intensely|utterly|"
    r"completely|thoroughly|strictly|actively|adamantly|firmly|typically|normally)\s+)*"
)
ME = r"\bI\s+" + ADV  # the first person, the subject of most rules
DIETS = {
    "vegetarian": ("meat",),
    "vegan": ("meat", "dairy", "egg"),
    "pescatarian": ("meat",),
    "pescetarian": ("meat",),
    "gluten-free": ("gluten",),
    "gluten free": ("gluten",),
    "celiac": ("gluten",),
    "coeliac": ("gluten",),
    "lactose intolerant": ("dairy",),
    "lactose-intolerant": ("dairy",),
    "kosher": ("pork",),
    "halal": ("pork",),
    "keto": (),
    "paleo": (),
}
_DIET = r"(?P<diet>vegetarian|vegan|pescatarian|pescetarian|gluten[- ]free|celiac|coeliac|lactose[- ]intolerant|kosher|halal|keto|paleo)"
_CONSUME = {"eat", "drink", "consume", "touch", "have", "use", "smoke", "eating", "drinking", "smoking", "having"}
OCCUPATIONS = (
    "teacher|practitioner|intern|technician|assistant|specialist|officer|worker|representative|broker|agent|"
    "administrator|sysadmin|handyman|contractor|supervisor|operator|instructor|educator|counselor|caregiver|"
    "nurse|doctor|physician|surgeon|dentist|engineer|developer|programmer|software engineer|"
    "designer|architect|lawyer|attorney|accountant|chef|cook|baker|waiter|waitress|bartender|barista|"
    "writer|author|journalist|editor|photographer|artist|painter|musician|singer|actor|actress|dancer|"
    "pilot|driver|truck driver|mechanic|electrician|plumber|carpenter|farmer|firefighter|police officer|"
    "cop|soldier|veteran|scientist|researcher|professor|librarian|pharmacist|therapist|psychologist|"
    "veterinarian|vet|student|manager|salesman|saleswoman|cashier|clerk|consultant|analyst|banker|"
    "entrepreneur|realtor|real estate agent|secretary|receptionist|janitor|cleaner|construction worker|"
    "social worker|paramedic|coach|trainer|personal trainer|lifeguard|tutor|translator|miner|fisherman|"
    "stay at home mom|stay-at-home mom|stay at home dad|housewife|homemaker|retiree|freelancer|"
    "data scientist|web developer|graphic designer|mail carrier|mailman|nanny|babysitter|hairdresser|"
    "hairstylist|stylist|model|youtuber|streamer|gamer|comedian|director|producer|ceo|owner"
)
_OCC = re.compile(rf"(?:{OCCUPATIONS})s?$", re.I)
PETS = (
    "dog|puppy|cat|kitten|turtle|tortoise|hamster|rabbit|bunny|parrot|bird|fish|goldfish|horse|snake|"
    "lizard|guinea pig|ferret|pig|chicken|goat|gecko|iguana|cockatiel|budgie|labrador|poodle|beagle|"
    "terrier|retriever|bulldog|husky|pony|dachshund|chihuahua|corgi|pug|shepherd|parakeet|frog|spider|"
    "tarantula|mouse|rat"
)
_NUM = r"(?P<n>a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2})"
_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBERS.get(word, 1)


def _phrase_value(raw: str, max_words: int = 6) -> str | None:
    """A fact's value: the first clean phrase of ``raw``, or None if it is vague or long."""
    found = topics(raw)
    if not found or len(found[0].split()) > max_words:
        return None
    return found[0]


# -- handlers ----------------------------------------------------------------------------

# strength of each stance word; the confidence follows how explicit it is
_LIKE_VERBS: dict[str, tuple[float, float, str]] = {
    # verb: (strength, confidence, text template)
    "love": (0.9, 0.85, "Loves {}"),
    "adore": (0.9, 0.85, "Adores {}"),
    "like": (0.6, 0.8, "Likes {}"),
    "enjoy": (0.6, 0.8, "Enjoys {}"),
    "prefer": (0.7, 0.75, "Prefers {}"),
    "dig": (0.6, 0.6, "Likes {}"),
    "appreciate": (0.5, 0.6, "Appreciates {}"),
    "fancy": (0.6, 0.6, "Likes {}"),
    "fan": (0.7, 0.8, "Is a fan of {}"),
    "big fan": (0.9, 0.85, "Is a big fan of {}"),
    "into": (0.7, 0.75, "Is into {}"),
    "obsessed": (0.9, 0.8, "Is obsessed with {}"),
    "crazy": (0.9, 0.8, "Is crazy about {}"),
    "passionate": (0.9, 0.8, "Is passionate about {}"),
    "keen": (0.6, 0.7, "Is keen on {}"),
    "fond": (0.6, 0.75, "Is fond of {}"),
    "interested": (0.5, 0.65, "Is interested in {}"),
    "addicted": (0.8, 0.75, "Is addicted to {}"),
    "cannot get enough": (0.9, 0.8, "Loves {}"),
    "cannot live without": (0.9, 0.8, "Loves {}"),
    "live for": (0.9, 0.75, "Loves {}"),
    "priorit": (0.7, 0.7, "Prioritizes {}"),
    "thrive in": (0.7, 0.7, "Thrives in {}"),
    "thrive on": (0.7, 0.7, "Thrives on {}"),
}


def _like_verb(verb: str) -> tuple[float, float, str]:
    v = verb.lower()
    if "fan" in v:
        return _LIKE_VERBS["big fan" if re.search(r"big|huge|massive|total|great", v) else "fan"]
    for word, spec in _LIKE_VERBS.items():
        if re.search(rf"\b{word}", v):
            return spec
    return _LIKE_VERBS["like"]


def likes(hit: Hit) -> list[MemoryIn]:
    """``I love X``, ``I'm a big fan of X``, ``I prefer X (over Y)``."""
    verb = hit.group("verb")
    strength, confidence, template = _like_verb(verb)
    if re.search(r"\breally\s+(?:like|enjoy)", hit.match.group(0), re.I):
        strength = 0.8
    obj = hit.group("obj")
    if verb.lower() == "prefer" or verb.lower().startswith("priorit"):  # "tea over coffee" is a like of tea
        obj = re.split(r"\s+(?:over|to|rather than|instead of|more than)\s+", obj, maxsplit=1, flags=re.I)[0]
    return [hit.pref(t, "like", strength, confidence, template) for t in topics(obj, drop_quantity=True)]


def sweet_tooth(hit: Hit) -> list[MemoryIn]:
    return [hit.pref("sweets", "like", 0.8, 0.7, "Likes {} (has a sweet tooth)")]


_DISLIKE_VERBS: dict[str, tuple[Polarity, float, float, str]] = {
    # verb: (polarity, strength, confidence, text template)
    "hate": ("dislike", 0.9, 0.85, "Hates {}"),
    "despise": ("dislike", 0.95, 0.85, "Despises {}"),
    "loathe": ("dislike", 0.95, 0.85, "Loathes {}"),
    "detest": ("dislike", 0.95, 0.85, "Detests {}"),
    "abhor": ("dislike", 0.95, 0.85, "Abhors {}"),
    "dislike": ("dislike", 0.7, 0.8, "Dislikes {}"),
    "stand": ("dislike", 0.9, 0.85, "Cannot stand {}"),
    "bear": ("dislike", 0.9, 0.8, "Cannot bear {}"),
    "tolerate": ("dislike", 0.85, 0.8, "Cannot tolerate {}"),
    "stomach": ("dislike", 0.85, 0.8, "Cannot stomach {}"),
    "fan": ("dislike", 0.6, 0.75, "Is not a fan of {}"),
    "into": ("dislike", 0.6, 0.75, "Is not into {}"),
    "big on": ("dislike", 0.6, 0.7, "Is not big on {}"),
    "keen": ("dislike", 0.6, 0.7, "Is not keen on {}"),
    "crazy": ("dislike", 0.5, 0.7, "Is not crazy about {}"),
    "fond": ("dislike", 0.6, 0.75, "Is not fond of {}"),
    "sick": ("dislike", 0.7, 0.7, "Is sick of {}"),
    "tired": ("dislike", 0.6, 0.7, "Is tired of {}"),
    "fed up": ("dislike", 0.7, 0.7, "Is fed up with {}"),
    "like": ("dislike", 0.7, 0.8, "Does not like {}"),
    "love": ("dislike", 0.4, 0.6, "Does not love {}"),
    "enjoy": ("dislike", 0.6, 0.8, "Does not enjoy {}"),
    "care": ("dislike", 0.6, 0.75, "Does not care for {}"),
    "appreciate": ("dislike", 0.5, 0.6, "Does not appreciate {}"),
    "dig": ("dislike", 0.6, 0.6, "Does not like {}"),
    "interested": ("dislike", 0.6, 0.75, "Is not interested in {}"),
    "uncomfortable": ("dislike", 0.7, 0.75, "Is uncomfortable with {}"),
    "averse": ("dislike", 0.8, 0.8, "Is averse to {}"),
    "against": ("dislike", 0.8, 0.75, "Is against {}"),
    "opposed": ("dislike", 0.8, 0.75, "Is opposed to {}"),
    "want": ("avoid", 0.8, 0.75, "Does not want {}"),
}


def dislikes(hit: Hit) -> list[MemoryIn]:
    """``I hate X``, ``I don't (really) like X``, ``I can't stand X``, ``I'm not a fan of X``."""
    verb = hit.group("verb").lower()
    if verb in _CONSUME or verb.split()[0] in _CONSUME:
        return avoids(hit)
    spec = next((s for w, s in _DISLIKE_VERBS.items() if re.search(rf"\b{w}", verb)), _DISLIKE_VERBS["dislike"])
    polarity, strength, confidence, template = spec
    whole = hit.match.group(0)
    if re.search(r"\b(?:really|particularly|that much|too much|all that|especially)\b", whole, re.I) and strength < 0.8:
        strength = 0.5
    if re.search(r"\bat all\b|\bnever\b", hit.clause, re.I):
        strength = max(strength, 0.85)
    return [hit.pref(t, polarity, strength, confidence, template) for t in topics(hit.group("obj"))]


def fears(hit: Hit) -> list[MemoryIn]:
    """``I have a fear of heights``, ``I'm terrified of flying``: kept away from, firmly."""
    return [hit.pref(t, "avoid", 0.85, 0.8, "Is afraid of {}") for t in topics(hit.group("obj"))]


def finds_unpleasant(hit: Hit) -> list[MemoryIn]:
    """``I find water sports uncomfortable``: a dislike named by its effect on the user."""
    adj = hit.group("adj").lower()
    return [hit.pref(t, "dislike", 0.7, 0.75, f"Finds {{}} {adj}") for t in topics(hit.group("obj"))]


def _third_person(verb: str) -> str:
    head, _, rest = verb.lower().partition(" ")
    head = head + ("es" if head.endswith(("ch", "sh", "s", "x")) else "s")
    return f"{head} {rest}".strip()


def only(hit: Hit) -> list[MemoryIn]:
    """``I only wear organic cotton``, ``I exclusively read indie authors``: a strong like
    that rules the alternatives out."""
    verb = _third_person(hit.group("verb"))
    return [hit.pref(t, "like", 0.9, 0.75, f"Only {verb} {{}}") for t in topics(hit.group("obj"))]


_UNNAMED_DIETS = frozenset("strict healthy balanced normal regular good special new certain specific".split())


def diet_named(hit: Hit) -> list[MemoryIn]:
    """``I follow a raw food diet``: a diet the table of known diets does not cover."""
    name = hit.group("v").lower()
    if re.fullmatch(_DIET, name, re.I) or name in _VAGUE or name in _UNNAMED_DIETS or not re.search(r"[a-z]", name):
        return []
    return [hit.fact("diet", name, f"Follows a {name} diet", confidence=0.8)]


def refuses(hit: Hit) -> list[MemoryIn]:
    """``I refuse to fly economy``: a firm avoidance of doing something."""
    return [hit.pref(t, "avoid", 0.9, 0.8, "Refuses to {}") for t in topics(hit.group("obj"))]


def avoids(hit: Hit) -> list[MemoryIn]:
    """``I avoid X``, ``I don't eat X``, ``I never drink X``: a firm avoidance."""
    verb = hit.group("verb").lower() if "verb" in hit.match.re.groupindex else ""
    template = "Avoids {}" if not verb else "Does not " + verb.split()[0].replace("ing", "") + " {}"
    if verb and verb.split()[0] in {"eat", "eating"}:
        template = "Does not eat {}"
    elif verb and verb.split()[0] in {"drink", "drinking"}:
        template = "Does not drink {}"
    elif verb and verb.split()[0] in {"smoke", "smoking"}:
        template = "Does not smoke {}"
    return [hit.pref(t, "avoid", 0.8, 0.8, template) for t in topics(hit.group("obj"))]


def never(hit: Hit) -> list[MemoryIn]:
    """``I never watch TV``: a habit the user keeps away from (weaker than a stated dislike)."""
    verb = hit.group("verb").lower()
    if verb in _CONSUME:
        return avoids(hit)
    if verb.endswith("ed") or verb in _PAST:
        return []  # "I never tried sushi" is inexperience, not a stance
    return [
        hit.pref(t, "dislike", 0.5, 0.55, f"Never {verb} {{}}")
        for t in topics(hit.group("verb") + " " + hit.group("obj"))
    ]


_PAST = frozenset(
    "been had saw seen went gone knew known thought heard met got did done said made took taken gave given "
    "found felt left brought bought sent kept told wrote written ate eaten drank drunk ran swam sang won lost "
    "really even ever once".split()
)


def retract_like(hit: Hit) -> list[MemoryIn]:
    """``I don't like X anymore``, ``I'm not into X anymore``, ``I used to like X``, ``I quit X``:
    the old like is closed; nothing new is claimed (a later statement may add a dislike)."""
    verb = (hit.group("verb") if "verb" in hit.match.re.groupindex else "").lower()
    if verb.split()[:1] and verb.split()[0] in _CONSUME and not hit.group("obj").lower().startswith("to "):
        if "used" not in hit.match.group(0).lower():
            return avoids(hit)
    return [hit.pref(t, "like", 0.5, 0.75, "No longer likes {}", retract=True) for t in topics(hit.group("obj"))]


def eats_again(hit: Hit) -> list[MemoryIn]:
    """``I eat meat again``: the avoidance ends, and with it a diet that excluded it."""
    out: list[MemoryIn] = []
    for t in topics(hit.group("obj")):
        out.append(hit.pref(t, "avoid", 0.5, 0.75, "No longer avoids {}", retract=True))
        key = normalize_key(t)
        for m in hit.profile:
            if m.kind == "fact" and m.key == "diet" and key in DIETS.get(m.value.lower(), ()):
                out.append(hit.fact("diet", m.value, f"Is no longer {m.value}", retract=True))
    return out


def allergy(hit: Hit) -> list[MemoryIn]:
    out: list[MemoryIn] = []
    for t in topics(hit.group("obj")):
        key = normalize_key(t)
        out.append(hit.pref(t, "avoid", 1.0, 0.9, "Avoids {} (allergic)"))
        out.append(hit.fact("allergy", key, f"Is allergic to {t}", confidence=0.9, multi=True))
    return out


def allergy_gone(hit: Hit) -> list[MemoryIn]:
    out: list[MemoryIn] = []
    for t in topics(hit.group("obj")):
        key = normalize_key(t)
        out.append(hit.pref(t, "avoid", 1.0, 0.8, "No longer avoids {} (allergy gone)", retract=True))
        out.append(hit.fact("allergy", key, f"Is no longer allergic to {t}", multi=True, retract=True))
    return out


def diet(hit: Hit) -> list[MemoryIn]:
    name = hit.group("diet").lower().replace("-", " ").replace("gluten free", "gluten-free")
    name = name.replace("lactose intolerant", "lactose intolerant")
    out = [hit.fact("diet", name, f"Is {name}", confidence=0.85)]
    for food in DIETS.get(name, DIETS.get(name.replace(" ", "-"), ())):
        out.append(hit.pref(food, "avoid", 0.9, 0.8, f"Avoids {{}} ({name})"))
    return out


def diet_gone(hit: Hit) -> list[MemoryIn]:
    name = hit.group("diet").lower().replace("-", " ").replace("gluten free", "gluten-free")
    out = [hit.fact("diet", name, f"Is no longer {name}", retract=True)]
    for food in DIETS.get(name, DIETS.get(name.replace(" ", "-"), ())):
        out.append(hit.pref(food, "avoid", 0.9, 0.75, f"No longer avoids {{}} (was {name})", retract=True))
    return out


def favourite(hit: Hit) -> list[MemoryIn]:
    """``My favorite food is sushi`` / ``sushi is my favorite``: a strong like, and a
    single-valued fact ``favorite food`` that a new favourite replaces."""
    out: list[MemoryIn] = []
    category = normalize_key(hit.group("cat")) if hit.group("cat") else ""
    found = topics(hit.group("obj"))
    for t in found:
        label = f"favorite {category}" if category and category not in {"thing", "one"} else ""
        out.append(hit.pref(t, "like", 0.9, 0.85, f"Favorite {category} is {{}}" if label else "Loves {}"))
        if label and len(found) == 1:
            out.append(hit.fact(label, t, f"Favorite {category} is {t}", confidence=0.85))
    return out


_POS_ADJ = (
    r"great|amazing|awesome|delicious|the best|wonderful|fantastic|lovely|excellent|my jam|tasty|incredible|the bomb"
)
_NEG_ADJ = r"terrible|awful|disgusting|gross|horrible|the worst|overrated|boring|nasty|not for me|not my thing|not my cup of tea|not really my thing|not my style"
_BAD_SUBJECTS = re.compile(
    r"\b(?:it|that|this|you|he|she|they|we|there|everything|life|weather|day|idea|which|what|who|one|thing|things|"
    r"job|work|news|plan|name|story|time|sound|sounds|here|mine)\b",
    re.I,
)


def evaluation(hit: Hit) -> list[MemoryIn]:
    """``sushi is great (again)``, ``horror films are not for me``: a judgment of a topic."""
    subject = hit.group("obj")
    if _BAD_SUBJECTS.search(subject):
        return []
    adj = hit.group("adj").lower()
    negative = re.fullmatch(_NEG_ADJ, adj) is not None
    out: list[MemoryIn] = []
    for t in topics(subject):
        if negative:
            out.append(hit.pref(t, "dislike", 0.6, 0.6, "Dislikes {}"))
        else:
            out.append(hit.pref(t, "like", 0.7, 0.6, "Likes {}"))
    return out


def hobby(hit: Hit) -> list[MemoryIn]:
    verb = (hit.group("verb") if "verb" in hit.match.re.groupindex else "").lower()
    found = topics(hit.group("obj"))
    if verb:
        third = verb + ("es" if verb.endswith(("sh", "ch", "s")) else "s")
        return [hit.pref(t, "like", 0.5, 0.6, f"{third} {{}}") for t in found]
    return [hit.pref(t, "like", 0.8, 0.8, "Enjoys {} (hobby)") for t in found]


# -- facts -------------------------------------------------------------------------------


def name(hit: Hit) -> list[MemoryIn]:
    value = hit.group("v").strip()
    if "[" in value or value.lower() in {"not", "a", "the", "just", "so", "really"}:
        return []
    value = " ".join(w[:1].upper() + w[1:] for w in value.split())
    return [hit.fact("name", value, f"Is called {value}", confidence=0.9)]


def age(hit: Hit) -> list[MemoryIn]:
    years = int(hit.group("v"))
    if not 1 <= years <= 120:
        return []
    return [hit.fact("age", str(years), f"Is {years} years old", confidence=0.85)]


def location(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 5)
    if value is None:
        return []
    moved = re.search(r"\b(?:moved|relocated)\b", hit.match.group(0), re.I)
    return [hit.fact("location", value, ("Moved to " if moved else "Lives in ") + value, confidence=0.85)]


def hometown(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 5)
    return [] if value is None else [hit.fact("hometown", value, f"Is from {value}", confidence=0.8)]


def occupation(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 6)
    if value is None:
        return []
    text = (
        f"Is {value}" if value.lower() in {"retired", "unemployed", "self-employed"} else f"Works as {_article(value)}"
    )
    return [hit.fact("occupation", value, text, confidence=0.8)]


_ROLE_TAIL = re.compile(
    r"\s+(?:(?:at|in|of|for|with|from|who|that|and|so|but|myself|too|now|here|by|to|on|as|before|after|until|when|while|"
    r"because|since)\b|\w+ing\b).*$",
    re.I,
)  # "biology teacher at a college", "American living in Japan"
_NOT_A_JOB = re.compile(r"\b(?:student|retiree|veteran|housewife|homemaker)s?$", re.I)  # occupations, not jobs
_NOT_A_ROLE = frozenset(
    "bit little lot few couple while fan sucker believer advocate supporter proponent champion kind sort type part "
    "member fool mess tad second minute minutes hour hours day days week weeks month months year years percent "
    "hundred thousand million mile miles drive walk".split()
)  # a degree ("a bit tired"), a stance ("a strong advocate for ...") or a measure ("a day late")
_BARE_HEADS = frozenset({"person", "guy", "work", "thing", "one"})  # "I'm a person who ...": the rest was cut


def _role(raw: str) -> str | None:
    """The noun phrase after ``I am a``, ``I used to be a`` or ``I work in``, up to its first
    preposition or clause ("biology teacher" of "biology teacher at a college"), or None
    where it is a degree, a stance or a measure ("a bit", "a big fan", "a day")."""
    value = _ROLE_TAIL.sub("", clean_phrase(_TRAILING.sub("", raw)))
    words = value.lower().split()
    if (
        not words
        or len(words) > 4
        or _NOT_A_ROLE.intersection(words)
        or value.lower() in _BARE_HEADS
        or any(w.isdigit() or (w in _NUMBERS and w not in ("a", "an")) for w in words)
    ):
        return None
    return value


def occupation_is(hit: Hit) -> list[MemoryIn]:
    """``I am a nurse`` is an occupation; ``I am a bodybuilder`` describes the user all the
    same, and is kept as one of their ``identity`` facts; ``I was a nurse`` is a ``former``
    one. Each role of "a mom and a teacher" counts; a question ("I'm a morning person?")
    asserts none."""
    if hit.clause.rstrip().endswith("?"):
        return []
    tense = hit.group("fv").lower()
    out: list[MemoryIn] = []
    for part in re.split(r"\s+and\s+(?:a|an)\s+", hit.group("v"), flags=re.I):
        value = _role(part)
        if value is None:
            break
        if tense == "was":
            if _OCC.search(value):
                out.append(
                    hit.fact("former", _article(value), f"Used to be {_article(value)}", confidence=0.7, multi=True)
                )
        elif _OCC.search(value):
            verb = "Is" if _NOT_A_JOB.search(value) else "Works as"
            out.append(hit.fact("occupation", value, f"{verb} {_article(value)}", confidence=0.8))
        elif tense == "am":
            out.append(hit.fact("identity", value, f"Is {_article(value)}", confidence=0.7, multi=True))
    return out


def former(hit: Hit) -> list[MemoryIn]:
    """``I used to be in the military``, ``I used to be a teacher``: a past the user keeps."""
    head = hit.group("head").strip()
    value = _role(hit.group("v"))
    if value is None:
        return []
    value = f"{head} {value}"
    return [hit.fact("former", value, f"Used to be {value}", confidence=0.7, multi=True)]


_WHEN = re.compile(
    r"^(?:(?:the|an?|\d+|my|our) )?(?:early |late )?(?:morning|evening|afternoon|night|day|hour|minute|week|month|year|"
    r"summer|winter|spring|fall|weekend|shift|silence|burst|person|peace|private|public|groups?|teams?|pairs?)s?\b",
    re.I,
)  # when or how the user works, not where


def works_in(hit: Hit) -> list[MemoryIn]:
    """``I work in a factory``, ``I work in sales`` (not ``in the mornings``). Kept as the
    user's ``field``, apart from the ``workplace`` of "I work at Acme"."""
    value = _role(hit.group("v"))
    if value is None or _WHEN.match(value):
        return []
    return [hit.fact("field", value, f"Works in {value}", confidence=0.7)]


def business(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 6)
    if value is None:
        return []
    verb = hit.group("verb").lower()
    return [
        hit.fact("occupation", f"{verb}s {_article(value)}", f"{verb.capitalize()}s {_article(value)}", confidence=0.7)
    ]


def workplace(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 6)
    return [] if value is None else [hit.fact("workplace", value, f"Works at {value}", confidence=0.75)]


def education(hit: Hit) -> list[MemoryIn]:
    value = _phrase_value(hit.group("v"), 6)
    if value is None:
        return []
    verb = hit.group("verb").lower()
    if "graduated" in verb:
        return [hit.fact("education", f"graduated from {value}", f"Graduated from {value}", confidence=0.8)]
    if re.search(r"\b(?:go to|attend|am in|am at)\b", verb):
        if not re.search(r"college|university|school|academy|institute", value, re.I):
            return []
        return [hit.fact("education", value, f"Attends {value}", confidence=0.75)]
    return [hit.fact("education", value, f"Studies {value}", confidence=0.8)]


_PARTNERS = {
    "wife": "married",
    "husband": "married",
    "spouse": "married",
    "fiance": "engaged",
    "fiancee": "engaged",
    "fiancé": "engaged",
    "fiancée": "engaged",
    "boyfriend": "in a relationship",
    "girlfriend": "in a relationship",
    "partner": "in a relationship",
}


def relationship(hit: Hit) -> list[MemoryIn]:
    if "who" in hit.match.re.groupindex and hit.group("who"):
        status = _PARTNERS[hit.group("who").lower()]
        return [
            hit.fact("relationship", status, f"Is {status} (mentions a {hit.group('who').lower()})", confidence=0.7)
        ]
    status = hit.group("v").lower()
    return [hit.fact("relationship", status, f"Is {status}", confidence=0.85)]


def pet(hit: Hit) -> list[MemoryIn]:
    kind = hit.group("pet").lower()
    count = _count(hit.group("n")) if "n" in hit.match.re.groupindex and hit.group("n") else 1
    pet_name = hit.group("name") if "name" in hit.match.re.groupindex else ""
    if pet_name and pet_name.lower() in {"after", "because", "and", "but", "who", "that"}:
        pet_name = ""
    if pet_name:
        pet_name = pet_name[:1].upper() + pet_name[1:]
        value = f"{kind} named {pet_name}"
        text = f"Has a {kind} named {pet_name}"
    elif count > 1:
        value = f"{count} {kind}s"
        text = f"Has {count} {kind}s"
    else:
        value = kind
        text = f"Has {_article(kind)}"
    return [hit.fact("pet", value, text, confidence=0.85, multi=True)]


def family(hit: Hit) -> list[MemoryIn]:
    what = hit.group("what").lower()
    count = _count(hit.group("n"))
    key = "children"
    if re.match(r"grand", what):
        key = "grandchildren"
    elif re.match(r"brother|sister|sibling", what):
        key = "sibling"
    value = f"{count} {what}" if count > 1 else f"{_article(what)}"
    return [hit.fact(key, value, f"Has {value}", confidence=0.85, multi=True)]


def _article(noun: str) -> str:
    noun = noun.strip()
    if re.match(r"^(?:a|an|the|my|\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b", noun, re.I):
        return noun
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One statement shape: a regex over a clause, what it means, and an optional guard."""

    name: str
    pattern: re.Pattern[str]
    handler: Handler
    needs: re.Pattern[str] | None = None  # the clause must also match this


def rule(name: str, pattern: str, handler: Handler, needs: re.Pattern[str] | None = None, flags: int = re.I) -> Rule:
    return Rule(name, re.compile(pattern, flags), handler, needs)


_OBJ = r"\s+(?P<obj>.+)"
_NEG = r"(?:do not|did not|cannot|could not|will not|would not|would never|never|no longer|do no longer)"
_LIKE_WORDS = (
    r"love|adore|like|enjoy|prefer|dig|appreciate|fancy|"
    r"am (?:a |an )?(?:big |huge |massive |total |great |real )?fan of|am (?:really |very |so )?into|am obsessed with|"
    r"am crazy about|am passionate about|am keen on|am fond of|am interested in|am addicted to|"
    r"cannot get enough of|cannot live without|live for|priorit[iy]ze|prioritise|thrive (?:in|on)"
)

RULES: list[Rule] = [
    # retractions and changes first: they contain the words the plain rules look for
    rule(
        "used-to",
        ME
        + r"used to\s+"
        + ADV
        + r"(?P<verb>like|love|enjoy|be into|be a (?:big |huge )?fan of|eat|drink|play|watch)"
        + _OBJ,
        retract_like,
    ),
    rule(
        "not-anymore",
        ME
        + r"(?:do not|did not|no longer|cannot|do no longer)\s+"
        + ADV
        + r"(?P<verb>like|love|enjoy|care for|eat|drink|smoke|play|watch|listen to|read|do|go to|use|want)"
        + _OBJ,
        retract_like,
        needs=_ANYMORE,
    ),
    rule(
        "not-into-anymore",
        ME
        + r"(?:am|have been)\s+(?:no longer|not)\s+"
        + ADV
        + r"(?P<verb>into|a (?:big |huge )?fan of|interested in|crazy about|obsessed with|keen on|fond of)"
        + _OBJ,
        retract_like,
        needs=_ANYMORE,
    ),
    rule(
        "stopped",
        ME
        + r"(?:have\s+)?(?:stopped|quit|gave up|have given up|gave up on)\s+(?P<verb>eating|drinking|smoking|liking|playing|watching)?\s*(?P<obj>.+)",
        retract_like,
    ),
    rule("diet-gone", ME + r"(?:am|have been)\s+(?:no longer|not)\s+(?:a |an )?" + _DIET, diet_gone, needs=_ANYMORE),
    rule("diet-used-to", ME + r"used to be\s+(?:a |an )?(?:strict )?" + _DIET + r"\b", diet_gone),
    rule(
        "eat-again",
        ME + r"(?:(?:have )?started\s+)?(?:eat|eating|drink|drinking|have|am eating)\s+(?P<obj>.+?)\s+again\b",
        eats_again,
    ),
    rule(
        "allergy-gone", ME + r"(?:am|have been)\s+(?:no longer|not)\s+allergic to" + _OBJ, allergy_gone, needs=_ANYMORE
    ),
    rule("allergy-outgrown", ME + r"(?:have )?outgrown my\s+(?P<obj>[\w -]{2,30}?)\s+allerg(?:y|ies)", allergy_gone),
    # allergies and diets
    rule(
        "allergic",
        ME
        + r"(?:am|have been|was|have always been)\s+"
        + ADV
        + r"(?:severely |seriously |deathly |mildly |very |highly )?allergic to"
        + _OBJ,
        allergy,
    ),
    rule(
        "allergy-noun",
        ME
        + r"(?:have|suffer from)\s+(?:a |an )?(?:severe |serious |bad |mild |deadly )?(?P<obj>[\w -]{2,30}?)\s+allerg(?:y|ies)\b",
        allergy,
    ),
    rule(
        "allergy-to",
        ME + r"(?:have|suffer from)\s+(?:a |an )?(?:severe |serious |bad |mild )?allergy to" + _OBJ,
        allergy,
    ),
    rule(
        "diet",
        ME
        + r"(?:am|have been|was raised|eat)\s+"
        + ADV
        + r"(?:a |an )?(?:strict |full[- ]time |lifelong |committed )?"
        + _DIET
        + r"\b",
        diet,
    ),
    rule(
        "diet-noun",
        ME
        + r"(?:follow|am on|eat|keep|adhere to|stick to|maintain)\s+(?:a |an )?(?:strict |strictly )?"
        + _DIET
        + r"\b",
        diet,
    ),
    rule(
        "diet-named",
        ME
        + r"(?:follow|am on|adhere to|stick to|maintain|keep)\s+(?:a |an )?(?:strict |mostly |fully )?(?P<v>[\w-]+(?: [\w-]+)?)\s+diet\b",
        diet_named,
    ),
    # negative stances: before the positive ones, so their words are claimed first
    rule(
        "dont-like",
        ME
        + _NEG
        + r"\s+"
        + ADV
        + r"(?P<verb>like|love|enjoy|care (?:much |too much )?for|stand|bear|tolerate|stomach|appreciate|dig|eat|drink|touch|consume|smoke|want)"
        + _OBJ,
        dislikes,
    ),
    rule(
        "hate",
        ME + r"(?P<verb>hate|despise|loathe|detest|abhor|dislike|am not (?:a |an )?(?:big |huge |great |real )?fan of|"
        r"am not (?:really |very |that |so )?(?:into|big on|keen on|crazy about|fond of|interested in)|am (?:so |really )?(?:sick|tired) of|am fed up with|"
        r"am (?:not comfortable with|uncomfortable with|averse to|against|opposed to))" + _OBJ,
        dislikes,
    ),
    rule(
        "fear",
        ME
        + r"(?:have|am)\s+(?:a |an )?(?:deep-seated |intense |severe |strong |real |huge |big |terrible |irrational |crippling |deep )*"
        r"(?:fear of|phobia of|terrified of|scared of|afraid of)" + _OBJ,
        fears,
    ),
    rule(
        "find-unpleasant",
        ME + r"find\s+(?P<obj>[\w' -]{2,60}?)\s+(?:to be\s+)?(?:very |really |quite |extremely |so |too |rather )?"
        r"(?P<adj>uncomfortable|off-putting|unpleasant|distracting|annoying|overwhelming|stressful|unbearable|disgusting|tedious)\b",
        finds_unpleasant,
    ),
    rule(
        "aversion",
        ME
        + r"(?:have|feel|harbor|harbour)\s+(?:a |an )?(?:strong |deep |intense |real |serious |total |major |great |huge )?"
        r"(?P<verb>aversion to|dislike (?:for|of)|distaste for|hatred (?:for|of))" + _OBJ,
        dislikes,
    ),
    rule(
        "prefer-to-avoid",
        ME
        + r"(?:would |'d )?(?:prefer|want|like|try|choose|rather) to\s+(?:avoid|stay away from|steer clear of|not use|not eat)"
        + _OBJ,
        avoids,
    ),
    rule(
        "avoid",
        ME
        + r"(?:avoid|stay away from|steer clear of|keep away from|try to avoid|try not to eat|refuse to eat|refuse to drink|do without)"
        + _OBJ,
        avoids,
    ),
    rule("refuse", ME + r"(?:refuse|won't ever|will never) to\s+(?P<obj>.+)", refuses),
    rule("never", ME + r"never\s+(?P<verb>\w+)" + _OBJ, never),
    rule(
        "not-for-me",
        r"^(?:(?:actually|honestly|well|but|oh|i think|i guess|i find)[, ]+)*(?P<obj>[\w' -]{2,40}?)\s+(?:is|are)\s+(?:really |just |definitely |honestly |simply )?(?P<adj>"
        + _NEG_ADJ
        + r")\b",
        evaluation,
    ),
    # positive stances
    rule(
        "favourite-is",
        r"\bmy (?:all[- ]time |absolute |very |new )?favou?rite\s+(?P<cat>[\w -]{1,30}?)\s+(?:is|are|has to be|would be|must be)\s+(?P<obj>.+)",
        favourite,
    ),
    rule(
        "is-favourite",
        r"^(?:(?:actually|honestly|well|oh)[, ]+)*(?P<obj>[\w' -]{2,40}?)\s+(?:is|are)\s+(?:definitely |probably |still |easily )?my (?:all[- ]time |absolute |very |new )?favou?rites?(?:\s+(?P<cat>[\w -]{1,30}?))?(?:\s+(?:of all time|ever))?\s*[.!]*$",
        favourite,
    ),
    rule(
        "only",
        ME
        + r"(?:will |would )?(?:only|exclusively)\s+(?P<verb>use|wear|read|eat|drink|buy|watch|listen to|stay at|stay in|drive|play|shop at|travel by|fly with|book|choose)"
        + _OBJ,
        only,
    ),
    rule("like", ME + r"(?P<verb>" + _LIKE_WORDS + r")" + _OBJ, likes),
    rule(
        "preference-for",
        ME + r"have (?:a |an )?(?:strong |clear |definite |real |big |general )?(?P<verb>preference) for" + _OBJ,
        likes,
    ),
    rule("sweet-tooth", ME + r"have (?:a |such a )?(?:big |huge |real |serious )?sweet tooth", sweet_tooth),
    rule(
        "hobby",
        r"\bmy (?:favou?rite )?(?:hobby is|hobbies are|hobbies include|passion is|passions are|pastimes? (?:is|are))"
        + _OBJ,
        hobby,
    ),
    rule(
        "free-time", r"\bin my (?:free|spare) time,?\s+I\s+" + ADV + r"(?:like to |love to |enjoy )?(?P<obj>.+)", hobby
    ),
    rule(
        "plays",
        ME
        + r"(?P<verb>play|collect|practice|practise|knit|bake|volunteer|restore|sew|brew)\s+(?P<obj>(?!with\b|for\b|a lot\b|it\b|them\b|that\b|outside\b|around\b).+)",
        hobby,
    ),
    rule(
        "is-great",
        r"^(?:(?:actually|honestly|well|oh|i think|i guess|i find|yes|yeah)[, ]+)*(?P<obj>[\w' -]{2,40}?)\s+(?:is|are)\s+(?:so |really |just |absolutely |truly |pretty |still |totally |honestly )*(?P<adj>"
        + _POS_ADJ
        + r")\b",
        evaluation,
    ),
    # facts
    rule(
        "name",
        r"\b(?:my name is|call me|I am called|I go by|the name is)\s+(?P<v>[A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?)",
        name,
    ),
    rule(
        "age",
        ME
        + r"(?:am|just turned|turned|recently turned)\s+(?P<v>\d{1,3})(?:\s+years?\s+old|\s*(?:yo|y/o)\b|\s*(?:[.!,]|$))",
        age,
    ),
    rule("age-adj", ME + r"am (?:a |an )(?P<v>\d{1,3})[- ]years?[- ]old\b", age),
    rule(
        "lives",
        ME
        + r"(?:live|am living|reside|am based|am located|have lived|have been living|am currently living|currently live)\s+(?:in|on|near|at|outside(?: of)?|by)\s+(?P<v>.+)",
        location,
    ),
    rule("moved", ME + r"(?:have\s+)?(?:moved|relocated)\s+(?:back\s+)?to\s+(?P<v>.+)", location),
    rule("from", ME + r"(?:am|come)\s+(?:originally\s+)?from\s+(?P<v>.+)", hometown),
    rule("works-as", ME + r"(?:work|am working|have worked|worked)\s+as\s+(?:a |an )?(?P<v>.+)", occupation),
    rule("retired", ME + r"am\s+(?P<v>retired|unemployed|self-employed)\b", occupation),
    rule("is-a", ME + r"(?P<fv>am|have been|was)\s+(?:a |an )(?P<v>(?:[\w-]+\s+){0,5}[\w-]+)", occupation_is),
    rule(
        "used-to-be",
        ME + r"used to be\s+(?P<head>a |an |(?:in|on) (?:the|a|an) )(?P<v>(?:[\w-]+\s+){0,5}[\w-]+)",
        former,
    ),
    rule("works-in", ME + r"work\s+in\s+(?P<v>(?:[\w-]+\s+){0,5}[\w-]+)", works_in),
    rule("runs", ME + r"(?P<verb>run|own|manage)\s+(?:a |an |my own )(?P<v>.+)", business),
    rule("works-at", ME + r"(?:work|am working)\s+(?:at|for)\s+(?P<v>.+)", workplace),
    rule(
        "studies",
        ME
        + r"(?P<verb>study|studied|am studying|major in|majored in|am majoring in|graduated from|go to|attend|am attending)\s+(?P<v>.+)",
        education,
    ),
    rule(
        "married",
        ME
        + r"(?:am|got|just got|recently got)\s+"
        + ADV
        + r"(?:happily\s+)?(?P<v>married|single|divorced|engaged|widowed|separated)\b",
        relationship,
    ),
    rule(
        "partner",
        r"\bmy (?P<who>wife|husband|spouse|boyfriend|girlfriend|fiance|fiancee|fiancé|fiancée)\b",
        relationship,
    ),
    rule(
        "has-partner", ME + r"have (?:a |an )(?P<who>wife|husband|boyfriend|girlfriend|fiance|fiancee)\b", relationship
    ),
    rule(
        "pet",
        ME
        + r"(?:have|own|got|adopted|have got|just got|also have)\s+"
        + _NUM
        + r"\s+(?:[\w-]+\s+){0,2}?(?P<pet>"
        + PETS
        + r")(?:e?s)?\b(?:\s*,?\s*(?:named|called)\s+(?P<name>[\w'-]+))?",
        pet,
    ),
    rule(
        "pet-name",
        r"\bmy (?P<pet>" + PETS + r")(?:'s name is|\s*,?\s*(?:is named|is called|named|called))\s+(?P<name>[\w'-]+)",
        pet,
    ),
    rule(
        "children",
        ME
        + r"(?:have|have got|also have)\s+"
        + _NUM
        + r"\s+(?:(?:young|little|grown|adult|teenage|beautiful|wonderful|amazing|lovely|small)\s+)?"
        r"(?P<what>kids?|children|child|sons?|daughters?|babies|baby|twins|grandchildren|grandkids?|grandsons?|granddaughters?|brothers?|sisters?|siblings?)\b",
        family,
    ),
]


# -- the extractor -----------------------------------------------------------------------

_TEXT_KINDS = frozenset({"message", "document"})
_RATED = re.compile(
    r"^\s*(?:I\s+)?rated\s+(?P<item>.+?)\s+(?P<n>\d+(?:\.\d+)?)\s*(?:/|out of)\s*(?P<max>\d+)"
    r"|^\s*(?P<item2>.+?)\s*[:=-]\s*(?P<n2>\d+(?:\.\d+)?)\s*(?:/\s*(?P<max2>\d+)|stars?)",
    re.I,
)


class RulesExtractor(Extractor):
    """Facts and preferences from the user's own statements, by a table of regex rules.

    No model, no network: thousands of events per second. ``RULES`` lists every shape it
    understands; ratings of 4/5 and up are likes, 2/5 and below dislikes.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from tailored.types import Event
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ev = Event(id=7, tenant="t", user_id="ana", kind="message", role="user",
    ...            text="I'm allergic to peanuts.", time=t, ingested_at=t)
    >>> [(m.kind, m.key, m.polarity, m.text) for m in RulesExtractor().extract([ev], [])]
    [('preference', 'peanut', 'avoid', 'Avoids peanuts (allergic)'), ('fact', 'allergy', None, 'Is allergic to peanuts')]
    """

    name = "rules"
    batch_size = 1024

    def __init__(self, rules: Sequence[Rule] | None = None) -> None:
        self.rules = list(RULES if rules is None else rules)

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        out: list[MemoryIn] = []
        for event in events:
            out.extend(self.extract_event(event, profile))
        return out

    def extract_event(self, event: Event, profile: Sequence[Memory] = ()) -> list[MemoryIn]:
        """Proposals from one event (none if it is not the user's own statement or rating)."""
        if event.role not in (None, "user"):
            return []
        if event.kind == "rating":
            return self._rating(event)
        if event.kind not in _TEXT_KINDS:
            return []
        found: list[MemoryIn] = []
        seen: set[tuple[str, str, str, str | None, bool]] = set()
        for clause in clauses(event.text):
            claimed: list[tuple[int, int]] = []
            for r in self.rules:
                if r.needs is not None and not r.needs.search(clause):
                    continue
                for m in r.pattern.finditer(clause):
                    if any(m.start() < end and start < m.end() for start, end in claimed):
                        continue
                    if _NOT_ASSERTED.search(clause[: m.start()]) or (
                        _LIKE_BEFORE.search(clause[: m.start()]) and re.match(r"I am\b", clause[m.start() :], re.I)
                    ):
                        continue
                    claimed.append((m.start(), m.end()))
                    for mem in r.handler(Hit(m, clause, event, profile)):
                        ident = (mem.kind, mem.key, mem.value, mem.polarity, mem.retract)
                        if ident not in seen:
                            seen.add(ident)
                            found.append(mem)
        return found

    def _rating(self, event: Event) -> list[MemoryIn]:
        payload = event.payload or {}
        stars = payload.get("stars", payload.get("rating", payload.get("score")))
        item = payload.get("item", payload.get("title", payload.get("name")))
        scale = payload.get("max", payload.get("scale", 5))
        if stars is None or item is None:
            m = _RATED.search(event.text)
            if m is None:
                return []
            item = m.group("item") or m.group("item2")
            stars = m.group("n") or m.group("n2")
            scale = m.group("max") or m.group("max2") or 5
        try:
            five = float(stars) * 5.0 / float(scale)
        except (TypeError, ValueError, ZeroDivisionError):
            return []
        title = clean_phrase(str(item))
        if not title:
            return []
        shown = f"{float(stars):g}/{float(scale):g}"
        if five >= 4:
            polarity: Polarity = "like"
            strength = 0.6 if five < 4.5 else 0.85
        elif five <= 2:
            polarity = "dislike"
            strength = 0.6 if five > 1.5 else 0.85
        else:
            return []
        verb = "Likes" if polarity == "like" else "Dislikes"
        key = normalize_title(title)
        return [
            MemoryIn(
                kind="preference",
                key=key,
                value=key,
                polarity=polarity,
                strength=strength,
                confidence=0.8,
                text=f"{verb} {title} (rated {shown})",
                evidence=[event.id],
                valid_from=event.time,
                retract=False,
            )
        ]


def extract_text(text: str, *, time: datetime | None = None) -> list[MemoryIn]:
    """Proposals from one user message, for quick looks and tests.

    Examples
    --------
    >>> [m.text for m in extract_text("I live in Lisbon and I work as a nurse")]
    ['Lives in Lisbon', 'Works as a nurse']
    """
    from ..types import utcnow

    when = time or utcnow()
    event = Event(
        id=0, tenant="default", user_id="user", kind="message", role="user", text=text, time=when, ingested_at=when
    )
    return RulesExtractor().extract([event], [])
