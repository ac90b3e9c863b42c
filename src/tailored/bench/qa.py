"""``tailored bench qa --dataset locomo``: answer LoCoMo questions, scored with LoCoMo's metric.

Three ways to give the same model what it needs, side by side:

- ``no-memory``: the question alone.
- ``full-context``: as much of the conversation as fits the model's window, most recent
  turns first (shown in time order).
- ``retrieval``: the engine's context for the question, under ``--budget`` tokens.

Every method gets the same instructions: a short answer, or "Not mentioned in the
conversation" when the records do not say (which is the right answer to category 5).
Prompt tokens are the model's own count. The full-context prompt of one conversation starts
with the same long prefix for every question, so llama.cpp reuses its cache from the second
question on; its seconds per question are therefore lower than a cold prompt would cost.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..context.builder import render_item
from ..engine import Engine
from ..errors import InvalidInput
from ..ingest import parse_bytes
from ..llm import ChatModel, load_chat_model
from ..types import ContextItem, EventIn
from . import locomo_metrics
from .common import OutOpt, data_dir, machine, require, write_json

console = Console()

METHODS = ("no-memory", "full-context", "retrieval")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
INSTRUCTIONS = (
    "You answer questions about conversations between two people. Answer with a short phrase "
    "of a few words, using exact words from the records where possible. For questions about "
    "when something happened, give the date in the form 7 May 2023, working out words such as "
    "'yesterday' or 'last week' from the date of the record. If the records do not contain the "
    f"answer, reply exactly: {locomo_metrics.ABSTAIN}."
)
NO_RECORDS = "There are no records about this conversation."


@dataclass
class QAItem:
    sample_id: str
    index: int  # position in the sample's qa list
    question: str
    answer: str | None
    category: int


@dataclass
class Outcome:
    sample_id: str
    index: int
    category: int
    prediction: str
    score: float
    prompt_tokens: int
    seconds: float


@dataclass
class MethodResult:
    method: str
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        o = self.outcomes
        answerable = [x.score for x in o if x.category != 5]
        adversarial = [x.score for x in o if x.category == 5]
        by_cat = {
            CATEGORIES[c]: round(mean(x.score for x in o if x.category == c), 4)
            for c in sorted({x.category for x in o})
        }
        return {
            "method": self.method,
            "questions": len(o),
            "f1_cat_1_4": round(mean(answerable), 4) if answerable else None,
            "abstention_cat_5": round(mean(adversarial), 4) if adversarial else None,
            "overall": round(mean(x.score for x in o), 4) if o else None,
            "by_category": by_cat,
            "prompt_tokens_per_question": round(mean(x.prompt_tokens for x in o), 1) if o else None,
            "seconds_per_question": round(mean(x.seconds for x in o), 2) if o else None,
        }


def parse_numbers(value: str | None, upper: int) -> list[int]:
    """``"1-3,5"`` -> ``[1, 2, 3, 5]``; None -> ``1..upper``."""
    if not value:
        return list(range(1, upper + 1))
    out: set[int] = set()
    for part in value.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2) or m.group(1)) <= upper:
            raise InvalidInput(f"--conversations: {part!r} is not a number or range within 1-{upper}")
        out.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return sorted(out)


def load_locomo(path: Path, conversations: str | None, limit: int | None) -> tuple[list[dict[str, Any]], list[QAItem]]:
    """The chosen conversations and their questions; ``limit`` keeps evenly spaced ones."""
    samples = json.loads(require(path, "LoCoMo (locomo10.json)").read_text(encoding="utf-8"))
    chosen = [samples[n - 1] for n in parse_numbers(conversations, len(samples))]
    items = [
        QAItem(
            s["sample_id"], i, q["question"], None if q.get("answer") is None else str(q["answer"]), int(q["category"])
        )
        for s in chosen
        for i, q in enumerate(s["qa"])
        if int(q["category"]) in CATEGORIES
    ]
    if limit is not None:
        if limit < 1:
            raise InvalidInput("--limit must be at least 1")
        if limit < len(items):
            step = len(items) / limit
            items = [items[int(k * step)] for k in range(limit)]
    return chosen, items


def render_events(events: list[EventIn]) -> list[str]:
    """Each turn as the context builder renders it, so every method reads the same format."""
    out = []
    for n, e in enumerate(events):
        assert e.time is not None
        out.append(render_item(ContextItem(event_id=n, time=e.time, kind=e.kind, role=e.role, text=e.text, score=0)))
    return out


def full_context(lines: list[str], costs: list[int], budget: int) -> str:
    """The most recent lines that fit ``budget`` tokens, in time order."""
    used, start = 0, len(lines)
    while start > 0 and used + costs[start - 1] <= budget:
        start -= 1
        used += costs[start]
    return "".join(line + "\n" for line in lines[start:])


def ask(model: ChatModel, records: str, question: str, max_tokens: int) -> tuple[str, int, float]:
    system = INSTRUCTIONS + "\n\n" + records
    t0 = time.perf_counter()
    out = model.generate(
        [{"role": "user", "content": f"Question: {question}\nShort answer:"}],
        system=system,
        max_tokens=max_tokens,
        stop=["\n"],
    )
    return out.text.strip(), out.prompt_tokens, time.perf_counter() - t0


def run_qa(
    samples: list[dict[str, Any]],
    items: list[QAItem],
    model: ChatModel,
    methods: list[str],
    *,
    embedder: str,
    budget: int,
    max_tokens: int,
) -> dict[str, MethodResult]:
    results = {m: MethodResult(m) for m in methods}
    reserve = model.count_tokens(INSTRUCTIONS) + 120 + max_tokens  # instructions, question, answer
    full_budget = model.context_window - reserve
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns, console=console, transient=True) as progress:
        engine = Engine(Path(tmp) / "qa.db", embedder=embedder, count_tokens=model.count_tokens)
        try:
            task = progress.add_task("answering", total=len(items) * len(methods))
            for sample in samples:
                sid = sample["sample_id"]
                mine = [it for it in items if it.sample_id == sid]
                if not mine:
                    continue
                events = parse_bytes(json.dumps(sample).encode(), sid, "locomo", name=sid)  # as 'tailored add' reads it
                progress.update(task, description=f"{sid}: storing {len(events)} turns")
                if "retrieval" in methods:
                    engine.add(events)
                lines = render_events(events)
                costs = [model.count_tokens(line) + 1 for line in lines]
                for method in methods:
                    progress.update(task, description=f"{sid}: {method}")
                    whole = full_context(lines, costs, full_budget) if method == "full-context" else ""
                    for it in mine:
                        if method == "no-memory":
                            records = NO_RECORDS
                        elif method == "full-context":
                            records = "Records (the most recent part of the conversation):\n" + whole
                        else:
                            records = engine.context(sid, it.question, budget=budget, k=40).text
                        pred, tokens, secs = ask(model, records, it.question, max_tokens)
                        results[method].outcomes.append(
                            Outcome(
                                sid,
                                it.index,
                                it.category,
                                pred,
                                locomo_metrics.score(pred, it.answer, it.category),
                                tokens,
                                secs,
                            )
                        )
                        progress.advance(task)
        finally:
            engine.close()
    return results


def write_report(out_dir: Path, payload: dict[str, Any]) -> Path:
    rows = payload["results"]
    cfg = payload["config"]
    lines = [
        "# LoCoMo question answering: no memory, full context, retrieval",
        "",
        f"Command: `{payload['command']}`",
        "",
        f"Model: {cfg['model']} (window {cfg['context_window']} tokens, temperature 0, answers up to "
        f"{cfg['max_tokens']} tokens). Embedder: {cfg['embedder']}. Retrieval budget: {cfg['budget']} tokens. "
        f"Slice: conversations {cfg['conversations']}, {cfg['questions']} questions "
        f"({', '.join(f'{k}: {v}' for k, v in cfg['categories'].items())}).",
        f"Machine: {payload['machine']['cpus']} CPUs, {payload['machine']['platform']}, "
        f"Python {payload['machine']['python']}, tailored {payload['machine']['tailored']}. One run; "
        f"load average {payload['machine'].get('load_average_1_5_15', 'n/a')} "
        "(other work shares the CPUs, so seconds are an upper bound).",
        "",
        "Score: LoCoMo's official token F1 (normalised, Porter-stemmed; multi-answer F1 for "
        "category 1) over categories 1-4; category 5 scores 1 when the answer says the "
        "conversation does not mention it. `overall` averages every question.",
        "",
        "| method | F1 (cat 1-4) | abstention (cat 5) | overall | prompt tokens / question | seconds / question |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def fmt(v: object) -> str:
        return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    for r in rows:
        lines.append(
            f"| {r['method']} | {fmt(r['f1_cat_1_4'])} | {fmt(r['abstention_cat_5'])} | {fmt(r['overall'])} "
            f"| {r['prompt_tokens_per_question']:.0f} | {r['seconds_per_question']:.1f} |"
        )
    cats = sorted({c for r in rows for c in r["by_category"]}, key=list(CATEGORIES.values()).index)
    lines += ["", "By category:", "", "| method | " + " | ".join(cats) + " |", "| --- |" + " ---: |" * len(cats)]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(fmt(r["by_category"].get(c)) for c in cats) + " |")
    lines += [
        "",
        "Full-context prompts share one long prefix per conversation, which llama.cpp reuses "
        "from the second question on, so its seconds per question understate a cold prompt.",
        "",
    ]
    if payload.get("notes"):
        lines += ["## Notes", "", *payload["notes"], ""]
    path = out_dir / "qa-locomo.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def qa(
    dataset: Annotated[str, typer.Option(help="The QA set (locomo).")] = "locomo",
    conversations: Annotated[str | None, typer.Option(help="Conversations to use, e.g. 1-3,5 [default: all].")] = None,
    limit: Annotated[int | None, typer.Option(help="Keep this many questions, evenly spaced.")] = None,
    method: Annotated[list[str] | None, typer.Option(help="no-memory, full-context, retrieval (repeatable).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", envvar="TAILORED_MODEL", help="Chat model spec.")
    ] = None,
    n_ctx: Annotated[int, typer.Option(help="Context window for a local model.")] = 4096,
    budget: Annotated[int, typer.Option(help="Token budget of the retrieval context.")] = 700,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 32,
    embedder: Annotated[str, typer.Option(help="Embedder for retrieval.")] = "minilm",
    data: Annotated[Path | None, typer.Option(help="Data folder [default: $TAILORED_DATA or ../shared/data].")] = None,
    out: OutOpt = Path("docs/benchmarks"),
) -> None:
    """Answer LoCoMo questions with no memory, the full conversation, and retrieval; score with LoCoMo's F1."""
    if dataset != "locomo":
        raise InvalidInput(f"--dataset must be locomo, not {dataset!r}")
    methods = method or list(METHODS)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise InvalidInput(f"unknown method(s) {', '.join(bad)}; use {', '.join(METHODS)}")
    samples, items = load_locomo((data or data_dir()) / "locomo" / "locomo10.json", conversations, limit)
    options: dict[str, Any] = {}
    if model is None or not model.startswith(("openai:", "scripted")):
        options["n_ctx"] = n_ctx
    llm = load_chat_model(model, **options)
    try:
        console.print(f"{len(items)} questions from {len(samples)} conversation(s); model {llm.name}")
        results = run_qa(samples, items, llm, methods, embedder=embedder, budget=budget, max_tokens=max_tokens)
    finally:
        llm.close()
    summaries = [results[m].summary() for m in methods]
    cats: dict[str, int] = {}
    for it in items:
        cats[CATEGORIES[it.category]] = cats.get(CATEGORIES[it.category], 0) + 1
    argv = ["tailored bench qa --dataset locomo"]
    if conversations:
        argv.append(f"--conversations {conversations}")
    if limit:
        argv.append(f"--limit {limit}")
    if model:
        argv.append(f"--model {model}")
    for m in method or []:
        argv.append(f"--method {m}")
    for flag, value, default in (("--n-ctx", n_ctx, 4096), ("--budget", budget, 700), ("--max-tokens", max_tokens, 32)):
        if value != default:
            argv.append(f"{flag} {value}")
    if embedder != "minilm":
        argv.append(f"--embedder {embedder}")
    payload: dict[str, Any] = {
        "benchmark": "qa-locomo",
        "command": " ".join(argv),
        "machine": {**machine(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
        "config": {
            "model": llm.name,
            "context_window": llm.context_window,
            "budget": budget,
            "max_tokens": max_tokens,
            "embedder": embedder,
            "conversations": conversations or "all",
            "questions": len(items),
            "categories": cats,
        },
        "results": summaries,
        "notes": verdict(summaries),
        "per_question": {m: [o.__dict__ for o in results[m].outcomes] for m in methods},
    }
    write_json(out / "qa-locomo.json", payload)
    path = write_report(out, payload)
    table = Table("method", "F1 cat 1-4", "abstain cat 5", "overall", "tokens/q", "s/q", title="LoCoMo QA")
    for r in summaries:
        table.add_row(
            *(
                str(r[k])
                for k in (
                    "method",
                    "f1_cat_1_4",
                    "abstention_cat_5",
                    "overall",
                    "prompt_tokens_per_question",
                    "seconds_per_question",
                )
            )
        )
    console.print(table)
    for note in payload["notes"]:
        console.print(note)
    console.print(f"wrote {path} and {out / 'qa-locomo.json'}")


def verdict(rows: list[dict[str, Any]]) -> list[str]:
    """Whether retrieval met its target: better F1 than full context with at most a quarter of the tokens."""
    by = {r["method"]: r for r in rows}
    if "retrieval" not in by or "full-context" not in by:
        return []
    r, f = by["retrieval"], by["full-context"]
    notes = []
    if r["f1_cat_1_4"] is not None and f["f1_cat_1_4"] is not None:
        better = r["f1_cat_1_4"] > f["f1_cat_1_4"]
        notes.append(
            f"- Retrieval F1 (cat 1-4) {r['f1_cat_1_4']:.3f} vs full context {f['f1_cat_1_4']:.3f}: "
            + ("retrieval is better." if better else "retrieval is NOT better on this slice.")
        )
    if r["abstention_cat_5"] is not None and f["abstention_cat_5"] is not None:
        if r["abstention_cat_5"] < max(f["abstention_cat_5"], by.get("no-memory", f)["abstention_cat_5"] or 0):
            notes.append(
                f"- Category 5 (no answer in the conversation): retrieval abstains on {r['abstention_cat_5']:.0%}, "
                "less than the other methods: retrieved turns are always on topic, so the model answers from "
                "them instead of saying the conversation does not mention it."
            )
    ratio = r["prompt_tokens_per_question"] / max(f["prompt_tokens_per_question"], 1)
    notes.append(
        f"- Retrieval sends {ratio:.0%} of full context's prompt tokens per question "
        + ("(target: at most 25%, met)." if ratio <= 0.25 else "(target: at most 25%, NOT met).")
    )
    return notes
