"""``tailored bench ...``: benchmark commands that write reports under docs/benchmarks/.

Each benchmark module exposes a typer command function; it is registered here.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: each writes a report under docs/benchmarks/.", no_args_is_help=True)

from ..bench import qa, speed  # noqa: E402

app.command("ingest")(speed.ingest)
app.command("latency")(speed.latency)

from ..bench import retrieval  # noqa: E402

app.command("retrieval")(retrieval.retrieval)

from ..bench import serve as serve_bench  # noqa: E402

app.command("serve")(serve_bench.serve)
app.command("qa")(qa.qa)

from ..bench import extraction  # noqa: E402

app.command("extraction")(extraction.extraction)

from ..bench import prefeval  # noqa: E402

app.command("prefeval")(prefeval.prefeval)
