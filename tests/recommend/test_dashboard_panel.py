"""The dashboard's recommendations panel in a real browser (Debian's chromium)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder
from tests.server_util import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (make test installs it)")


def test_a_users_recommendations_show_with_their_reasons(tmp_path: Path, files: dict[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    engine = Engine(tmp_path / "dash.db", embedder=HashEmbedder())
    _, key = Keys(engine.store).create("acme")
    acme = engine.for_tenant("acme")
    acme.catalog_add([files["movies"], files["tags"], files["ratings"]])
    acme.recommend_fit(model="itemknn")
    with running(create_app(Settings(), engine)) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page()
        page.goto(url + "/dashboard/")
        page.fill("#key", key)
        page.click("#signin-form button")
        page.click("#users a[data-user='u0']")
        expect(page.locator("#user-title")).to_have_text("u0")
        expect(page.locator("#recs tbody tr")).to_have_count(10)
        expect(page.locator("#recs tbody tr").first).to_contain_text("because you liked Comedy film")
        page.fill("#rec-ask", "cowboys")
        page.click("#rec-form button")
        expect(page.locator("#recs tbody tr").first).to_contain_text("+ request")
        browser.close()
    engine.close()
