"""``tailored judge FILE``: which response each user would prefer, for a JSONL file of pairs.

Each line is ``{"id", "query", "response_a", "response_b"}`` with optional ``user_id``,
``persona`` and ``label``. Results are appended to ``--out`` as they are known, so an
interrupted run continues where it stopped when started again with the same ``--out``.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import InvalidInput
from ..judge import Judge, JudgedPair, Persona, judge_file, read_pairs
from ..judge.models import Method
from ..llm import load_chat_model
from .common import DbOpt, EmbedderOpt, ModelOpt, TenantOpt, err_console, open_engine, print_table


def judge(
    file: Annotated[
        Path, typer.Argument(help="JSONL pairs: id, query, response_a, response_b [, user_id, persona, label].")
    ],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Judge for this user's profile.")] = None,
    persona: Annotated[str | None, typer.Option("--persona", help="Judge for this free-text persona.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="JSONL results, appended as they come (default: FILE.judged.jsonl).")
    ] = None,
    model: ModelOpt = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="Abstain below this confidence (0.5-1).")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Also ask for a rationale and a 1-10 confidence (slower).")
    ] = True,
    method: Annotated[
        str, typer.Option(help="pointwise (each response read alone) or pairwise (the pair in both orders).")
    ] = "pointwise",
    db: DbOpt = None,
    tenant: TenantOpt = "default",
    embedder: EmbedderOpt = "minilm",
) -> None:
    """Judge which response of each pair in FILE the user (or persona) would prefer.

    Resumable: pairs already in --out are skipped, so run it again after an interruption.
    """
    if method not in ("pointwise", "pairwise"):
        raise InvalidInput(f"--method must be pointwise or pairwise, not {method!r}")
    chosen = cast(Method, method)
    pairs = read_pairs(file)
    target = out or file.with_name(file.stem + ".judged.jsonl")
    if target.resolve() == file.resolve():
        raise InvalidInput("--out must not be the input file")
    if persona is not None and not persona.strip():
        raise InvalidInput("--persona is empty")
    who = Persona(text=persona, user_id=user) if (persona or user) else None
    needs_users = user is not None or any(p.user_id for p in pairs)
    with ExitStack() as stack:
        if needs_users:
            eng = open_engine(db, tenant, embedder, create=False)
            stack.callback(eng.close)
            for uid in dict.fromkeys([*([user] if user else []), *(p.user_id for p in pairs if p.user_id)]):
                eng.user(uid)  # an unknown user fails now, before the model loads
            with err_console.status("loading the model..."):
                judge_ = eng.judge(model, threshold=threshold, method=chosen)
        else:
            with err_console.status("loading the model..."):
                judge_ = Judge(load_chat_model(model), threshold=threshold, method=chosen)
        stack.callback(judge_.model.close)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        rows: list[JudgedPair] = []
        with Progress(*columns, console=err_console) as progress:
            task = progress.add_task("judging", total=len(pairs))
            from ..judge.batch import done_ids

            progress.update(task, completed=len(done_ids(target) & {p.id for p in pairs}))

            def done(row: JudgedPair) -> None:
                rows.append(row)
                progress.advance(task)

            judge_file(judge_, pairs, target, persona=who, explain_verdicts=explain, on_done=done)
    summary = Table(title=f"judged {len(rows)} now; results in {target}")
    for col in ("judged now", "skipped (already in --out)", "A", "B", "tie", "abstained"):
        summary.add_column(col)
    summary.add_row(
        str(len(rows)),
        str(len(pairs) - len(rows)),
        str(sum(r.judgement.winner == "a" for r in rows)),
        str(sum(r.judgement.winner == "b" for r in rows)),
        str(sum(r.judgement.winner == "tie" for r in rows)),
        str(sum(r.judgement.abstained for r in rows)),
    )
    print_table(summary)


def register(app: typer.Typer) -> None:
    app.command()(judge)
