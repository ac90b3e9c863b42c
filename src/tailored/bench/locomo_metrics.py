"""LoCoMo's official QA scoring (snap-research/LoCoMo, task_eval/evaluation.py), re-implemented.

Token F1 over normalised, Porter-stemmed words. Normalising lower-cases, drops commas and
punctuation, and removes the words ``a``, ``an``, ``the`` and ``and``. Category 1
(multi-hop) answers are lists: prediction and answer are split on commas, and each answer
part takes its best-matching prediction part. Category 3 keeps the answer's first
``;``-separated part. Category 5 (adversarial) questions have no answer in the
conversation: a prediction scores 1 when it says so ("not mentioned", "no information
available"), else 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

ABSTAIN = "Not mentioned in the conversation"
_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")


@lru_cache(maxsize=1)
def _stemmer() -> object:
    from nltk.stem import PorterStemmer

    return PorterStemmer()


def normalize_answer(s: str) -> str:
    """Lower case, no commas, no punctuation, no articles or "and", single spaces.

    Examples
    --------
    >>> normalize_answer("The Eiffel Tower, and a café!")
    'eiffel tower café'
    """
    s = s.replace(",", "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _stems(s: str) -> list[str]:
    stem = _stemmer().stem  # type: ignore[attr-defined]
    return [stem(w) for w in normalize_answer(s).split()]


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token F1 between one prediction and one answer.

    Examples
    --------
    >>> round(f1_score("She went hiking", "hiking"), 3)
    0.5
    """
    pred, gold = _stems(prediction), _stems(ground_truth)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def multi_answer_f1(prediction: str, ground_truth: str) -> float:
    """Category 1: mean over comma-separated answer parts of the best prediction part's F1."""
    preds = [p.strip() for p in prediction.split(",")]
    golds = [g.strip() for g in ground_truth.split(",")]
    return sum(max(f1_score(p, g) for p in preds) for g in golds) / len(golds)


def abstained(prediction: str) -> bool:
    low = prediction.lower()
    return "no information available" in low or "not mentioned" in low


def score(prediction: str, answer: object, category: int) -> float:
    """The official per-question score for a LoCoMo QA item of ``category`` (1-5).

    Examples
    --------
    >>> score("Paris, Rome", "Rome, Paris, Oslo", 1)
    0.6666666666666666
    >>> score("Not mentioned in the conversation.", None, 5)
    1.0
    """
    if category == 5:
        return 1.0 if abstained(prediction) else 0.0
    gold = str(answer)
    if category == 3:
        gold = gold.split(";")[0].strip()
    if category == 1:
        return multi_answer_f1(prediction, gold)
    if category in (2, 3, 4):
        return f1_score(prediction, gold)
    raise ValueError(f"LoCoMo category {category} is not 1-5")
