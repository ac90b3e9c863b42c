"""``tailored catalog add`` and ``tailored recommend`` (with ``recommend fit``): import a
catalogue and interactions, fit a recommender, rank items for a user with explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InvalidInput
from .common import (
    DbOpt,
    EmbedderOpt,
    JsonOpt,
    ModelOpt,
    TenantOpt,
    clip,
    console,
    open_engine,
    print_json,
    print_table,
)

catalog_app = typer.Typer(help="The tenant's catalogue of items to recommend.", no_args_is_help=True)
recommend_app = typer.Typer(
    help="Recommend catalogue items to a user, with explanations (`recommend fit` trains the model).",
    invoke_without_command=True,
)


def _range(value: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value.split(","))
    except ValueError:
        raise InvalidInput(f"--rating-range {value!r} must be two numbers: LOW,HIGH") from None
    if lo > hi:
        raise InvalidInput(f"--rating-range {value!r}: LOW is above HIGH")
    return lo, hi


@catalog_app.command("add")
def catalog_add(
    files: Annotated[list[Path], typer.Argument(help="Items, tags or interactions files (CSV or JSONL).")],
    rating_range: Annotated[str, typer.Option("--rating-range", help="Allowed ratings, LOW,HIGH.")] = "0.5,5",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
) -> None:
    """Import items (MovieLens movies.csv), their tags (tags.csv) and interactions
    (user,item,time[,rating]; ratings.csv); one bad line stores nothing."""
    with open_engine(db, tenant, "hash") as eng:
        with console.status("checking and storing..."):
            result = eng.catalog_add(files, rating_range=_range(rating_range))
    if as_json:
        print_json({"items": result.items, "interactions": result.interactions, "duplicates": result.duplicates})
        return
    console.print(
        f"{result.items} items, {result.interactions} interactions stored ({result.duplicates} already stored, skipped)"
    )


@recommend_app.command("fit")
def recommend_fit(
    model: Annotated[
        str,
        typer.Option("--recommender", "-r", help="hybrid, ease, itemknn, als, bpr, sasrec, content, popularity or mf."),
    ] = "hybrid",
    out: Annotated[Path | None, typer.Option("--out", help="Model file [default: beside the store].")] = None,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Fit a recommender on the tenant's interactions and save it with its data's fingerprint."""
    with open_engine(db, tenant, embedder, create=False) as eng:
        with console.status(f"fitting {model}..."):
            result = eng.recommend_fit(model=model, path=out)
    console.print(
        f"{result.model} fitted on {result.interactions} interactions of {result.users} users"
        f" ({result.items} items), fingerprint {result.fingerprint}: {result.path}"
    )


@recommend_app.callback()
def recommend(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", "-u", help="The user to recommend to.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many items.")] = 10,
    ask: Annotated[str, typer.Option("--ask", help="A request to combine with the profile.")] = "",
    rerank: Annotated[
        bool, typer.Option("--rerank", help="Let the chat model re-rank the top 20 and explain.")
    ] = False,
    model: ModelOpt = None,
    path: Annotated[Path | None, typer.Option("--path", help="Model file [default: beside the store].")] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """The user's top items with why each was picked."""
    if ctx.invoked_subcommand is not None:
        return
    if user is None:
        raise InvalidInput("--user is required (or run `tailored recommend fit`)")
    with open_engine(db, tenant, embedder, create=False) as eng:
        recs = eng.recommend(user, k, ask=ask, rerank=rerank or model is not None, model=model, path=path)
    if as_json:
        print_json(list(recs))
        return
    table = Table("rank", "item", "title", "score", "why", title=f"recommendations for {user}")
    for r in recs:
        table.add_row(str(r.rank), r.item.id, clip(r.item.title, 50), f"{r.score:.3f}", clip(r.explanation, 80))
    print_table(table, titled=True)
