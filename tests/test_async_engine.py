"""``AsyncEngine`` and ``Engine`` agree: every public verb has an async face with the same
parameters, and the same scenario run on both faces (each on its own fresh store) gives the
same answers, errors included."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tailored import AsyncChatStream, AsyncEngine, Engine, NotFound
from tailored.errors import InvalidInput
from tailored.testing import HashEmbedder, ScriptedChatModel

SYNC_ONLY = {"for_tenant"}  # no I/O: the same immediate call on both faces
VOLATILE = {
    "created_at",
    "updated_at",
    "ingested_at",
    "at",
    "as_of",
    "time",
    "valid_from",
    "valid_to",
    "exported_at",
    "last",
    "db_path",
    "db_bytes",
}
# ^ written as "now" by the verb (user edits, chat turns), or where the store is: not answers


def public_methods() -> list[str]:
    return sorted(
        name
        for name, value in vars(Engine).items()
        if not name.startswith("_") and callable(value) and not isinstance(value, property)
    )


def test_every_engine_verb_has_an_async_face_with_the_same_parameters() -> None:
    missing = [name for name in public_methods() if not hasattr(AsyncEngine, name)]
    assert missing == []
    for name in public_methods():
        face = getattr(AsyncEngine, name)
        if name in SYNC_ONLY:
            assert not inspect.iscoroutinefunction(face), name
        else:
            assert inspect.iscoroutinefunction(face), name
        sync_params = list(inspect.signature(getattr(Engine, name)).parameters)[1:]
        async_params = list(inspect.signature(face).parameters)[1:]
        assert async_params == sync_params, name


def plain(value: Any) -> Any:
    """A result as JSON-like data, without what differs between two stores made at two
    moments (times of writing, the file's path and size)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


T = datetime(2026, 3, 1, tzinfo=UTC)
EVENTS = [
    {"user_id": "ana", "role": "user", "text": "I love green tea", "time": T.isoformat(), "source_id": "a1"},
    {"user_id": "ana", "role": "user", "text": "I am allergic to peanuts", "time": T.isoformat(), "source_id": "a2"},
    {"user_id": "ana", "role": "user", "text": "My dog is called Rex", "time": T.isoformat(), "source_id": "a3"},
    {"user_id": "bo", "role": "user", "text": "I prefer coffee", "time": T.isoformat(), "source_id": "b1"},
]

# One scenario, as (label, verb, args, kwargs): every verb that needs no trained model.
SCENARIO: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("add", "add", (EVENTS,), {}),
    ("add again", "add", (EVENTS[:1],), {}),  # a duplicate by source id
    ("search", "search", ("ana", "what does she drink"), {"k": 3}),
    ("search bm25", "search", ("ana", "peanuts"), {"mode": "bm25"}),
    ("context", "context", ("ana", "what should I cook"), {"budget": 300}),
    ("events", "events", ("ana",), {"limit": 2}),
    ("extract", "extract", ("ana",), {}),
    ("profile", "profile", ("ana",), {}),
    ("history", "history", ("ana",), {}),
    ("remember", "remember", ("ana", {"kind": "fact", "key": "city", "value": "Lisbon"}), {}),
    (
        "correct",
        "correct",
        (
            "ana",
            "$last",
        ),
        {"value": "Porto"},
    ),
    ("pin", "pin", ("ana", "$last"), {}),
    ("why", "why", ("ana", "$last"), {}),
    ("forget", "forget", ("ana", "$last"), {}),
    ("summarize", "summarize", ("ana",), {"min_new_events": 0, "force": True}),
    ("export", "export", ("ana",), {}),
    ("user", "user", ("ana",), {}),
    ("users", "users", (), {}),
    ("stats", "stats", (), {}),
    ("chat", "chat", ("ana", [{"role": "user", "content": "Suggest a drink"}]), {"model": "$model"}),
    ("erase", "erase", ("bo",), {}),
    ("users after erase", "users", (), {}),
    ("unknown user", "user", ("nobody",), {}),
    ("bad memory", "remember", ("ana", {"kind": "mood", "key": "x"}), {}),
    ("import", "import_user", ("$export",), {}),
]


def run_scenario(call: Callable[..., Any]) -> list[tuple[str, Any]]:
    """The scenario through ``call(verb, *args, **kwargs)``; errors are answers too."""
    out: list[tuple[str, Any]] = []
    last = 0
    exported: Any = None
    for label, verb, args, kwargs in SCENARIO:
        args = tuple(last if a == "$last" else exported if a == "$export" else a for a in args)
        kwargs = {k: ScriptedChatModel(default="Try green tea.") if v == "$model" else v for k, v in kwargs.items()}
        try:
            result = call(verb, *args, **kwargs)
        except (NotFound, InvalidInput) as exc:
            result = (type(exc).__name__, str(exc))
        if verb in ("remember", "correct") and not isinstance(result, tuple):
            last = result.id
        if verb == "export":
            exported = result
        out.append((label, plain(result)))
    return out


def test_both_faces_answer_the_same_scenario_alike(tmp_path: Path) -> None:
    with Engine(tmp_path / "sync.db", tenant="acme", embedder=HashEmbedder()) as eng:
        sync = run_scenario(lambda verb, *a, **k: getattr(eng, verb)(*a, **k))

    async def main() -> list[tuple[str, Any]]:
        async with AsyncEngine(tmp_path / "async.db", tenant="acme", embedder=HashEmbedder()) as aeng:
            loop = asyncio.get_running_loop()
            out = []

            # The scenario's calls are awaited one by one, from a worker thread that runs
            # each on the loop: the same order as the sync face.
            def call(verb: str, *a: Any, **k: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(getattr(aeng, verb)(*a, **k), loop).result()

            out = await asyncio.to_thread(run_scenario, call)
            return out

    answers = asyncio.run(main())
    assert [label for label, _ in answers] == [label for label, _ in sync]
    for (label, a), (_, s) in zip(answers, sync):
        assert a == s, label
    assert dict(sync)["unknown user"][0] == "NotFound" and dict(sync)["bad memory"][0] == "InvalidInput"


def test_a_streamed_chat_arrives_in_the_same_chunks_and_is_stored(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], Any]:
        async with AsyncEngine(tmp_path / "stream.db", embedder=HashEmbedder()) as aeng:
            stream = await aeng.chat(
                "ana", [{"role": "user", "content": "hi"}], model=ScriptedChatModel(default="Hello Ana."), stream=True
            )
            assert isinstance(stream, AsyncChatStream)
            chunks = [c async for c in stream]
            assert stream.result is not None and stream.result.text == "".join(chunks)
            return chunks, [e.text for e in await aeng.events("ana")]

    with Engine(tmp_path / "stream-sync.db", embedder=HashEmbedder()) as eng:
        sync_stream = eng.chat(
            "ana", [{"role": "user", "content": "hi"}], model=ScriptedChatModel(default="Hello Ana."), stream=True
        )
        sync_chunks = list(sync_stream)
        sync_events = [e.text for e in eng.events("ana")]
    chunks, events = asyncio.run(main())
    assert chunks == sync_chunks and events == sync_events == ["hi", "Hello Ana."]


def test_views_share_the_engine_and_errors_are_raised_as_they_are(tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncEngine(tmp_path / "views.db", embedder=HashEmbedder()) as aeng:
            acme = aeng.for_tenant("acme")
            assert acme.engine.store is aeng.engine.store and acme.tenant == "acme"
            await acme.add({"user_id": "ana", "text": "acme only"})
            assert [u.user_id for u in await acme.users()] == ["ana"] and await aeng.users() == []
            with pytest.raises(NotFound):
                await aeng.user("ana")
            results = await asyncio.gather(*(acme.search("ana", "acme") for _ in range(8)))
            assert all(r[0].event.text == "acme only" for r in results)

    asyncio.run(main())
    with pytest.raises(TypeError):
        AsyncEngine(tmp_path / "x.db", engine=Engine(tmp_path / "y.db", embedder=HashEmbedder()))


def test_the_docstring_example_runs(tmp_path: Path) -> None:
    import doctest

    import tailored.aengine

    runner = doctest.DocTestRunner()
    tests = [t for t in doctest.DocTestFinder().find(tailored.aengine, extraglobs={"tmp": tmp_path}) if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
