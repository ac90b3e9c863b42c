"""Fuzz the API from its own OpenAPI schema: no 5xx, and every error is typed JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder, ScriptedChatModel

from .server_util import running


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    engine = Engine(db, embedder=HashEmbedder())
    _, key = Keys(engine.store).create("fuzz")
    engine.for_tenant("fuzz").add([{"user_id": "ana", "text": f"seed event {i}"} for i in range(5)])
    with running(create_app(Settings(), engine, chat_model=ScriptedChatModel())) as url:
        yield url, key
    engine.close()


def test_no_server_errors_and_typed_errors(api: tuple[str, str]) -> None:
    url, key = api
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    seen: dict[int, int] = {}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"})
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]

        check()
    assert any(code < 300 for code in seen) and any(code >= 400 for code in seen)
