"""LoCoMo's QA score on hand-checked examples, and the pieces of the QA benchmark that need no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailored.bench import locomo_metrics as m
from tailored.bench.qa import full_context, load_locomo, parse_numbers, run_qa
from tailored.errors import InvalidInput
from tailored.testing import ScriptedChatModel


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The Eiffel Tower, and a café!", "eiffel tower café"),
        ("  Running   SHOES. ", "running shoes"),
        ("7 May, 2023", "7 may 2023"),
        ("an apple and the pear", "apple pear"),
        ("Band-aid's", "bandaids"),
    ],
)
def test_normalize_answer(text: str, normal: str) -> None:
    assert m.normalize_answer(text) == normal


@pytest.mark.parametrize(
    ("prediction", "answer", "f1"),
    [
        ("She went hiking", "hiking", 0.5),  # stems she/went/hike vs hike: P 1/3, R 1
        ("7 May 2023", "7 May, 2023", 1.0),  # commas are dropped
        ("running shoes", "Running Shoe", 1.0),  # Porter: shoes -> shoe
        ("paintings", "painted", 1.0),  # both stem to "paint"
        ("an apple", "the apple", 1.0),  # articles are ignored
        ("Paris", "Rome", 0.0),
        ("", "Rome", 0.0),
        ("the", "the", 0.0),  # nothing left after normalising
        ("pottery class", "pottery", 2 / 3),  # P 1/2, R 1
    ],
)
def test_token_f1(prediction: str, answer: str, f1: float) -> None:
    assert m.f1_score(prediction, answer) == pytest.approx(f1)


def test_category_1_is_multi_answer_f1() -> None:
    assert m.score("Paris, Rome", "Rome, Paris, Oslo", 1) == pytest.approx(2 / 3)
    # one prediction part against two answer parts: each answer part scores 2/3
    assert m.score("pottery and painting", "pottery, painting", 1) == pytest.approx(2 / 3)
    # the same text scored as a single answer (category 4) differs
    assert m.score("pottery and painting", "pottery, painting", 4) == pytest.approx(1.0)


def test_category_3_keeps_the_first_answer_before_a_semicolon() -> None:
    assert m.score("Psychology", "Psychology; counseling certification", 3) == 1.0
    assert m.score("Psychology", "Psychology; counseling certification", 4) == pytest.approx(0.5)


def test_category_5_scores_abstention() -> None:
    assert m.score("Not mentioned in the conversation.", None, 5) == 1.0
    assert m.score("No information available", None, 5) == 1.0
    assert m.score("She ran a charity race", None, 5) == 0.0
    with pytest.raises(ValueError):
        m.score("x", "y", 6)


def test_full_context_keeps_the_most_recent_lines_in_order() -> None:
    lines = ["a", "b", "c", "d"]
    assert full_context(lines, [3, 3, 3, 3], 7) == "c\nd\n"
    assert full_context(lines, [3, 3, 3, 3], 2) == ""
    assert full_context(lines, [1, 1, 1, 1], 100) == "a\nb\nc\nd\n"


def test_selection_parsing() -> None:
    assert parse_numbers("1-3,5", 10) == [1, 2, 3, 5]
    assert parse_numbers(None, 3) == [1, 2, 3]
    with pytest.raises(InvalidInput):
        parse_numbers("0-2", 10)


def tiny_locomo(tmp_path: Path) -> Path:
    """A two-session conversation in LoCoMo's format, with one question per category."""
    sample = {
        "sample_id": "conv-t",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a dog named Rex yesterday!"},
                {"speaker": "Ben", "dia_id": "D1:2", "text": "Congrats! I am learning the violin."},
            ],
            "session_2_date_time": "10:00 am on 2 June, 2023",
            "session_2": [
                {"speaker": "Ana", "dia_id": "D2:1", "text": "Rex loves the beach and the park."},
            ],
        },
        "qa": [
            {"question": "Where does Rex like to go?", "answer": "beach, park", "evidence": ["D2:1"], "category": 1},
            {"question": "When did Ana adopt Rex?", "answer": "7 May 2023", "evidence": ["D1:1"], "category": 2},
            {"question": "What instrument does Ben learn?", "answer": "violin", "evidence": ["D1:2"], "category": 4},
            {"question": "What is Ben's cat called?", "adversarial_answer": "Tom", "evidence": [], "category": 5},
        ],
    }
    path = tmp_path / "locomo" / "locomo10.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([sample]))
    return path


def test_the_benchmark_loop_scores_each_method(tmp_path: Path) -> None:
    samples, items = load_locomo(tiny_locomo(tmp_path), None, None)
    assert [it.category for it in items] == [1, 2, 4, 5]
    answers = ["beach, park", "7 May 2023", "violin", "Not mentioned in the conversation"]
    model = ScriptedChatModel(["Not mentioned in the conversation"] * 4 + answers + answers)
    results = run_qa(
        samples, items, model, ["no-memory", "full-context", "retrieval"], embedder="hash", budget=200, max_tokens=16
    )
    no_mem, full, retr = (results[k].summary() for k in ("no-memory", "full-context", "retrieval"))
    assert no_mem["f1_cat_1_4"] == 0.0 and no_mem["abstention_cat_5"] == 1.0
    assert full["f1_cat_1_4"] == 1.0 and retr["overall"] == 1.0
    # the retrieval prompt carried the evidence, fenced as user data
    retrieval_prompt = model.calls[-2][0].content
    assert "<user_data" in retrieval_prompt and "violin" in retrieval_prompt
    assert "Rex loves the beach" in model.calls[4][0].content  # full context holds the conversation
    _, limited = load_locomo(tiny_locomo(tmp_path / "b"), "1", 2)
    assert [it.category for it in limited] == [1, 4]
