"""``tailored bench scale`` on a tiny workload: the report is written, with its command and
figures that make sense."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tailored.bench.scale import user_sizes
from tailored.cli import app


def test_user_sizes_are_skewed_and_sum_to_the_events() -> None:
    sizes = user_sizes(1_000_000, 10_000)
    assert sum(sizes) == 1_000_000 and len(sizes) == 10_000
    assert sizes == sorted(sizes, reverse=True) and min(sizes) >= 1
    assert sum(s >= 10_000 for s in sizes) >= 3 and sizes[len(sizes) // 2] <= 50


def test_bench_scale_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    command = ["bench", "scale", "--events", "2000", "--users", "20", "--backend", "sqlite", "--queries", "5"]
    result = CliRunner().invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "scale.json").read_text())
    assert report["command"].startswith("tailored bench scale --events 2000 --users 20 --backend sqlite")
    assert report["command"] in (out / "scale.md").read_text()
    assert report["workload"]["events"] == 2000 and sum(report["workload"]["largest_users"]) <= 2000
    (sqlite,) = report["results"]
    assert sqlite["backend"] == "sqlite" and sqlite["ingest"]["events"] == 2000
    assert 100 < sqlite["ingest"]["events_per_s"] < 10_000_000
    assert 2000 * 384 * 4 <= sqlite["disk_bytes"] < 200_000_000
    assert sqlite["peak_rss_bytes"] > 10_000_000
    rows = sqlite["fixed_query"]
    assert rows[0]["user"] == "largest #1" and rows[0]["events"] == sqlite["largest_events"]
    assert {r["mode"] for r in rows} == {"hybrid", "dense", "bm25"}
    assert all(0 < r["p50_ms"] <= r["p95_ms"] < 5000 for r in rows + sqlite["minilm"])
    assert any(t["target"].startswith("sqlite search p95") for t in report["targets"])


def test_bench_vectors_measures_recall_against_exact_search(tmp_path: Path) -> None:
    pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")
    out = tmp_path / "reports"
    command = ["bench", "vectors", "--events", "3000", "--users", "30", "--queries", "4"]
    result = CliRunner().invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "vectors.json").read_text())
    assert report["command"] == "tailored bench vectors --events 3000 --users 30 --queries 4"
    rows = report["result"]["rows"]
    assert rows[0]["user"] == "largest #1" and rows[0]["events"] == report["workload"]["largest_users"][0]
    for row in rows:
        assert row["sql_exact"]["recall"] == 1.0
        assert row["memory"]["recall"] == 1.0  # the engine's dense search is exact: the same top 10
        assert all(0.0 <= row[f"hnsw_ef{ef}"]["recall"] <= 1.0 for ef in (40, 200, 1000))
    small = rows[-1]  # the median user holds a sliver of the table: the filter loses its rows
    assert small["hnsw_plan"] and small["hnsw_ef40"]["recall"] < 1.0
    assert report["result"]["hnsw_bytes"] > 0 and report["command"] in (out / "vectors.md").read_text()


def test_bench_ingest_on_postgresql_writes_its_own_report(tmp_path: Path) -> None:
    pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")
    out = tmp_path / "reports"
    command = ["bench", "ingest", "--events", "60", "--batch-size", "20", "--embedder", "hash", "--postgres"]
    result = CliRunner().invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "ingest-postgresql.json").read_text())
    assert report["command"].endswith("--embedder hash --postgres") and not (out / "ingest.json").exists()
    for run in ("embedded", "vectors_supplied", "deferred"):
        assert report["results"][f"{run}_events_per_s"] > 0
    assert "on PostgreSQL" in (out / "ingest-postgresql.md").read_text()
