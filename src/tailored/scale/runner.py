"""Split a job into partitions and run them: in a plain loop here, or as Ray tasks.

Retries. A user whose work raised is reported failed by its partition; the driver
resubmits those users (and only those) as a new task, up to ``retries`` times. A task
whose worker process died is rerun by Ray itself (``max_retries=retries``; a dead
worker reports nothing, so the whole partition runs again, which is safe for ``embed``,
``extract`` and ``summarize``: each does only what is still missing). An ``import``
partition is not rerun after a dead worker, since importing one file twice stores its
events that have no source id twice: its files are reported failed instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput, TailoredError
from ..store import local_file, scheme_of
from .jobs import Item, ItemResult, Job, PartitionResult, run_partition

Progress = Callable[[PartitionResult], None]


@dataclass
class BatchReport:
    job: str
    mode: str  # "loop" or "ray"
    workers: int
    partitions: int
    items: int
    ok: int = 0
    failed: int = 0
    count: int = 0
    seconds: float = 0.0
    resubmitted: int = 0  # tasks the driver sent again for users that failed
    failures: list[dict[str, str]] = field(default_factory=list)
    ray_address: str | None = None
    processes: int = 0  # distinct worker processes that ran partitions

    def _saw(self, result: PartitionResult) -> None:
        self._workers.add(result.worker)
        self.processes = len(self._workers)

    def __post_init__(self) -> None:
        self._workers: set[str] = set()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shippable_url(url: str) -> str:
    """The store URL with a SQLite path made absolute, so that a worker process started in
    another directory opens the same file; other URLs are returned as they are.

    Raises
    ------
    InvalidInput
        An in-memory SQLite store, which no other process can open.
    """
    if scheme_of(url) != "sqlite":
        return url
    path = local_file(url)
    if path is None:
        raise InvalidInput(f"a batch job needs a store every worker can open, not {url!r}")
    _, sep, query = url.partition("?")
    return f"sqlite:///{path.resolve()}{sep}{query}"


def list_users(url: str, tenant: str) -> list[Item]:
    """Every user of the tenant (anyone owning events, memories or summaries), by id."""
    items: list[Item] = []
    with Engine(url, tenant=tenant) as eng:
        while True:
            page = eng.users(limit=1000, after=items[-1].user if items else "")
            items.extend(Item(tenant, u.user_id) for u in page)
            if len(page) < 1000:
                return items


def partition(items: Sequence[Item], size: int) -> list[list[Item]]:
    """Consecutive runs of ``size`` items."""
    if size < 1:
        raise InvalidInput("a partition needs at least one user")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _tally(report: BatchReport, result: PartitionResult, final: list[ItemResult]) -> None:
    report._saw(result)
    for r in final:
        if r.ok:
            report.ok += 1
            report.count += r.count
        else:
            report.failed += 1
            report.failures.append({"item": r.item.label, "error": r.error or ""})


def run_loop(
    job: Job, partitions: list[list[Item]], *, retries: int = 1, progress: Progress | None = None
) -> BatchReport:
    """The reference: the same partitions, one after another, in this process."""
    start = time.perf_counter()
    report = BatchReport(job.kind, "loop", 1, len(partitions), sum(map(len, partitions)))
    for index, items in enumerate(partitions):
        result = _attempt(job, index, items)
        for _ in range(retries):
            if not result.failed:
                break
            report.resubmitted += 1
            result = _merge(result, _attempt(job, index, result.failed))
        _tally(report, result, result.results)
        if progress is not None:
            progress(result)
    report.seconds = time.perf_counter() - start
    return report


def _attempt(job: Job, index: int, items: list[Item]) -> PartitionResult:
    """``run_partition``, with an error that stopped the whole partition (the store or a
    model did not open) recorded for each of its items, as a failed Ray task is."""
    try:
        return run_partition(job, index, items)
    except Exception as exc:  # noqa: BLE001 - reported per user, like a failed task
        return PartitionResult(index, [ItemResult(i, False, error=f"{type(exc).__name__}: {exc}") for i in items])


def _merge(first: PartitionResult, again: PartitionResult) -> PartitionResult:
    """``first`` with the results of its failed items replaced by their new ones."""
    redone = {r.item: r for r in again.results}
    merged = [redone.get(r.item, r) for r in first.results]
    return PartitionResult(first.index, merged, first.seconds + again.seconds, again.worker)


def _task(job: Job, index: int, items: list[Item]) -> PartitionResult:
    return run_partition(job, index, items)


def run_ray(
    job: Job,
    partitions: list[list[Item]],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    retries: int = 1,
    progress: Progress | None = None,
) -> BatchReport:
    """Each partition a Ray task (one CPU each) that opens its own engine on ``job.url``.

    Without ``address`` a local Ray is started with ``num_cpus`` workers and shut down at
    the end; ``"auto"`` or ``ray://host:10001`` joins a running cluster (whose workers must
    have tailored installed and reach the store). A Ray already initialised in this process
    is used as it is.
    """
    try:
        import ray
    except ImportError as exc:
        raise TailoredError("Ray is not installed: pip install 'tailored[scale]', or run with --no-ray") from exc

    started = False
    if not ray.is_initialized():
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
        started = True
    try:
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        workers = int(resources.get("CPU", 0))
        report = BatchReport(job.kind, "ray", workers, len(partitions), sum(map(len, partitions)))
        report.ray_address = address
        start = time.perf_counter()
        # A dead worker reruns the partition, except for import, where a rerun duplicates.
        remote = ray.remote(num_cpus=1, max_retries=0 if job.kind == "import" else retries)(_task)
        pending: dict[Any, tuple[int, list[Item], int, PartitionResult | None]] = {}
        for index, items in enumerate(partitions):
            pending[remote.remote(job, index, items)] = (index, items, 0, None)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            index, items, attempt, earlier = pending.pop(ref)
            rerun = True
            try:
                result: PartitionResult = ray.get(ref)
            except ray.exceptions.RayError as exc:  # the engine did not open, or the worker died
                why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                result = PartitionResult(index, [ItemResult(i, False, error=why) for i in items])
                # A raised error comes before any import; a dead worker may have imported some.
                rerun = job.kind != "import" or isinstance(exc, ray.exceptions.RayTaskError)
            if earlier is not None:
                result = _merge(earlier, result)
            if result.failed and attempt < retries and rerun:
                report.resubmitted += 1
                pending[remote.remote(job, index, result.failed)] = (index, result.failed, attempt + 1, result)
                continue
            _tally(report, result, result.results)
            if progress is not None:
                progress(result)
        report.seconds = time.perf_counter() - start
        return report
    finally:
        if started:
            ray.shutdown()
