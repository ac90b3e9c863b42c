"""The real default chat model (Qwen2.5-Coder-1.5B-Instruct GGUF) through llama.cpp.

``make test`` pulls the model first; without it these tests skip with the command to run.
The model is loaded once for the module; generations are kept short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.chat import ChatStream
from tailored.embed import Embedder
from tailored.errors import ModelError
from tailored.llm import models as registry
from tailored.types import ChatResult


def default_model_file() -> Path:
    """The pulled default model in the shared per-user cache (where 'make test' pulls it),
    located at import, before each test's clean environment points the cache elsewhere."""
    if os.environ.get("TAILORED_MODEL_FILE"):
        return Path(os.environ["TAILORED_MODEL_FILE"])
    return registry.model_path(registry.DEFAULT_MODEL)


MODEL_FILE = default_model_file()
needs_model = pytest.mark.skipif(
    not MODEL_FILE.is_file(), reason=f"no model at {MODEL_FILE}: run 'make test' or 'tailored models pull qwen2.5-1.5b'"
)
pytestmark = [needs_model, pytest.mark.slow]

DIET_SCHEMA = {
    "type": "object",
    "properties": {
        "diet": {"type": "string", "enum": ["vegetarian", "vegan", "omnivore"]},
        "city": {"type": "string"},
    },
    "required": ["diet", "city"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def qwen() -> Iterator[object]:
    from tailored.llm.llamacpp import LlamaCppChatModel

    model = LlamaCppChatModel(MODEL_FILE, n_ctx=2048)
    yield model
    model.close()


def test_the_pulled_file_is_the_verified_release() -> None:
    spec = registry.REGISTRY[registry.DEFAULT_MODEL]
    assert MODEL_FILE.stat().st_size == spec.size
    assert registry.is_verified(MODEL_FILE, spec.sha256, spec.size)


def test_generate_follows_the_system_message(qwen) -> None:  # type: ignore[no-untyped-def]
    out = qwen.generate(
        [{"role": "user", "content": "What is the capital of France?"}],
        system="Answer with one word only.",
        max_tokens=8,
    )
    assert "paris" in out.text.lower()
    assert out.prompt_tokens > 10 and 1 <= out.completion_tokens <= 8


def test_stop_and_max_tokens(qwen) -> None:  # type: ignore[no-untyped-def]
    msgs = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    stopped = qwen.generate(msgs, max_tokens=40, stop=["5"])
    assert "5" not in stopped.text and "4" in stopped.text
    short = qwen.generate(msgs, max_tokens=3)
    assert short.completion_tokens == 3 and short.finish_reason == "length"


def test_stream_yields_the_same_answer_in_chunks(qwen) -> None:  # type: ignore[no-untyped-def]
    msgs = [{"role": "user", "content": "Name three colours, comma separated."}]
    chunks = list(qwen.stream(msgs, max_tokens=12))
    assert len(chunks) > 1
    assert "".join(chunks) == qwen.generate(msgs, max_tokens=12).text


def test_json_schema_output(qwen) -> None:  # type: ignore[no-untyped-def]
    out = qwen.generate_json(
        [{"role": "user", "content": "Ana: I stopped eating meat and fish years ago. I live in Porto."}],
        DIET_SCHEMA,
        system="Extract the user's diet and city.",
        max_tokens=40,
    )
    assert out == {"diet": "vegetarian", "city": "Porto"}


def test_token_counts_use_the_models_tokenizer(qwen) -> None:  # type: ignore[no-untyped-def]
    assert qwen.count_tokens("hello world") == 2
    msgs = [{"role": "user", "content": "hello world"}]
    n = qwen.count_message_tokens(msgs)
    assert n == qwen.generate(msgs, max_tokens=1).prompt_tokens


def test_next_token_logprobs_rank_the_right_letter(qwen) -> None:  # type: ignore[no-untyped-def]
    probs = qwen.next_token_logprobs(
        [{"role": "user", "content": "Which one is a fruit? A) hammer B) apple C) car. Answer with the letter only."}],
        top_k=3,
    )
    assert len(probs) == 3 and all(v <= 0 for v in probs.values())
    assert max(probs, key=probs.__getitem__).strip() == "B"
    # generation after a log-prob probe still works
    assert qwen.generate([{"role": "user", "content": "Say OK."}], max_tokens=3).text


def test_scoring_reuses_a_shared_prefix_without_changing_the_numbers(qwen) -> None:  # type: ignore[no-untyped-def]
    facts = {"role": "system", "content": "Known facts about the user:\n- I avoid gluten.\n" + "Lives in Porto. " * 40}

    def ask(option: str) -> list[dict[str, str]]:
        return [facts, {"role": "user", "content": f"Dinner idea: {option}. Is this a good fit for me? Yes or No."}]

    qwen.generate([{"role": "user", "content": "Say OK."}], max_tokens=2)  # nothing cached to reuse
    cold = qwen.next_token_logprobs(ask("a gluten-free risotto"), top_k=5)
    other = qwen.next_token_logprobs(ask("a wheat pizza"), top_k=5)
    warm = qwen.next_token_logprobs(ask("a gluten-free risotto"), top_k=5)  # decodes only the differing tail
    assert other != cold
    assert warm.keys() == cold.keys()
    assert all(abs(warm[k] - cold[k]) < 1e-4 for k in cold)
    # a generation in between overwrites the cache; the score is still the same
    qwen.generate([{"role": "user", "content": "Say OK."}], max_tokens=2)
    again = qwen.next_token_logprobs(ask("a gluten-free risotto"), top_k=5)
    assert all(abs(again[k] - cold[k]) < 1e-4 for k in cold)


def test_a_prompt_over_the_window_is_a_model_error(qwen) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError):
        qwen.generate([{"role": "user", "content": "word " * 3000}], max_tokens=4)


def test_personalized_chat_end_to_end(tmp_path: Path, minilm: Embedder, qwen) -> None:  # type: ignore[no-untyped-def]
    with Engine(tmp_path / "chat.db", embedder=minilm) as eng:
        eng.add(
            [
                {"user_id": "ana", "role": "user", "text": "I am vegetarian"},
                {"user_id": "ana", "role": "user", "text": "My sister lives in Berlin"},
                {"user_id": "bob", "role": "user", "text": "I love steak"},
            ]
        )
        question = [{"role": "user", "content": "Suggest one dinner for me. Answer in one short sentence."}]
        out = eng.chat("ana", question, model=qwen, max_tokens=30)
        assert isinstance(out, ChatResult)
        assert out.context is not None and "vegetarian" in out.context.text.lower()
        assert "steak" not in out.context.text
        assert not any(meat in out.text.lower() for meat in ("steak", "chicken", "beef", "pork", "fish"))
        assert [e.role for e in eng.events("ana")][-2:] == ["user", "assistant"]

        streamed = eng.chat("ana", question, model=qwen, max_tokens=20, stream=True)
        assert isinstance(streamed, ChatStream)
        text = "".join(streamed)
        assert streamed.result is not None and streamed.result.text == text
        assert len(eng.events("ana")) == 6


def test_models_cli_sees_the_pulled_model() -> None:
    env = {**os.environ, "TAILORED_MODELS": str(MODEL_FILE.parent)}
    run = [sys.executable, "-m", "tailored", "models"]
    path = subprocess.run([*run, "path", "qwen2.5-1.5b"], capture_output=True, text=True, env=env, timeout=60)
    assert path.returncode == 0 and Path(path.stdout.strip()).resolve() == MODEL_FILE.resolve()
    listed = subprocess.run([*run, "list", "--json"], capture_output=True, text=True, env=env, timeout=60)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["qwen2.5-1.5b"]["present"] is True
    pulled = subprocess.run([*run, "pull", "qwen2.5-1.5b"], capture_output=True, text=True, env=env, timeout=60)
    assert pulled.returncode == 0 and "present and verified" in pulled.stderr


def test_an_answer_cut_by_max_tokens_says_length(tmp_path: Path, qwen) -> None:  # type: ignore[no-untyped-def]
    from tailored.testing import HashEmbedder

    with Engine(tmp_path / "cut.db", embedder=HashEmbedder()) as eng:
        ask = [{"role": "user", "content": "Count from one to twenty in words."}]
        cut = eng.chat("ana", ask, model=qwen, max_tokens=3, memory=False)
        whole = eng.chat("ana", [{"role": "user", "content": "Say OK."}], model=qwen, max_tokens=20, memory=False)
    assert (cut.finish_reason, whole.finish_reason) == ("length", "stop")
