"""File formats and bad input: every rejection is typed and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailored import Engine, InvalidInput, UnknownFormat
from tailored.ingest import parse_bytes, read_file
from tailored.types import MAX_TEXT_CHARS

LOCOMO = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a cat!"},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Look at this", "blip_caption": "a photo of a lake"},
        ],
        "session_2_date_time": "10:00 am on 9 June, 2023",
        "session_2": [{"speaker": "Ana", "dia_id": "D2:1", "text": "The cat is called Miso."}],
    },
    "qa": [],
}


def test_chat_json_keeps_order_and_roles() -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}]
    events = parse_bytes(json.dumps(msgs).encode(), "ana")
    assert [(e.role, e.text, e.user_id) for e in events] == [("user", "hi", "ana"), ("assistant", "hello", "ana")]
    assert events[0].time is not None and events[1].time is not None and events[0].time < events[1].time


def test_jsonl_contract_and_user_fill() -> None:
    lines = [
        {
            "user_id": "bob",
            "kind": "rating",
            "role": "user",
            "text": "5 stars",
            "time": "2024-01-02T03:04:05Z",
            "session_id": "s",
            "source_id": "r1",
            "payload": {"item": "m1", "stars": 5},
        },
        {"kind": "message", "text": "no user here", "time": "2024-01-02T03:04:06+02:00"},
    ]
    events = parse_bytes("\n".join(json.dumps(x) for x in lines).encode(), "ana")
    assert [e.user_id for e in events] == ["bob", "ana"]
    assert events[0].payload == {"item": "m1", "stars": 5}
    assert events[1].time is not None and events[1].time.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_locomo_file_sessions_dates_and_captions() -> None:
    events = parse_bytes(json.dumps([LOCOMO]).encode(), None)
    assert {e.user_id for e in events} == {"conv-x"}
    assert [e.session_id for e in events] == ["session_1", "session_1", "session_2"]
    assert events[0].time is not None and events[0].time.isoformat() == "2023-05-08T13:56:00+00:00"
    assert "a photo of a lake" in events[1].text and events[1].role == "Bo"
    assert events[2].source_id == "conv-x:D2:1"


BAD = [
    (b'{"user_id": "a", "text": "x"}\n{"user_id": "a", "text": ', "malformed JSON"),
    (b'{"user_id": "a", "text": "x", "colour": "red"}\n', "unknown field"),
    (b'{"text": "x"}\n', "missing user_id"),
    (b'{"user_id": "a", "text": "   "}\n', "text is empty"),
    (json.dumps({"user_id": "a", "text": "x" * (MAX_TEXT_CHARS + 1)}).encode() + b"\n", "limit"),
    (b'{"user_id": "a", "text": "caf\xe9"}\n', "not valid UTF-8"),
    (b"hello, this is just prose", "unknown format"),
    (b'{"user_id": "a", "text": "x", "kind": "Not A Kind"}\n', "kind"),
    (b'{"user_id": "a", "text": "x", "time": "yesterday"}\n', "time"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_rejected_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_bytes(data, None)


def test_unknown_format_is_its_own_error() -> None:
    with pytest.raises(UnknownFormat):
        parse_bytes(b"just words", "ana")


def test_one_bad_line_rejects_the_whole_file(tmp_path: Path, engine: Engine) -> None:
    f = tmp_path / "events.jsonl"
    good = [json.dumps({"user_id": "ana", "text": f"ok {i}"}) for i in range(5)]
    f.write_text("\n".join(good + ['{"user_id": "ana", "text": ""}']))
    with pytest.raises(InvalidInput, match="line 6"):
        engine.add(read_file(f, None))
    assert engine.stats().events == 0


def test_engine_add_rejects_a_bad_batch_whole(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="event 1"):
        engine.add([{"user_id": "ana", "text": "fine"}, {"user_id": "ana", "text": "x", "bogus": 1}])
    with pytest.raises(InvalidInput):
        engine.add([{"user_id": "ana", "text": "fine"}, {"user_id": "ana", "text": "\ud800 lone surrogate"}])
    assert engine.stats().events == 0


def test_locomo_with_user_for_many_conversations_is_refused() -> None:
    with pytest.raises(InvalidInput, match="2 conversations"):
        parse_bytes(json.dumps([LOCOMO, {**LOCOMO, "sample_id": "conv-y"}]).encode(), "ana")
