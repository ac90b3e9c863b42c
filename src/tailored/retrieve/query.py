"""Turning a free-text question into what each retriever searches with.

A question often names whose words it is about ("What did Caroline paint?"). That name is
poor evidence for either retriever: in a conversation it is the speaker of half the turns
and is said, as a greeting, in turns of the other speaker. So a named speaker becomes a
prior on who said a turn (see ``search.speaker_prior``) and is taken out of the words that
BM25 and the embedding see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text import STOPWORDS, tokens, words

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def query_terms(query: str, max_terms: int = 32, drop: frozenset[str] = frozenset()) -> list[str]:
    """Distinct stems of the content words of ``query``, in order, without ``drop``;
    stopwords only if nothing else is left. Stemmed like the rows (``text.tokens``).

    Examples
    --------
    >>> query_terms("What did Caroline paint in her paintings last summer?", drop=frozenset({"caroline"}))
    ['paint', 'last', 'summer']
    """
    ws = words(query)
    content = [w for w in ws if w not in STOPWORDS and w not in drop]
    chosen = content or [w for w in ws if w not in drop] or ws
    stems = [t for w in chosen for t in tokens(w)]
    return list(dict.fromkeys(stems))[:max_terms]


def without_words(text: str, drop: frozenset[str]) -> str:
    """``text`` with the words in ``drop`` (and their possessive ``'s``) taken out."""
    if not drop:
        return text
    out = _WORD.sub(lambda m: "" if m.group(0).lower().split("'")[0] in drop else m.group(0), text)
    out = re.sub(r"\s+", " ", out).strip()
    return out if _WORD.search(out) else text


@dataclass(frozen=True)
class Query:
    """What the retrievers search with, derived from the question once."""

    text: str
    terms: list[str]  # BM25 terms: distinct stems
    dense_text: str  # the text that is embedded
    speakers: frozenset[int] = field(default_factory=frozenset)  # codes of named speakers


def analyse(text: str, speaker_words: dict[str, int], strip_names: bool = True) -> Query:
    """Find the speakers ``text`` names (``speaker_words``: name word -> speaker code).

    With ``strip_names`` the names are left out of the BM25 terms and of the embedded text.
    The named speakers become a prior only when the question names some, not all, of them.

    Examples
    --------
    >>> q = analyse("What did Caroline paint?", {"caroline": 0, "melanie": 1})
    >>> q.terms, q.dense_text, sorted(q.speakers)
    (['paint'], 'What did paint?', [0])
    """
    ws = set(words(text))
    named = {speaker_words[w] for w in ws if w in speaker_words}
    prior = frozenset(named) if named < set(speaker_words.values()) else frozenset()
    if not strip_names or not named:
        return Query(text, query_terms(text), text, prior)
    drop = frozenset(w for w in ws if w in speaker_words)
    return Query(text, query_terms(text, drop=drop), without_words(text, drop), prior)


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august"
        "|sep sept september|oct october|nov november|dec december".split("|")
    )
    for m in names.split()
}
_MONTH_RE = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE_RES = [
    # 3 June, 2023 / 3 June 2023 / 3rd of June 2023
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? {_MONTH_RE}\.?,? ((?:19|20)\d\d)\b", re.I),
    # June 3, 2023 / June 3rd 2023
    re.compile(rf"\b{_MONTH_RE}\.? (\d{{1,2}})(?:st|nd|rd|th)?,? ((?:19|20)\d\d)\b", re.I),
    # June 2023 / June, 2023
    re.compile(rf"\b{_MONTH_RE}\.?,? ((?:19|20)\d\d)\b", re.I),
    # 3 June / June 3 (no year)
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? {_MONTH_RE}\b", re.I),
    re.compile(rf"\b{_MONTH_RE} (\d{{1,2}})(?:st|nd|rd|th)?\b", re.I),
    # in June (a capitalised month name; "may" only as "in/of/during May")
    re.compile(r"\b(January|February|March|April|June|July|August|September|October|November|December)\b"),
    re.compile(r"\b(?:in|of|during|since|by|until) (May)\b"),
    # in 2023
    re.compile(r"\b(?:in|of|during|since|by|until|from) ((?:19|20)\d\d)\b", re.I),
]


@dataclass(frozen=True)
class DateSpec:
    """A date a question mentions; missing parts match any value."""

    year: int | None = None
    month: int | None = None
    day: int | None = None


def mentioned_dates(text: str) -> list[DateSpec]:
    """The calendar dates, months and years ``text`` mentions, most specific first.

    Examples
    --------
    >>> mentioned_dates("What did Nate do on 25 May, 2022?")
    [DateSpec(year=2022, month=5, day=25)]
    >>> mentioned_dates("Which class did Maria start in December 2023?")
    [DateSpec(year=2023, month=12, day=None)]
    """
    found: list[DateSpec] = []
    taken: list[tuple[int, int]] = []
    for n, pattern in enumerate(_DATE_RES):
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            g = m.groups()
            if n == 0:
                spec = DateSpec(int(g[2]), _MONTHS[g[1].lower()], int(g[0]))
            elif n == 1:
                spec = DateSpec(int(g[2]), _MONTHS[g[0].lower()], int(g[1]))
            elif n == 2:
                spec = DateSpec(int(g[1]), _MONTHS[g[0].lower()])
            elif n == 3:
                spec = DateSpec(None, _MONTHS[g[1].lower()], int(g[0]))
            elif n == 4:
                spec = DateSpec(None, _MONTHS[g[0].lower()], int(g[1]))
            elif n in (5, 6):
                spec = DateSpec(None, _MONTHS[g[0].lower()])
            else:
                spec = DateSpec(int(g[0]))
            if spec.day is not None and not 1 <= spec.day <= 31:
                continue
            taken.append((m.start(), m.end()))
            found.append(spec)
    return found
