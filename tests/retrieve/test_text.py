"""``tailored.text``: the tokenizer and stemmer BM25 indexes with, against SQLite FTS5's own."""

from __future__ import annotations

import sqlite3

import pytest

from tailored.text import STOPWORDS, estimate_tokens, fold, stem, tokens, words

# Porter's own examples (his 1980 paper and the reference vocabulary), whole algorithm.
PORTER = {
    "caresses": "caress",
    "ponies": "poni",
    "cats": "cat",
    "feed": "feed",
    "agreed": "agre",
    "plastered": "plaster",
    "motoring": "motor",
    "sing": "sing",
    "hopping": "hop",
    "falling": "fall",
    "hissing": "hiss",
    "filing": "file",
    "happy": "happi",
    "sky": "sky",
    "relational": "relat",
    "conditional": "condit",
    "generalization": "gener",
    "oscillators": "oscil",
    "electrical": "electr",
    "adjustable": "adjust",
    "controlling": "control",
    "rolled": "roll",
    "paintings": "paint",
    "is": "is",
}

SENTENCES = [
    "Caroline's paintings were shown at the café; Mélanie's sculptures weren't.",
    "I'm training for the Lisbon marathon, running 40km a week (since 2023)!",
    "Generalizations about oscillators: electrical engineers adjust them.",
    'She said: "hopping, hissing, filing and falling" — naïve über-coördinated résumé',
    "snake_case and e-mail addresses like ana@example.com count as words too",
]


def test_porter_examples() -> None:
    assert {w: stem(w) for w in PORTER} == PORTER


def test_fold_drops_latin_diacritics_only() -> None:
    assert fold("Crème Brûlée") == "creme brulee"
    assert fold("ÜBER") == "uber"
    assert fold("नमस्ते") == "नमस्ते"  # Devanagari signs carry meaning: kept


def _fts5_tokens(texts: list[str]) -> list[list[str]]:
    con = sqlite3.connect(":memory:")
    try:
        con.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2')")
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no FTS5")
    con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    con.executemany("INSERT INTO f (rowid, text) VALUES (?, ?)", [(i + 1, t) for i, t in enumerate(texts)])
    out: list[list[str]] = [[] for _ in texts]
    for doc, term in con.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
        out[doc - 1].append(term)
    return out


def test_tokens_match_fts5_porter_unicode61() -> None:
    """The tokens the FTS5 index held: BM25 kept its vocabulary when it left SQLite."""
    assert [tokens(t) for t in SENTENCES] == _fts5_tokens(SENTENCES)


def test_words_cut_possessives_and_stopwords_are_lower_case() -> None:
    assert words("Caroline's DOG didn't bark") == ["caroline", "dog", "didn", "bark"]
    assert all(w == w.lower() for w in STOPWORDS) and "the" in STOPWORDS


def test_estimate_tokens_is_four_characters_a_token() -> None:
    assert [estimate_tokens(t) for t in ("", "abc", "abcd", "abcde")] == [0, 1, 1, 2]
