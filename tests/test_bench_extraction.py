"""``tailored bench extraction`` on a two-conversation file in the dataset's CSV layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tailored.bench import extraction as ex


def write_dataset(folder: Path) -> None:
    folder.mkdir(parents=True)
    rows = [
        {
            "user 1 personas": "I love jazz music.\nI grew up in North Dakota.",
            "user 2 personas": "I am a chef.",
            "Best Generated Conversation": "User 1: Hi there! I love jazz music. Do you?\n"
            "User 2: I cook mostly.\nUser 1: Nice. What do you cook?",
        },
        {
            "user 1 personas": "I have two cats.\nI work as a nurse.",
            "user 2 personas": "I like cars.",
            "Best Generated Conversation": "User 1: I have two cats at home.\nUser 2: Cool.\n"
            "User 1: I work as a nurse at the hospital.",
        },
    ]
    with (folder / ex.SPLITS["test"]).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_rules_run_reports_recall_against_what_was_said(tmp_path: Path) -> None:
    data, out = tmp_path / "spc", tmp_path / "out"
    write_dataset(data)
    report = ex.run_benchmark("rules", data, out, limit=2, command="tailored bench extraction")
    assert report.gold == 4
    assert report.stated == 0.75  # North Dakota is never said
    assert 0 < report.recall <= report.stated  # nothing unsaid is recalled...
    assert report.recall_stated == report.recall / report.stated  # ...so the two recalls differ by that share
    saved = json.loads(ex.report_path(out, "synthetic-persona-chat", "rules").read_text())
    assert saved["stated"] == 0.75
    markdown = (out / "extraction.md").read_text()
    assert "recall of stated" in markdown and "| rules |" in markdown


def test_sentences_split_turns() -> None:
    assert ex.sentences(["Hi! I love jazz. Do you?", "ok"]) == ["Hi!", "I love jazz.", "Do you?", "ok"]


def test_spans_add_the_clauses_of_a_compound_sentence() -> None:
    said = ex.spans(["I like to dance at the club, run a dog obedience school, and eat a lot of sweets. Hi!"])
    assert said[0] == "I like to dance at the club, run a dog obedience school, and eat a lot of sweets."
    assert said[1:4] == ["I like to dance at the club", "run a dog obedience school", "eat a lot of sweets."]
    assert said[4:] == ["Hi!"]  # a one-clause sentence is not repeated
    assert ex.spans(["Yes, I have two boys."]) == ["Yes, I have two boys.", "I have two boys."]


def test_a_clause_states_a_line_its_whole_sentence_does_not() -> None:
    from tailored.embed import load_embedder

    embed = load_embedder("minilm").embed
    turns = ["I like to dance at the club, run a dog obedience school, and eat a lot of sweets."]
    line = ["I run a dog obedience school."]
    whole = float((embed(ex.sentences(turns)) @ embed(line).T).max())
    best = float((embed(ex.spans(turns)) @ embed(line).T).max())
    assert whole < ex.THRESHOLD <= best


def test_fast_and_verbatim_sit_beside_the_rules_in_one_report(tmp_path: Path) -> None:
    data, out = tmp_path / "spc", tmp_path / "out"
    write_dataset(data)
    verbatim = ex.run_benchmark(
        "verbatim", data, out, limit=2, command="tailored bench extraction --extractor verbatim"
    )
    fast = ex.run_benchmark("fast", data, out, limit=2, command="tailored bench extraction --extractor fast")
    assert verbatim.memories == 7  # every sentence of user 1's turns
    assert fast.memories < verbatim.memories  # greetings and questions are not disclosures
    assert fast.recall_stated == 1.0 and fast.precision > verbatim.precision
    markdown = (out / "extraction.md").read_text()
    assert "| verbatim |" in markdown and "| fast |" in markdown and "per conversation" in markdown


def test_the_model_readers_token_counts_and_load_are_reported(tmp_path: Path) -> None:
    data, out = tmp_path / "spc", tmp_path / "out"
    write_dataset(data)
    ex.run_benchmark("fast", data, out, limit=2, command="tailored bench extraction --extractor fast")
    path = ex.report_path(out, "synthetic-persona-chat", "fast")
    saved = json.loads(path.read_text())
    assert len(saved["load"]) == 2 and saved["model_usage"] is None  # no model read anything
    saved |= {
        "extractor": "llm",
        "model_usage": {
            "calls": 2,
            "prompt_tokens": 900,
            "reused_tokens": 700,
            "completion_tokens": 60,
            "turns_read": 3,
        },
    }
    ex.report_path(out, "synthetic-persona-chat", "llm").write_text(json.dumps(saved))
    markdown = ex.write_markdown(out, "synthetic-persona-chat").read_text()
    section = markdown.split("## What the model read and wrote")[1]
    assert (
        "| llm | 4 | 3 | 2 | 900 | 700 | 60 |" in section
        and "CPU s/turn" in section
        and "| fast |" not in section.split("##")[0]
    )
