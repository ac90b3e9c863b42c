"""``tailored demo``: what the engine remembers and retrieves, on bundled sample users.

The sample is an excerpt of Google's Synthetic-Persona-Chat (CC BY 4.0, Jandaghi et al.,
2023; see NOTICE): three conversations, each stored as one user.
"""

from __future__ import annotations

from importlib.resources import files

from rich.panel import Panel
from rich.table import Table

from ..ingest import parse_bytes
from .common import DbOpt, EmbedderOpt, TenantOpt, console, open_engine

SAMPLE_QUERIES = {
    "ava": ["What does she like to bake?", "Tell me about her pets"],
    "ben": ["What food does he like?", "What did he do for work?"],
    "cleo": ["What is the name of her dog?", "What is she afraid of?"],
}


def demo(db: DbOpt = None, tenant: TenantOpt = "default", embedder: EmbedderOpt = "minilm") -> None:
    """Ingest sample users, then show search hits and LLM context for sample queries."""
    data = files("tailored").joinpath("data/demo_persona_chat.jsonl").read_bytes()
    events = parse_bytes(data, None, "jsonl", name="demo_persona_chat.jsonl")
    with open_engine(db, tenant, embedder) as eng:
        with console.status("embedding and storing the sample conversations..."):
            result = eng.add(events)
        console.print(
            f"[bold]Stored[/] {len(result.added)} new events ({result.duplicates} already there) "
            f"for {len(SAMPLE_QUERIES)} users in {eng.store.url}\n"
            "Sample: Synthetic-Persona-Chat (CC BY 4.0, Google; Jandaghi et al. 2023)\n"
        )
        for user, queries in SAMPLE_QUERIES.items():
            for query in queries:
                hits = eng.search(user, query, k=3)
                table = Table("score", "bm25", "dense", "who", "text", title=f"user {user!r} asks: {query}")
                for h in hits:
                    table.add_row(
                        f"{h.score:.3f}",
                        f"{h.parts.bm25:.2f}",
                        f"{h.parts.dense:.2f}",
                        h.event.role or "",
                        h.event.text,
                    )
                console.print(table)
        for user in SAMPLE_QUERIES:
            p = eng.profile(user)
            table = Table("memory", "kind", "stance", "evidence", title=f"profile of {user!r} (rules extractor)")
            for m in p.preferences + p.facts:
                table.add_row(m.text, m.kind, m.polarity or "", ", ".join(map(str, m.evidence)))
            console.print(table)
        user, query = "cleo", SAMPLE_QUERIES["cleo"][0]
        ctx = eng.context(user, query, budget=250)
        console.print(Panel(ctx.text, title=f"context an LLM would get for {user!r}: {query}  ({ctx.tokens} tokens)"))
        console.print(
            "Try: tailored search --user cleo 'dogs'   tailored profile --user ava   tailored context --user ava 'gift ideas'"
        )


def register(app: object) -> None:
    app.command()(demo)  # type: ignore[attr-defined]
