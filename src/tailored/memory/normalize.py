"""Topic and key normalisation shared by every extractor.

Two statements about the same thing must land on the same ``key`` so that evolution can
supersede, merge or retract: "Spicy foods." and "spicy food" are one topic. A key is lower
case, without leading articles or possessives, without trailing punctuation, with the
head noun (the last word) singularised by simple English rules.
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\s\"'`“”‘’(\[{*_~-]+|[\s\"'`“”‘’)\]}*_~.,;:!?-]+$")
_LEADING = re.compile(
    r"^(?:(?:the|a|an|some|any|my|our|all|all kinds of|all sorts of|lots of|a lot of|plenty of|many|most|"
    r"certain|good|really good|kind of|sort of|type of|types of)\s+)+"
)
_ACTIVITY = re.compile(
    r"^(?:to\s+)?(?:eating|eat|drinking|drink|playing|play|watching|watch|listening to|listen to|"
    r"going to|go to|cooking|cook|having|have|doing|do)\s+(?=\S)"
)
_INFINITIVE = re.compile(r"^to\s+(?=\S)")

# words whose final "s" is not a plural, and irregular plurals
_KEEP = frozenset(
    "news series species glass gas bus plus lens chess tennis bass class dress boss grass mass "
    "pass cross kiss moss loss yes this is his was has does us thus always sometimes perhaps "
    "politics physics mathematics economics athletics gymnastics aerobics pilates jeans pants "
    "clothes scissors shorts sweets electronics diabetes measles mumps christmas texas "
    "paris athens los angeles vegas honors arts crafts thanks brussels sprouts hummus couscous "
    "asparagus octopus citrus cactus virus bonus campus status".split()
)
_IRREGULAR = {
    "children": "child",
    "kids": "kid",
    "people": "person",
    "men": "man",
    "women": "woman",
    "mice": "mouse",
    "geese": "goose",
    "feet": "foot",
    "teeth": "tooth",
    "knives": "knife",
    "leaves": "leaf",
    "loaves": "loaf",
    "wolves": "wolf",
    "potatoes": "potato",
    "tomatoes": "tomato",
    "heroes": "hero",
    "mangoes": "mango",
    "movies": "movie",
    "cookies": "cookie",
    "pies": "pie",
    "ties": "tie",
    "zombies": "zombie",
    "horses": "horse",
    "houses": "house",
    "cheeses": "cheese",
    "sauces": "sauce",
    "vegetables": "vegetable",
}


def singular(word: str) -> str:
    """A simple English singular of one lower-case word.

    Examples
    --------
    >>> [singular(w) for w in ["foods", "berries", "dishes", "glass", "movies", "news"]]
    ['food', 'berry', 'dish', 'glass', 'movie', 'news']
    """
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or word in _KEEP or not word.endswith("s") or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is")):
        return word
    return word[:-1]


def clean_phrase(text: str) -> str:
    """Collapse spaces and strip quotes and trailing punctuation, keeping case.

    Examples
    --------
    >>> clean_phrase('  "Spicy   foods!" ')
    'Spicy foods'
    """
    return _EDGE_PUNCT.sub("", _SPACE.sub(" ", text)).strip()


def normalize_key(text: str, *, strip_activity: bool = True) -> str:
    """The key a topic is stored under.

    Lower case, leading articles/possessives removed, a leading "to" or consumption/activity
    verb removed when an object follows ("eating sushi" -> "sushi"), trailing punctuation
    removed and the last word singularised.

    Examples
    --------
    >>> normalize_key("Spicy foods.")
    'spicy food'
    >>> normalize_key("My green teas")
    'green tea'
    >>> normalize_key("playing video games")
    'video game'
    >>> normalize_key("to dance at the club")
    'dance at the club'
    """
    t = clean_phrase(text).lower().replace("’", "'")
    t = _LEADING.sub("", t)
    if strip_activity:
        t = _ACTIVITY.sub("", t)
    t = _INFINITIVE.sub("", t)
    t = _LEADING.sub("", t)
    t = clean_phrase(t)
    words = t.split(" ")
    if words and words[-1]:
        words[-1] = singular(words[-1])
    return " ".join(words).strip() or clean_phrase(text).lower()


def normalize_title(text: str) -> str:
    """Key of a titled item (a film, a book): lower case, trimmed, a leading article
    dropped, never singularised.

    Examples
    --------
    >>> normalize_title("The Lord of the Rings ")
    'lord of the rings'
    """
    return re.sub(r"^(?:the|a|an)\s+(?=\S)", "", clean_phrase(text).lower())
