"""BM25 over one user's rows, with that user's statistics only.

Each user's view (``index.UserView``) holds an inverted index of its rows: for every
stemmed token, the rows that contain it and how often. Scores, IDF and the average row
length come from that user's rows alone, so one user's data never moves another user's
scores, and the figures are the same whichever store backend holds the rows.

A row is its text plus its role (who said it), the role counting half, as the FTS5
index that this replaces weighted its ``speaker`` column. Tokens are ``text.tokens``:
FTS5's porter/unicode61 tokenizer, reproduced.

The index is immutable: a new event gives a new index that shares every posting list the
event does not touch, so searches running on the old view are never disturbed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..text import tokens

ROLE_WEIGHT = 0.5  # a role token counts half a text token (FTS5's column weights were 1.0, 0.5)


@dataclass(frozen=True)
class TermIndex:
    """An inverted index over rows ``0 .. len(lengths) - 1``."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # stem -> (rows int64, weighted counts float64)
    lengths: np.ndarray  # tokens per row, text and role (float64)
    average: float = 1.0  # mean of ``lengths``, kept: BM25 needs it for every query

    @property
    def rows(self) -> int:
        return len(self.lengths)

    def df(self, term: str) -> int:
        """How many rows hold ``term``."""
        found = self.postings.get(term)
        return 0 if found is None else len(found[0])


def row_counts(
    text: str, role: str | None, role_tokens: dict[str, list[str]] | None = None
) -> tuple[dict[str, float], int]:
    """(weighted count of each stem, number of tokens) of one row.

    ``role_tokens`` memoises the roles' tokens: a user has few roles and many rows."""
    counts: dict[str, float] = {}
    toks = tokens(text)
    for t in toks:
        counts[t] = counts.get(t, 0.0) + 1.0
    if not role:
        return counts, len(toks)
    said = role_tokens.get(role) if role_tokens is not None else None
    if said is None:
        said = tokens(role)
        if role_tokens is not None:
            role_tokens[role] = said
    for t in said:
        counts[t] = counts.get(t, 0.0) + ROLE_WEIGHT
    return counts, len(toks) + len(said)


def _postings(
    rows: Iterable[int], texts: Sequence[str], roles: Sequence[str | None]
) -> tuple[dict[str, tuple[list[int], list[float]]], list[int]]:
    """Posting lists (as Python lists) and lengths of the given rows, in the given order."""
    lists: dict[str, tuple[list[int], list[float]]] = {}
    lengths: list[int] = []
    role_tokens: dict[str, list[str]] = {}
    for row, text, role in zip(rows, texts, roles):
        counts, length = row_counts(text, role, role_tokens)
        lengths.append(length)
        for term, count in counts.items():
            entry = lists.get(term)
            if entry is None:
                lists[term] = ([row], [count])
            else:
                entry[0].append(row)
                entry[1].append(count)
    return lists, lengths


def _index(postings: dict[str, tuple[np.ndarray, np.ndarray]], lengths: np.ndarray) -> TermIndex:
    return TermIndex(postings, lengths, float(lengths.mean()) if len(lengths) and lengths.any() else 1.0)


def build(texts: Sequence[str], roles: Sequence[str | None]) -> TermIndex:
    """The index of rows ``0 .. len(texts) - 1``."""
    lists, lengths = _postings(range(len(texts)), texts, roles)
    postings = {t: (np.array(r, dtype=np.int64), np.array(c, dtype=np.float64)) for t, (r, c) in lists.items()}
    return _index(postings, np.array(lengths, dtype=np.float64))


def extend(
    index: TermIndex,
    moved: np.ndarray | None,
    new_rows: np.ndarray,
    texts: Sequence[str],
    roles: Sequence[str | None],
) -> TermIndex:
    """``index`` with rows added: ``texts[i]`` (said by ``roles[i]``) becomes row ``new_rows[i]``.

    ``moved[r]`` is the new row of old row ``r`` when the added rows were not all appended
    after the old ones (an event dated earlier than the last), ``None`` when they were.
    Posting lists the new rows do not touch are shared with ``index``, not copied."""
    total = index.rows + len(new_rows)
    lengths = np.empty(total, dtype=np.float64)
    old_rows = np.arange(index.rows) if moved is None else moved
    lengths[old_rows] = index.lengths
    postings = index.postings
    if moved is not None:
        postings = {t: (moved[r], c) for t, (r, c) in postings.items()}
    else:
        postings = dict(postings)
    lists, added = _postings((int(r) for r in new_rows), texts, roles)
    lengths[new_rows] = added
    for term, (rows, counts) in lists.items():
        r = np.array(rows, dtype=np.int64)
        c = np.array(counts, dtype=np.float64)
        old = postings.get(term)
        postings[term] = (r, c) if old is None else (np.concatenate([old[0], r]), np.concatenate([old[1], c]))
    return _index(postings, lengths)


def idf(rows: int, df: int) -> float:
    """Lucene's BM25 IDF, ``log(1 + (n - df + 0.5) / (df + 0.5))``: never negative, so a
    word most rows share still counts a little (Robertson's form goes below zero there)."""
    return float(np.log1p((rows - df + 0.5) / (df + 0.5)))


def scores(index: TermIndex, terms: Sequence[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 of every row for the stemmed query ``terms`` (each distinct term once)."""
    n = index.rows
    scores = np.zeros(n, dtype=np.float64)
    if n == 0:
        return scores
    avg = index.average
    for term in dict.fromkeys(terms):
        found = index.postings.get(term)
        if found is None:
            continue
        rows, tf = found
        norm = k1 * (1.0 - b + b * index.lengths[rows] / avg)
        scores[rows] += idf(n, len(rows)) * tf * (k1 + 1.0) / (tf + norm)
    return scores


def coverage(index: TermIndex, terms: Sequence[str]) -> np.ndarray:
    """For each row, the IDF-weighted share of the distinct query ``terms`` it holds: a row
    that matches only the query's common words covers little of it."""
    n = index.rows
    out = np.zeros(n, dtype=np.float64)
    distinct = list(dict.fromkeys(terms))
    weights = [idf(n, index.df(t)) for t in distinct]
    total = sum(weights)
    if n == 0 or total <= 0:
        return out
    for term, weight in zip(distinct, weights):
        found = index.postings.get(term)
        if found is not None:
            out[found[0]] += weight / total
    return out
