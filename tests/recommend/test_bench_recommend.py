"""``tailored bench recommend`` end to end on the small catalogue: every recommender is
scored, the cold start's window and prior share are chosen on validation, and the report
states what the stated preferences add over the prior alone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tailored.bench.recommend import COLD_WINDOWS
from tailored.cli import app

from .conftest import write_files


def test_bench_recommend_reports_every_recommender_and_the_cold_start(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    write_files(folder)
    out = tmp_path / "out"
    args = ["bench", "recommend", "--data", str(folder), "--out", str(out), "--embedder", "hash"]
    result = CliRunner().invoke(app, [*args, "--sasrec-epochs", "0", "--rerank-users", "0", "--latency-users", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "recommend.json").read_text())
    assert {"popularity", "ease", "hybrid"} <= set(report["models"])
    cold = report["cold_start"]
    assert cold["recent_days"] in COLD_WINDOWS and 0.0 <= cold["popularity_weight"] <= 1.0
    assert len(cold["valid_ndcg10"]) == len(COLD_WINDOWS) * 5
    assert len(cold["vs_popularity"]) == 3 and len(cold["vs_prior"]) == 3
    assert cold["ndcg10"] > report["models"]["popularity"]["ndcg10"]  # each user sticks to one genre
    text = (out / "recommend.md").read_text()
    assert "## Cold start" in text and "what the stated preferences add" in text
