"""Issue 13: two extraction runs for one user at once (threads or processes) end exactly as
one run would: the same memories, confidences and change log, each batch applied once.

Each run's extractor waits at a barrier after reading its batch, so both runs always hold
the same batch when they try to apply it: the race happens every time, not by luck. Runs on
every backend of ``conftest.BACKENDS``; a store is named by its URL.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tailored import Engine
from tailored.memory.base import Extractor
from tailored.memory.rules import RulesExtractor
from tailored.testing import HashEmbedder
from tailored.types import Event, Memory, MemoryIn

STATEMENTS = [
    "I love green tea",
    "I have a dog named Rex",
    "I love green tea so much",
    "I work as a nurse",
    "I hate spicy food",
    "I love green tea in the morning",
    "I no longer work as a nurse, I am a teacher now",
    "I love green tea",
]


class Racing(Extractor):
    """The rules extractor, in small batches, meeting the other run after each read."""

    name = "rules"
    batch_size = 3

    def __init__(self, barrier: Any) -> None:
        self.inner = RulesExtractor()
        self.barrier = barrier

    def extract(self, events: Sequence[Event], profile: Sequence[Memory]) -> list[MemoryIn]:
        try:
            self.barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass  # the other run finished first: nothing left to race for
        return self.inner.extract(events, profile)


def _fill(url: str) -> None:
    with Engine(url, embedder=HashEmbedder(), extractor=None) as eng:
        eng.add(
            [
                {"user_id": "ana", "role": "user", "text": t, "time": f"2026-01-{i + 1:02d}T10:00:00+00:00"}
                for i, t in enumerate(STATEMENTS)
            ]
        )


def _outcome(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with Engine(url, embedder=HashEmbedder(), extractor=None) as eng:
        memories = [
            (m.kind, m.key, m.value, m.polarity, round(m.confidence, 9), m.status, tuple(m.evidence))
            for m in eng.history("ana")
        ]
        log = [(c.action, c.detail) for c in eng.export("ana").changes]
    return memories, log


def _one_run(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    _fill(url)
    with Engine(url, embedder=HashEmbedder(), extractor=None) as eng:
        eng.extract("ana", RulesExtractor())
    return _outcome(url)


def _run_in_process(url: str, barrier: Any) -> None:
    with Engine(url, embedder=HashEmbedder(), extractor=None) as eng:
        eng.extract("ana", Racing(barrier))


def test_two_threads_extracting_one_user_apply_each_batch_once(fresh_url: Callable[[str], str]) -> None:
    expected = _one_run(fresh_url("once"))
    url = fresh_url("race")
    _fill(url)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Engine(url, embedder=HashEmbedder(), extractor=None) as eng:
                eng.extract("ana", Racing(barrier))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert expected[0] and any(action == "merged" for action, _ in expected[1])  # a case worth racing on
    assert _outcome(url) == expected


def test_two_processes_extracting_one_user_apply_each_batch_once(fresh_url: Callable[[str], str]) -> None:
    expected = _one_run(fresh_url("once"))
    url = fresh_url("race")
    _fill(url)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_run_in_process, args=(url, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert _outcome(url) == expected
