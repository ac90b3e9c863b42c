"""What one partition does: open an ``Engine`` on the store's URL and run the job for each
of its users (or export files), one at a time, through the engine's public verbs.

A user's failure is recorded in its ``ItemResult`` and the partition goes on with the next
one, so the driver knows exactly which users to run again. Nothing here imports Ray: a
partition is a plain function that a Ray task or a plain loop calls alike.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..embed import Embedder, load_embedder
from ..engine import Engine
from ..errors import InvalidInput
from ..llm import load_chat_model
from ..memory import load_extractor
from ..memory.base import Extractor
from ..retrieve.index import embed_text
from ..store import Scope

JobKind = Literal["embed", "extract", "summarize", "import", "noop"]
EMBED_CHUNK = 4096  # texts embedded and saved at a time: bounds a worker's memory for a huge user


@dataclass(frozen=True)
class Job:
    """A batch job: what to run and on which store (a URL every worker can reach)."""

    kind: JobKind
    url: str
    embedder: str = "minilm"
    extractor: str = "auto"
    task: str = "general"
    model: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Item:
    """One unit of work: a user of a tenant, or (for ``import``) an export file as ``path``."""

    tenant: str
    user: str = ""
    path: str = ""

    @property
    def label(self) -> str:
        return self.path or f"{self.tenant}/{self.user}"


@dataclass
class ItemResult:
    item: Item
    ok: bool
    count: int = 0  # vectors saved, memories touched, summaries written, events imported
    error: str | None = None
    seconds: float = 0.0


@dataclass
class PartitionResult:
    index: int
    results: list[ItemResult] = field(default_factory=list)
    seconds: float = 0.0
    worker: str = ""  # host:pid of the process that ran it

    @property
    def failed(self) -> list[Item]:
        return [r.item for r in self.results if not r.ok]


def fill_vectors(eng: Engine, user_id: str) -> int:
    """Embed and save the vectors the user's events lack for the engine's embedder (what
    ``add(embed=False)`` deferred to the first search); returns how many were saved.

    It computes what the retriever's first search would (the same text per event, the
    same model) through the public ``Store``: ``user_index`` names the rows without a
    vector, ``save_vectors`` stores them.
    """
    scope = Scope(eng.tenant, user_id)
    embedder = eng.embedder
    data = eng.store.user_index(scope, embedder.name)
    missing = np.flatnonzero(~data.has_vector)
    for start in range(0, len(missing), EMBED_CHUNK):
        rows = missing[start : start + EMBED_CHUNK]
        vectors = embedder.embed([embed_text(data.roles[i], data.texts[i]) for i in rows])
        eng.store.save_vectors(scope, [int(data.ids[i]) for i in rows], vectors, embedder.name)
    return len(missing)


def _run_item(eng: Engine, job: Job, item: Item) -> int:
    view = eng.for_tenant(item.tenant) if item.tenant != eng.tenant else eng
    if job.kind == "embed":
        return fill_vectors(view, item.user)
    if job.kind == "extract":
        return len(view.extract(item.user, _loaded("extractor", job.extractor, lambda: load_extractor(job.extractor))))
    if job.kind == "summarize":
        model = None if job.model is None else _loaded("chat", job.model, lambda: load_chat_model(job.model))
        before = view.store.summaries(Scope(view.tenant, item.user), job.task)
        after = view.summarize(item.user, task=job.task, model=model, force=job.force)
        return int(not before or before[-1].id != after.id)
    if job.kind == "import":
        return len(view.import_user(item.path).added)
    if job.kind == "noop":
        return 0
    raise InvalidInput(f"unknown batch job {job.kind!r}")


# Models this process loaded, by (role, name): a Ray worker runs many partitions, and
# loading an embedder, an extractor or a chat model once per partition would cost seconds each.
_LOADED: dict[tuple[str, str | None], Any] = {}


def _loaded(role: str, name: str | None, load: Callable[[], Any]) -> Any:
    if (role, name) not in _LOADED:
        _LOADED[role, name] = load()
    return _LOADED[role, name]


def _engine(job: Job, tenant: str) -> Engine:
    """An engine on the job's store, with the models this process already loaded."""
    embedder: str | Embedder = job.embedder
    if job.kind == "embed":
        embedder = _loaded("embedder", job.embedder, lambda: load_embedder(job.embedder))
    extractor: str | Extractor = job.extractor
    if job.kind in ("extract", "summarize"):
        extractor = _loaded("extractor", job.extractor, lambda: load_extractor(job.extractor))
    return Engine(job.url, tenant=tenant, embedder=embedder, extractor=extractor)


def run_partition(job: Job, index: int, items: list[Item]) -> PartitionResult:
    """Run ``job`` for each item with one engine of this process; never raises for a
    user's failure (it is recorded), only when the store cannot be opened at all."""
    start = time.perf_counter()
    out = PartitionResult(index, worker=f"{socket.gethostname()}:{os.getpid()}")
    tenant = items[0].tenant if items else "default"
    with _engine(job, tenant) as eng:
        for item in items:
            t = time.perf_counter()
            try:
                count = _run_item(eng, job, item)
            except Exception as exc:  # noqa: BLE001 - reported per user; the driver retries it
                out.results.append(ItemResult(item, False, error=f"{type(exc).__name__}: {exc}"))
            else:
                out.results.append(ItemResult(item, True, count, seconds=time.perf_counter() - t))
    out.seconds = time.perf_counter() - start
    return out
