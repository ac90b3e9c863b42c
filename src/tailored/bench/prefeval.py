"""``tailored bench prefeval``: does a stated preference survive being buried in a long chat?

PrefEval (explicit, implicit choice-based and implicit persona-driven preferences) tested
on the engine itself. For every item and every ``N`` in ``--turns``, one fresh user gets:

- the first ``N`` turns of PrefEval's filler conversations (``filtered_inter_turns.json``,
  in order, both roles, one minute apart), and
- the item's evidence, inserted as a contiguous block at a seeded random position among
  them: the preference statement (explicit), or the choice conversation (query, options,
  selection, acknowledgment) or the persona conversation (implicit sets).

Then the item's question is asked:

(a) **Context recall**: is the evidence in ``Engine.context(user, question, budget=B)``?
    Either an evidence event is among the context's records, or a profile memory whose
    evidence includes such an event is in its profile block. Measured with profiles
    (``profile=True``; memories from ``--extractor``, the default ``auto``) and without (retrieval only).
(b) **MCQ accuracy** (explicit set, ``N = --mcq-turns``): PrefEval's four options, the
    first of which is the preference-aligned one, shuffled with a fixed seed and lettered.
    Two scorings (``--scoring``): ``letter``, one prompt with the four options lettered and
    the letter with the highest next-token log-probability as the choice; ``options``, one
    prompt per option ("Is this response a good fit for me?") and the option with the
    largest log P(Yes) - log P(No), free of a small model's pull towards the first letters.
    Methods: ``no-memory`` (question
    only), ``ours`` (the engine's context in the system message, exactly as
    ``Engine.chat`` sends it), ``profile`` (the same without the retrieved records),
    ``stated`` (the preference statement itself, alone, as a
    known fact in the system message: what a perfect memory would hand the model, a
    reference for how far this model and scoring can move at all) and ``full-history`` (the buried conversation as
    earlier chat turns, the most recent that fit the model's window).

The rules extractor's stance (like vs dislike/avoid) on the explicit statements is checked
against a lexical reading of each statement, since most PrefEval preferences are negative
and a negative read as a like points the model at the violating option.

Filler vectors are computed once and stored with each user's events, so a user costs a
store write, an extraction and two context builds. Each user is erased after use.
"""

from __future__ import annotations

import json
import math
import random
import re
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    Progress,
)
from rich.table import Table

from ..chat import PERSONALIZE
from ..embed import Embedder, load_embedder
from ..embed.cached import CachedEmbedder
from ..engine import Engine
from ..errors import InvalidInput
from ..llm import ChatModel, load_chat_model
from ..memory.rules import extract_text
from ..types import EventIn
from .common import OutOpt, data_dir, machine, progress_columns, require, write_json

console = Console(stderr=True)

SETS = ("explicit", "choice", "persona")
SET_NAMES = {"explicit": "explicit", "choice": "implicit choice-based", "persona": "implicit persona-driven"}
SET_DIRS = {
    "explicit": "explicit_preference",
    "choice": "implicit_preference/choice-based",
    "persona": "implicit_preference/persona-driven",
}
METHODS = ("no-memory", "ours", "profile", "stated", "full-history")
SCORINGS = ("letter", "options")
STATED = "Known facts about the user:\n- {preference}"
LETTERS = "ABCDEFGH"
START = datetime(2024, 1, 1, tzinfo=UTC)
MCQ_QUESTION = (
    "{question}\n\nHere are {count} possible responses to my request:\n{options}\n\n"
    "Which response is the best one for me? Answer with the single letter of that response."
)
OPTION_QUESTION = "{question}\n\nProposed response: {option}\n\nIs this response a good fit for me? Answer Yes or No."
RECALL_TARGET = 0.95
MCQ_TARGET_GAIN = 0.20


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


@dataclass
class Item:
    """One PrefEval preference: what to bury, the question, and the MCQ options (first correct)."""

    set: str
    topic: str
    index: int
    preference: str
    question: str
    evidence: list[Turn]
    options: list[str] | None = None

    @property
    def key(self) -> str:
        return f"{self.set}/{self.topic}/{self.index}"


@dataclass
class Recall:
    set: str
    key: str
    turns: int
    position: int  # filler turns before the evidence
    with_profile: bool
    without_profile: bool
    via_record: bool  # with profiles: an evidence event is among the records
    via_memory: bool  # with profiles: a memory citing the evidence is in the profile block
    evidence_memories: int  # memories (any status) citing the evidence
    profile_memories: int  # active memories the user has (filler included)
    context_memories: int  # memories in the profile block


@dataclass
class Choice:
    key: str
    method: str
    scoring: str
    correct: str  # the letter of the preference-aligned option
    chosen: str | None
    logprobs: dict[str, float]
    prompt_tokens: int
    seconds: float
    pref_in_prompt: bool

    @property
    def right(self) -> bool:
        return self.chosen == self.correct


# -- data --------------------------------------------------------------------------------


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_filler(root: Path) -> list[Turn]:
    """Every filler turn, conversation after conversation, in order."""
    data = _read(require(root / "filtered_inter_turns.json", "PrefEval filler turns (filtered_inter_turns.json)"))
    return [
        Turn(t["role"], t["content"]) for conv in data for t in conv["conversation"] if t.get("content", "").strip()
    ]


def evidence_turns(set_name: str, record: dict[str, Any]) -> list[Turn]:
    """The turns that carry the preference: the statement, or the implicit conversation."""
    if set_name == "explicit":
        return [Turn("user", record["preference"])]
    conv = record["conversation"]
    if set_name == "choice":
        return [
            Turn("user", conv["query"]),
            Turn("assistant", conv["assistant_options"]),
            Turn("user", conv["user_selection"]),
            Turn("assistant", conv["assistant_acknowledgment"]),
        ]
    turns = []
    for k in sorted(conv, key=lambda s: int(re.sub(r"\D", "", s) or 0)):
        for role in ("user", "assistant"):
            if conv[k].get(role):
                turns.append(Turn(role, conv[k][role]))
    return turns


def load_items(root: Path, set_name: str) -> list[Item]:
    """All items of one set, topic by topic; explicit items carry their MCQ options."""
    folder = require(root / SET_DIRS[set_name], f"PrefEval {SET_NAMES[set_name]} set")
    items: list[Item] = []
    for path in sorted(folder.glob("*.json")):
        records = _read(path)
        options: list[Any] = []
        mcq = root / "mcq_options" / path.name
        if set_name == "explicit" and mcq.exists():
            options = _read(mcq)
        for i, r in enumerate(records):
            opts = None
            # the same record by index; a few MCQ preferences are reworded, their questions are not
            if i < len(options) and r["question"] == options[i].get("question"):
                opts = list(options[i]["classification_task_options"])
            items.append(
                Item(set_name, path.stem, i, r["preference"], r["question"], evidence_turns(set_name, r), opts)
            )
    return items


def sample(items: Sequence[Item], limit: int | None, seed: int) -> list[Item]:
    """``limit`` items spread evenly over topics: shuffled within each topic (fixed seed),
    then taken round-robin across topics in name order."""
    if limit is None or limit >= len(items):
        return list(items)
    by_topic: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_topic[it.topic].append(it)
    queues = []
    for topic in sorted(by_topic):
        group = list(by_topic[topic])
        random.Random(f"{seed}:{topic}").shuffle(group)
        queues.append(group)
    out: list[Item] = []
    while len(out) < limit:
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


def position(item: Item, turns: int, seed: int) -> int:
    """Where the evidence goes among ``turns`` filler turns (0 = before all of them).

    Seeded by the item and ``turns`` alone, so every run and every method sees the same user.
    """
    return random.Random(f"{seed}:{item.key}:{turns}").randint(0, turns)


def bury(filler: Sequence[Turn], evidence: Sequence[Turn], at: int) -> tuple[list[Turn], list[int]]:
    """The filler with the evidence block inserted at ``at``; returns the turns and the
    indices of the evidence turns among them.

    Examples
    --------
    >>> turns, where = bury([Turn("user", "a"), Turn("assistant", "b")], [Turn("user", "I hate X")], 1)
    >>> [t.text for t in turns], where
    (['a', 'I hate X', 'b'], [1])
    """
    if not 0 <= at <= len(filler):
        raise InvalidInput(f"position {at} is outside 0-{len(filler)}")
    turns = [*filler[:at], *evidence, *filler[at:]]
    return turns, list(range(at, at + len(evidence)))


def shuffle_options(options: Sequence[str], key: str, seed: int) -> tuple[list[str], int]:
    """The options in a seeded order, and the new index of the first (the correct) one.

    Examples
    --------
    >>> opts, right = shuffle_options(["good", "bad 1", "bad 2", "bad 3"], "k", 0)
    >>> opts[right]
    'good'
    """
    order = list(range(len(options)))
    random.Random(f"{seed}:options:{key}").shuffle(order)
    return [options[i] for i in order], order.index(0)


def mcq_prompt(question: str, options: Sequence[str]) -> str:
    lettered = "\n".join(f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options))
    return MCQ_QUESTION.format(question=question, count=len(options), options=lettered)


# -- stance of the rules extractor ---------------------------------------------------------

_NEGATIVE = (
    r"avoid\w*|dislike\w*|hate\w*|detest\w*|loathe\w*|can(?:'|’)?t stand|cannot stand|can(?:'|’)?t tolerate|"
    r"don(?:'|’)?t|do not|doesn(?:'|’)?t|never|not\b|no longer|aversion|averse|allerg\w*|intoleran\w*|off-putting|"
    r"uncomfortable|refuse\w*|steer clear|stay away|turned off|put off|bother\w*|annoy\w*|dread\w*|"
    r"fear\w*|afraid|nervous|anxious|sensitive to|react badly|stressful|overwhelm\w*|triggers?|"
    r"sick of|tired of|bored|boring|frustrat\w*|strictly|no\b|without|free of|unpleasant|irritat\w*|"
    r"disgust\w*|repuls\w*|terrif\w*|phobia\w*|can(?:'|’)?t|cannot|unable|shouldn(?:'|’)?t"
)
_POSITIVE = (
    r"prefer\w*|like\w*|love\w*|enjoy\w*|only|interested|want\w*|fan\b|favou?rite|passionate|into\b|"
    r"appreciate\w*|value\w*|prioriti\w*|stick to|always|seek\w*|drawn to|adore\w*|keen|fond|crave\w*|"
    r"follow\w*|choose|opt for|practi[cs]e\w*|committed|devoted|rely"
)
_CUE = re.compile(rf"\b(?:(?P<neg>{_NEGATIVE})|(?P<pos>{_POSITIVE}))", re.IGNORECASE)


def gold_stance(statement: str) -> str | None:
    """The stance of a statement's first stance word: ``negative`` ("I avoid...", "I
    don't..."), ``positive`` ("I prefer...") or None. A lexical reading, checked by hand on
    a sample (see the report), not an annotation PrefEval ships."""
    m = _CUE.search(statement)
    if not m:
        return None
    return "negative" if m.group("neg") else "positive"


def extracted_stance(statement: str) -> tuple[str | None, list[str]]:
    """The rules extractor's stance for a statement (its first preference) and its texts."""
    prefs = [m for m in extract_text(statement, time=START) if m.kind == "preference"]
    if not prefs:
        return None, []
    first = prefs[0].polarity
    return ("positive" if first == "like" else "negative"), [f"{m.text} [{m.polarity}]" for m in prefs]


def stance_check(items: Sequence[Item]) -> dict[str, Any]:
    rows = []
    for it in items:
        gold = gold_stance(it.preference)
        got, texts = extracted_stance(it.preference)
        rows.append({"key": it.key, "preference": it.preference, "gold": gold, "extracted": got, "memories": texts})
    judged = [r for r in rows if r["gold"] is not None]
    found = [r for r in judged if r["extracted"] is not None]
    right = [r for r in found if r["extracted"] == r["gold"]]
    negative = [r for r in judged if r["gold"] == "negative"]
    return {
        "statements": len(rows),
        "with_gold_stance": len(judged),
        "negative_share": round(len(negative) / len(judged), 4) if judged else None,
        "extracted_share": round(len(found) / len(judged), 4) if judged else None,
        "stance_accuracy_all": round(len(right) / len(judged), 4) if judged else None,
        "stance_accuracy_extracted": round(len(right) / len(found), 4) if found else None,
        "negative_kept": round(sum(1 for r in negative if r["extracted"] == "negative") / len(negative), 4)
        if negative
        else None,
        "examples_missed": [r["preference"] for r in judged if r["extracted"] is None][:8],
        "examples_flipped": [
            {"preference": r["preference"], "gold": r["gold"], "memories": r["memories"]}
            for r in found
            if r["extracted"] != r["gold"]
        ][:8],
        "rows": rows,
    }


# -- the engine side -----------------------------------------------------------------------


class Burier:
    """Builds users through ``Engine.add``, as an application would. The engine should embed
    with a :class:`CachedEmbedder`, so the filler turns every user shares are embedded once."""

    def __init__(self, engine: Engine, filler: Sequence[Turn], max_turns: int) -> None:
        if max_turns > len(filler):
            raise InvalidInput(f"--turns up to {max_turns}, but the filler has only {len(filler)} turns")
        self.engine = engine
        self.filler = list(filler[:max_turns])

    def add_user(self, user: str, item: Item, turns: int, at: int) -> tuple[list[Turn], list[int]]:
        """Store the buried conversation for ``user``; returns its turns and evidence event ids."""
        buried, where = bury(self.filler[:turns], item.evidence, at)
        events = [
            EventIn(user_id=user, role=t.role, text=t.text, time=START + timedelta(minutes=n), session_id="chat")
            for n, t in enumerate(buried)
        ]
        ids = self.engine.add(events).added
        return buried, [ids[i] for i in where]


def context_hit(
    engine: Engine, user: str, question: str, evidence: set[int], budget: int, profile: bool, records: bool = True
) -> tuple[bool, bool, bool, Any]:
    """(in the context, via a record, via a memory, the context)."""
    ctx = engine.context(user, question, budget=budget, profile=profile, records=records)
    via_record = any(it.event_id in evidence for it in ctx.items)
    via_memory = False
    if ctx.memories:
        cites = {m.id for m in engine.history(user) if evidence.intersection(m.evidence)}
        via_memory = any(mid in cites for mid in ctx.memories)
    return via_record or via_memory, via_record, via_memory, ctx


def measure_recall(
    engine: Engine, burier: Burier, item: Item, turns: int, seed: int, budget: int, user: str, extractor: str
) -> Recall:
    at = position(item, turns, seed)
    _, ids = burier.add_user(user, item, turns, at)
    evidence = set(ids)
    try:
        plain, _, _, _ = context_hit(engine, user, item.question, evidence, budget, profile=False)
        engine.extract(user, extractor)
        hit, rec, mem, ctx = context_hit(engine, user, item.question, evidence, budget, profile=True)
        history = engine.history(user)
        return Recall(
            set=item.set,
            key=item.key,
            turns=turns,
            position=at,
            with_profile=hit,
            without_profile=plain,
            via_record=rec,
            via_memory=mem,
            evidence_memories=sum(1 for m in history if evidence.intersection(m.evidence)),
            profile_memories=sum(1 for m in history if m.status == "active"),
            context_memories=len(ctx.memories),
        )
    finally:
        engine.erase(user)


def summarize_recall(rows: Sequence[Recall]) -> list[dict[str, Any]]:
    out = []
    for set_name in SETS:
        for n in sorted({r.turns for r in rows if r.set == set_name}):
            rs = [r for r in rows if r.set == set_name and r.turns == n]
            out.append(
                {
                    "set": set_name,
                    "turns": n,
                    "items": len(rs),
                    "recall_profile": round(mean(r.with_profile for r in rs), 4),
                    "recall_retrieval": round(mean(r.without_profile for r in rs), 4),
                    "via_record": round(mean(r.via_record for r in rs), 4),
                    "via_memory": round(mean(r.via_memory for r in rs), 4),
                    "evidence_extracted": round(mean(r.evidence_memories > 0 for r in rs), 4),
                    "profile_memories": round(mean(r.profile_memories for r in rs), 1),
                    "context_memories": round(mean(r.context_memories for r in rs), 1),
                }
            )
    return out


# -- MCQ -----------------------------------------------------------------------------------


def choose(model: ChatModel, messages: list[dict[str, str]], count: int) -> tuple[str | None, dict[str, float]]:
    """The letter among the first ``count`` with the highest next-token log-probability."""
    top = model.next_token_logprobs(messages, top_k=20)
    letters = LETTERS[:count]
    scores: dict[str, float] = {}
    for piece, lp in top.items():
        p = piece.strip().rstrip(".)").upper()
        if len(p) == 1 and p in letters:
            scores[p] = max(scores.get(p, -math.inf), lp)
    if not scores:
        return None, {}
    return max(scores, key=lambda k: scores[k]), {k: round(v, 4) for k, v in sorted(scores.items())}


def yes_margin(top: dict[str, float]) -> float:
    """log P(Yes) - log P(No) for the answer's first token; a word outside the top-k is
    given the lowest log-probability seen, an upper bound on its own."""
    floor = min(top.values())
    yes = max((lp for piece, lp in top.items() if piece.strip().lower() == "yes"), default=floor)
    no = max((lp for piece, lp in top.items() if piece.strip().lower() == "no"), default=floor)
    return yes - no


def choose_by_options(
    model: ChatModel, before: list[dict[str, str]], question: str, options: Sequence[str]
) -> tuple[str | None, dict[str, float]]:
    """The option the model most readily calls a good fit, each judged alone.

    Asking about one response at a time takes the letters, and the small model's strong
    preference for the first ones, out of the choice. The prompts differ only in their
    last lines, so a model that caches a shared prefix reads the context once.
    """
    scores = {}
    for letter, option in zip(LETTERS, options, strict=False):
        ask = {"role": "user", "content": OPTION_QUESTION.format(question=question, option=option)}
        scores[letter] = round(yes_margin(model.next_token_logprobs([*before, ask], top_k=20)), 4)
    return max(scores, key=lambda k: scores[k]), scores


def history_messages(model: ChatModel, turns: Sequence[Turn], final: str) -> list[dict[str, str]]:
    """The buried conversation as chat turns, the most recent that fit the window with ``final``."""
    window = model.context_window - 16  # the answer's first token and the template's margin
    msgs = [{"role": "user", "content": final}]
    used = model.count_message_tokens(msgs)
    kept: list[dict[str, str]] = []
    for t in reversed(turns):
        cost = model.count_tokens(t.text) + 6
        if used + cost > window:
            break
        kept.append({"role": t.role, "content": t.text})
        used += cost
    kept.reverse()
    while kept and kept[0]["role"] != "user":  # a chat opens with the user
        kept.pop(0)
    out = kept + msgs
    while len(out) > 1 and model.count_message_tokens(out) > window:  # per-turn estimates were low
        out.pop(0)
    return out


def run_mcq(
    engine: Engine,
    burier: Burier,
    model: ChatModel,
    items: Sequence[Item],
    methods: Sequence[str],
    scorings: Sequence[str],
    turns: int,
    seed: int,
    budget: int,
    full_limit: int,
    advance: Callable[[str], None],
    extractor: str,
) -> list[Choice]:
    out: list[Choice] = []
    for n, item in enumerate(items):
        assert item.options is not None
        options, right = shuffle_options(item.options, item.key, seed)
        final = mcq_prompt(item.question, options)
        correct = LETTERS[right]
        user = f"mcq-{n}"
        at = position(item, turns, seed)
        buried, ids = burier.add_user(user, item, turns, at)
        try:
            for method in methods:
                if method == "full-history" and n >= full_limit:
                    continue
                found = False
                if method == "no-memory":
                    before: list[dict[str, str]] = []
                elif method == "stated":
                    found = True
                    before = [{"role": "system", "content": STATED.format(preference=item.preference)}]
                elif method in ("ours", "profile"):
                    engine.extract(user, extractor)
                    found, _, _, ctx = context_hit(
                        engine, user, item.question, set(ids), budget, profile=True, records=method == "ours"
                    )
                    before = [{"role": "system", "content": PERSONALIZE + "\n" + ctx.text}]
                else:
                    before = history_messages(model, buried, final)[:-1]
                    found = any(m["content"] == item.preference for m in before)
                for scoring in scorings:
                    msgs = [*before, {"role": "user", "content": final}]
                    t0 = time.perf_counter()
                    if scoring == "letter":
                        chosen, scores = choose(model, msgs, len(options))
                    else:
                        chosen, scores = choose_by_options(model, before, item.question, options)
                    out.append(
                        Choice(
                            item.key,
                            method,
                            scoring,
                            correct,
                            chosen,
                            scores,
                            model.count_message_tokens(msgs),
                            round(time.perf_counter() - t0, 3),
                            found,
                        )
                    )
                    advance(method)
        finally:
            engine.erase(user)
    return out


def summarize_mcq(choices: Sequence[Choice], methods: Sequence[str], full_keys: set[str]) -> list[dict[str, Any]]:
    rows = []
    for scoring in SCORINGS:
        for m in methods:
            cs = [c for c in choices if c.method == m and c.scoring == scoring]
            if not cs:
                continue
            same = [c for c in cs if c.key in full_keys]
            rows.append(
                {
                    "method": m,
                    "scoring": scoring,
                    "items": len(cs),
                    "accuracy": round(mean(c.right for c in cs), 4),
                    "accuracy_full_history_slice": round(mean(c.right for c in same), 4) if same else None,
                    "preference_in_prompt": round(mean(c.pref_in_prompt for c in cs), 4) if m != "no-memory" else None,
                    "no_letter": sum(c.chosen is None for c in cs),
                    "prompt_tokens": round(mean(c.prompt_tokens for c in cs), 1),
                    "seconds": round(mean(c.seconds for c in cs), 2),
                }
            )
    return rows


# -- report --------------------------------------------------------------------------------


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def plot(path: Path, recall: Sequence[dict[str, Any]]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=110)
    for set_name in SETS:
        rows = [r for r in recall if r["set"] == set_name]
        if not rows:
            continue
        ns = [r["turns"] for r in rows]
        line = ax.plot(
            ns, [r["recall_profile"] for r in rows], marker="o", label=f"{SET_NAMES[set_name]}: profile + records"
        )
        ax.plot(
            ns,
            [r["recall_retrieval"] for r in rows],
            marker="s",
            linestyle="--",
            color=line[0].get_color(),
            label=f"{SET_NAMES[set_name]}: records only",
        )
    ax.axhline(RECALL_TARGET, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ns_all = sorted({r["turns"] for r in recall})
    ax.set_xticks(ns_all)
    ax.set_xticklabels([str(n) for n in ns_all])
    ax.set_xlabel("filler turns N")
    ax.set_ylabel("preference in context")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title("PrefEval: is the buried preference in the context?")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def notes(payload: dict[str, Any]) -> list[str]:
    out = []
    explicit = [r for r in payload.get("recall", []) if r["set"] == "explicit"]
    if explicit:
        last = explicit[-1]
        ok = last["recall_profile"] >= RECALL_TARGET
        out.append(
            f"- Explicit recall with profiles at N = {last['turns']}: {last['recall_profile']:.3f} "
            f"(target {RECALL_TARGET}: {'met' if ok else 'NOT met'})."
        )
    for scoring in SCORINGS:
        by = {r["method"]: r for r in payload.get("mcq", []) if r.get("scoring", "letter") == scoring}
        for method, what in (("ours", "our context"), ("profile", "our context without records")):
            if method in by and "no-memory" in by:
                gain = round(by[method]["accuracy"] - by["no-memory"]["accuracy"], 4)
                out.append(
                    f"- MCQ ({scoring} scoring) with {what} {by[method]['accuracy']:.3f} vs no memory "
                    f"{by['no-memory']['accuracy']:.3f}: {gain * 100:+.1f} points (target "
                    f"+{MCQ_TARGET_GAIN * 100:.0f}: {'met' if gain >= MCQ_TARGET_GAIN else 'NOT met'})."
                )
        if "stated" in by and "no-memory" in by:
            gain = by["stated"]["accuracy"] - by["no-memory"]["accuracy"]
            out.append(
                f"- The statement itself as a known fact ({scoring} scoring): {by['stated']['accuracy']:.3f} "
                f"({gain * 100:+.1f} points over no memory): what the exact preference alone gives this model "
                f"under this scoring."
            )
    return out


MERGED = {
    "recall": ("recall", "per_user", "stance"),
    "mcq": ("mcq", "mcq_by_stance", "per_choice"),
}
MERGED_CONFIG = {
    "recall": ("turns", "sets", "limit", "implicit_limit"),
    "mcq": ("mcq_turns", "model", "context_window", "mcq_items", "full_history_items"),
}


def merge_previous(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Keep the part (recall or MCQ) this run did not measure from the report already at
    ``path``, with the command that measured it, so the two can run separately."""
    if not path.exists():
        return payload
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return payload
    for part, keys in MERGED.items():
        if payload.get(part) or not old.get(part) or part not in old.get("commands", {}):
            continue
        same = all(old["config"].get(k) == payload["config"].get(k) for k in ("budget", "seed", "embedder")) and (
            old["config"].get("extractor", "rules") == payload["config"].get("extractor")
        )
        if not same:
            continue
        for k in keys:
            if k in old:
                payload[k] = old[k]
        for k in MERGED_CONFIG[part]:
            payload["config"][k] = old["config"].get(k)
        payload["commands"][part] = old["commands"][part]
        if part in old.get("part_seconds", {}):
            payload.setdefault("part_seconds", {})[part] = old["part_seconds"][part]
    payload["commands"] = {p: payload["commands"][p] for p in ("recall", "mcq") if p in payload["commands"]}
    return payload


def _part_times(payload: dict[str, Any]) -> str:
    parts = payload.get("part_seconds", {})
    return ", ".join(f"{p} {parts[p]:.0f} s" for p in ("recall", "mcq") if p in parts) or "time not recorded"


def write_report(out: Path, payload: dict[str, Any]) -> Path:
    cfg, m = payload["config"], payload["machine"]
    lines = [
        "# PrefEval: buried preferences, context recall and MCQ",
        "",
        *[f"Command ({part}): `{cmd}`" + "  " for part, cmd in payload["commands"].items()],
        "",
        (
            f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, tailored {m['tailored']}. "
            f"One run of each part ({_part_times(payload)}). Embedder: {cfg['embedder']}. Context budget: "
            f"{cfg['budget']} tokens. Seed: {cfg['seed']}."
        ),
        "",
        (
            "Each (preference, N) is one fresh user: the first N turns of PrefEval's filler "
            "conversations (both roles, in order) with the preference's evidence inserted at a "
            "seeded random position, then the item's question. Evidence is the stated preference "
            "(explicit), or the whole choice or persona conversation (implicit sets). Items are "
            "spread evenly over PrefEval's 20 topics."
        ),
        "",
        "## Context recall",
        "",
        (
            "Share of users whose context for the question holds the evidence: an evidence event "
            "among its records, or a profile memory citing an evidence event. *records only* is "
            "`context(profile=False)`; *profile + records* is `context(profile=True)` after "
            f"`extract(user, {payload['config'].get('extractor', 'rules')!r})`. *via memory* counts the profile block alone; "
            "*extracted* is the share where the extractor made any memory from the evidence."
        ),
        "",
    ]
    if not payload.get("recall"):
        lines = lines[: lines.index("## Context recall")]
    lines += (
        []
        if not payload.get("recall")
        else _table(
            [
                "set",
                "N",
                "items",
                "profile + records",
                "records only",
                "via record",
                "via memory",
                "extracted",
                "memories per user",
                "memories in context",
            ],
            [
                [
                    SET_NAMES[r["set"]],
                    r["turns"],
                    r["items"],
                    r["recall_profile"],
                    r["recall_retrieval"],
                    r["via_record"],
                    r["via_memory"],
                    r["evidence_extracted"],
                    r["profile_memories"],
                    r["context_memories"],
                ]
                for r in payload.get("recall", [])
            ],
        )
    )
    if payload.get("plot"):
        lines += ["", f"![recall vs N]({payload['plot']})"]
    if payload.get("mcq"):
        full = cfg["full_history_items"]
        lines += [
            "",
            f"## MCQ accuracy (explicit, N = {cfg['mcq_turns']})",
            "",
            (
                f"Model: {cfg['model']} (window {cfg['context_window']} tokens). PrefEval's four options per item, "
                f"the first (preference-aligned) one shuffled into a seeded position and lettered A-D. Chance is "
                f"0.25. Two scorings of the same prompts: *letter* shows all four and takes the letter with the "
                f'highest next-token log-probability; *options* asks about each response alone ("Is this '
                f'response a good fit for me? Answer Yes or No.") and takes the one with the largest '
                f"log P(Yes) - log P(No), which leaves the letters, and a small model's pull towards A and B, "
                f"out of the choice. "
                f"`ours` puts the engine's context in the system message as `Engine.chat` does; `profile` "
                f"the same without retrieved records (`context(records=False)`: profile and summary only); "
                f"`stated` puts only the preference statement there, as a known fact and without our "
                f"personalization instruction (what a perfect memory would hand the model); "
                + (
                    f"`full-history` gives the buried conversation as chat turns, the most recent that fit the "
                    f"window, and runs on the first {full} items only (a ~4k-token prompt takes "
                    f"minutes on this CPU: see s / item); the next column scores every method on that slice. "
                    if full
                    else ""
                )
                + "*pref. in prompt*: the statement is in the context (`ours`) or among the kept turns. "
                "*prompt tokens* is the lettered prompt's size under both scorings (each options prompt "
                "holds one response instead of four). *s / item* is the model's time per item; a scoring "
                "that runs after another on the same prompt reuses the prefix the model has cached."
            ),
            "",
        ]
        slice_col = [f"accuracy, first {full}"] if full else []
        lines += _table(
            [
                "method",
                "scoring",
                "items",
                "accuracy",
                *slice_col,
                "pref. in prompt",
                "no letter",
                "prompt tokens",
                "s / item",
            ],
            [
                [
                    r["method"],
                    r.get("scoring", "letter"),
                    r["items"],
                    r["accuracy"],
                    *([r["accuracy_full_history_slice"]] if full else []),
                    r["preference_in_prompt"],
                    r["no_letter"],
                    r["prompt_tokens"],
                    r["seconds"],
                ]
                for r in payload["mcq"]
            ],
        )
        if payload.get("mcq_by_stance"):
            lines += ["", "By the statement's stance (lexical reading, below):", ""]
            lines += _table(
                ["method", "scoring", "stance", "items", "accuracy"],
                [
                    [r["method"], r.get("scoring", "letter"), r["stance"], r["items"], r["accuracy"]]
                    for r in payload["mcq_by_stance"]
                ],
            )
    st = payload.get("stance")
    if st:
        lines += [
            "",
            "## Stance of the rules extractor (explicit statements)",
            "",
            (
                f"Each of {st['statements']} sampled statements is extracted alone; the stance of its first "
                "preference memory (like = positive; dislike/avoid = negative) is compared with the stance of "
                'the statement\'s first stance word ("avoid", "don\'t", "aversion"... vs "prefer", "love", '
                '"only"...), a lexical reading rather than a PrefEval label.'
            ),
            "",
        ]
        lines += _table(
            [
                "statements with a stance word",
                "negative",
                "any preference extracted",
                "stance right (all)",
                "stance right (extracted)",
                "negatives kept negative",
            ],
            [
                [
                    st["with_gold_stance"],
                    st["negative_share"],
                    st["extracted_share"],
                    st["stance_accuracy_all"],
                    st["stance_accuracy_extracted"],
                    st["negative_kept"],
                ]
            ],
        )
        if st["examples_missed"]:
            lines += ["", "Statements it extracted nothing from (first few):", ""]
            lines += [f"- {p}" for p in st["examples_missed"]]
        if st["examples_flipped"]:
            lines += ["", "Statements whose stance it read differently (first few):", ""]
            lines += [f"- {e['preference']} -> {'; '.join(e['memories'])}" for e in st["examples_flipped"]]
    found = notes(payload)
    if found:
        lines += ["", "## Verdict", "", *found]
    lines.append("")
    path = out / "prefeval.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- the command ---------------------------------------------------------------------------


def parse_turns(value: str) -> list[int]:
    try:
        ns = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError as exc:
        raise InvalidInput(f"--turns must be comma-separated integers, not {value!r}") from exc
    if not ns or ns[0] < 0:
        raise InvalidInput("--turns needs at least one non-negative number")
    return ns


def run(
    root: Path,
    *,
    turns: list[int],
    sets: list[str],
    limit: int | None,
    implicit_limit: int | None,
    mcq: bool,
    mcq_limit: int,
    mcq_turns: int,
    full_history_limit: int,
    methods: list[str],
    budget: int,
    seed: int,
    embedder: str | Embedder,
    extractor: str = "auto",
    scorings: Sequence[str] = ("letter",),
    model: ChatModel | None,
    workdir: Path,
    embed_threads: int | None = 1,
) -> dict[str, Any]:
    """Everything the report needs, as a JSON-ready dict (``command`` and ``machine`` aside)."""
    filler = load_filler(root)
    chosen = {s: sample(load_items(root, s), limit if s == "explicit" else implicit_limit, seed) for s in sets}
    mcq_items: list[Item] = []
    if mcq:
        pool = [it for it in load_items(root, "explicit") if it.options]
        mcq_items = sample(pool, mcq_limit, seed)
    inner = load_embedder(embedder) if isinstance(embedder, str) else embedder
    engine = Engine(workdir / "prefeval.db", embedder=CachedEmbedder(inner), extractor=extractor)
    if embed_threads:
        torch = sys.modules.get("torch")  # loaded by a local embedder
        if torch is not None:
            torch.set_num_threads(embed_threads)
    result: dict[str, Any] = {}
    try:
        burier = Burier(engine, filler, max([*turns, mcq_turns if mcq_items else 0]))
        columns = progress_columns()
        rows: list[Recall] = []
        started = time.perf_counter()
        with Progress(*columns, console=console, transient=True) as progress:
            for s in sets:
                task = progress.add_task(f"recall: {SET_NAMES[s]}", total=len(chosen[s]) * len(turns))
                for n, item in enumerate(chosen[s]):
                    for t in turns:
                        rows.append(measure_recall(engine, burier, item, t, seed, budget, f"{s}-{n}-{t}", extractor))
                        progress.advance(task)
        if rows:
            result["recall"] = summarize_recall(rows)
            result["per_user"] = [asdict(r) for r in rows]
            result["part_seconds"] = {"recall": round(time.perf_counter() - started, 1)}
        if "explicit" in chosen:
            result["stance"] = stance_check(chosen["explicit"])
        if mcq_items and model is not None:
            started = time.perf_counter()
            full_n = min(full_history_limit, len(mcq_items)) if "full-history" in methods else 0
            total = (len(mcq_items) * len([m for m in methods if m != "full-history"]) + full_n) * len(scorings)
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task(f"MCQ at N = {mcq_turns}", total=total)
                choices = run_mcq(
                    engine,
                    burier,
                    model,
                    mcq_items,
                    methods,
                    scorings,
                    mcq_turns,
                    seed,
                    budget,
                    full_n,
                    lambda m: progress.advance(task),
                    extractor,
                )
            full_keys = {it.key for it in mcq_items[:full_n]}
            result["mcq"] = summarize_mcq(choices, methods, full_keys)
            stance = {it.key: gold_stance(it.preference) or "none" for it in mcq_items}
            result["mcq_by_stance"] = [
                {
                    "method": m,
                    "scoring": sc,
                    "stance": s,
                    "items": len(cs),
                    "accuracy": round(mean(c.right for c in cs), 4),
                }
                for sc in scorings
                for m in methods
                for s in ("negative", "positive", "none")
                if (cs := [c for c in choices if c.method == m and c.scoring == sc and stance[c.key] == s])
            ]
            result["per_choice"] = [{**asdict(c), "right": c.right} for c in choices]
            result["full_history_items"] = full_n
            result.setdefault("part_seconds", {})["mcq"] = round(time.perf_counter() - started, 1)
    finally:
        engine.close()
    return result


def prefeval(
    data: Annotated[Path | None, typer.Option(help="PrefEval folder [default: $TAILORED_DATA/prefeval].")] = None,
    turns: Annotated[str, typer.Option(help="Filler turn counts N, comma-separated.")] = "10,50,150,300",
    sets: Annotated[
        str, typer.Option(help="Sets for recall: explicit, choice, persona (comma-separated).")
    ] = "explicit,choice,persona",
    limit: Annotated[
        int | None, typer.Option(help="Explicit items for recall, spread over topics [default: 200].")
    ] = 200,
    implicit_limit: Annotated[int | None, typer.Option(help="Items per implicit set for recall.")] = 100,
    mcq: Annotated[bool, typer.Option("--mcq/--no-mcq", help="Score MCQ accuracy with the chat model.")] = True,
    mcq_limit: Annotated[int, typer.Option(help="Explicit items for the MCQ, spread over topics.")] = 100,
    mcq_turns: Annotated[int, typer.Option(help="N for the MCQ.")] = 300,
    full_history_limit: Annotated[int, typer.Option(help="MCQ items that also run full-history (slow).")] = 30,
    method: Annotated[
        list[str] | None, typer.Option(help="MCQ methods: no-memory, ours, profile, stated, full-history (repeatable).")
    ] = None,
    scoring: Annotated[
        list[str] | None,
        typer.Option(
            help="MCQ scoring: letter (one prompt, the likeliest letter), options (each option judged alone, the likeliest Yes) (repeatable) [default: both]."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", envvar="TAILORED_MODEL", help="Chat model spec.")
    ] = None,
    n_ctx: Annotated[int, typer.Option(help="Context window for a local model.")] = 4096,
    budget: Annotated[int, typer.Option(help="Context token budget.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed for positions, samples and option order.")] = 0,
    embedder: Annotated[str, typer.Option(help="Embedder.")] = "minilm",
    extractor: Annotated[
        str, typer.Option(help="Extractor that makes the profile's memories (auto, fast, rules).")
    ] = "auto",
    threads: Annotated[int, typer.Option("--threads", help="Torch threads for the embedder (0: leave as is).")] = 1,
    out: OutOpt = Path("docs/benchmarks"),
) -> None:
    """PrefEval: is a preference buried under N filler turns in the context, and does it steer MCQ answers?"""
    started = time.perf_counter()
    root = data or data_dir() / "prefeval"
    ns = parse_turns(turns)
    chosen_sets = [s.strip() for s in sets.split(",") if s.strip() and s.strip() != "none"]
    if any(s not in SETS for s in chosen_sets):
        raise InvalidInput(f"--sets: use {', '.join(SETS)} or none")
    methods = method or list(METHODS)
    if any(m not in METHODS for m in methods):
        raise InvalidInput(f"--method: use {', '.join(METHODS)}")
    scorings = [sc for sc in SCORINGS if sc in (scoring or SCORINGS)]
    if any(sc not in SCORINGS for sc in scoring or ()):
        raise InvalidInput(f"--scoring: use {', '.join(SCORINGS)}")
    for name, value in (("--limit", limit), ("--implicit-limit", implicit_limit), ("--mcq-limit", mcq_limit)):
        if value is not None and value < 1:
            raise InvalidInput(f"{name} must be at least 1")
    llm: ChatModel | None = None
    if mcq:
        options: dict[str, Any] = {}
        if model is None or not model.startswith(("openai:", "scripted")):
            options["n_ctx"] = n_ctx
        llm = load_chat_model(model, **options)
        if not llm.supports_logprobs:
            raise InvalidInput(f"{llm.name} does not expose log-probabilities, which the MCQ needs")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(
                root,
                turns=ns,
                sets=chosen_sets,
                limit=limit,
                implicit_limit=implicit_limit,
                mcq=llm is not None,
                mcq_limit=mcq_limit,
                mcq_turns=mcq_turns,
                full_history_limit=full_history_limit,
                methods=methods,
                scorings=scorings,
                budget=budget,
                seed=seed,
                embedder=embedder,
                extractor=extractor,
                model=llm,
                workdir=Path(tmp),
                embed_threads=threads,
            )
    finally:
        if llm is not None:
            llm.close()
    argv = (
        "tailored bench prefeval " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("prefeval") + 1 :])
        if "prefeval" in sys.argv
        else "tailored bench prefeval"
    )
    payload: dict[str, Any] = {
        "benchmark": "prefeval",
        "command": argv.strip(),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "config": {
            "turns": ns,
            "sets": chosen_sets,
            "limit": limit,
            "implicit_limit": implicit_limit,
            "budget": budget,
            "seed": seed,
            "embedder": embedder,
            "extractor": extractor,
            "mcq_turns": mcq_turns,
            "model": llm.name if llm else None,
            "context_window": llm.context_window if llm else None,
            "mcq_items": len({c["key"] for c in result.get("per_choice", [])}),
            "full_history_items": result.pop("full_history_items", 0),
        },
        **result,
    }
    payload["commands"] = {part: payload["command"] for part in ("recall", "mcq") if payload.get(part)}
    payload = merge_previous(out / "prefeval.json", payload)
    payload["notes"] = notes(payload)
    png = plot(out / "prefeval-recall.png", payload.get("recall", []))
    payload["plot"] = png.name if png else None
    write_json(out / "prefeval.json", payload)
    path = write_report(out, payload)
    table = Table("set", "N", "items", "profile + records", "records only", title="PrefEval context recall")
    for r in payload.get("recall", []):
        table.add_row(
            SET_NAMES[r["set"]],
            str(r["turns"]),
            str(r["items"]),
            _fmt(r["recall_profile"]),
            _fmt(r["recall_retrieval"]),
        )
    console.print(table)
    if payload.get("mcq"):
        t2 = Table(
            "method", "scoring", "items", "accuracy", "pref. in prompt", "s/item", title=f"MCQ at N = {mcq_turns}"
        )
        for r in payload["mcq"]:
            t2.add_row(
                r["method"],
                r.get("scoring", "letter"),
                str(r["items"]),
                _fmt(r["accuracy"]),
                _fmt(r["preference_in_prompt"]),
                _fmt(r["seconds"]),
            )
        console.print(t2)
    for note in payload["notes"]:
        console.print(note)
    console.print(f"wrote {path}, {out / 'prefeval.json'}" + (f" and {out / png.name}" if png else ""))


__all__ = ["prefeval"]
