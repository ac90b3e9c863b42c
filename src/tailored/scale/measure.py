"""Measure batch jobs: Ray's cost per partition, and ``batch extract`` on Ray with 1 and 2
workers against the plain loop.

    python -m tailored.scale.measure --users 200 --events 50 --empty 200 --repeat 3

Every run gets its own copy of one SQLite store (same users, same events, vectors
deferred), so each starts from the same state; the loop's result is checked against
each Ray run's. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ..engine import Engine
from .jobs import Item, Job
from .runner import list_users, partition, run_loop, run_ray

_TOPICS = ["sushi", "hiking", "jazz", "olives", "chess", "running", "tofu", "opera", "curry", "sailing"]


def _events(n: int, user: str, count: int) -> list[dict[str, Any]]:
    lines = [
        "I love {}",
        "What a day it was, tell me about {}",
        "I can't stand {}",
        "I'm allergic to {}",
        "Could you suggest something about {}?",
        "I no longer like {}",
        "I really enjoy {} on weekends",
    ]
    return [
        {
            "user_id": user,
            "text": lines[i % len(lines)].format(_TOPICS[(n + i) % len(_TOPICS)]),
            "time": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
            "session_id": f"s{i // 10}",
        }
        for i in range(count)
    ]


def _nothing() -> None:
    return None


def build(path: Path, users: int, events: int) -> None:
    with Engine(path, embedder="hash") as eng:
        for n in range(users):
            eng.add(_events(n, f"user{n:04d}", events), embed=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--partition-size", type=int, default=25)
    ap.add_argument("--empty", type=int, default=200, help="empty partitions for the overhead")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each extract variant")
    args = ap.parse_args(argv)
    import ray

    out: dict[str, Any] = {"users": args.users, "events_per_user": args.events, "partition_size": args.partition_size}
    with tempfile.TemporaryDirectory(prefix="tailored-batch-") as tmp:
        base = Path(tmp) / "base.db"
        t = time.perf_counter()
        build(base, args.users, args.events)
        out["build_s"] = round(time.perf_counter() - t, 2)

        def copy(name: str) -> str:
            shutil.copy(base, Path(tmp) / f"{name}.db")
            return f"sqlite:///{Path(tmp) / name}.db"

        noop: list[list[Item]] = [[] for _ in range(args.empty)]
        url = copy("noop")
        loop = run_loop(Job("noop", url), noop)
        out["empty_partitions"] = {"n": args.empty, "loop_s": round(loop.seconds, 3)}
        runs: dict[str, list[dict[str, Any]]] = {"loop": [], "ray_1cpu": [], "ray_2cpu": []}
        for r in range(args.repeat):
            ref_url = copy(f"loop{r}")
            t = time.perf_counter()
            ref = run_loop(Job("extract", ref_url), partition(list_users(ref_url, "default"), args.partition_size))
            runs["loop"].append({"wall_s": round(time.perf_counter() - t, 2), "memories": ref.count})
            for cpus in (1, 2):
                t = time.perf_counter()
                ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
                init_s = time.perf_counter() - t
                if cpus == 2 and r == 0:
                    t = time.perf_counter()
                    run_ray(Job("noop", url), noop)
                    ray_s = time.perf_counter() - t
                    bare = ray.remote(num_cpus=1)(_nothing)
                    ray.get([bare.remote() for _ in range(8)])  # the workers are up
                    t = time.perf_counter()
                    ray.get([bare.remote() for _ in range(args.empty)])
                    bare_s = time.perf_counter() - t
                    out["empty_partitions"] |= {
                        "ray_bare_task_ms": round(1000 * bare_s / args.empty, 2),
                        "ray_2cpu_s": round(ray_s, 3),
                        "ray_per_partition_ms": round(1000 * ray_s / args.empty, 2),
                        "loop_per_partition_ms": round(1000 * loop.seconds / args.empty, 2),
                    }
                run_url = copy(f"ray{cpus}-{r}")
                t = time.perf_counter()
                rep = run_ray(Job("extract", run_url), partition(list_users(run_url, "default"), args.partition_size))
                runs[f"ray_{cpus}cpu"].append(
                    {
                        "init_s": round(init_s, 2),
                        "wall_s": round(time.perf_counter() - t, 2),
                        "processes": rep.processes,
                        "same_as_loop": rep.count == ref.count and rep.failed == 0,
                    }
                )
                ray.shutdown()
        out["extract"] = runs | {
            f"{k}_median_wall_s": statistics.median(x["wall_s"] for x in v) for k, v in runs.items()
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
