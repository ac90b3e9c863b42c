"""``tailored bench prefeval``: burying, option shuffling, stance reading, and a tiny run.

The fast tests use a hand-made PrefEval-shaped folder; the last ones read the real data
(``$TAILORED_DATA`` or ``../shared/data``) and skip when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tailored.bench import prefeval as pe
from tailored.cli import app
from tailored.errors import InvalidInput
from tailored.testing import HashEmbedder, ScriptedChatModel

from .conftest import data_root


def write_fixture(root: Path) -> None:
    """Two topics; the filler talks about code, the preferences about food and travel."""
    filler = [
        {
            "conversation": [
                {"role": "user", "content": f"How do I reverse a list in Python, attempt {n}?"},
                {"role": "assistant", "content": f"Use reversed() or slicing with [::-1] ({n})."},
            ]
        }
        for n in range(10)
    ]
    (root / "explicit_preference").mkdir(parents=True)
    (root / "mcq_options").mkdir()
    (root / "implicit_preference" / "choice-based").mkdir(parents=True)
    (root / "implicit_preference" / "persona-driven").mkdir(parents=True)
    (root / "filtered_inter_turns.json").write_text(json.dumps(filler))
    topics = {
        "food": [("I don't eat mushrooms at all.", "What pasta should I cook tonight?")],
        "travel": [("I avoid long flights whenever I can.", "Where should I go on holiday this summer?")],
    }
    for topic, rows in topics.items():
        explicit = [{"preference": p, "question": q, "explanation": ""} for p, q in rows]
        (root / "explicit_preference" / f"{topic}.json").write_text(json.dumps(explicit))
        mcq = [{**r, "classification_task_options": ["aligned", "bad one", "bad two", "bad three"]} for r in explicit]
        (root / "mcq_options" / f"{topic}.json").write_text(json.dumps(mcq))
        choice = [
            {
                **r,
                "conversation": {
                    "query": "Any snack ideas?",
                    "assistant_options": "1. mushrooms 2. nuts",
                    "user_selection": "Nuts please, not mushrooms.",
                    "assistant_acknowledgment": "Nuts it is.",
                },
            }
            for r in explicit
        ]
        (root / "implicit_preference" / "choice-based" / f"{topic}.json").write_text(json.dumps(choice))
        persona = [
            {
                **r,
                "persona": "",
                "conversation": {
                    "0": {"user": "I grow tomatoes.", "assistant": "Nice."},
                    "1": {"user": "Mushrooms make me ill.", "assistant": "Noted."},
                },
            }
            for r in explicit
        ]
        (root / "implicit_preference" / "persona-driven" / f"{topic}.json").write_text(json.dumps(persona))


@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    root = tmp_path / "prefeval"
    write_fixture(root)
    return root


def test_bury_puts_the_evidence_at_the_position() -> None:
    filler = [pe.Turn("user" if n % 2 == 0 else "assistant", f"f{n}") for n in range(6)]
    evidence = [pe.Turn("user", "q"), pe.Turn("assistant", "a")]
    turns, where = pe.bury(filler, evidence, 4)
    assert [t.text for t in turns] == ["f0", "f1", "f2", "f3", "q", "a", "f4", "f5"]
    assert where == [4, 5]
    assert pe.bury(filler, evidence, 0)[1] == [0, 1]
    assert pe.bury(filler, evidence, 6)[1] == [6, 7]
    with pytest.raises(pe.InvalidInput):
        pe.bury(filler, evidence, 7)


def test_position_is_seeded_and_in_range(fixture_root: Path) -> None:
    item = pe.load_items(fixture_root, "explicit")[0]
    spots = {pe.position(item, 50, seed) for seed in range(40)}
    assert spots <= set(range(51)) and len(spots) > 10
    assert pe.position(item, 50, 3) == pe.position(item, 50, 3)


def test_shuffled_options_keep_track_of_the_first_one() -> None:
    options = ["aligned", "x", "y", "z"]
    rights = set()
    for n in range(30):
        shuffled, right = pe.shuffle_options(options, f"item-{n}", seed=0)
        assert sorted(shuffled) == sorted(options)
        assert shuffled[right] == "aligned"
        rights.add(right)
    assert rights == {0, 1, 2, 3}  # the correct option is not always in one place
    assert pe.shuffle_options(options, "item-1", 0) == pe.shuffle_options(options, "item-1", 0)
    prompt = pe.mcq_prompt("Where to?", ["Paris", "Rome"])
    assert "A. Paris\nB. Rome" in prompt and "single letter" in prompt


def test_sample_spreads_over_topics(fixture_root: Path) -> None:
    items = [pe.Item("explicit", t, i, "p", "q", []) for t in ("a", "b", "c") for i in range(5)]
    picked = pe.sample(items, 6, seed=0)
    assert sorted(it.topic for it in picked) == ["a", "a", "b", "b", "c", "c"]
    assert pe.sample(items, 6, seed=0) == picked


def test_evidence_turns_of_each_set(fixture_root: Path) -> None:
    explicit = pe.load_items(fixture_root, "explicit")
    assert [t.text for t in explicit[0].evidence] == ["I don't eat mushrooms at all."]
    assert explicit[0].options == ["aligned", "bad one", "bad two", "bad three"]
    choice = pe.load_items(fixture_root, "choice")[0]
    assert [t.role for t in choice.evidence] == ["user", "assistant", "user", "assistant"]
    persona = pe.load_items(fixture_root, "persona")[0]
    assert [t.text for t in persona.evidence][::2] == ["I grow tomatoes.", "Mushrooms make me ill."]


def test_stance_reading() -> None:
    assert pe.gold_stance("I don't eat pork.") == "negative"
    assert pe.gold_stance("I have a strong aversion to crowds.") == "negative"
    assert pe.gold_stance("I prefer window seats.") == "positive"
    assert pe.gold_stance("Blue.") is None
    assert pe.extracted_stance("I dislike spicy foods.")[0] == "negative"


def test_choose_reads_the_letter() -> None:
    model = ScriptedChatModel(["C", "zebra"])
    assert pe.choose(model, [{"role": "user", "content": "?"}], 4)[0] == "C"
    assert pe.choose(model, [{"role": "user", "content": "?"}], 4)[0] is None


def test_yes_margin_reads_yes_against_no() -> None:
    assert pe.yes_margin({"Yes": -0.2, "No": -1.8, "The": -4.0}) == pytest.approx(1.6)
    assert pe.yes_margin({" no": -0.1, "The": -3.0}) == pytest.approx(-2.9)  # Yes outside the top: the lowest seen
    assert pe.yes_margin({"Sure": -0.1, "The": -3.0}) == 0.0


class Judging(ScriptedChatModel):
    """Says Yes to a response that mentions a word the system message holds."""

    def _next_token_logprobs(self, messages, top_k):  # type: ignore[no-untyped-def]
        self.calls.append(list(messages))
        known = messages[0].content.lower() if messages[0].role == "system" else ""
        option = messages[-1].content.split("Proposed response: ")[1].split("\n")[0].lower()
        fits = any(w in known for w in option.split())
        return {"Yes": -0.1, "No": -2.5} if fits else {"Yes": -2.5, "No": -0.1}


def test_choose_by_options_judges_each_response_alone() -> None:
    model = Judging()
    system = [{"role": "system", "content": "Known facts about the user:\n- I only eat sushi."}]
    chosen, scores = pe.choose_by_options(
        model, system, "Where should I eat?", ["pizza place", "sushi bar", "steakhouse"]
    )
    assert chosen == "B" and list(scores) == ["A", "B", "C"]
    assert scores["B"] > 0 > scores["A"]
    asked = [c[-1].content for c in model.calls]
    assert all(a.startswith("Where should I eat?") for a in asked)
    assert ["pizza place" in asked[0], "sushi bar" in asked[1], "steakhouse" in asked[2]] == [True, True, True]
    assert all("sushi bar" not in a for a in asked[:1] + asked[2:])  # one response per prompt
    chosen, _ = pe.choose_by_options(model, [], "Where should I eat?", ["pizza place", "sushi bar"])
    assert chosen == "A"  # nothing known: every margin ties and the first wins


def test_tiny_run_end_to_end(fixture_root: Path, tmp_path: Path) -> None:
    items = pe.sample([it for it in pe.load_items(fixture_root, "explicit") if it.options], 2, 0)
    letters = [pe.LETTERS[pe.shuffle_options(it.options or [], it.key, 0)[1]] for it in items]
    # per item: no-memory answers wrong, ours right, profile right, stated wrong, full-history right
    replies = []
    for right in letters:
        wrong = next(x for x in "ABCD" if x != right)
        replies += [wrong, right, right, wrong, right]
    model = ScriptedChatModel(replies)
    out = pe.run(
        fixture_root,
        turns=[4, 12],
        sets=list(pe.SETS),
        limit=None,
        implicit_limit=None,
        mcq=True,
        mcq_limit=2,
        mcq_turns=12,
        full_history_limit=2,
        methods=list(pe.METHODS),
        budget=400,
        seed=0,
        embedder=HashEmbedder(),
        model=model,
        workdir=tmp_path,
        embed_threads=None,
    )
    recall = {(r["set"], r["turns"]): r for r in out["recall"]}
    assert set(recall) == {(s, n) for s in pe.SETS for n in (4, 12)}
    assert recall[("explicit", 12)]["items"] == 2
    assert recall[("explicit", 12)]["recall_profile"] == 1.0  # a tiny store fits in the budget
    acc = {r["method"]: r["accuracy"] for r in out["mcq"]}
    assert acc == {"no-memory": 0.0, "ours": 1.0, "profile": 1.0, "stated": 0.0, "full-history": 1.0}
    stated = model.calls[3][0]
    assert stated.role == "system" and stated.content.startswith("Known facts about the user:\n- ")
    ours = [c for c in out["per_choice"] if c["method"] == "ours"]
    assert all(c["pref_in_prompt"] for c in ours)
    system = model.calls[1][0]
    assert system.role == "system" and "mushrooms" in system.content.lower() or "flights" in system.content.lower()
    profile_only = model.calls[2][0].content
    assert (
        "Relevant records:" not in profile_only
        and "mushrooms" in profile_only.lower()
        or "flights" in profile_only.lower()
    )
    assert all(c["pref_in_prompt"] for c in out["per_choice"] if c["method"] == "profile")  # via the memory
    assert out["stance"]["statements"] == 2


def test_cli_writes_reports(fixture_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "prefeval",
            "--data",
            str(fixture_root),
            "--turns",
            "4,8",
            "--embedder",
            "hash",
            "--model",
            "scripted",
            "--mcq-limit",
            "2",
            "--mcq-turns",
            "8",
            "--full-history-limit",
            "1",
            "--threads",
            "0",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads((out / "prefeval.json").read_text())
    assert payload["config"]["turns"] == [4, 8]
    assert set(payload["part_seconds"]) == {"recall", "mcq"}
    assert payload["command"].startswith("tailored bench prefeval")
    report = (out / "prefeval.md").read_text()
    assert "## Context recall" in report and "## MCQ accuracy" in report
    scored = {(r["method"], r["scoring"]) for r in payload["mcq"]}
    assert scored == {(m, s) for m in pe.METHODS for s in pe.SCORINGS}  # both scorings by default
    assert "| options |" in report and "| letter |" in report


def test_separate_runs_of_the_two_parts_share_one_report(fixture_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    common = [
        "bench",
        "prefeval",
        "--data",
        str(fixture_root),
        "--turns",
        "4",
        "--embedder",
        "hash",
        "--threads",
        "0",
        "--out",
        str(out),
    ]
    assert CliRunner().invoke(app, [*common, "--no-mcq"]).exit_code == 0
    first = json.loads((out / "prefeval.json").read_text())
    result = CliRunner().invoke(
        app,
        [
            *common,
            "--sets",
            "none",
            "--model",
            "scripted",
            "--mcq-limit",
            "2",
            "--mcq-turns",
            "4",
            "--method",
            "no-memory",
            "--scoring",
            "options",
        ],
    )
    assert result.exit_code == 0, result.output
    merged = json.loads((out / "prefeval.json").read_text())
    assert merged["recall"] == first["recall"]  # kept from the first run
    assert [(r["method"], r["scoring"]) for r in merged["mcq"]] == [("no-memory", "options")]
    assert merged["part_seconds"]["recall"] == first["part_seconds"]["recall"]
    assert set(merged["commands"]) == {"recall", "mcq"}


def test_cli_refuses_an_unknown_scoring(fixture_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "prefeval",
            "--data",
            str(fixture_root),
            "--sets",
            "none",
            "--embedder",
            "hash",
            "--model",
            "scripted",
            "--scoring",
            "vibes",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert isinstance(result.exception, InvalidInput) and "--scoring" in str(result.exception)
    assert not (tmp_path / "r").exists()


real_data = pytest.mark.skipif(
    not (data_root() / "prefeval").is_dir(), reason="PrefEval data not found (set TAILORED_DATA)"
)


@real_data
def test_real_data_loads() -> None:
    root = data_root() / "prefeval"
    explicit = pe.load_items(root, "explicit")
    assert len(explicit) == 1000 and all(it.options and len(it.options) == 4 for it in explicit)
    assert len(pe.load_items(root, "choice")) == 1000
    assert all(len(it.evidence) >= 2 for it in pe.load_items(root, "persona"))
    assert len(pe.load_filler(root)) >= 300


@real_data
def test_real_data_tiny_run(tmp_path: Path) -> None:
    out = pe.run(
        data_root() / "prefeval",
        turns=[10],
        sets=["explicit", "persona"],
        limit=2,
        implicit_limit=1,
        mcq=False,
        mcq_limit=1,
        mcq_turns=10,
        full_history_limit=0,
        methods=list(pe.METHODS),
        budget=1000,
        seed=0,
        embedder=HashEmbedder(),
        model=None,
        workdir=tmp_path,
        embed_threads=None,
    )
    assert [(r["set"], r["items"]) for r in out["recall"]] == [("explicit", 2), ("persona", 1)]
