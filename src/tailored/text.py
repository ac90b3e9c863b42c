"""Text helpers shared by retrieval and prompt packing: words, tokens, stems, stop words.

A leaf module (it imports nothing from ``tailored``), so that any layer can use it.

``tokens`` and ``stem`` follow SQLite FTS5's ``porter unicode61 remove_diacritics 2``
tokenizer, which the engine's BM25 used before it moved into memory: lower-case runs of
letters and digits, Latin diacritics folded ("café" -> "cafe"), and Martin Porter's
stemmer (the reference C version, which FTS5 ports) on words of three letters or more.
Matching it keeps BM25's behaviour the same on every store backend.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_MAX_STEMMED = 64  # FTS5's porter passes longer tokens through unchanged

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don ve ll re d m""".split()
)


# -- stored text on its way into a prompt -----------------------------------------------

FENCE = "user_data"  # the tag around stored user data in every prompt
_FENCE_RE = re.compile(r"<\s*/?\s*" + FENCE, re.IGNORECASE)


def neutralise(text: str) -> str:
    """``text`` with every fence marker (``<user_data``, ``</user_data``, any case or
    spacing) defused, so that it cannot open or close the fence."""
    return _FENCE_RE.sub(lambda m: m.group(0).replace("<", "&lt;"), text)


# Line breaks of every kind, other controls and lone surrogates: a label shows none of them.
_BREAKS_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_LABEL_CHARS = str.maketrans({"[": "(", "]": ")", "|": "/", '"': "'", "<": "‹", ">": "›"})


def neutral_line(text: str) -> str:
    """``text`` on one line (line breaks and other controls become spaces), fence-neutral."""
    return neutralise(" ".join(_BREAKS_RE.sub(" ", text).split()))


def neutral_label(text: str) -> str:
    """A short label (user id, kind, role) that cannot leave its place in a record's header:
    one line, and no brackets, bars, quotes or angle brackets."""
    return neutral_line(text).translate(_LABEL_CHARS)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters per token for English): budgets must
    be checked without loading the model that will read the prompt."""
    return math.ceil(len(text) / 4)


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` with possessives cut ("Caroline's" -> "caroline"):
    the unit a question is analysed in (names, stop words)."""
    return [w.lower().split("'")[0] for w in _WORD.findall(text)]


def fold(text: str) -> str:
    """Lower case without Latin diacritics ("Crème Brûlée" -> "creme brulee").

    Only the combining marks of U+0300-U+036F are dropped, like FTS5's
    ``remove_diacritics 2``; marks that carry meaning in other scripts are kept.
    """
    low = text.lower()
    if low.isascii():
        return low
    decomposed = unicodedata.normalize("NFD", low)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not "\u0300" <= c <= "\u036f"))


def tokens(text: str) -> list[str]:
    """The stemmed tokens of ``text``, in order, stop words included (they count in a
    document's length, as in FTS5).

    Examples
    --------
    >>> tokens("Caroline's paintings, at the café!")
    ['carolin', 's', 'paint', 'at', 'the', 'cafe']
    """
    return [stem(t) for t in _TOKEN.findall(fold(text))]


# -- Porter's stemmer -----------------------------------------------------------------------


def _consonant(w: str, i: int) -> bool:
    c = w[i]
    if c in "aeiou":
        return False
    if c == "y":
        return i == 0 or not _consonant(w, i - 1)
    return True


def _measure(w: str) -> int:
    """Porter's m: the number of vowel-consonant runs in ``w`` ([C](VC)^m[V])."""
    n, i, end = 0, 0, len(w)
    while i < end and _consonant(w, i):
        i += 1
    while i < end:
        while i < end and not _consonant(w, i):
            i += 1
        if i >= end:
            break
        while i < end and _consonant(w, i):
            i += 1
        n += 1
    return n


def _has_vowel(w: str) -> bool:
    return any(not _consonant(w, i) for i in range(len(w)))


def _double_consonant(w: str) -> bool:
    return len(w) >= 2 and w[-1] == w[-2] and _consonant(w, len(w) - 1)


def _cvc(w: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y ("hop", not "snow")."""
    n = len(w)
    return n >= 3 and _consonant(w, n - 1) and not _consonant(w, n - 2) and _consonant(w, n - 3) and w[-1] not in "wxy"


_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = "al ance ence er ic able ible ant ement ment ent ion ou ism ate iti ous ive ize".split()


def _longest(w: str, rules: tuple[tuple[str, str], ...], min_measure: int) -> str:
    """Replace the longest matching suffix when the stem before it measures enough.

    Only the longest match is tried, as in Porter's reference code (within a group the
    rules are listed longest first, and no two groups share an ending)."""
    best: tuple[str, str] | None = None
    for suffix, repl in rules:
        if w.endswith(suffix) and (best is None or len(suffix) > len(best[0])):
            best = (suffix, repl)
    if best is None:
        return w
    head = w[: len(w) - len(best[0])]
    return head + best[1] if _measure(head) >= min_measure else w


def _step1(w: str) -> str:
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    if w.endswith("eed"):
        return w[:-1] if _measure(w[:-3]) > 0 else w
    for suffix in ("ed", "ing"):
        if w.endswith(suffix) and _has_vowel(w[: -len(suffix)]):
            w = w[: -len(suffix)]
            if w.endswith(("at", "bl", "iz")):
                return w + "e"
            if _double_consonant(w):
                return w if w[-1] in "lsz" else w[:-1]
            if _measure(w) == 1 and _cvc(w):
                return w + "e"
            return w
    return w


def _step4(w: str) -> str:
    match = max((s for s in _STEP4 if w.endswith(s)), key=len, default=None)
    if match is None:
        return w
    head = w[: -len(match)]
    if match == "ion" and not head.endswith(("s", "t")):
        return w
    return head if _measure(head) > 1 else w


def _step5(w: str) -> str:
    if w.endswith("e"):
        m = _measure(w[:-1])
        if m > 1 or (m == 1 and not _cvc(w[:-1])):
            w = w[:-1]
    if w.endswith("ll") and _measure(w) > 1:
        w = w[:-1]
    return w


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Porter's stem of a lower-case word ("paintings" -> "paint", "happiness" -> "happi").

    Words under three letters, over 64, or with characters other than ASCII letters and
    digits are returned unchanged, as FTS5's porter does for the first two.

    Examples
    --------
    >>> [stem(w) for w in ("paints", "painting", "painted", "bus", "relational", "caresses")]
    ['paint', 'paint', 'paint', 'bu', 'relat', 'caress']
    """
    if len(word) < 3 or len(word) > _MAX_STEMMED or not word.isascii() or not word.isalnum():
        return word
    w = _step1(word)
    if w.endswith("y") and _has_vowel(w[:-1]):
        w = w[:-1] + "i"
    w = _longest(w, _STEP2, 1)
    w = _longest(w, _STEP3, 1)
    w = _step4(w)
    return _step5(w)
