"""``tailored bench retrieval``: the recall metrics, the loaders and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tailored import Engine
from tailored.bench.datasets import evidence_ids, load_locomo, parse_selection
from tailored.bench.retrieval import recall_at_k, run_benchmark, session_recall_at_k
from tailored.cli import main
from tailored.errors import InvalidInput
from tailored.retrieve.query import analyse, mentioned_dates
from tailored.testing import HashEmbedder

from .conftest import data_root


def _cli(argv: list[str]) -> None:
    """Run the CLI in-process; it may end with ``SystemExit(0)``."""
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None)


def test_recall_at_k_counts_the_share_of_evidence_in_the_top_k() -> None:
    ranked = ["t1", "t2", "t3", "t4"]
    assert recall_at_k(ranked, {"t2", "t4"}, 1) == 0.0
    assert recall_at_k(ranked, {"t2", "t4"}, 2) == 0.5
    assert recall_at_k(ranked, {"t2", "t4"}, 4) == 1.0
    assert recall_at_k(ranked, {"t9"}, 10) == 0.0
    with pytest.raises(InvalidInput):
        recall_at_k(ranked, set(), 5)


def test_session_recall_counts_evidence_sessions_among_the_top_k_sessions() -> None:
    session_of = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    # Evidence in sessions A and C; the first hit is another turn of A.
    assert session_recall_at_k(["a2", "b1", "c1"], {"a1", "c1"}, session_of, 1) == 0.5
    assert session_recall_at_k(["a2", "b1", "c1"], {"a1", "c1"}, session_of, 2) == 0.5
    assert session_recall_at_k(["a2", "b1", "c1"], {"a1", "c1"}, session_of, 3) == 1.0
    # Two evidence turns of one session count once.
    assert session_recall_at_k(["b1", "a2"], {"a1", "a2"}, session_of, 1) == 0.0


def test_selection_and_evidence_cleaning() -> None:
    assert parse_selection("1-3,7", 10) == [1, 2, 3, 7]
    assert parse_selection(None, 3) == [1, 2, 3]
    with pytest.raises(InvalidInput):
        parse_selection("4-12", 10)
    known = {"D8:6", "D9:17", "D11:26", "D30:5"}
    assert evidence_ids(["D8:6; D9:17", "D", "D:11:26", "D30:05", "D99:1"], known) == [
        "D8:6",
        "D9:17",
        "D11:26",
        "D30:5",
    ]


def test_query_analysis_takes_named_speakers_and_dates_out_of_the_words() -> None:
    q = analyse("What did Caroline's sister paint on 3 June, 2023?", {"caroline": 0, "melanie": 1})
    assert q.speakers == {0}
    assert "caroline" not in q.terms and "Caroline" not in q.dense_text
    assert "paint" in q.terms
    both = analyse("What did Melanie give Caroline?", {"caroline": 0, "melanie": 1})
    assert both.speakers == frozenset()  # naming everyone is no prior
    assert [(d.year, d.month, d.day) for d in mentioned_dates("on 3 June, 2023")] == [(2023, 6, 3)]
    assert mentioned_dates("May I ask you something?") == []


def _turn(speaker: str, dia: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": dia, "text": text}


def _locomo_fixture(path: Path) -> Path:
    """Two LoCoMo-shaped conversations whose evidence is obvious."""
    fillers = ["How was your week?", "Pretty good, thanks for asking.", "Any plans for the weekend?", "Not yet."]

    def conversation(n: int, a: str, b: str, facts: list[tuple[str, str, str]]) -> dict[str, Any]:
        conv: dict[str, Any] = {"speaker_a": a, "speaker_b": b}
        qa = []
        for s, (speaker, fact, question) in enumerate(facts, start=1):
            conv[f"session_{s}_date_time"] = f"1:00 pm on {s} May, 2023"
            turns = [_turn(a if i % 2 == 0 else b, f"D{s}:{i + 1}", t) for i, t in enumerate(fillers)]
            turns.append(_turn(speaker, f"D{s}:{len(turns) + 1}", fact))
            conv[f"session_{s}"] = turns
            qa.append({"question": question, "answer": "x", "evidence": [f"D{s}:{len(turns)}"], "category": 4})
        qa.append({"question": "Unanswerable?", "adversarial_answer": "x", "evidence": ["D1:1"], "category": 5})
        return {"sample_id": f"conv-{n}", "conversation": conv, "qa": qa}

    data = [
        conversation(
            1,
            "Ana",
            "Ben",
            [
                ("Ana", "I adopted a grey kitten named Pixel from the shelter.", "What is the name of Ana's kitten?"),
                ("Ben", "I ran the Lisbon marathon in under four hours.", "Which marathon did Ben run?"),
            ],
        ),
        conversation(
            2,
            "Cleo",
            "Dev",
            [
                ("Dev", "My favourite dish is mushroom risotto with parmesan.", "What is Dev's favourite dish?"),
                ("Cleo", "I started learning the cello at the conservatory.", "Which instrument is Cleo learning?"),
            ],
        ),
    ]
    path.mkdir(parents=True, exist_ok=True)
    (path / "locomo10.json").write_text(json.dumps(data), encoding="utf-8")
    return path


def test_locomo_loader_keeps_categories_1_to_4_with_source_id_evidence(tmp_path: Path) -> None:
    cases = load_locomo(_locomo_fixture(tmp_path / "locomo"))
    assert [c.user_id for c in cases] == ["conv-1", "conv-2"]
    assert [len(c.questions) for c in cases] == [2, 2]  # the category-5 item is left out
    assert cases[0].questions[0].evidence == ["conv-1:D1:5"]
    assert cases[0].sessions()["conv-1:D2:5"] == "session_2"


def test_benchmark_end_to_end_on_a_synthetic_fixture(tmp_path: Path) -> None:
    data = _locomo_fixture(tmp_path / "locomo")
    out = tmp_path / "reports"
    report = run_benchmark(
        "locomo", data, out, embedder=HashEmbedder(), with_ablation=True, scale_events=50, command="test"
    )
    hybrid = report.results["all"]["hybrid"]
    assert hybrid["questions"] == 4
    assert hybrid["turn"][5] == 1.0  # every fact shares its rare words with its question
    assert report.results["all"]["bm25"]["turn"][10] == 1.0
    assert len(report.ablation) >= 5
    assert report.speed["scale"]["events"] == 50
    md = (out / "retrieval-locomo.md").read_text(encoding="utf-8")
    assert "Command: `test`" in md and "| hybrid |" in md and "Ablation" in md
    raw = json.loads((out / "retrieval-locomo.json").read_text(encoding="utf-8"))
    assert raw["slice"]["questions"] == 4 and len(raw["per_question"]) == 12


def test_cli_runs_a_limited_selection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _locomo_fixture(tmp_path / "locomo")
    out = tmp_path / "reports"
    _cli(
        [
            "bench",
            "retrieval",
            "--dataset",
            "locomo",
            "--data",
            str(data),
            "--conversations",
            "2",
            "--limit",
            "1",
            "--embedder",
            "hash",
            "--out",
            str(out),
            "--no-ablation",
            "--scale-events",
            "0",
        ]
    )
    raw = json.loads((out / "retrieval-locomo.json").read_text(encoding="utf-8"))
    assert raw["slice"]["conversations"] == [2] and raw["slice"]["questions"] == 1
    assert "--conversations 2 --limit 1" in raw["command"]
    assert "R@10" in capsys.readouterr().out


def test_hybrid_keeps_a_buried_statement_that_only_dense_finds(tmp_path: Path) -> None:
    """Words shared by chance with unrelated turns must not bury what the meaning finds."""
    with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as eng:
        filler = [f"Please debug this python code for the sorting function number {i}" for i in range(40)]
        events = [{"user_id": "u", "text": t, "role": "user"} for t in filler]
        events.insert(17, {"user_id": "u", "text": "vegan vegan vegan always", "role": "user", "source_id": "pref"})
        eng.add(events)
        question = "vegan vegan vegan dinner ideas for my python meetup code"
        dense = [h.event.source_id for h in eng.search("u", question, k=3, mode="dense")]
        hybrid = [h.event.source_id for h in eng.search("u", question, k=3)]
        assert "pref" in dense
        assert "pref" in hybrid


def test_real_locomo_one_conversation_with_limit(tmp_path: Path) -> None:
    root = data_root() / "locomo"
    if not (root / "locomo10.json").exists():
        pytest.skip(f"LoCoMo data not found at {root} (set TAILORED_DATA)")
    cases = load_locomo(root, [1])
    assert len(cases) == 1 and cases[0].user_id == "conv-26" and len(cases[0].events) > 400
    known = {e.source_id for e in cases[0].events}
    assert all(ev in known for q in cases[0].questions for ev in q.evidence)
    out = tmp_path / "reports"
    _cli(
        [
            "bench",
            "retrieval",
            "--data",
            str(root),
            "--conversations",
            "1",
            "--limit",
            "5",
            "--embedder",
            "hash",
            "--out",
            str(out),
            "--no-ablation",
            "--scale-events",
            "0",
        ]
    )
    raw = json.loads((out / "retrieval-locomo.json").read_text(encoding="utf-8"))
    assert raw["slice"]["questions"] == 5 and raw["slice"]["turns"] == len(cases[0].events)
    assert 0.0 <= raw["results"]["all"]["hybrid"]["turn"]["10"] <= 1.0
