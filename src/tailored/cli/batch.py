"""``tailored batch embed|extract|summarize|import``: one job over every user, partitioned
by user, run as Ray tasks (a local Ray by default, ``--ray ADDRESS`` for a cluster) or with
``--no-ray`` in a plain loop in this process. Ray is imported only when a job runs on it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..engine import default_store_url
from ..errors import InvalidInput, NotFound
from .common import DbOpt, EmbedderOpt, JsonOpt, TenantOpt, err_console, print_json, require_store

app = typer.Typer(
    help="Batch jobs over every user of a tenant, partitioned by user, on Ray or (--no-ray) in this process.",
    no_args_is_help=True,
)

RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        help="A Ray cluster to run on ('auto', or ray://HOST:10001); without it a local Ray is started.",
    ),
]
NoRayOpt = Annotated[bool, typer.Option("--no-ray", help="Run the partitions one after another in this process.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="CPUs of the local Ray (num_cpus) [default: all of this machine's]."),
]
SizeOpt = Annotated[int, typer.Option("--partition-size", help="Users (or files) per partition: one task each.")]
RetriesOpt = Annotated[int, typer.Option("--retries", help="How often a failed user's work is tried again.")]


def _run(
    job_kind: str,
    items_of: str,
    *,
    db: str | None,
    tenant: str,
    embedder: str,
    ray_address: str | None,
    no_ray: bool,
    workers: int | None,
    partition_size: int,
    retries: int,
    as_json: bool,
    paths: list[Path] | None = None,
    extractor: str = "auto",
    task: str = "general",
    model: str | None = None,
    force: bool = False,
) -> None:
    from ..scale import Item, Job, list_users, partition, run_loop, run_ray, shippable_url

    if no_ray and ray_address is not None:
        raise InvalidInput("--ray and --no-ray exclude each other")
    if retries < 0 or (workers is not None and workers < 1):
        raise InvalidInput("--retries must be >= 0 and --workers >= 1")
    url = shippable_url(db or default_store_url())
    if paths is None:
        require_store(url)
        items = list_users(url, tenant)
    else:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise NotFound(f"no such file: {', '.join(missing)}")
        items = [Item(tenant, path=str(p.resolve())) for p in paths]
    job = Job(job_kind, url, embedder=embedder, extractor=extractor, task=task, model=model, force=force)  # type: ignore[arg-type]
    parts = partition(items, partition_size)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=as_json) as bar:
        p_bar = bar.add_task("partitions", total=len(parts))
        u_bar = bar.add_task(items_of, total=len(items))

        def done(result: object) -> None:
            bar.advance(p_bar)
            bar.advance(u_bar, len(getattr(result, "results", [])))

        if no_ray:
            report = run_loop(job, parts, retries=retries, progress=done)
        else:
            report = run_ray(
                job,
                parts,
                address=ray_address,
                num_cpus=workers or os.cpu_count() or 1,
                retries=retries,
                progress=done,
            )
    if as_json:
        print_json(report.to_dict())
    else:
        where = (
            f"Ray ({report.workers} CPU{'s' if report.workers != 1 else ''})" if report.mode == "ray" else "one process"
        )
        typer.echo(
            f"{job_kind}: {report.ok} of {report.items} {items_of} done in {report.seconds:.1f} s on {where}, "
            f"{report.partitions} partitions, {report.resubmitted} resubmitted; {report.count} "
            + {
                "embed": "vectors saved",
                "extract": "memories created or changed",
                "summarize": "summaries written",
            }.get(job_kind, "events imported")
        )
        for f in report.failures:
            err_console.print(f"failed: {f['item']}: {f['error']}", markup=False)
    if report.failed:
        raise typer.Exit(1)


@app.command()
def embed(
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
    ray_address: RayOpt = None,
    no_ray: NoRayOpt = False,
    workers: WorkersOpt = None,
    partition_size: SizeOpt = 25,
    retries: RetriesOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Compute and save the vectors every user's events lack (what 'add --no-embed' deferred)."""
    _run(
        "embed",
        "users",
        db=db,
        tenant=tenant,
        embedder=embedder,
        ray_address=ray_address,
        no_ray=no_ray,
        workers=workers,
        partition_size=partition_size,
        retries=retries,
        as_json=as_json,
    )


@app.command()
def extract(
    extractor: Annotated[
        str, typer.Option(help="auto (the default extractor: learned fast path and rules, no LLM), rules or llm.")
    ] = "auto",
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    ray_address: RayOpt = None,
    no_ray: NoRayOpt = False,
    workers: WorkersOpt = None,
    partition_size: SizeOpt = 25,
    retries: RetriesOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Derive memories from every user's events the extractor has not read yet."""
    _run(
        "extract",
        "users",
        db=db,
        tenant=tenant,
        embedder="minilm",
        ray_address=ray_address,
        no_ray=no_ray,
        workers=workers,
        partition_size=partition_size,
        retries=retries,
        as_json=as_json,
        extractor=extractor,
    )


@app.command()
def summarize(
    task: Annotated[
        str, typer.Option(help="What the summaries are for (general, writing style, diet...).")
    ] = "general",
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Chat model to write them (default: from the profile, no LLM).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even without enough new events.")] = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    ray_address: RayOpt = None,
    no_ray: NoRayOpt = False,
    workers: WorkersOpt = None,
    partition_size: SizeOpt = 25,
    retries: RetriesOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Build or refresh every user's summary for a task."""
    _run(
        "summarize",
        "users",
        db=db,
        tenant=tenant,
        embedder="minilm",
        ray_address=ray_address,
        no_ray=no_ray,
        workers=workers,
        partition_size=partition_size,
        retries=retries,
        as_json=as_json,
        task=task,
        model=model,
        force=force,
    )


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Files written by 'tailored export', one user each.")],
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    ray_address: RayOpt = None,
    no_ray: NoRayOpt = False,
    workers: WorkersOpt = None,
    partition_size: SizeOpt = 25,
    retries: RetriesOpt = 1,
    as_json: JsonOpt = False,
) -> None:
    """Restore users from export files (vectors are rebuilt at first search, or by 'batch embed')."""
    _run(
        "import",
        "files",
        db=db,
        tenant=tenant,
        embedder="minilm",
        ray_address=ray_address,
        no_ray=no_ray,
        workers=workers,
        partition_size=partition_size,
        retries=retries,
        as_json=as_json,
        paths=files,
    )
