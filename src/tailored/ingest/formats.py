"""Reading files into events: OpenAI-style chat JSON, JSONL events, LoCoMo conversations.

A file is parsed completely before anything is stored, so a bad record anywhere rejects
the whole file with an error naming where the problem is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..errors import InvalidInput, NotFound, UnknownFormat, explain
from ..types import EventIn, utcnow

FileFormat = Literal["auto", "chat", "jsonl", "locomo"]


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not valid UTF-8 (byte {exc.start})") from exc


def _event(record: dict[str, Any], where: str, default_user: str | None) -> EventIn:
    if not isinstance(record, dict):
        raise InvalidInput(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "user_id" not in record and default_user is not None:
        record = {**record, "user_id": default_user}
    if "user_id" not in record:
        raise InvalidInput(f"{where}: missing user_id (pass --user to fill it)")
    try:
        return EventIn.model_validate(record)
    except ValidationError as exc:
        raise InvalidInput(f"{where}: {explain(exc)}") from exc


def parse_jsonl(text: str, default_user: str | None, name: str = "input") -> list[EventIn]:
    events = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} line {n}: malformed JSON ({exc.msg})") from exc
        events.append(_event(record, f"{name} line {n}", default_user))
    if not events:
        raise InvalidInput(f"{name} holds no events")
    return events


def _content(message: dict[str, Any], where: str) -> str:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        content = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise InvalidInput(f"{where}: content must be a string or a list of text parts")
    return content


def parse_chat(
    messages: list[Any], user_id: str | None, name: str = "input", session_id: str | None = None
) -> list[EventIn]:
    """OpenAI-style messages; each gets a distinct time so that their order is kept."""
    if user_id is None:
        raise InvalidInput(f"{name}: chat messages carry no user id; pass --user")
    start = utcnow()
    events = []
    for n, msg in enumerate(messages):
        where = f"{name} message {n}"
        if not isinstance(msg, dict) or "role" not in msg:
            raise InvalidInput(f"{where}: expected an object with 'role' and 'content'")
        unknown = set(msg) - {"role", "content", "name", "tool_calls", "tool_call_id"}
        if unknown:
            raise InvalidInput(f"{where}: unknown field {sorted(unknown)[0]!r}")
        record = {
            "user_id": user_id,
            "kind": "message",
            "role": msg["role"],
            "text": _content(msg, where),
            "time": start + timedelta(milliseconds=n),
            "session_id": session_id,
        }
        events.append(_event(record, where, None))
    if not events:
        raise InvalidInput(f"{name} holds no messages")
    return events


def parse_locomo_date(value: str) -> datetime:
    """LoCoMo session dates look like '1:56 pm on 8 May, 2023'."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def locomo_turn_text(turn: dict[str, Any]) -> str:
    """A turn's words plus, for a shared photo, its caption: questions ask about photos."""
    text = str(turn.get("text", ""))
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares a photo: {caption}]"
    return text


def parse_locomo(sample: dict[str, Any], user_id: str, name: str = "input") -> list[EventIn]:
    """One LoCoMo conversation as one user: every turn an event at its session's date."""
    conv = sample.get("conversation")
    if not isinstance(conv, dict):
        raise InvalidInput(f"{name}: a LoCoMo record needs a 'conversation' object")
    sample_id = str(sample.get("sample_id", user_id))
    events = []
    n = 1
    while f"session_{n}" in conv:
        try:
            start = parse_locomo_date(conv[f"session_{n}_date_time"])
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"{name}: session {n} has no readable date") from exc
        for i, turn in enumerate(conv[f"session_{n}"]):
            record = {
                "user_id": user_id,
                "kind": "message",
                "role": turn.get("speaker"),
                "text": locomo_turn_text(turn),
                "time": start + timedelta(seconds=i),
                "session_id": f"session_{n}",
                "source_id": f"{sample_id}:{turn.get('dia_id', f'{n}:{i}')}",
                "payload": {"dia_id": turn.get("dia_id")},
            }
            events.append(_event(record, f"{name} session {n} turn {i}", None))
        n += 1
    if not events:
        raise InvalidInput(f"{name}: the LoCoMo conversation has no sessions")
    return events


def _is_locomo(value: Any) -> bool:
    return isinstance(value, dict) and "conversation" in value


def parse_bytes(data: bytes, user_id: str | None, fmt: FileFormat = "auto", name: str = "input") -> list[EventIn]:
    """Events (of one or more users) from a file's bytes. Raises ``InvalidInput`` on any bad record."""
    text = _decode(data, name)
    stripped = text.lstrip()
    if not stripped:
        raise InvalidInput(f"{name} is empty")
    if fmt == "jsonl" or (fmt == "auto" and stripped.startswith("{") and "\n" in stripped.strip()):
        try:
            whole = json.loads(stripped)
        except json.JSONDecodeError:
            whole = None
        if not (fmt == "auto" and _is_locomo(whole)):
            return parse_jsonl(text, user_id, name)
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if stripped[0] in "[{":
            raise InvalidInput(f"{name}: malformed JSON at line {exc.lineno}: {exc.msg}") from exc
        raise UnknownFormat(f"{name}: unknown format; expected chat JSON, JSONL events or a LoCoMo file") from exc
    if fmt in ("auto", "locomo") and (
        _is_locomo(value) or (isinstance(value, list) and value and all(_is_locomo(v) for v in value))
    ):
        samples = value if isinstance(value, list) else [value]
        if user_id is not None and len(samples) > 1:
            raise InvalidInput(
                f"{name} holds {len(samples)} conversations; omit --user to store each under its sample_id"
            )
        return [
            ev for s in samples for ev in parse_locomo(s, user_id or str(s.get("sample_id") or "conversation"), name)
        ]
    if (
        fmt in ("auto", "chat")
        and isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "role" in m for m in value)
    ):
        return parse_chat(value, user_id, name)
    if fmt == "auto" and isinstance(value, dict):
        return [_event(value, f"{name} line 1", user_id)]
    raise UnknownFormat(f"{name}: unknown format; expected chat JSON, JSONL events or a LoCoMo file")


def read_file(path: str | Path, user_id: str | None, fmt: FileFormat = "auto") -> list[EventIn]:
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"no such file: {p}")
    return parse_bytes(p.read_bytes(), user_id, fmt, name=p.name)
