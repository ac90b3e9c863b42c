"""``tailored demo``: what the engine is for, on bundled sample users.

It stores three sample conversations, then shows the profile the engine built for each
user, the context it hands an LLM for one request, and (when a chat model is available)
the answer with that context beside the answer without it.

The sample is an excerpt of Google's Synthetic-Persona-Chat (CC BY 4.0, Jandaghi et al.,
2023; see NOTICE): three conversations, each stored as one user whose words have role
``user``; the other speaker's turns have role ``partner``.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.panel import Panel
from rich.table import Table

from ..chat import PERSONALIZE
from ..engine import Engine
from ..errors import TailoredError
from ..ingest import parse_bytes
from ..llm import ChatModel, load_chat_model
from .common import DbOpt, EmbedderOpt, JsonOpt, ModelOpt, TenantOpt, console, open_engine, print_json, print_table

USERS = ("ava", "ben", "cleo")
REQUEST = ("cleo", "Suggest a plan for my weekend, in two sentences.")
ANSWER_TOKENS = 64


def store_sample(eng: Engine) -> tuple[int, int]:
    """Add the bundled sample; its events carry source ids, so a second run adds nothing."""
    data = files("tailored").joinpath("data/demo_persona_chat.jsonl").read_bytes()
    result = eng.add(parse_bytes(data, None, "jsonl", name="demo_persona_chat.jsonl"))
    return len(result.added), result.duplicates


def load_model(spec: str | None) -> tuple[ChatModel | None, str]:
    """The chat model, or None and the one line that says why there is none."""
    try:
        return load_chat_model(spec), ""
    except TailoredError as exc:
        return None, f"No chat model, so no answers ({exc})."


def answer(llm: ChatModel, question: str, context: str | None) -> str:
    """One answer to ``question``: with the user's context in the system message, as
    ``Engine.chat`` does, or without any. Nothing is stored: the sample stays as shipped."""
    system = PERSONALIZE + "\n" + context if context is not None else None
    out = llm.generate([{"role": "user", "content": question}], system=system, max_tokens=ANSWER_TOKENS)
    return out.text.strip()


def gather(eng: Engine) -> dict[str, Any]:
    """What the engine made of the sample, as plain data (printed as panels, or as JSON)."""
    added, duplicates = store_sample(eng)
    profiles: dict[str, list[dict[str, Any]]] = {}
    for user in USERS:
        said = {e.id: e.text for e in eng.events(user, limit=1000) if e.role == "user"}
        p = eng.profile(user)
        profiles[user] = [
            {
                "id": m.id,
                "memory": m.text,
                "stance": m.polarity or m.kind,
                "they_said": next((said[i] for i in reversed(m.evidence) if i in said), ""),
            }
            for m in p.preferences + p.facts
        ]
    user, question = REQUEST
    ctx = eng.context(user, question, budget=300)
    shown: dict[str, Any] = {"user": user, "question": question, "context": ctx.text, "tokens": ctx.tokens}
    return {"store": eng.store.url, "added": added, "duplicates": duplicates, "profiles": profiles, "request": shown}


def answer_both(llm: ChatModel, request: dict[str, Any]) -> None:
    """Add the answers with and without the context to ``request`` (from :func:`gather`)."""
    question = request["question"]
    request["model"] = llm.name
    request["with_context"] = answer(llm, question, request["context"])
    request["without_context"] = answer(llm, question, None)


def show(found: dict[str, Any], no_model: str) -> None:
    console.print(
        f"[bold]Stored[/] {found['added']} new events ({found['duplicates']} already there) for "
        f"{len(USERS)} sample users in {found['store']}\n"
        "Sample: Synthetic-Persona-Chat (CC BY 4.0, Google; Jandaghi et al. 2023)\n"
    )
    for user, rows in found["profiles"].items():
        table = Table("memory", "stance", "they said", title=f"profile of {user!r}, built from what they said")
        for r in rows:
            table.add_row(r["memory"], r["stance"], r["they_said"])
        print_table(table, titled=True)
    req = found["request"]
    title = f"context for {req['user']!r} asking {req['question']!r} ({req['tokens']} tokens)"
    console.print(Panel(req["context"], title=title, title_align="left"))
    if "with_context" in req:
        console.print(
            Columns(
                [
                    Panel(req["with_context"], title=f"{req['model']} with the context", width=60),
                    Panel(req["without_context"], title=f"{req['model']} without it", width=60),
                ]
            )
        )
    else:
        console.print(no_model, soft_wrap=True)
    console.print(
        "Next: tailored profile --user ava   tailored context --user cleo 'gift ideas'   "
        "tailored chat --user ben   tailored serve"
    )


def demo(
    model: ModelOpt = None,
    answers: Annotated[
        bool, typer.Option("--answers/--no-answers", help="Answer the request with the chat model, if there is one.")
    ] = True,
    as_json: JsonOpt = False,
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Store sample users, then show the profile built for each, the context for a request,
    and the answer with that context beside the answer without it."""
    with open_engine(db, tenant, embedder) as eng:
        with console.status("storing the sample conversations and reading them..."):
            found = gather(eng)
    llm, no_model = None, "Answers skipped (--no-answers)."
    if answers:
        with console.status("loading the chat model..."):
            llm, no_model = load_model(model)
    if llm is not None:
        try:
            with console.status(f"answering with {llm.name}, with the context and without..."):
                answer_both(llm, found["request"])
        finally:
            llm.close()
    if as_json:
        print_json(found)
    else:
        show(found, no_model)


def register(app: typer.Typer) -> None:
    app.command()(demo)
