"""Loaders that turn the public evaluation sets into users, events and graded questions.

Each loader returns ``Case``s: one user's events plus the questions asked about them, each
question with the ``source_id``s of the events that answer it. The benchmark only ever
compares retrieved ``source_id``s with these, so a loader is the whole protocol of its
dataset.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..ingest.formats import parse_locomo
from ..types import EventIn
from .common import require

LOCOMO_FILE = "locomo10.json"
LOCOMO_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_DIA = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass
class Question:
    """A query whose answer lies in ``evidence``: the ``source_id``s of some of the case's events."""

    text: str
    evidence: list[str]
    category: str
    answer: str | None = None


@dataclass
class Case:
    """One user: the events to ingest and the questions asked about them."""

    user_id: str
    events: list[EventIn]
    questions: list[Question]
    part: int = 0  # e.g. the LoCoMo conversation number, 1-based
    meta: dict[str, Any] = field(default_factory=dict)  # "split": "tuned" or "held-out"

    def sessions(self) -> dict[str, str]:
        """``source_id`` -> ``session_id`` of every event (the unit of session-level recall)."""
        return {e.source_id: e.session_id or "" for e in self.events if e.source_id is not None}


def parse_selection(value: str | None, upper: int) -> list[int]:
    """``"1-5,7"`` -> ``[1, 2, 3, 4, 5, 7]``; ``None`` or ``"all"`` -> ``1..upper``.

    Examples
    --------
    >>> parse_selection("1-3,5", 10)
    [1, 2, 3, 5]
    """
    if value is None or value.strip().lower() in ("", "all"):
        return list(range(1, upper + 1))
    chosen: set[int] = set()
    for part in value.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InvalidInput(f"bad selection {part!r}: use numbers and ranges like 1-5,7")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= upper:
            raise InvalidInput(f"selection {part!r} is outside 1-{upper}")
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def evidence_ids(raw: list[Any], known: set[str]) -> list[str]:
    """Clean LoCoMo evidence: split joined ids ("D8:6; D9:17"), fix "D:11:26" and "D30:05",
    and keep only ids that name a turn of the conversation.

    Examples
    --------
    >>> evidence_ids(["D8:6; D9:17", "D", "D:1:2"], {"D8:6", "D9:17", "D1:2"})
    ['D8:6', 'D9:17', 'D1:2']
    """
    out: list[str] = []
    for item in raw:
        for s, t in _DIA.findall(str(item)):
            dia = f"D{int(s)}:{int(t)}"
            if dia in known and dia not in out:
                out.append(dia)
    return out


def load_locomo(
    data: Path,
    conversations: list[int] | None = None,
    categories: tuple[int, ...] = (1, 2, 3, 4),
) -> list[Case]:
    """LoCoMo conversations as cases: one user per conversation, every turn an event.

    Conversations 1-5 are marked as the tuning split, 6-10 as held out. A question's
    evidence is its evidence turns' source ids (``conv-26:D3:5``, as
    ``parse_locomo`` stores them); questions without usable evidence, or outside
    ``categories``, are left out.
    """
    path = require(data / LOCOMO_FILE if data.is_dir() else data, "LoCoMo (locomo10.json)")
    samples = json.loads(path.read_text(encoding="utf-8"))
    chosen = conversations or list(range(1, len(samples) + 1))
    cases = []
    for n in chosen:
        if not 1 <= n <= len(samples):
            raise InvalidInput(f"conversation {n} is outside 1-{len(samples)}")
        sample = samples[n - 1]
        sample_id = str(sample.get("sample_id", f"conv-{n}"))
        events = parse_locomo(sample, user_id=sample_id, name=path.name)
        known = {str((e.payload or {}).get("dia_id")) for e in events}
        questions = []
        for qa in sample.get("qa", []):
            cat = qa.get("category")
            if cat not in categories:
                continue
            ev = evidence_ids(qa.get("evidence") or [], known)
            if not ev:
                continue
            questions.append(
                Question(
                    text=str(qa["question"]),
                    evidence=[f"{sample_id}:{dia}" for dia in ev],
                    category=LOCOMO_CATEGORIES.get(int(cat), str(cat)),
                    answer=str(qa.get("answer")) if qa.get("answer") is not None else None,
                )
            )
        split = "tuned" if n <= 5 else "held-out"
        cases.append(Case(user_id=sample_id, events=events, questions=questions, part=n, meta={"split": split}))
    return cases


def _filler_turns(path: Path) -> list[tuple[str, str]]:
    convs = json.loads(path.read_text(encoding="utf-8"))
    turns = []
    for conv in convs:
        for msg in conv.get("conversation", []):
            text = str(msg.get("content", "")).strip()
            if text:
                turns.append((str(msg.get("role", "user")), text))
    if not turns:
        raise InvalidInput(f"{path.name} holds no chat turns")
    return turns


def load_prefeval(
    data: Path,
    turns: int = 300,
    seed: int = 0,
    limit: int | None = None,
) -> list[Case]:
    """PrefEval explicit preferences, each buried among ``turns`` unrelated chat turns.

    For each preference a user gets ``turns`` consecutive turns of the LMSYS filler
    conversations (from a random start, wrapping around) with the preference statement
    inserted as a user turn at a random position; the question is the preference's
    question and the only evidence is the preference turn. ``seed`` fixes every choice.
    Retrieval settings were chosen on the first 10 topics (alphabetical); the other 10 are
    marked held out.
    """
    root = require(data, "PrefEval")
    filler = _filler_turns(require(root / "filtered_inter_turns.json", "PrefEval filler turns"))
    files = sorted(require(root / "explicit_preference", "PrefEval explicit preferences").glob("*.json"))
    rng = random.Random(seed)
    start_time = datetime(2024, 1, 1, tzinfo=UTC)
    cases: list[Case] = []
    for t, f in enumerate(files):
        topic = f.stem
        split = "tuned" if t < 10 else "held-out"
        for i, rec in enumerate(json.loads(f.read_text(encoding="utf-8"))):
            if limit is not None and len(cases) >= limit:
                return cases
            user = f"{topic}-{i}"
            offset = rng.randrange(len(filler))
            chosen = [filler[(offset + j) % len(filler)] for j in range(turns)]
            where = rng.randrange(turns + 1)
            chosen.insert(where, ("user", str(rec["preference"])))
            events = [
                EventIn(
                    user_id=user,
                    kind="message",
                    role=role,
                    text=text,
                    time=start_time + timedelta(minutes=j),
                    session_id=f"chat-{j // 50}",
                    source_id=f"{user}:pref" if j == where else f"{user}:{j}",
                )
                for j, (role, text) in enumerate(chosen)
            ]
            question = Question(text=str(rec["question"]), evidence=[f"{user}:pref"], category=topic)
            cases.append(
                Case(user_id=user, events=events, questions=[question], part=len(cases) + 1, meta={"split": split})
            )
    return cases
