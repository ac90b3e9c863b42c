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
from tailored.testing import HashEmbedder, ScriptedChatModel
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


def test_rest_rerank_explains_with_the_chat_model_and_asks_join_the_profile(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    acme = engine.for_tenant("acme")
    acme.catalog_add([files["movies"], files["ratings"]])
    acme.recommend_fit(model="ease")
    last = acme.recommend("u0", k=20, ask="a funny one")[-1].item.id  # the 20th: not a pick without the model
    reply = f'[{{"id": "{last}", "why": "you rated films like it", "cites": ["H1"]}}]'
    model = ScriptedChatModel([reply])
    _, a = Keys(engine.store).create("acme")
    with running(create_app(Settings(), engine, chat_model=model)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}, timeout=30) as ca:
            r = ca.get("/v1/users/u0/recommendations", params={"k": 5, "rerank": "true", "ask": "a funny one"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body[0]["item"]["id"] == last and body[0]["explanation"] == "you rated films like it"
            assert body[0]["because"][0].startswith("item:") and body[0]["source"].endswith("llm rerank")
            assert len(body) == 5 and "a funny one" in model.calls[0][-1].content  # the request reached the prompt
    engine.close()


def test_rest_rerank_without_a_chat_model_is_a_4xx_naming_it(tmp_path: Path, files: dict[str, Path]) -> None:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    engine.catalog_add([files["movies"], files["ratings"]])
    engine.recommend_fit(model="ease")
    _, a = Keys(engine.store).create("default")
    settings = Settings(model=str(tmp_path / "no-such-model.gguf"))
    with running(create_app(settings, engine)) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}, timeout=30) as ca:
            r = ca.get("/v1/users/u0/recommendations", params={"rerank": "true"})
            assert r.status_code == 422
            assert r.json()["error"]["code"] == "no_chat_model" and "rerank" in r.json()["error"]["message"]
            plain = ca.get("/v1/users/u0/recommendations", params={"k": 3})
            assert plain.status_code == 200 and len(plain.json()) == 3  # the same request without rerank works
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
