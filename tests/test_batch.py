"""``tailored batch``: jobs partitioned by user give, on Ray, exactly what the plain loop
and the engine's own per-user verbs give, on every store backend.

Ray tests share one local Ray per module (2 CPUs, no dashboard) and skip with the reason
when ``ray`` is not installed (the ``scale`` extra); the rest need no Ray.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tailored import Engine
from tailored.cli import app
from tailored.errors import InvalidInput, TailoredError
from tailored.scale import Item, Job, list_users, partition, run_loop, run_ray, shippable_url
from tailored.store import Scope
from tailored.testing import HashEmbedder

from .store.conftest import POSTGRES, PostgresServer

USERS = [f"user{n:02d}" for n in range(7)]
FOODS = ["sushi", "pizza", "mushrooms", "olives", "tofu", "curry", "pasta", "salad"]
CITIES = ["Lisbon", "Porto", "Madrid", "Berlin"]


def events_of(n: int, user: str) -> list[dict[str, Any]]:
    """Statements the rules extractor reads (likes, dislikes, a move, a change of mind),
    with small talk between them; different for every user."""
    a, b, c = FOODS[n % 8], FOODS[(n + 3) % 8], FOODS[(n + 5) % 8]
    lines = [
        f"I love {a}",
        "What a day it was",
        f"I can't stand {b}",
        f"I live in {CITIES[n % 4]}",
        "Tell me something nice",
        f"I'm allergic to {c}",
        f"I no longer like {a}",
        f"I moved to {CITIES[(n + 1) % 4]}",
        f"I really enjoy {FOODS[(n + 1) % 8]} on Fridays",
    ][: 5 + n % 5]
    return [
        {"user_id": user, "text": t, "time": f"2024-03-{d + 1:02d}T10:00:00Z", "session_id": f"s{d // 3}"}
        for d, t in enumerate(lines)
    ]


def fill(url: str) -> None:
    """The same users and events, added in the same order (so with the same ids), vectors deferred."""
    with Engine(url, embedder=HashEmbedder()) as eng:
        for n, user in enumerate(USERS):
            eng.add(events_of(n, user), embed=False)


def canonical(url: str) -> dict[str, Any]:
    """Everything per user that a job writes, with memory ids renumbered per user and the
    wall-clock times of writing left out (two runs differ in both, not in content)."""
    out: dict[str, Any] = {}
    with Engine(url, embedder=HashEmbedder()) as eng:
        for u in eng.users():
            scope = Scope("default", u.user_id)
            memories = eng.store.memories(scope)
            ids = {m.id: n for n, m in enumerate(memories)}
            index = eng.store.user_index(scope, "hash-256")
            out[u.user_id] = {
                "memories": [
                    m.model_dump(exclude={"id", "created_at", "updated_at", "superseded_by"})
                    | {"superseded_by": ids.get(m.superseded_by) if m.superseded_by else None}
                    for m in memories
                ],
                "log": [
                    (ids[c.memory_id], c.action, c.detail, ids.get(c.other_id) if c.other_id else None)
                    for c in eng.store.memory_log(scope)
                ],
                "mark": eng.store.extraction_mark(scope, "auto"),
                "event_ids": index.ids.tolist(),
                "has_vector": index.has_vector.tolist(),
                "vectors": index.vectors.tobytes(),
            }
    return out


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """One local Ray for the module's Ray tests."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[scale]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server when the store tests started it, else one for this
    module; skipped (with the reason) without the postgres extra."""
    for module in ("psycopg", "psycopg_pool", "pgvector"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[postgres]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")
    if POSTGRES.server is not None:
        yield POSTGRES
        return
    server = PostgresServer()
    base = Path(tempfile.mkdtemp(prefix="tailored-postgres-"))
    try:
        server.start(base / "data")
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """The URL of a fresh store of the backend, by name."""
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path / name}.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return lambda name: server.url(tmp_path, name)


def three_stores(new_url: Callable[[str], str]) -> tuple[str, str, str]:
    urls = (new_url("ray"), new_url("loop"), new_url("engine"))
    for url in urls:
        fill(url)
    return urls


def test_extract_on_ray_is_the_loop_and_the_engine(ray_local: Any, new_url: Callable[[str], str]) -> None:
    on_ray, in_loop, by_engine = three_stores(new_url)
    job = Job("extract", on_ray, embedder="hash")
    report = run_ray(job, partition(list_users(on_ray, "default"), 2))
    assert (report.mode, report.partitions, report.ok, report.failed) == ("ray", 4, len(USERS), 0)
    loop = run_loop(Job("extract", in_loop, embedder="hash"), partition(list_users(in_loop, "default"), 2))
    assert (loop.ok, loop.count) == (len(USERS), report.count) and report.count > len(USERS)
    with Engine(by_engine, embedder=HashEmbedder()) as eng:
        for user in USERS:
            eng.extract(user)
    expected = canonical(by_engine)
    assert any(c[1] == "superseded" for u in expected.values() for c in u["log"])  # changes of mind happened
    assert canonical(on_ray) == canonical(in_loop) == expected


def test_embed_on_ray_is_the_loop_and_the_first_search(ray_local: Any, new_url: Callable[[str], str]) -> None:
    on_ray, in_loop, by_engine = three_stores(new_url)
    before = canonical(on_ray)
    assert not any(any(u["has_vector"]) for u in before.values())
    report = run_ray(Job("embed", on_ray, embedder="hash"), partition(list_users(on_ray, "default"), 3))
    total = sum(len(events_of(n, u)) for n, u in enumerate(USERS))
    assert (report.ok, report.failed, report.count) == (len(USERS), 0, total)
    run_loop(Job("embed", in_loop, embedder="hash"), partition(list_users(in_loop, "default"), 3))
    with Engine(by_engine, embedder=HashEmbedder()) as eng:
        for user in USERS:
            eng.search(user, "food")  # the first search fills the user's vectors
    got = canonical(on_ray)
    assert all(all(u["has_vector"]) for u in got.values())
    assert got == canonical(in_loop) == canonical(by_engine)
    again = run_ray(Job("embed", on_ray, embedder="hash"), partition(list_users(on_ray, "default"), 3))
    assert (again.ok, again.count) == (len(USERS), 0)  # nothing left to embed


def test_a_failing_user_is_sent_again_alone(ray_local: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    items = [Item("default", USERS[0]), Item("default", " "), Item("default", USERS[1])]  # a blank id fails
    report = run_ray(Job("extract", url, embedder="hash"), [items], retries=2)
    assert (report.ok, report.failed, report.resubmitted) == (2, 1, 2)
    assert report.failures == [{"item": "default/ ", "error": report.failures[0]["error"]}]
    assert "InvalidInput" in report.failures[0]["error"]


def test_cli_ray_job_ships_a_relative_sqlite_path(
    ray_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's workers run in another directory: a relative path must reach them absolute."""
    monkeypatch.chdir(tmp_path)
    fill("rel.db")
    shutil.copy("rel.db", "ref.db")
    out = CliRunner().invoke(app, ["batch", "extract", "--db", "rel.db", "--partition-size", "3", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert (report["mode"], report["partitions"], report["ok"], report["failed"]) == ("ray", 3, len(USERS), 0)
    ref = CliRunner().invoke(app, ["batch", "extract", "--db", "ref.db", "--no-ray", "--json"])
    assert ref.exit_code == 0, ref.output
    assert json.loads(ref.stdout)["count"] == report["count"]
    assert canonical(str(tmp_path / "rel.db")) == canonical(str(tmp_path / "ref.db"))


# -- without Ray ---------------------------------------------------------------------------


def test_store_urls_reach_other_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert shippable_url("a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    assert shippable_url("sqlite:///d/a.db?mode=ro") == f"sqlite:///{tmp_path / 'd/a.db'}?mode=ro"
    assert shippable_url("sqlite:////abs/a.db") == "sqlite:////abs/a.db"
    assert shippable_url("postgresql://app@db/x") == "postgresql://app@db/x"
    with pytest.raises(InvalidInput):
        shippable_url(":memory:")
    assert [len(p) for p in partition([Item("t", str(n)) for n in range(7)], 3)] == [3, 3, 1]
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    with pytest.raises(TailoredError, match="--no-ray"):
        run_ray(Job("noop", shippable_url("a.db")), [])


def test_a_failing_user_is_retried_then_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    fill(url)
    items = list_users(url, "default") + [Item("default", " ")]  # a blank user id fails
    report = run_loop(Job("extract", url, embedder="hash"), partition(items, 3), retries=2)
    assert (report.ok, report.failed, report.resubmitted) == (len(USERS), 1, 2)
    assert report.failures[0]["item"] == "default/ " and "InvalidInput" in report.failures[0]["error"]
    unknown = run_loop(Job("extract", url, extractor="nonesuch"), partition(items[:2], 3), retries=1)
    assert (unknown.ok, unknown.failed, unknown.resubmitted) == (0, 2, 1)
    assert "nonesuch" in unknown.failures[0]["error"]


def test_cli_import_and_summarize_in_one_process(tmp_path: Path) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    fill(str(src))
    files = []
    with Engine(src, embedder=HashEmbedder()) as eng:
        for user in USERS:
            eng.extract(user)
            files.append(tmp_path / f"{user}.json")
            files[-1].write_text(eng.export(user).model_dump_json())
    runner = CliRunner()
    out = runner.invoke(app, ["batch", "import", *map(str, files), "--db", str(dst), "--no-ray", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["ok"] == len(USERS)
    without_marks = [{u: v | {"mark": 0} for u, v in canonical(str(p)).items()} for p in (dst, src)]
    assert without_marks[0] == without_marks[1]  # an export carries no extraction marks
    out = runner.invoke(app, ["batch", "summarize", "--db", str(dst), "--no-ray", "--force"])
    assert out.exit_code == 0, out.output
    assert f"{len(USERS)} of {len(USERS)} users done" in out.stdout
    with Engine(dst, embedder=HashEmbedder()) as eng:
        assert all(eng.store.summaries(Scope("default", u), "general") for u in USERS)
    missing = runner.invoke(app, ["batch", "embed", "--db", str(tmp_path / "none.db"), "--no-ray"])
    assert missing.exit_code == 1 and "no store at" in str(missing.exception)


def test_help_does_not_import_ray() -> None:
    code = (
        "import sys\nfrom tailored.cli import app\n"
        "for args in (['--help'], ['batch', '--help']):\n"
        "    try:\n        app(args=args)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert np.__name__ == "numpy"
