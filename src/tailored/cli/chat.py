"""``tailored chat``: an interactive, streamed terminal chat personalized for one user."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..chat import ChatStream
from ..errors import InvalidInput
from ..llm import load_chat_model
from ..safety.guidance import SAFETY_MODES
from .common import DbOpt, EmbedderOpt, ModelOpt, TenantOpt, UserOpt, console, err_console, open_engine


def chat(
    user: UserOpt,
    model: ModelOpt = None,
    memory: Annotated[
        bool, typer.Option("--memory/--no-memory", help="Personalize from, and remember into, the user's memory.")
    ] = True,
    system: Annotated[str | None, typer.Option(help="A system prompt to put first.")] = None,
    budget: Annotated[int, typer.Option(help="Token budget of the user's context.")] = 1000,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 512,
    show_context: Annotated[
        bool, typer.Option("--show-context", help="Print the context used for each answer.")
    ] = False,
    safety: Annotated[
        str,
        typer.Option(
            "--safety",
            help="off; adapt: the user's facts that bear on a risky request go first in the context; "
            "ask: a risky request whose background is unknown gets a clarifying question first.",
        ),
    ] = "off",
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Chat with a model that knows USER; answers stream as they are generated. Ctrl-D ends.

    Each exchange is remembered (unless --no-memory), so later answers can use it.
    Reads one message per line; with piped input it answers each line in turn.
    """
    if safety not in SAFETY_MODES:
        raise InvalidInput(f"--safety must be one of {', '.join(SAFETY_MODES)}, not {safety!r}")
    if safety != "off" and not memory:
        raise InvalidInput("--safety reads and writes the user's memory: it cannot go with --no-memory")
    with open_engine(db, tenant, embedder) as eng:
        with err_console.status("loading the model..."):
            llm = load_chat_model(model)
        history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        interactive = sys.stdin.isatty()
        if interactive:
            err_console.print(f"chatting as {user!r} with {llm.name} (memory {'on' if memory else 'off'}); Ctrl-D ends")
        try:
            while True:
                try:
                    line = console.input("[bold]you>[/] ") if interactive else input()
                except EOFError:
                    break
                if not line.strip():
                    continue
                history.append({"role": "user", "content": line})
                out = eng.chat(
                    user,
                    history,
                    model=llm,
                    memory=memory,
                    stream=True,
                    budget=budget,
                    max_tokens=max_tokens,
                    safety=safety,  # checked against SAFETY_MODES above
                )
                assert isinstance(out, ChatStream)
                if show_context and out.context is not None:
                    err_console.print(out.context.text, markup=False, highlight=False)
                parts = []
                for chunk in out:
                    parts.append(chunk)
                    sys.stdout.write(chunk)
                    sys.stdout.flush()
                sys.stdout.write("\n")
                history.append({"role": "assistant", "content": "".join(parts)})
        finally:
            llm.close()


def register(app: typer.Typer) -> None:
    app.command()(chat)
