"""``tailored bench judge``: does the personalized judge pick what the user would prefer, and
does its confidence mean what it says?

Labelled pairs come from PrefEval's explicit preferences with their MCQ options (the first
option in the raw file is the preference-aligned one):

- **standard** pairs: the user's stated preference and question, the aligned option
  against one violating option (chosen and positioned with a fixed seed). Many of these
  are separable by answer quality alone, so the no-persona control is well above 0.5.
- **hard** pairs: the same two responses judged twice, once for the stated preference (the
  aligned option wins) and once for its opposite (the violating option wins). The opposite
  is written once per preference by the chat model ("rewrite so that it says the opposite")
  and cached; it is shown in the report's JSON. Every response pair appears with both
  labels, so any judge that ignores the persona scores exactly 0.5 there by construction.

Each pair is judged with no persona (the control), with the preference as free text
(``raw``), and with the profile the engine extracts from it (``profile``: the statement
added as an event of a temporary user, the default rules extractor, the profile's
memories as persona items). The judge reads each response alone (pointwise, its default):
P(A preferred) = sigmoid(margin A - margin B), where a margin is log P(Yes) - log P(No) of
"is this response a good fit for me?". On the first ``--pairwise-limit`` report pairs the
pairwise reading (the A/B verdict token, both presentation orders, averaged) is measured
too, for its position consistency.

Topics 1-10 (alphabetical) are the fitting split: prompt variants were compared there, the
calibrator is fitted there and the abstention threshold picked there. Topics 11-20 are the
report split; every figure in the report comes from it.

Token-probability readings are cached by model and prompt under
``$TAILORED_CACHE/bench/judge-readings.jsonl``, so a rerun with the same model and prompts
costs nothing and an interrupted run resumes; the opposite preferences are cached beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..engine import Engine
from ..errors import InvalidInput
from ..judge import Calibrator, Judge, Persona, fit_calibrator, pick_threshold, save_calibrator
from ..judge import metrics as M
from ..judge.combine import combine, consistent
from ..judge.prompt import PAIR_QUESTION, POINT_QUESTION, POINT_SYSTEM, SYSTEM, VERBAL_QUESTION
from ..judge.verbal import Verbal, verbal_probability
from ..llm import ChatModel, load_chat_model
from ..llm.models import cache_root
from ..testing import HashEmbedder
from .common import OutOpt, data_dir, machine, progress_columns, write_json
from .prefeval import Item, gold_stance, load_items, sample, shuffle_options

console = Console(stderr=True)

CONDITIONS = ("none", "raw", "profile")
TARGETS = {"gain_hard": 0.15, "acc_top_half": 0.90, "ece_calibrated": 0.05, "consistency": 0.90}
FLIP_PROMPT = (
    "Rewrite the person's statement so that it says the opposite: flip their attitude and keep "
    "the same subject words. What they avoid, dislike or refuse, they now love; what they "
    "prefer or only use, they now avoid. First person, one sentence. Reply with the rewritten "
    "statement only."
)
FLIP_EXAMPLES = [
    ("I can't stand horror movies with a lot of gore.", "I love horror movies with a lot of gore."),
    (
        "I refuse to use any skincare products that contain parabens.",
        "I happily use skincare products that contain parabens.",
    ),
    (
        "I only drink organic coffee from small local roasters.",
        "I avoid organic coffee from small local roasters and prefer big commercial brands.",
    ),
    (
        "I strongly dislike passive learning through lectures.",
        "I love passive learning through lectures.",
    ),
]
FLIP_VERSION = hashlib.sha256(json.dumps([FLIP_PROMPT, FLIP_EXAMPLES]).encode()).hexdigest()[:12]


@dataclass
class Pair:
    """Two responses to one question, and the preference that separates them."""

    key: str
    topic: str
    split: str  # "fit", "report", or "calibration" (report topics, read with the raw persona only)
    preference: str
    opposite: str
    question: str
    aligned: str
    violating: str
    aligned_first: bool  # the aligned response is shown to the caller as A
    flipped: bool = False  # the opposite reads as the opposite stance (see ``stance_flipped``)

    @property
    def a(self) -> str:
        return self.aligned if self.aligned_first else self.violating

    @property
    def b(self) -> str:
        return self.violating if self.aligned_first else self.aligned


@dataclass
class Reading:
    """One pair judged for one persona: each response's pointwise margin
    (log P(Yes) - log P(No) that it fits the user); P(A preferred) = sigmoid(s_a - s_b)."""

    key: str
    split: str
    condition: str  # none, raw, raw-opposite, profile, profile-opposite
    label: int  # 1: A is preferred by this persona
    s_a: float
    s_b: float
    items: int = 0  # persona items shown
    hard: bool = False  # the pair's opposite passed the stance check: it is in the hard set

    @property
    def p(self) -> float:
        d = max(min(self.s_a - self.s_b, 50.0), -50.0)
        return 1.0 / (1.0 + math.exp(-d))


@dataclass
class VerbalReading:
    key: str
    split: str
    label: int
    winner: str | None
    confidence: int | None
    p: float
    cited: bool = False


@dataclass
class Cache:
    """Readings by model and prompt (a margin, a pairwise probability or a verbal verdict),
    one JSON object a line, appended as they come."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Cache:
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.values[row["k"]] = row["p"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut off by an interrupted run
        return self

    def put(self, key: str, value: Any) -> None:
        self.values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"k": key, "p": value}) + "\n")


def reading_key(model: str, query: str, response: str, items: Sequence[str]) -> str:
    blob = json.dumps([model, POINT_SYSTEM, POINT_QUESTION, query, response, list(items)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def pair_key(kind: str, model: str, query: str, first: str, second: str, items: Sequence[str]) -> str:
    question = PAIR_QUESTION if kind == "pairwise" else VERBAL_QUESTION
    blob = json.dumps([kind, model, SYSTEM, question, query, first, second, list(items)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# -- pairs ---------------------------------------------------------------------------------


def build_pairs(root: Path, fit_limit: int, limit: int, seed: int, calibration_limit: int = 0) -> list[Pair]:
    """Fitting pairs from topics 1-10 and report pairs from topics 11-20, spread over topics;
    ``calibration_limit`` more pairs of topics 11-20 after the report pairs, for measuring
    calibration on more pairs than the full report can afford."""
    items = [it for it in load_items(root, "explicit") if it.options and len(it.options) >= 2]
    topics = sorted({it.topic for it in items})
    fit_topics = set(topics[:10])
    later = [i for i in items if i.topic not in fit_topics]
    report = sample(later, limit, seed)
    taken = {it.key for it in report}
    chosen = [
        *[("fit", it) for it in sample([i for i in items if i.topic in fit_topics], fit_limit, seed)],
        *[("report", it) for it in report],
        *[("calibration", it) for it in sample([i for i in later if i.key not in taken], calibration_limit, seed)],
    ]
    return [_pair(split, it, seed) for split, it in chosen]


def _pair(split: str, item: Item, seed: int) -> Pair:
    assert item.options is not None
    options, right = shuffle_options(item.options, item.key, seed)
    violating = [o for n, o in enumerate(options) if n != right][0]  # the first wrong one, in seeded order
    first = random.Random(f"{seed}:judge:{item.key}").random() < 0.5
    return Pair(
        key=item.key,
        topic=item.topic,
        split=split,
        preference=item.preference,
        opposite="",
        question=item.question,
        aligned=item.options[0],
        violating=violating,
        aligned_first=first,
    )


def stance_flipped(statement: str, opposite: str) -> bool:
    """Whether the opposite's first stance word has the other polarity (a lexical reading,
    ``prefeval.gold_stance``): written opposites that keep the stance ("I use products not
    tested on animals" for "I refuse products tested on animals") leave the hard set."""
    a, b = gold_stance(statement), gold_stance(opposite)
    return a is not None and b is not None and a != b


def opposites(model: ChatModel, preferences: Sequence[str], path: Path, progress: Progress) -> dict[str, str]:
    """The opposite of each preference, written by ``model`` once and cached in ``path``."""
    cached: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    slot = f"{model.name}:{FLIP_VERSION}"
    mine = cached.get(slot, {})
    todo = [p for p in dict.fromkeys(preferences) if p not in mine]
    task = progress.add_task("writing opposite preferences", total=len(todo))
    for pref in todo:
        msgs: list[dict[str, str]] = [{"role": "system", "content": FLIP_PROMPT}]
        for said, flipped in FLIP_EXAMPLES:
            msgs += [{"role": "user", "content": said}, {"role": "assistant", "content": flipped}]
        msgs.append({"role": "user", "content": pref})
        text = model.generate(msgs, max_tokens=60, stop=["\n"]).text.strip().strip('"')
        mine[pref] = " ".join(text.split()) or pref
        cached[slot] = mine
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        progress.advance(task)
    return {p: mine[p] for p in preferences}


# -- readings ------------------------------------------------------------------------------


def profile_items(engine: Engine, judge: Judge, user: str, statement: str) -> list[str]:
    """The persona items the engine's profile gives for one stated preference."""
    engine.add({"user_id": user, "kind": "message", "role": "user", "text": statement}, embed=False)
    items = judge.persona_items(Persona(user_id=user))
    engine.erase(user)
    return items


def read_all(
    judge: Judge,
    engine: Engine,
    pairs: Sequence[Pair],
    cache: Cache,
    progress: Progress,
    profile_split: set[str],
    none_split: set[str],
) -> tuple[list[Reading], dict[str, Any]]:
    """Every reading the report needs: for each persona, both responses one after the other
    (the local backend then decodes the instructions, persona and question once)."""
    readings: list[Reading] = []
    timing = {"readings": 0, "seconds": 0.0}
    task = progress.add_task("judging pairs", total=len(pairs))
    for n, pair in enumerate(pairs):
        personas: dict[str, list[str]] = {"raw": [pair.preference]}
        if pair.flipped and pair.split != "calibration":
            personas["raw-opposite"] = [pair.opposite]
        if pair.split in none_split:
            personas["none"] = []
        if pair.split in profile_split:
            personas["profile"] = profile_items(engine, judge, f"judge-bench-{n}", pair.preference)
            if pair.flipped:
                personas["profile-opposite"] = profile_items(engine, judge, f"judge-bench-{n}-o", pair.opposite)
        a_label = 1 if pair.aligned_first else 0
        for cond, items in personas.items():
            margins = []
            for response in (pair.a, pair.b):
                k = reading_key(judge.model.name, pair.question, response, items)
                if k not in cache.values:
                    t = time.perf_counter()
                    cache.put(k, judge.read_margin(pair.question, response, items))
                    timing["seconds"] += time.perf_counter() - t
                    timing["readings"] += 1
                margins.append(float(cache.values[k]))
            label = a_label if not cond.endswith("opposite") else 1 - a_label
            readings.append(
                Reading(pair.key, pair.split, cond, label, margins[0], margins[1], len(items), pair.flipped)
            )
        progress.advance(task)
    return readings, timing


def read_pairwise(
    judge: Judge, pairs: Sequence[Pair], readings: Sequence[Reading], cache: Cache, progress: Progress
) -> dict[str, Any]:
    """The A/B verdict token read in both orders, with no persona and with the raw text."""
    task = progress.add_task("pairwise readings", total=len(pairs))
    rows: dict[str, list[tuple[float, float, int]]] = {"none": [], "raw": []}
    for pair in pairs:
        label = 1 if pair.aligned_first else 0
        for cond, items in (("none", []), ("raw", [pair.preference])):
            probs = []
            for first, second in ((pair.a, pair.b), (pair.b, pair.a)):
                k = pair_key("pairwise", judge.model.name, pair.question, first, second, items)
                if k not in cache.values:
                    cache.put(k, judge.read_tokens(pair.question, first, second, items))
                probs.append(float(cache.values[k]))
            rows[cond].append((probs[0], 1.0 - probs[1], label))
        progress.advance(task)
    point = {(r.key, r.condition): r for r in readings}
    out = []
    for cond, got in rows.items():
        y = [g[2] for g in got]
        pp = [point[(p.key, cond)].p for p in pairs]
        out.append(
            {
                "persona": cond,
                "accuracy": M.accuracy([combine(a, b) for a, b, _ in got], y),
                "consistency": sum(consistent(a, b) for a, b, _ in got) / len(got),
                "accuracy_first": M.accuracy([a for a, _, _ in got], y),
                "accuracy_second": M.accuracy([b for _, b, _ in got], y),
                "pointwise_accuracy": M.accuracy(pp, y),
                "readings": [[a, b, lab] for a, b, lab in got],
            }
        )
    return {"pairs": len(pairs), "rows": out}


def read_verbal(judge: Judge, pairs: Sequence[Pair], cache: Cache, progress: Progress) -> list[VerbalReading]:
    """The model's own JSON verdict and 1-10 confidence, persona as raw text, A shown first."""
    out: list[VerbalReading] = []
    task = progress.add_task("verbal verdicts", total=len(pairs))
    for pair in pairs:
        k = pair_key("verbal", judge.model.name, pair.question, pair.a, pair.b, [pair.preference])
        if k not in cache.values:
            found = judge.read_verbal(pair.question, pair.a, pair.b, [pair.preference])
            cache.put(k, found.model_dump() if found else None)
        v = Verbal.model_validate(cache.values[k]) if cache.values[k] else None
        label = 1 if pair.aligned_first else 0
        out.append(
            VerbalReading(
                pair.key,
                pair.split,
                label,
                v.winner if v else None,
                v.confidence if v else None,
                verbal_probability(v) if v else 0.5,
                cited=bool(v and 1 in v.items),
            )
        )
        progress.advance(task)
    return out


# -- figures -------------------------------------------------------------------------------


def figures(p: Sequence[float], y: Sequence[int], threshold: float | None = None) -> dict[str, Any]:
    conf = M.confidence(p)
    kept = [i for i, c in enumerate(conf) if threshold is None or c >= threshold]
    return {
        "pairs": len(p),
        "accuracy": M.accuracy(p, y),
        "acc_top_half": M.accuracy_at_coverage(p, y, 0.5),
        "ece": M.ece(p, y),
        "ece_interval": M.ece_interval(p, y),
        "ece_floor": M.ece_floor(p)[0],
        "brier": M.brier(p, y),
        "auroc": M.auroc(p, y),
        "coverage": len(kept) / len(p) if len(p) else float("nan"),
        "acc_covered": M.accuracy([p[i] for i in kept], [y[i] for i in kept]) if kept else float("nan"),
    }


def set_rows(rs: Sequence[Reading], hard: bool, cond: str) -> list[Reading]:
    """The readings of one set and condition: standard = the stated preference only; hard =
    the stated preference and its opposite (the control appears once per label)."""
    if cond == "none":
        base = [r for r in rs if r.condition == "none" and (r.hard or not hard)]
        if not hard:
            return base
        flipped = [Reading(r.key, r.split, "none", 1 - r.label, r.s_a, r.s_b, 0, True) for r in base]
        return base + flipped
    names = (cond, f"{cond}-opposite") if hard else (cond,)
    return [r for r in rs if r.condition in names and (r.hard or not hard)]


def summarize(
    readings: Sequence[Reading], calibrator: Calibrator, threshold: float | None, split: str
) -> list[dict[str, Any]]:
    rows = []
    rs = [r for r in readings if r.split == split]
    for set_name, hard in (("standard", False), ("hard", True)):
        for cond in CONDITIONS:
            sel = set_rows(rs, hard, cond)
            if not sel:
                continue
            y = [r.label for r in sel]
            raw = [r.p for r in sel]
            cal = calibrator.apply_all(raw)
            for conf_name, ps, thr in (("tokens", raw, None), ("calibrated", cal, threshold)):
                rows.append(
                    {
                        "set": set_name,
                        "persona": cond,
                        "confidence": conf_name,
                        "mean_items": sum(r.items for r in sel) / len(sel),
                        **figures(ps, y, thr),
                    }
                )
    return rows


def calibration_at_scale(readings: Sequence[Reading], calibrator: Calibrator) -> dict[str, Any] | None:
    """The standard set with the persona as raw text over the report pairs and the extra
    calibration pairs together: ECE on a few dozen pairs mostly measures its own noise."""
    rs = [r for r in readings if r.split in ("report", "calibration") and r.condition == "raw"]
    if not any(r.split == "calibration" for r in rs):
        return None
    y = [r.label for r in rs]
    raw = [r.p for r in rs]
    return {"tokens": figures(raw, y), "calibrated": figures(calibrator.apply_all(raw), y)}


def gains(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["persona"] == "none":
            continue
        base = next(
            b for b in rows if b["set"] == r["set"] and b["confidence"] == r["confidence"] and b["persona"] == "none"
        )
        out.append(
            {
                "set": r["set"],
                "persona": r["persona"],
                "confidence": r["confidence"],
                "accuracy_gain": r["accuracy"] - base["accuracy"],
                "acc_top_half_gain": r["acc_top_half"] - base["acc_top_half"],
            }
        )
    return out


def plot(path: Path, readings: Sequence[Reading], calibrator: Calibrator) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rs = [r for r in readings if r.split == "report"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110)
    ax1.plot([0.5, 1], [0.5, 1], color="grey", linewidth=0.8, linestyle=":")
    for set_name, hard, marker in (("standard", False, "o"), ("hard", True, "s")):
        sel = set_rows(rs, hard, "raw")
        if not sel:
            continue
        y = [r.label for r in sel]
        raw = [r.p for r in sel]
        for name, ps, style in (("tokens", raw, "--"), ("calibrated", calibrator.apply_all(raw), "-")):
            bins = M.reliability(ps, y)
            ax1.plot(
                [b[0] for b in bins], [b[1] for b in bins], marker=marker, linestyle=style, label=f"{set_name}, {name}"
            )
            curve = M.coverage_curve(ps, y)
            ax2.plot([c[0] for c in curve], [c[1] for c in curve], linestyle=style, label=f"{set_name}, {name}")
        none = set_rows(rs, hard, "none")
        curve = M.coverage_curve([r.p for r in none], [r.label for r in none])
        ax2.plot([c[0] for c in curve], [c[1] for c in curve], linestyle=":", label=f"{set_name}, no persona")
    ax1.set_xlabel("confidence (10 equal bins over 0.5-1)")
    ax1.set_ylabel("accuracy in the bin")
    ax1.set_title("Reliability, persona as raw text (report split)")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=7)
    ax2.axhline(0.9, color="grey", linewidth=0.8, linestyle=":")
    ax2.set_xlabel("coverage (most confident pairs kept)")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(0.3, 1.02)
    ax2.set_title("Accuracy against coverage")
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "n/a" if v != v else f"{v:.3f}"
    if isinstance(v, tuple | list) and len(v) == 2:
        return f"[{_fmt(v[0])}, {_fmt(v[1])}]"
    return "n/a" if v is None else str(v)


def write_report(out: Path, payload: dict[str, Any]) -> Path:
    cmd = payload["command"]
    lines = [
        "# Personalized judge",
        "",
        f"Command: `{cmd}` ({payload['seconds']:.0f} s, model `{payload['config']['model']}`, "
        f"{payload['machine']['cpus']} CPUs, tailored {payload['machine']['tailored']}).",
        "",
        "Pairs from PrefEval's explicit preferences (MCQ options; the first raw option is the aligned "
        "one). Standard set: the stated preference, the aligned option against one violating option. "
        "Hard set: the same response pairs once for the stated preference and once for its opposite "
        "(written by the model, cached), so every response pair carries both labels and the "
        "no-persona control is 0.5 by construction; a pair enters it only when the written "
        "opposite's first stance word has the other polarity (a lexical check: "
        f"{payload['config']['hard_pairs']} of {payload['config']['report_pairs']} report pairs passed; "
        "the written opposites stay in $TAILORED_CACHE/bench/judge-opposites.json, outside the "
        "repository, as PrefEval's texts do). The judge reads each response alone "
        "(pointwise: P(A preferred) = sigmoid(margin A - margin B), margin = log P(Yes) - log P(No) "
        "of 'is this response a good fit for me?'), so no presentation order exists to bias it. Calibrator and abstention threshold fitted on topics 1-10 "
        f"({payload['config']['fit_pairs']} pairs); every figure below is on topics 11-20 "
        f"({payload['config']['report_pairs']} pairs).",
        "",
        f"Calibrator: **{payload['calibrator']['kind']}** (chosen by 5-fold cross-validated Brier on the "
        f"fitting pairs: {payload['calibrator_choice']}), fitted on {payload['calibrator']['fitted_on']} "
        "readings of the fitting split (standard and hard, persona as raw text). Threshold for a "
        f"target accuracy of 0.90 on the fitting split: {_fmt(payload['threshold'])}.",
        "",
        "ECE: the winner's confidence max(p, 1-p) in 10 equal-width bins over [0.5, 1], weighted by "
        "pairs. Brier: mean (p - label)^2 of P(A preferred). `acc@50%`: accuracy on the 50% most "
        "confident pairs. Coverage and `acc covered`: the pairs at or above the threshold "
        "(calibrated rows only). `ECE 95%`: a bootstrap interval over pairs. `ECE floor`: the mean ECE a "
        "perfectly calibrated judge would show with the same probabilities on as many pairs (labels "
        "drawn from them, 2000 times): ECE reads above zero on few pairs even for true probabilities.",
        "",
        "| set | persona | confidence | pairs | accuracy | acc@50% | ECE | ECE 95% | ECE floor | Brier | AUROC "
        "| coverage | acc covered |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in payload["report"]:
        lines.append(
            "| "
            + " | ".join(
                _fmt(r[k])
                for k in (
                    "set",
                    "persona",
                    "confidence",
                    "pairs",
                    "accuracy",
                    "acc_top_half",
                    "ece",
                    "ece_interval",
                    "ece_floor",
                    "brier",
                    "auroc",
                    "coverage",
                    "acc_covered",
                )
            )
            + " |"
        )
    scale = payload.get("calibration_at_scale")
    if scale:
        lines += [
            "",
            f"Calibration on more pairs: the standard set with the persona as raw text, over the "
            f"{payload['config']['report_pairs']} report pairs and {payload['config']['calibration_pairs']} more "
            "pairs of topics 11-20 (read with that persona only), the same calibrator:",
            "",
            "| confidence | pairs | accuracy | acc@50% | ECE | ECE 95% | ECE floor | Brier | AUROC |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *(
                "| "
                + " | ".join(
                    _fmt(v)
                    for v in (
                        name,
                        f["pairs"],
                        f["accuracy"],
                        f["acc_top_half"],
                        f["ece"],
                        f["ece_interval"],
                        f["ece_floor"],
                        f["brier"],
                        f["auroc"],
                    )
                )
                + " |"
                for name, f in scale.items()
            ),
        ]
    lines += [
        "",
        "Personalization gain (with persona minus the no-persona control, same set and confidence):",
        "",
        "| set | persona | confidence | accuracy gain | acc@50% gain |",
        "| --- | --- | --- | --- | --- |",
    ]
    for g in payload["gains"]:
        lines.append(
            f"| {g['set']} | {g['persona']} | {g['confidence']} | {g['accuracy_gain'] * 100:+.1f} | "
            f"{g['acc_top_half_gain'] * 100:+.1f} |"
        )
    pw = payload.get("pairwise")
    if pw:
        lines += [
            "",
            f"Pairwise reading (the A/B verdict token in both presentation orders, averaged; standard set, "
            f"first {pw['pairs']} report pairs):",
            "",
            "| persona | accuracy (both orders) | single orders agree | accuracy A first | accuracy B first | pointwise accuracy, same pairs |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in pw["rows"]:
            lines.append(
                f"| {r['persona']} | {_fmt(r['accuracy'])} | {_fmt(r['consistency'])} | {_fmt(r['accuracy_first'])} | "
                f"{_fmt(r['accuracy_second'])} | {_fmt(r['pointwise_accuracy'])} |"
            )
    v = payload.get("verbal")
    if v:
        lines += [
            "",
            f"Verbal confidence (JSON verdict with a 1-10 confidence, persona as raw text, A shown first, "
            f"standard set, first {v['pairs']} report pairs): parsed {v['parsed']} of {v['pairs']}; "
            f"accuracy {_fmt(v['accuracy'])}, acc@50% {_fmt(v['acc_top_half'])}, ECE {_fmt(v['ece'])}, "
            f"Brier {_fmt(v['brier'])}, AUROC {_fmt(v['auroc'])}; confidence values {v['values']}; the "
            f"rationale cited the preference (item 1) in {v['cited']} of them. Token readings of the "
            f"same pairs: accuracy {_fmt(v['tokens_accuracy'])}, AUROC {_fmt(v['tokens_auroc'])}.",
        ]
    lines += ["", "Targets (report split):", ""]
    for t in payload["targets"]:
        lines.append(f"- {t}")
    if payload.get("plot"):
        lines += ["", f"![reliability and accuracy-coverage]({payload['plot']})"]
    lines += [
        "",
        f"Timing: {payload['timing']['readings']} token readings computed in this run "
        f"({payload['timing']['seconds']:.0f} s, {payload['timing']['per_reading']} s each; readings "
        "already in the cache cost nothing).",
        "",
        "With a larger model on any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server, "
        "a hosted API that returns `logprobs`):",
        "",
        "```bash",
        "export TAILORED_OPENAI_BASE_URL=http://127.0.0.1:8080/v1 TAILORED_OPENAI_API_KEY=...",
        "tailored bench judge --model openai:NAME --out docs/benchmarks/judge-NAME",
        "```",
        "",
        "The server must return `top_logprobs` for the one token it generates (OpenAI's API, vLLM and "
        "llama.cpp's server do); the opposite preferences are then written by that model too.",
        "",
    ]
    path = out / "judge.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def targets(
    report: Sequence[dict[str, Any]],
    gain_rows: Sequence[dict[str, Any]],
    pairwise: dict[str, Any] | None,
    at_scale: dict[str, Any] | None = None,
) -> list[str]:
    pw_cons = next((r["consistency"] for r in pairwise["rows"] if r["persona"] == "raw"), None) if pairwise else None

    nan = float("nan")
    empty = {"accuracy_gain": nan, "acc_top_half": nan, "ece": nan}

    def row(set_name: str, persona: str, conf: str) -> dict[str, Any]:
        return next(
            (r for r in report if r["set"] == set_name and r["persona"] == persona and r["confidence"] == conf), empty
        )

    def gain_of(persona: str) -> dict[str, Any]:
        return next(
            (g for g in gain_rows if g["set"] == "hard" and g["persona"] == persona and g["confidence"] == "tokens"),
            empty,
        )

    gain, gain_p = gain_of("raw"), gain_of("profile")
    std = row("standard", "raw", "tokens")
    cal = row("standard", "raw", "calibrated")
    hard_cal = row("hard", "raw", "calibrated")

    def mark(ok: bool) -> str:
        return "met" if ok else "not met"

    return [
        f"personalization gain on the hard set >= +15 points: raw text {gain['accuracy_gain'] * 100:+.1f} "
        f"({mark(gain['accuracy_gain'] >= TARGETS['gain_hard'])}), extracted profile "
        f"{gain_p['accuracy_gain'] * 100:+.1f} ({mark(gain_p['accuracy_gain'] >= TARGETS['gain_hard'])})",
        f"accuracy >= 0.90 on the 50% most confident pairs (standard, raw text): {std['acc_top_half']:.3f} "
        f"({mark(std['acc_top_half'] >= TARGETS['acc_top_half'])}); hard set {row('hard', 'raw', 'tokens')['acc_top_half']:.3f}",
        f"ECE <= 0.05 after calibration on held-back pairs: standard {cal['ece']:.3f} "
        f"({mark(cal['ece'] <= TARGETS['ece_calibrated'])}; 95% interval {_fmt(cal.get('ece_interval'))}, "
        f"a perfectly calibrated judge would read {_fmt(cal.get('ece_floor'))} on as many pairs), hard "
        f"{hard_cal['ece']:.3f} ({mark(hard_cal['ece'] <= TARGETS['ece_calibrated'])}; "
        f"{_fmt(hard_cal.get('ece_interval'))}, floor {_fmt(hard_cal.get('ece_floor'))})"
        + (
            f"; on the {at_scale['calibrated']['pairs']} standard pairs of topics 11-20 read with the raw "
            f"persona: {at_scale['calibrated']['ece']:.3f} "
            f"({mark(at_scale['calibrated']['ece'] <= TARGETS['ece_calibrated'])}; "
            f"{_fmt(at_scale['calibrated']['ece_interval'])}, floor {_fmt(at_scale['calibrated']['ece_floor'])})"
            if at_scale
            else ""
        ),
        "position consistency >= 0.90: the pointwise judge reads each response alone, so its verdict "
        "is the same in either order by construction (1.000, met); "
        + (
            f"the pairwise reading's two orders agree on {pw_cons:.3f} of pairs "
            f"({mark(pw_cons >= TARGETS['consistency'])} for the pairwise reading)"
            if pw_cons is not None
            else "the pairwise reading was not measured"
        ),
    ]


def judge(
    data: Annotated[Path | None, typer.Option(help="PrefEval folder [default: $TAILORED_DATA/prefeval].")] = None,
    limit: Annotated[int, typer.Option(help="Report pairs (topics 11-20), spread over topics.")] = 40,
    calibration_limit: Annotated[
        int,
        typer.Option(help="More pairs of topics 11-20, read with the raw persona only, for calibration on more pairs."),
    ] = 0,
    fit_limit: Annotated[int, typer.Option(help="Fitting pairs (topics 1-10) for the calibrator and threshold.")] = 40,
    verbal_limit: Annotated[int, typer.Option(help="Report pairs that also get the verbal verdict (slow).")] = 8,
    pairwise_limit: Annotated[
        int, typer.Option(help="Report pairs also read pairwise (A/B token, both orders) for comparison.")
    ] = 8,
    target: Annotated[float, typer.Option(help="Target accuracy the abstention threshold is picked for.")] = 0.9,
    model: Annotated[
        str | None, typer.Option("--model", "-m", envvar="TAILORED_MODEL", help="Chat model spec.")
    ] = None,
    n_ctx: Annotated[int, typer.Option(help="Context window for a local model.")] = 2048,
    threads: Annotated[int, typer.Option(help="llama.cpp threads for a local model.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed for samples, violating option and positions.")] = 0,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Save the fitted calibrator under $TAILORED_HOME/judge.")
    ] = True,
    out: OutOpt = Path("docs/benchmarks"),
) -> None:
    """The personalized judge on PrefEval pairs: accuracy, calibration, abstention, position consistency."""
    started = time.perf_counter()
    if limit < 10 or fit_limit < 10:
        raise InvalidInput("--limit and --fit-limit must be at least 10")
    if calibration_limit < 0:
        raise InvalidInput("--calibration-limit must be 0 or more")
    root = data or data_dir() / "prefeval"
    pairs = build_pairs(root, fit_limit, limit, seed, calibration_limit)
    options: dict[str, Any] = {}
    if model is None or not model.startswith(("openai:", "scripted")):
        options = {"n_ctx": n_ctx, "threads": threads}
    llm = load_chat_model(model, **options)
    if not llm.supports_logprobs:
        raise InvalidInput(f"{llm.name} does not expose token probabilities, which this bench reads")
    cache_dir = cache_root() / "bench"
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Engine(Path(tmp) / "judge.db", embedder=HashEmbedder()) as engine,
            Progress(*progress_columns(), console=console) as progress,
        ):
            flipping = [p for p in pairs if p.split != "calibration"]  # the hard set's pairs
            flips = opposites(llm, [p.preference for p in flipping], cache_dir / "judge-opposites.json", progress)
            for p in flipping:
                p.opposite = flips[p.preference]
                p.flipped = stance_flipped(p.preference, p.opposite)
            judge_ = engine.judge(llm, calibrator=None)
            cache = Cache(cache_dir / "judge-readings.jsonl").load()
            readings, timing = read_all(judge_, engine, pairs, cache, progress, {"report"}, {"report"})
            verbal_pairs = [p for p in pairs if p.split == "report"][:verbal_limit]
            verbal = read_verbal(judge_, verbal_pairs, cache, progress) if verbal_limit > 0 else []
            pw_pairs = [p for p in pairs if p.split == "report"][:pairwise_limit]
            pairwise = read_pairwise(judge_, pw_pairs, readings, cache, progress) if pw_pairs else None
    finally:
        llm.close()
    fit_rows = [r for r in readings if r.split == "fit" and r.condition in ("raw", "raw-opposite")]
    fp, fy = [r.p for r in fit_rows], [r.label for r in fit_rows]
    from ..judge.calibrate import cross_validated_brier

    choice = {k: round(cross_validated_brier(k, fp, fy), 4) for k in ("temperature", "isotonic")}
    calibrator = fit_calibrator(fp, fy, model=llm.name)
    threshold = pick_threshold(calibrator.apply_all(fp), fy, target)
    saved = str(save_calibrator(calibrator)) if save else None
    report = summarize(readings, calibrator, threshold, "report")
    at_scale = calibration_at_scale(readings, calibrator)
    fit_summary = summarize(readings, calibrator, threshold, "fit")
    gain_rows = gains(report)
    verbal_summary: dict[str, Any] | None = None
    if verbal:
        vy = [v.label for v in verbal]
        vp = [v.p for v in verbal]
        tok = {r.key: r for r in readings if r.condition == "raw" and r.split == "report"}
        tp = [tok[v.key].p for v in verbal]
        values: dict[str, int] = {}
        for v in verbal:
            values[str(v.confidence)] = values.get(str(v.confidence), 0) + 1
        verbal_summary = {
            "pairs": len(verbal),
            "parsed": sum(v.winner is not None for v in verbal),
            **{
                k: val
                for k, val in figures(vp, vy).items()
                if k in ("accuracy", "acc_top_half", "ece", "brier", "auroc")
            },
            "values": dict(sorted(values.items())),
            "cited": sum(v.cited for v in verbal),
            "tokens_accuracy": M.accuracy(tp, vy),
            "tokens_auroc": M.auroc(tp, vy),
        }
    argv = (
        "tailored bench judge " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("judge") + 1 :])
        if "judge" in sys.argv
        else "tailored bench judge"
    )
    payload: dict[str, Any] = {
        "benchmark": "judge",
        "command": argv.strip(),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "config": {
            "model": llm.name,
            "seed": seed,
            "fit_pairs": sum(p.split == "fit" for p in pairs),
            "report_pairs": sum(p.split == "report" for p in pairs),
            "calibration_pairs": sum(p.split == "calibration" for p in pairs),
            "hard_pairs": sum(p.split == "report" and p.flipped for p in pairs),
            "hard_fit_pairs": sum(p.split == "fit" and p.flipped for p in pairs),
            "target": target,
            "prompt_system": POINT_SYSTEM,
            "prompt_question": POINT_QUESTION,
            "verbal_question": VERBAL_QUESTION,
        },
        "calibrator": calibrator.model_dump(),
        "calibrator_choice": choice,
        "calibrator_saved": saved,
        "threshold": threshold,
        "report": report,
        "calibration_at_scale": at_scale,
        "fit": fit_summary,
        "gains": gain_rows,
        "verbal": verbal_summary,
        "pairwise": pairwise,
        "timing": {
            **timing,
            "per_reading": round(timing["seconds"] / timing["readings"], 2) if timing["readings"] else None,
        },
        # keys and flags only: PrefEval's texts (and what the model wrote from them) stay out of the report
        "pairs": [
            {"key": p.key, "split": p.split, "aligned_first": p.aligned_first, "flipped": p.flipped} for p in pairs
        ],
        "readings": [asdict(r) for r in readings],
        "verbal_readings": [asdict(v) for v in verbal],
    }
    payload["targets"] = targets(report, gain_rows, pairwise, at_scale)
    png = plot(out / "judge.png", readings, calibrator)
    payload["plot"] = png.name if png else None
    write_json(out / "judge.json", payload)
    path = write_report(out, payload)
    table = Table(
        "set",
        "persona",
        "confidence",
        "accuracy",
        "acc@50%",
        "ECE",
        "Brier",
        title="judge (report split)",
    )
    for r in report:
        table.add_row(
            r["set"],
            r["persona"],
            r["confidence"],
            _fmt(r["accuracy"]),
            _fmt(r["acc_top_half"]),
            _fmt(r["ece"]),
            _fmt(r["brier"]),
        )
    console.print(table)
    for t in payload["targets"]:
        console.print(t)
    console.print(f"wrote {path} and {out / 'judge.json'}" + (f" and {png}" if png else ""))


__all__ = ["judge"]
