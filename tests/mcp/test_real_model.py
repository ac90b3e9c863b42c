"""The judge tool over stdio with the real local chat model (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from tailored import Engine
from tailored.llm import models as registry
from tailored.testing import HashEmbedder

from .conftest import result_data, stdio_params

MODEL_FILE = registry.model_path(registry.DEFAULT_MODEL)  # located before the clean environment
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not MODEL_FILE.is_file(),
        reason=f"no model at {MODEL_FILE}: run 'make test' or 'tailored models pull qwen2.5-1.5b'",
    ),
]


def test_the_judge_tool_prefers_what_the_user_said_they_eat(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    with Engine(db, embedder=HashEmbedder()) as eng:
        eng.add({"user_id": "ana", "role": "user", "text": "I am vegetarian and I never eat meat."})

    async def main() -> dict[str, object]:
        async with Client(stdio_params(db, "ana", "--model", str(MODEL_FILE))) as c:
            args = {
                "query": "What should I cook for dinner tonight?",
                "response_a": "A beef steak with fries.",
                "response_b": "A lentil and vegetable curry with rice.",
            }
            verdict: dict[str, object] = result_data(await c.call_tool("judge", args))
            return verdict

    verdict = anyio.run(main)
    assert verdict["winner"] == "b" and float(str(verdict["probability"])) < 0.5, verdict
