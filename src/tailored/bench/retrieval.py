"""``tailored bench retrieval``: evidence recall@k of BM25, dense and hybrid search.

LoCoMo: every conversation is one user, every turn an event; each question (categories
1-4, with evidence) is searched in its conversation and scored by the share of its
evidence turns found in the top k (turn level) and by the share of its evidence sessions
among the sessions of the top k turns (session level). Settings were chosen on
conversations 1-5; conversations 6-10 are reported apart as held-out data.

PrefEval: each explicit preference is buried as a user turn among unrelated chat turns;
the question is searched and the preference turn is the only evidence.
"""

from __future__ import annotations

import os
import shlex
import statistics
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..embed import Embedder, load_embedder
from ..engine import Engine
from ..errors import InvalidInput
from ..retrieve import RetrievalConfig
from ..types import EventIn, SearchMode
from .common import data_dir, machine, write_json
from .datasets import Case, load_locomo, load_prefeval, parse_selection
from .report import recall_plot, table

MODES: tuple[SearchMode, ...] = ("bm25", "dense", "hybrid")
KS = (1, 5, 10, 20)
DATASETS = ("locomo", "prefeval")

console = Console(stderr=True)


# -- metrics -----------------------------------------------------------------------------


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of ``relevant`` found in the first ``k`` of ``ranked``.

    Examples
    --------
    >>> recall_at_k(["a", "b", "c"], {"b", "z"}, 2)
    0.5
    """
    if not relevant:
        raise InvalidInput("recall needs at least one relevant item")
    return len(set(ranked[:k]) & set(relevant)) / len(set(relevant))


def session_recall_at_k(
    ranked: Sequence[str], relevant: Collection[str], session_of: Mapping[str, str], k: int
) -> float:
    """Share of the relevant items' sessions among the sessions of the first ``k`` ranked.

    Examples
    --------
    >>> sessions = {"a": "s1", "b": "s1", "c": "s2", "d": "s3"}
    >>> session_recall_at_k(["a", "c"], {"b", "d"}, sessions, 1)
    0.5
    """
    wanted = {session_of[r] for r in relevant}
    if not wanted:
        raise InvalidInput("recall needs at least one relevant item")
    return len({session_of[r] for r in ranked[:k]} & wanted) / len(wanted)


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values), q)) if values else None


# -- running -----------------------------------------------------------------------------


class MemoEmbedder(Embedder):
    """Remembers every vector it computed, so that repeated texts are embedded once."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.batch_size = inner.batch_size
        self.memo: dict[str, np.ndarray] = {}

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if missing:
            for text, vec in zip(missing, self.inner.embed(missing)):
                self.memo[text] = vec
        return np.stack([self.memo[t] for t in texts])


@dataclass
class Result:
    """One question searched in one mode."""

    part: int
    category: str
    mode: str
    turn: dict[int, float]
    session: dict[int, float]
    ms: float


@dataclass
class Summary:
    questions: int
    turn: dict[int, float]
    session: dict[int, float]
    p50_ms: float | None = None
    p95_ms: float | None = None


def summarise(results: Sequence[Result], ks: Sequence[int] = KS) -> Summary:
    if not results:
        return Summary(0, {}, {})
    ms = [r.ms for r in results]
    return Summary(
        questions=len(results),
        turn={k: float(statistics.fmean(r.turn[k] for r in results)) for k in ks},
        session={k: float(statistics.fmean(r.session[k] for r in results)) for k in ks},
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
    )


@contextmanager
def progress_bar() -> Iterator[Progress]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


def ingest(engine: Engine, cases: Sequence[Case], progress: Progress | None = None) -> tuple[int, float]:
    """Store each case's events (skipping users already stored whole); (events added, seconds)."""
    stored = {u.user_id: u.events for u in engine.users(limit=1_000_000)}
    todo = [c for c in cases if stored.get(c.user_id) != len(c.events)]
    task = progress.add_task("ingest", total=sum(len(c.events) for c in todo)) if progress else None
    added = 0
    start = time.perf_counter()
    for case in todo:
        for i in range(0, len(case.events), 512):
            batch = case.events[i : i + 512]
            added += len(engine.add(batch).added)
            if progress is not None and task is not None:
                progress.advance(task, len(batch))
    return added, time.perf_counter() - start


def evaluate(
    engine: Engine,
    cases: Sequence[Case],
    modes: Sequence[SearchMode] = MODES,
    ks: Sequence[int] = KS,
    progress: Progress | None = None,
    label: str = "search",
) -> list[Result]:
    """Search every question of every case in each mode and score the hits."""
    total = sum(len(c.questions) for c in cases) * len(modes)
    task = progress.add_task(label, total=total) if progress else None
    depth = max(ks)
    out: list[Result] = []
    for case in cases:
        sessions = case.sessions()
        engine.search(case.user_id, "warm up", k=1)  # build the user's view outside the timings
        for question in case.questions:
            for mode in modes:
                start = time.perf_counter()
                hits = engine.search(case.user_id, question.text, k=depth, mode=mode)
                ms = (time.perf_counter() - start) * 1000
                ranked = [h.event.source_id or "" for h in hits]
                sess = {**sessions, "": ""}
                out.append(
                    Result(
                        part=case.part,
                        category=question.category,
                        mode=mode,
                        turn={k: recall_at_k(ranked, question.evidence, k) for k in ks},
                        session={k: session_recall_at_k(ranked, question.evidence, sess, k) for k in ks},
                        ms=ms,
                    )
                )
                if progress is not None and task is not None:
                    progress.advance(task)
    return out


def scale_user(cases: Sequence[Case], events: int) -> list[EventIn]:
    """At least ``events`` events for one user, made by repeating the cases' events."""
    out: list[EventIn] = []
    copy = 0
    while len(out) < events and any(c.events for c in cases):
        for case in cases:
            for ev in case.events:
                out.append(
                    ev.model_copy(
                        update={
                            "user_id": "scale-user",
                            "session_id": f"{copy}-{case.user_id}-{ev.session_id}",
                            "source_id": f"{copy}:{ev.source_id}",
                        }
                    )
                )
        copy += 1
    return out[: max(events, 0)]


# -- the ablation: each step's effect on R@10 ----------------------------------------------

_PLAIN = RetrievalConfig().with_(
    diversity=0.0,
    coverage=False,
    trust_high=0.0,
    neighbour_weight=0.0,
    dense_neighbour_weight=0.0,
    strip_speaker_names=False,
    speaker_weight=0.0,
    session_weight=0.0,
    date_weight=0.0,
    recency_weight=0.0,
)
_SMOOTH = _PLAIN.with_(neighbour_weight=0.5, dense_neighbour_weight=0.3)
_SPEAKER = _SMOOTH.with_(strip_speaker_names=True, speaker_weight=0.5)
_SESSION = _SPEAKER.with_(session_weight=0.2)
_DATE = _SESSION.with_(date_weight=0.9)

ABLATION: list[tuple[str, SearchMode, RetrievalConfig]] = [
    ("BM25 (per user, porter stemming)", "bm25", _PLAIN),
    ("dense (MiniLM over 'speaker: text')", "dense", _PLAIN),
    ("RRF of the two (k=60)", "hybrid", _PLAIN.with_(fusion="rrf")),
    ("score fusion: median/max normalised, confidence-weighted", "hybrid", _PLAIN),
    ("+ neighbour smoothing (BM25 0.5, dense 0.3)", "hybrid", _SMOOTH),
    ("+ named speaker: out of the query, a prior on who spoke", "hybrid", _SPEAKER),
    ("+ session prior (0.2 x best score in the session)", "hybrid", _SESSION),
    ("+ date prior (dates the question mentions)", "hybrid", _DATE),
    ("+ BM25 rows scaled by query coverage", "hybrid", _DATE.with_(coverage=True)),
    (
        "+ lexical trust: dense alone when the best BM25 row covers < 40%",
        "hybrid",
        RetrievalConfig().with_(diversity=0.0),
    ),
    ("+ first 5 hits spread over sessions (the default)", "hybrid", RetrievalConfig()),
]


def ablation(
    engine: Engine,
    embedder: Embedder,
    cases: Sequence[Case],
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """R@10 (turn) and session R@5 of each ablation step, per LoCoMo slice: one engine
    per step over ``engine``'s store, each with that step's ``RetrievalConfig``."""
    memo = MemoEmbedder(embedder)  # the steps share the query vectors
    rows = []
    for name, mode, cfg in ABLATION:
        step = Engine(store=engine.store, tenant=engine.tenant, embedder=memo, retrieval=cfg)
        results = evaluate(step, cases, [mode], progress=progress, label=f"ablation: {name[:28]}")
        row: dict[str, Any] = {"step": name, "mode": mode, "config": asdict(cfg)}
        by_part = {c.part: c for c in cases}
        for slice_name, keep in _slices(cases).items():
            s = summarise([r for r in results if keep(by_part[r.part])])
            row[slice_name] = {
                "questions": s.questions,
                "turn_r1": s.turn.get(1),
                "turn_r5": s.turn.get(5),
                "turn_r10": s.turn.get(10),
                "session_r5": s.session.get(5),
            }
        rows.append(row)
    return rows


def _slices(cases: Sequence[Case]) -> dict[str, Callable[[Case], bool]]:
    """The columns of a report: all cases and, when a run mixes the split that settings
    were tuned on with held-out data, each of the two."""
    out: dict[str, Callable[[Case], bool]] = {"all": lambda c: True}
    splits = {c.meta.get("split") for c in cases}
    if {"tuned", "held-out"} <= splits:
        out["tuned"] = lambda c: c.meta.get("split") == "tuned"
        out["held-out"] = lambda c: c.meta.get("split") == "held-out"
    return out


# -- reports -----------------------------------------------------------------------------

_TITLES = {
    "locomo": {"all": "all", "tuned": "conv 1-5 (tuned on)", "held-out": "conv 6-10 (held out)"},
    "prefeval": {"all": "all", "tuned": "topics 1-10 (tuned on)", "held-out": "topics 11-20 (held out)"},
}


@dataclass
class Report:
    dataset: str
    command: str
    machine: dict[str, Any]
    slice: dict[str, Any]
    embedder: str
    config: dict[str, Any]
    results: dict[str, dict[str, dict[str, Any]]]  # slice -> mode -> summary
    categories: dict[str, dict[str, float]]  # category -> mode -> turn R@10
    speed: dict[str, Any]
    ablation: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def build_report(
    dataset: str,
    command: str,
    cases: Sequence[Case],
    results: Sequence[Result],
    embedder: str,
    config: RetrievalConfig,
    speed: dict[str, Any],
    abl: list[dict[str, Any]],
    slice_info: dict[str, Any],
) -> Report:
    by_slice: dict[str, dict[str, dict[str, Any]]] = {}
    by_part = {c.part: c for c in cases}
    for name, keep in _slices(cases).items():
        by_slice[name] = {
            m: asdict(summarise([r for r in results if r.mode == m and keep(by_part[r.part])])) for m in MODES
        }
    cats: dict[str, dict[str, float]] = {}
    for cat in sorted({r.category for r in results}):
        cats[cat] = {
            m: summarise([r for r in results if r.mode == m and r.category == cat]).turn.get(10, 0.0) for m in MODES
        }
        cats[cat]["questions"] = float(sum(1 for r in results if r.mode == "hybrid" and r.category == cat))
    return Report(
        dataset=dataset,
        command=command,
        machine=machine(),
        slice=slice_info,
        embedder=embedder,
        config=asdict(config),
        results=by_slice,
        categories=cats,
        speed=speed,
        ablation=abl,
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def render_markdown(report: Report, plot: str | None) -> str:
    locomo = report.dataset == "locomo"
    title = _TITLES[report.dataset]
    m = report.machine
    ks = [int(k) for k in next(iter(report.results["all"].values()))["turn"]] or list(KS)
    lines = [
        f"# Retrieval benchmark: {'LoCoMo evidence recall' if locomo else 'PrefEval buried preference recall'}",
        "",
        f"Command: `{report.command}`",
        "",
        f"Hardware: {m.get('cpus')} CPUs, {m.get('platform')}, Python {m.get('python')}, "
        f"tailored {m.get('tailored')}; embedder {report.embedder}"
        + (f" with {report.speed['torch_threads']} torch thread(s)" if report.speed.get("torch_threads") else "")
        + f"; one process, run once; {report.created}.",
        "",
        f"Dataset slice: {report.slice.get('description', '')}",
        "",
    ]
    if locomo:
        lines += [
            "Protocol: each LoCoMo conversation is one user and every turn an event dated with its "
            "session (`parse_locomo`, photo captions appended). For every question of categories 1-4 "
            "with evidence, recall@k is the share of its evidence turns in the top k (turn level) and "
            "the share of its evidence sessions among the sessions of the top k turns (session level), "
            "averaged over questions. Every setting was chosen on conversations 1-5; conversations 6-10 "
            "are reported apart as held-out data.",
            "",
        ]
    else:
        lines += [
            "Protocol: for each PrefEval explicit preference, a user gets "
            f"{report.slice.get('turns')} consecutive turns of PrefEval's LMSYS filler conversations "
            "(random start) with the preference statement inserted as a user turn at a random position "
            f"(seed {report.slice.get('seed')}); the preference's question is searched and the "
            "preference turn is the only evidence. The fusion's lexical-trust bounds were chosen on "
            "topics 1-10 (alphabetical file order) together with LoCoMo conversations 1-5; topics 11-20 "
            "are reported apart as held-out data.",
            "",
        ]
    lines += ["## Recall", ""]
    headers = ["mode", "slice", "questions"] + [f"R@{k}" for k in ks]
    if locomo:
        headers += ["session R@5", "session R@10"]
    rows: list[list[Any]] = []
    for mode in MODES:
        for slice_name, per_mode in report.results.items():
            s = per_mode[mode]
            row = [mode, title[slice_name], s["questions"]] + [s["turn"].get(k, s["turn"].get(str(k))) for k in ks]
            if locomo:
                row += [s["session"].get(k, s["session"].get(str(k))) for k in (5, 10)]  # str keys: read from JSON
            rows.append(row)
    lines += [table(headers, rows), ""]
    if plot:
        lines += [f"![recall@k]({plot})", ""]
    if locomo and report.categories:
        lines += ["## Turn-level R@10 by question category (all selected conversations)", ""]
        rows = [[c, int(v["questions"])] + [v[mo] for mo in MODES] for c, v in report.categories.items()]
        lines += [table(["category", "questions", *MODES], rows), ""]
        lines += [
            "Category names follow the numbering used by LoCoMo follow-up work "
            "(1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop).",
            "",
        ]
    sp = report.speed
    lines += ["## Speed", ""]
    srows: list[list[Any]] = [
        [
            "ingest (store + embed)",
            f"{sp['ingest_turns_per_s']:.0f} turns/s" if sp.get("ingest_turns_per_s") else "n/a",
        ],
    ]
    for mode in MODES:
        lat = sp["latency"].get(mode, {})
        srows.append(
            [
                f"search {mode}, {sp.get('events_per_user', 'n/a')} events/user",
                f"p50 {_ms(lat.get('p50_ms'))}, p95 {_ms(lat.get('p95_ms'))}",
            ]
        )
    if sp.get("scale"):
        sc = sp["scale"]
        srows.append(
            [
                f"search hybrid, one user with {sc['events']} events",
                f"p50 {_ms(sc['p50_ms'])}, p95 {_ms(sc['p95_ms'])} ({sc['queries']} queries)",
            ]
        )
    lines += [table(["what", "measured"], srows), ""]
    lines += [
        "Search latency includes embedding the query and reading the hits from SQLite; the user's "
        "in-memory view is built before timing starts. Each question is searched in bm25, dense and "
        "hybrid mode in turn, and the engine keeps a query's vector for the next search of the same "
        "text, so hybrid reuses dense's vector when the question names no speaker (every PrefEval "
        "question): its time then leaves out the embedding.",
        "",
    ]
    if sp.get("load_average_1m") is not None:
        lines += [
            f"The machine's 1-minute load average when the searches ended was {sp['load_average_1m']:.1f} "
            f"on {m.get('cpus')} CPUs; other jobs running at the same time slow every timing above.",
            "",
        ]
    if sp.get("note"):
        lines += [sp["note"], ""]
    if report.ablation:
        lines += ["## Ablation: each step's effect", ""]
        names = [n for n in report.ablation[0] if n in title and n != "all"] or ["all"]
        if locomo:
            headers = (
                ["step", "mode"] + [f"R@10 {title[n]}" for n in names] + [f"session R@5 {title[n]}" for n in names]
            )
            rows = [
                [a["step"], a["mode"]] + [a[n]["turn_r10"] for n in names] + [a[n]["session_r5"] for n in names]
                for a in report.ablation
            ]
        else:
            headers = ["step", "mode"] + [f"R@5 {title[n]}" for n in names] + [f"R@10 {title[n]}" for n in names]
            rows = [
                [a["step"], a["mode"]] + [a[n]["turn_r5"] for n in names] + [a[n]["turn_r10"] for n in names]
                for a in report.ablation
            ]
        lines += [table(headers, rows), ""]
        lines += [
            "Each row adds one step to the row above it (the first three are the baselines); the last row is the default `RetrievalConfig`.",
            "",
        ]
    lines += ["Raw figures: the JSON file next to this page.", ""]
    return "\n".join(lines)


# -- the command -------------------------------------------------------------------------


def run_benchmark(
    dataset: str,
    data: Path,
    out: Path,
    embedder: str | Embedder = "minilm",
    conversations: str | None = None,
    limit: int | None = None,
    turns: int = 300,
    seed: int = 0,
    db: Path | None = None,
    with_ablation: bool = True,
    scale_events: int = 10_000,
    command: str = "",
    progress: Progress | None = None,
    threads: int | None = None,
) -> Report:
    """Run the benchmark, write ``retrieval-<dataset>.md/.json/.png`` into ``out``."""
    if dataset not in DATASETS:
        raise InvalidInput(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    if dataset == "locomo":
        cases = load_locomo(data, parse_selection(conversations, 10) if conversations else None)
        if limit is not None:
            for c in cases:
                c.questions = c.questions[:limit]
        slice_info: dict[str, Any] = {
            "conversations": [c.part for c in cases],
            "questions": sum(len(c.questions) for c in cases),
            "turns": sum(len(c.events) for c in cases),
            "limit_per_conversation": limit,
            "description": (
                f"LoCoMo `locomo10.json`, conversations {conversations or '1-10'} "
                f"({len(cases)} users, {sum(len(c.events) for c in cases)} turns), "
                f"{sum(len(c.questions) for c in cases)} questions of categories 1-4 with evidence"
                + (f", first {limit} per conversation" if limit else "")
                + "."
            ),
        }
    else:
        if conversations is not None:
            raise InvalidInput("--conversations applies to LoCoMo only")
        if turns < 1:
            raise InvalidInput("--turns must be at least 1")
        cases = load_prefeval(data, turns=turns, seed=seed, limit=limit)
        slice_info = {
            "preferences": len(cases),
            "turns": turns,
            "seed": seed,
            "description": (
                f"PrefEval `explicit_preference/*.json`, {len(cases)} preferences"
                + (f" (first {limit})" if limit else "")
                + f", each buried among {turns} turns of `filtered_inter_turns.json`."
            ),
        }
    if not any(c.questions for c in cases):
        raise InvalidInput("the selection holds no questions")
    model = _embedder(embedder, threads)
    config = RetrievalConfig()
    with tempfile.TemporaryDirectory(prefix="tailored-bench-") as tmp:
        # Every vector is remembered: PrefEval repeats its filler turns for every user, and
        # the scale user repeats LoCoMo's turns, so each text is embedded once.
        memo = MemoEmbedder(model)
        writer = Engine(db or Path(tmp) / "bench.db", embedder=memo)
        try:
            searcher = Engine(store=writer.store, embedder=model, retrieval=config)
            added, seconds = ingest(writer, cases, progress)
            results = evaluate(searcher, cases, progress=progress)
            speed: dict[str, Any] = {
                "torch_threads": threads,
                "load_average_1m": os.getloadavg()[0],
                "ingest_events": added,
                "ingest_seconds": seconds,
                "ingest_turns_per_s": added / seconds if added and dataset == "locomo" else None,
                "events_per_user": round(statistics.fmean(len(c.events) for c in cases)),
                "latency": {
                    m: {
                        "p50_ms": percentile([r.ms for r in results if r.mode == m], 50),
                        "p95_ms": percentile([r.ms for r in results if r.mode == m], 95),
                    }
                    for m in MODES
                },
            }
            if dataset == "prefeval":
                speed["note"] = (
                    "Ingest speed is not reported for PrefEval: its filler turns repeat across users and are embedded once."
                )
            if dataset == "locomo" and scale_events > 0:
                speed["scale"] = _scale_latency(writer, model, cases, scale_events, progress)
            abl = ablation(searcher, model, cases, progress) if with_ablation else []
            report = build_report(
                dataset,
                command,
                cases,
                results,
                model.name,
                config,
                speed,
                abl,
                slice_info,
            )
        finally:
            writer.close()
    _write(report, out, results)
    return report


def _embedder(spec: str | Embedder, threads: int | None) -> Embedder:
    if not isinstance(spec, str):
        return spec
    if spec == "minilm" and threads:
        from ..embed.local import MiniLMEmbedder

        return MiniLMEmbedder(threads=threads)
    return load_embedder(spec)


def _scale_latency(
    writer: Engine, model: Embedder, cases: Sequence[Case], events: int, progress: Progress | None
) -> dict[str, Any]:
    """Hybrid search latency for one user with ``events`` events (LoCoMo turns, repeated).

    ``writer`` stored the cases with a ``MemoEmbedder``, so the repeated turns are not
    embedded again; the searches embed their queries with ``model`` itself."""
    big = Case(user_id="scale-user", events=scale_user(cases, events), questions=[])
    ingest(writer, [big], progress)
    searcher = Engine(store=writer.store, tenant=writer.tenant, embedder=model)
    questions = [q.text for c in cases for q in c.questions][:200]
    searcher.search(big.user_id, "warm up", k=1)
    ms = []
    task = progress.add_task(f"search, {len(big.events)} events", total=len(questions)) if progress else None
    for text in questions:
        start = time.perf_counter()
        searcher.search(big.user_id, text, k=10)
        ms.append((time.perf_counter() - start) * 1000)
        if progress is not None and task is not None:
            progress.advance(task)
    return {"events": len(big.events), "queries": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}


def _write(report: Report, out: Path, results: Sequence[Result]) -> None:
    stem = f"retrieval-{report.dataset}"
    plot = None
    ks = list(KS)
    series: dict[str, Sequence[float]] = {m: [report.results["all"][m]["turn"][k] for k in ks] for m in MODES}
    title = "LoCoMo evidence recall@k (turn level)" if report.dataset == "locomo" else "PrefEval preference recall@k"
    if recall_plot(out / f"{stem}.png", title, ks, series) is not None:
        plot = f"{stem}.png"
    payload = asdict(report)
    payload["per_question"] = [asdict(r) for r in results]
    write_json(out / f"{stem}.json", payload)
    (out / f"{stem}.md").write_text(render_markdown(report, plot), encoding="utf-8")


DatasetOpt = Annotated[str, typer.Option("--dataset", help="locomo or prefeval.")]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", help="The dataset's folder (default: $TAILORED_DATA/<dataset>, else ../shared/data/<dataset>)."
    ),
]


def retrieval(
    dataset: DatasetOpt = "locomo",
    data: DataOpt = None,
    conversations: Annotated[
        str | None, typer.Option("--conversations", help="LoCoMo conversations, e.g. 1-5 or 1,3,7 (default: all 10).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="At most N questions per LoCoMo conversation, or N PrefEval preferences."),
    ] = None,
    turns: Annotated[int, typer.Option("--turns", help="PrefEval: unrelated turns around each preference.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="PrefEval: seed for filler choice and position.")] = 0,
    embedder: Annotated[str, typer.Option("--embedder", help="Embedder name (minilm, hash).")] = "minilm",
    out: Annotated[Path, typer.Option("--out", help="Where the report goes.")] = Path("docs/benchmarks"),
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Keep the store in this file and reuse its users next time (default: a temp file)."),
    ] = None,
    with_ablation: Annotated[
        bool, typer.Option("--ablation/--no-ablation", help="Also measure each retrieval step's effect.")
    ] = True,
    scale_events: Annotated[
        int,
        typer.Option(
            "--scale-events", help="LoCoMo: also time hybrid search for one user with this many events (0: skip)."
        ),
    ] = 10_000,
    threads: Annotated[
        int, typer.Option("--threads", help="Torch threads for the minilm embedder (0: torch's default).")
    ] = 1,
) -> None:
    """Evidence recall@k of bm25, dense and hybrid search on LoCoMo or PrefEval."""
    folder = data if data is not None else data_dir() / dataset
    parts = ["tailored bench retrieval", f"--dataset {dataset}", f"--data {shlex.quote(str(folder))}"]
    if conversations:
        parts.append(f"--conversations {conversations}")
    if limit is not None:
        parts.append(f"--limit {limit}")
    if dataset == "prefeval":
        parts += [f"--turns {turns}", f"--seed {seed}"]
    if embedder != "minilm":
        parts.append(f"--embedder {embedder}")
    if not with_ablation:
        parts.append("--no-ablation")
    if dataset == "locomo" and scale_events != 10_000:
        parts.append(f"--scale-events {scale_events}")
    if threads != 1:
        parts.append(f"--threads {threads}")
    with progress_bar() as progress:
        report = run_benchmark(
            dataset,
            folder,
            out,
            embedder=embedder,
            conversations=conversations,
            limit=limit,
            turns=turns,
            seed=seed,
            db=db,
            with_ablation=with_ablation,
            scale_events=scale_events,
            command=" ".join(parts),
            progress=progress,
            threads=threads or None,
        )
    show = Table(title=f"retrieval, {dataset}: turn-level recall@k")
    show.add_column("mode")
    show.add_column("slice")
    for k in KS:
        show.add_column(f"R@{k}", justify="right")
    show.add_column("p95", justify="right")
    for mode in MODES:
        for name, per_mode in report.results.items():
            s = per_mode[mode]
            show.add_row(mode, _TITLES[dataset][name], *(f"{s['turn'][k]:.3f}" for k in KS), _ms(s["p95_ms"]))
    Console().print(show)
    Console().print(f"report: {out / f'retrieval-{dataset}.md'}")
