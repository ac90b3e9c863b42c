"""Judging a JSONL file of pairs, resumable: each result is appended as soon as it is known.

The output file is the checkpoint. A pair whose id is already in it is skipped, so a run
that was interrupted (Ctrl-C, a killed process, a crash) continues where it stopped when
started again with the same output, and no pair is judged or written twice. A line cut off
by a kill mid-write is dropped before the run continues.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from ..errors import InvalidInput, NotFound, explain
from .judge import Judge
from .models import JudgedPair, PairIn, Persona


def read_pairs(path: Path) -> list[PairIn]:
    """Every pair of a JSONL file, checked before any is judged; ids must be unique.

    Raises
    ------
    InvalidInput
        A line is not a pair (with its line number), or an id repeats.
    """
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    pairs: list[PairIn] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                pair = PairIn.model_validate_json(line)
            except ValidationError as exc:
                raise InvalidInput(f"{path.name} line {n}: {explain(exc)}") from exc
            if pair.id in seen:
                raise InvalidInput(f"{path.name} line {n}: id {pair.id!r} appears twice")
            seen.add(pair.id)
            pairs.append(pair)
    if not pairs:
        raise InvalidInput(f"{path.name} holds no pairs")
    return pairs


def done_ids(out: Path) -> set[str]:
    """Ids already judged in ``out``; a last line cut off mid-write is removed from the file."""
    if not out.is_file():
        return set()
    data = out.read_bytes()
    keep = data if data.endswith(b"\n") or not data else data[: data.rfind(b"\n") + 1]
    if keep != data:
        with out.open("r+b") as fh:
            fh.truncate(len(keep))
    ids: set[str] = set()
    for n, line in enumerate(keep.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["id"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{out.name} line {n} is not a judged pair; use another --out") from exc
    return ids


def judge_file(
    judge: Judge,
    pairs: list[PairIn],
    out: Path,
    *,
    persona: Persona | None = None,
    explain_verdicts: bool = True,
    on_done: Callable[[JudgedPair], None] | None = None,
) -> int:
    """Judge ``pairs`` not yet in ``out``, appending one ``JudgedPair`` line each; returns
    how many were judged now.

    ``persona`` applies to pairs that name neither a ``user_id`` nor a ``persona`` of their
    own; a pair's own fields replace it.
    """
    done = done_ids(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    judged = 0
    with out.open("a", encoding="utf-8") as fh:
        for pair in pairs:
            if pair.id in done:
                continue
            if pair.user_id is None and pair.persona is None:
                who = persona
            else:
                who = Persona(text=pair.persona, user_id=pair.user_id)
            judgement = judge.compare(who, pair.query, pair.response_a, pair.response_b, explain=explain_verdicts)
            row = JudgedPair(id=pair.id, label=pair.label, judgement=judgement)
            fh.write(row.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            done.add(pair.id)
            judged += 1
            if on_done is not None:
                on_done(row)
    return judged
