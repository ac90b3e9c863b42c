"""The REST route (tenant-isolated) and the CLI (one-line errors, non-zero exit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder
from tests.server_util import running

from .conftest import genre_of


def test_rest_recommendations_are_the_callers_tenant_only(tmp_path: Path, files: dict[str, Path]) -> None:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    acme = engine.for_tenant("acme")
    acme.catalog_add([files["movies"], files["ratings"]])
    acme.recommend_fit(model="ease")
    keys = Keys(engine.store)
    _, a = keys.create("acme")
    _, b = keys.create("globex")
    with running(create_app(Settings(), engine)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}, timeout=30) as ca:
            r = ca.get("/v1/users/u0/recommendations", params={"k": 3})
            assert r.status_code == 200
            body = r.json()
            assert [x["rank"] for x in body] == [1, 2, 3] and genre_of(body[0]["item"]["id"]) == 0
            assert body[0]["explanation"]
            bad = ca.get("/v1/users/u0/recommendations", params={"k": 0})
            assert bad.status_code == 422 and "error" in bad.json()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {b}"}, timeout=30) as cb:
            other = cb.get("/v1/users/u0/recommendations")
            assert other.status_code == 200 and other.json() == []  # globex has no catalogue of its own
    engine.close()


def _run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAILORED_DB": str(db), "TAILORED_EMBEDDER": "hash"}
    return subprocess.run([sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env)


def test_cli_imports_fits_recommends_and_reports_errors_on_one_line(tmp_path: Path, files: dict[str, Path]) -> None:
    db = tmp_path / "cli.db"
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,time,rating\nu1,100,1600000000,4\nu1,nope,1600000001,4\n")
    added = _run("catalog", "add", str(files["movies"]), str(bad), db=db)
    assert added.returncode == 1
    assert added.stderr.count("\n") == 1 and "bad.csv:3: unknown item 'nope'" in added.stderr
    ok = _run("catalog", "add", str(files["movies"]), str(files["tags"]), str(files["ratings"]), "--json", db=db)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["items"] == 60
    fit = _run("recommend", "fit", "--recommender", "itemknn", db=db)
    assert fit.returncode == 0 and "itemknn fitted" in fit.stdout
    recs = _run("recommend", "--user", "u0", "-k", "3", "--json", db=db)
    assert recs.returncode == 0, recs.stderr
    assert genre_of(json.loads(recs.stdout)[0]["item"]["id"]) == 0
    missing = _run("recommend", db=db)
    assert (
        missing.returncode == 1
        and missing.stderr.strip() == "Error: --user is required (or run `tailored recommend fit`)"
    )
    unknown = _run("recommend", "fit", "--recommender", "nope", db=db)
    assert unknown.returncode == 1 and unknown.stderr.startswith("Error: unknown recommender 'nope'")
