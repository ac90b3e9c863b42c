"""The judge's structured output: verdict, a 1-10 confidence, rationale, items relied on.

The schema constrains backends that support it; the parser below also accepts the loose
JSON a model without constraints writes (code fences, a prose preamble, "A"/"Response A",
confidence as a string or a 0-1 fraction), and gives up with ``None`` rather than guessing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from .models import Winner

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": 400},
        "items": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 50}, "maxItems": 10},
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
        "confidence": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["rationale", "items", "winner", "confidence"],
}

SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "satisfied": {"type": "boolean"},
        "confidence": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["satisfied", "confidence"],
}


class Verbal(BaseModel):
    """A parsed verdict. ``winner`` is as shown to the model (``a`` = the first shown)."""

    winner: Winner
    confidence: int
    rationale: str = ""
    items: list[int] = []


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _object(text: str) -> dict[str, Any] | None:
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`")
        t = t[4:] if t.startswith("json") else t
    for candidate in (t, *(m.group(0) for m in _OBJECT.finditer(t))):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _winner(value: Any) -> Winner | None:
    if not isinstance(value, str):
        return None
    v = value.strip().lower().removeprefix("response").strip().strip(".")
    if v in ("a", "1", "first"):
        return "a"
    if v in ("b", "2", "second"):
        return "b"
    if v in ("tie", "both", "neither", "equal", "none"):
        return "tie"
    return None


def _confidence(value: Any) -> int | None:
    if isinstance(value, str):
        m = re.search(r"\d+(?:\.\d+)?", value)
        value = float(m.group(0)) if m else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if 0 < value < 1:  # a fraction: 0.8 -> 8
        value = value * 10
    n = int(round(value))
    return n if 1 <= n <= 10 else None


def parse_verdict(text: str) -> Verbal | None:
    """The verdict in ``text``, or None when it holds no usable winner and confidence.

    Examples
    --------
    >>> parse_verdict('```json\\n{"winner": "Response B", "confidence": "8/10", "rationale": "vegan", "items": [2]}\\n```')
    Verbal(winner='b', confidence=8, rationale='vegan', items=[2])
    >>> parse_verdict("I think A is better") is None
    True
    """
    obj = _object(text)
    if obj is None:
        return None
    win = _winner(obj.get("winner"))
    conf = _confidence(obj.get("confidence"))
    if win is None or conf is None:
        return None
    raw_items = obj.get("items") or []
    items = (
        [int(i) for i in raw_items if isinstance(i, int) and not isinstance(i, bool)]
        if isinstance(raw_items, list)
        else []
    )
    rationale = obj.get("rationale")
    return Verbal(winner=win, confidence=conf, rationale=rationale if isinstance(rationale, str) else "", items=items)


def verbal_probability(verbal: Verbal) -> float:
    """P(the first-shown response wins) from a verbal verdict: confidence 1 is a coin
    (0.5), 10 is certain (1.0), linearly between; a tie is 0.5.

    Examples
    --------
    >>> verbal_probability(Verbal(winner="b", confidence=10))
    0.0
    """
    if verbal.winner == "tie":
        return 0.5
    share = 0.5 + 0.5 * (verbal.confidence - 1) / 9
    return share if verbal.winner == "a" else 1.0 - share
