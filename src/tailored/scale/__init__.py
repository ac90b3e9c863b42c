"""Batch jobs over every user of a store, partitioned by user, on Ray or in one process.

A job (``embed``, ``extract``, ``summarize``, ``import``) is split into partitions, each a
list of users (or of export files). A partition opens its own ``Engine`` on the store's
URL and writes through the store, so the same partitions give the same result whether a
plain loop runs them one after another (``run_loop``) or Ray runs them as tasks on a
local or remote cluster (``run_ray``). Ray is imported only by ``run_ray``.
"""

from __future__ import annotations

from .jobs import Item, ItemResult, Job, JobKind, PartitionResult, fill_vectors, run_partition
from .runner import BatchReport, list_users, partition, run_loop, run_ray, shippable_url

__all__ = [
    "BatchReport",
    "Item",
    "ItemResult",
    "Job",
    "JobKind",
    "PartitionResult",
    "fill_vectors",
    "list_users",
    "partition",
    "run_loop",
    "run_partition",
    "run_ray",
    "shippable_url",
]
