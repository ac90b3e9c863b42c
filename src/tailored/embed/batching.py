"""Coalescing concurrent embedding calls into one model call.

A server embeds one short query per search. One model call for eight queries costs about
twice one call for a single query on a CPU, so a worker thread takes every request that is
waiting and embeds them together: under load, throughput grows with concurrency instead of
the callers fighting over the cores.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from .base import Embedder


class BatchingEmbedder(Embedder):
    """Wraps an embedder; concurrent ``embed`` calls share model calls. Thread-safe."""

    def __init__(self, inner: Embedder, max_batch: int = 64) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.batch_size = inner.batch_size
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[list[str], Future[np.ndarray]]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_batch(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) >= self.max_batch:  # bulk work gains nothing from waiting
            return self.inner.embed(texts)
        future: Future[np.ndarray] = Future()
        self._queue.put((list(texts), future))
        self._ensure_worker()
        return future.result()

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._start:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._run, name="tailored-embed", daemon=True)
                    self._worker.start()

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            size = len(jobs[0][0])
            while size < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job[0])
            texts = [t for job_texts, _ in jobs for t in job_texts]
            try:
                vectors = self.inner.embed(texts)
            except BaseException as exc:  # hand the failure to every waiting caller
                for _, future in jobs:
                    future.set_exception(exc)
                continue
            start = 0
            for job_texts, future in jobs:
                future.set_result(vectors[start : start + len(job_texts)])
                start += len(job_texts)
