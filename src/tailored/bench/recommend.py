"""``tailored bench recommend``: every recommender on one protocol, through the store.

Protocol: the catalogue and interactions are imported with ``catalog add`` into a fresh
SQLite store and read back through the store protocol. Each user's last interaction (by
time, then file order) is the test item; the last remaining one is the validation item,
on which every hyper-parameter, SASRec's epochs and the hybrid's weights are chosen.
Test items are ranked against every item the user has not interacted with in training
(full ranking; ties count at their expected position); the 1-of-100 sampled figure is a
side column. Differences are paired-bootstrap 95% intervals over users. Ratings: RMSE and
MAE on a chronological 80/20 split of the rated rows.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress

from ..embed import load_embedder
from ..engine import Engine
from ..errors import InvalidInput
from ..llm import load_chat_model
from ..recommend.base import BaseRecommender
from ..recommend.cold import Labels, cold_scores
from ..recommend.content import Content
from ..recommend.data import LIKE_THRESHOLD, Interactions
from ..recommend.hybrid import Hybrid, tune_weights
from ..recommend.metrics import LeaveLastOut, leave_last_out, paired_bootstrap, rank_metrics, sampled_metrics
from ..recommend.models import make, state_size
from ..recommend.ratings import BiasedMF
from ..recommend.rerank import SYSTEM as RERANK_SYSTEM
from ..recommend.rerank import RerankInput, build_prompt, parse
from ..recommend.sasrec import SASRec
from ..recommend.service import catalogue, item_vectors, load_interactions
from ..types import CatalogItem
from .common import OutOpt, data_dir, machine, progress_columns, require, write_json
from .report import table

console = Console()

COLD_WINDOWS: tuple[float | None, ...] = (None, 90.0, 365.0, 1095.0)
"""Windows (days before the request; None: all time) of the cold start's popularity prior."""

GRIDS: dict[str, list[dict[str, Any]]] = {
    "popularity": [{}],
    "itemknn": [{"k": k, "half_life": h} for k in (50, 200) for h in (None, 3, 5, 10)],
    "als": [{"factors": f, "alpha": a} for f in (64, 128) for a in (1.0, 4.0)],
    "bpr": [{"factors": 64, "learning_rate": lr} for lr in (0.01, 0.05)],
    "ease": [{"l2": lam, "half_life": h} for lam in (100.0, 200.0, 400.0) for h in (None, 3, 5, 10)],
    "markov": [{"window": w, "half_life": h} for w in (3, 10) for h in (1.0, 3.0)],
}
"""Candidates per recommender; ``half_life`` only changes how a user is scored, so one
fit serves every value of it."""


def _score(model: BaseRecommender, users: np.ndarray, half_life: float | None = None) -> np.ndarray:
    if hasattr(model, "half_life"):
        model.half_life = half_life
        model._recent = model.recency(model._data())
    return model.score_users(users)


def _ndcg(scores: np.ndarray, split: LeaveLastOut) -> float:
    return float(rank_metrics(scores, split.targets, split.train.matrix()[split.users])[1].mean())


def _latency(model: BaseRecommender, data: Interactions, users: np.ndarray) -> tuple[float, float, float]:
    """p50 and p95 of one ``recommend`` call, in ms, on one thread (a server answers many
    users at once, and BLAS threads for a single user's products only wait on each other),
    and the p95 of the CPU time the call used: on a shared machine the wall clock also
    counts the time the scheduler gave to other jobs."""
    from threadpoolctl import threadpool_limits

    times, cpu = [], []
    with threadpool_limits(1):
        model.recommend(data.users[users[0]], k=10)  # lazy caches are built once, not timed
        for u in users:
            start, start_cpu = time.perf_counter(), time.thread_time()
            model.recommend(data.users[u], k=10)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), float(np.percentile(cpu, 95))


def _profile_text(data: Interactions, items: dict[str, CatalogItem], user: int, top: int = 3) -> list[str]:
    """Stated preferences simulated from the user's liked training items: their most
    frequent genres and tags, as a profile would hold them ("likes Comedy")."""
    rows = (data.user_idx == user) & (np.isnan(data.ratings) | (data.ratings >= LIKE_THRESHOLD))
    genres: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for i in data.item_idx[rows]:
        attrs = items[data.items[i]].attributes
        genres.update(str(g) for g in attrs.get("genres", []))
        tags.update(str(t).lower() for t in attrs.get("tags", []))
    return [f"{g} movies" for g, _ in genres.most_common(top)] + [t for t, _ in tags.most_common(2)]


def recommend(
    data: Annotated[
        Path | None, typer.Option("--data", help="MovieLens folder (movies.csv, ratings.csv, tags.csv).")
    ] = None,
    interactions: Annotated[
        Path | None, typer.Option("--interactions", help="A generic user,item,time[,rating] file instead.")
    ] = None,
    items_file: Annotated[Path | None, typer.Option("--items", help="Items for --interactions (id,title,...).")] = None,
    out: OutOpt = Path("docs/benchmarks"),
    embedder: Annotated[str, typer.Option("--embedder", help="Embedder for the content recommender.")] = "minilm",
    sasrec_epochs: Annotated[int, typer.Option("--sasrec-epochs", help="SASRec epochs at most (0: skip).")] = 40,
    rerank_users: Annotated[int, typer.Option("--rerank-users", help="Users the LLM re-ranks (0: skip).")] = 20,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Chat model for re-ranking.")] = None,
    latency_users: Annotated[int, typer.Option("--latency-users", help="Users timed per recommender.")] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Recommendation: HR@10 / NDCG@10 on full ranking, leave-last-out, every recommender."""
    if (data is None) == (interactions is None) and data is not None:
        raise InvalidInput("give --data or --interactions, not both")
    files: list[Path]
    if interactions is not None:
        files = ([require(items_file, "items file")] if items_file else []) + [require(interactions, "interactions")]
        name = interactions.name
    else:
        folder = require(data or data_dir() / "movielens-latest-small", "MovieLens folder")
        files = [require(folder / f, f) for f in ("movies.csv", "tags.csv", "ratings.csv")]
        name = folder.name
    started = time.time()
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {"dataset": name, "machine": machine(), "models": {}}
    command = _command(data, interactions, items_file, sasrec_epochs, rerank_users, model)

    def save(stage: str) -> None:
        """The report so far: a long run that stops early still leaves its figures."""
        results["stage"] = stage
        results.setdefault("load_at_start", os.getloadavg()[0])
        results["load_now"] = os.getloadavg()[0]
        results["elapsed_s"] = time.time() - started
        results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "recommend.json", {**results, "command": command})
        if "hybrid_vs" in results:
            _plot(results, out / "recommend.png")
            (out / "recommend.md").write_text(_report(results, command), encoding="utf-8")

    with tempfile.TemporaryDirectory() as tmp, Progress(*progress_columns(), console=console) as bar:
        step = bar.add_task("import through the store", total=1)
        emb = load_embedder(embedder)
        eng = Engine(str(Path(tmp) / "bench.db"), embedder=emb)
        if interactions is not None and items_file is None:
            _items_from_interactions(eng, interactions)
        t0 = time.perf_counter()
        eng.catalog_add(files)
        results["import_s"] = time.perf_counter() - t0
        items = catalogue(eng.store, eng.tenant)
        full = load_interactions(eng.store, eng.tenant, items)
        bar.update(step, completed=1)
        by_id = {it.id: it for it in items}
        test = leave_last_out(full)
        valid = leave_last_out(test.train)
        valid_users = np.intersect1d(valid.users, test.users)
        results["users"], results["items"], results["interactions"] = full.n_users, full.n_items, len(full)
        results["test_users"], results["valid_users"] = len(test.users), len(valid.users)
        seen_test = test.train.matrix()[test.users]
        per_user: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        test_scores: dict[str, np.ndarray] = {}
        test_models: dict[str, BaseRecommender] = {}
        valid_scores: dict[str, np.ndarray] = {}
        lat_users = rng.choice(test.users, size=min(latency_users, len(test.users)), replace=False)

        def record(label: str, m: BaseRecommender, scores: np.ndarray, fit_s: float, params: dict[str, Any]) -> None:
            hit, ndcg = rank_metrics(scores, test.targets, seen_test)
            shit, sndcg = sampled_metrics(scores, test.targets, seen_test, np.random.default_rng(seed))
            p50, p95, cpu95 = _latency(m, test.train, lat_users)
            per_user[label] = (hit, ndcg)
            test_scores[label] = scores
            test_models[label] = m
            results["models"][label] = {
                "params": params,
                "hr10": float(hit.mean()),
                "ndcg10": float(ndcg.mean()),
                "hr10_se": float(hit.std(ddof=1) / np.sqrt(len(hit))),
                "sampled_hr10": float(shit.mean()),
                "sampled_ndcg10": float(sndcg.mean()),
                "fit_s": fit_s,
                "p50_ms": p50,
                "p95_ms": p95,
                "p95_cpu_ms": cpu95,
                "model_mb": state_size(m) / 1e6,
            }

        # -- collaborative ----------------------------------------------------------------
        for family, grid in GRIDS.items():
            task = bar.add_task(f"{family}: tune on validation", total=len(grid))
            best: tuple[float, dict[str, Any]] = (-1.0, {})
            fitted: dict[str, BaseRecommender] = {}
            for params in grid:
                fit_params = {k: v for k, v in params.items() if k != "half_life"}
                key = repr(sorted(fit_params.items()))
                if key not in fitted:
                    fitted[key] = make(family, **fit_params).fit(valid.train)
                value = _ndcg(_score(fitted[key], valid.users, params.get("half_life")), valid)
                if value > best[0]:
                    best = (value, params)
                bar.advance(task)
            chosen = best[1]
            fit_params = {k: v for k, v in chosen.items() if k != "half_life"}
            winner = fitted[repr(sorted(fit_params.items()))]
            valid_scores[family] = _score(winner, valid_users, chosen.get("half_life"))
            t0 = time.perf_counter()
            m = make(family, **chosen).fit(test.train)
            record(family, m, m.score_users(test.users), time.perf_counter() - t0, chosen)
            results["models"][family]["valid_ndcg10"] = best[0]

        # -- content ----------------------------------------------------------------------
        task = bar.add_task("content: embed item texts", total=1)
        t0 = time.perf_counter()
        vectors = item_vectors(emb, items)
        embed_s = time.perf_counter() - t0
        bar.advance(task)
        content = Content(vectors).fit(valid.train)
        assert isinstance(content, Content)
        valid_scores["content"] = content.score_users(valid_users)
        t0 = time.perf_counter()
        content_test = Content(vectors)
        content_test.fit(test.train)
        record("content", content_test, content_test.score_users(test.users), embed_s + time.perf_counter() - t0, {})

        # -- sequential -------------------------------------------------------------------
        if sasrec_epochs > 0:
            task = bar.add_task("sasrec: train, validate every 5 epochs", total=sasrec_epochs)
            sas = SASRec(epochs=sasrec_epochs)
            checkpoints: list[tuple[float, int, dict[str, np.ndarray]]] = []

            def on_epoch(epoch: int, total: int) -> None:
                bar.advance(task)
                if epoch % 5 == 0 or epoch == total:
                    sas.net.eval()
                    checkpoints.append((_ndcg(sas.score_users(valid.users), valid), epoch, sas._state()))
                    sas.net.train()

            sas.progress = on_epoch
            t0 = time.perf_counter()
            sas.fit(valid.train)
            fit_s = time.perf_counter() - t0
            value, epoch, state = max(checkpoints, key=lambda c: c[0])
            sas._set_state(state)
            valid_scores["sasrec"] = sas.score_users(valid_users)
            # trained once on the validation split's rows; it scores test users from their
            # whole training history (the validation item included) with no refit
            sas.data, sas._seen = test.train, test.train.matrix()
            sas._recent = sas._seen
            record("sasrec", sas, sas.score_users(test.users), fit_s, {**sas.params(), "best_epoch": epoch})
            results["models"]["sasrec"]["valid_ndcg10"] = value

        save("single recommenders")

        # -- hybrid -----------------------------------------------------------------------
        names = list(valid_scores)
        vsplit = LeaveLastOut(valid.train, valid_users, valid.targets[np.isin(valid.users, valid_users)])
        weights = tune_weights([valid_scores[n] for n in names], lambda s: _ndcg(s, vsplit))
        # the hybrid that is scored is the one that is timed: its weighted parts, as fitted above
        used = [n for n, w in zip(names, weights) if w]
        hybrid = Hybrid([test_models[n] for n in used], [w for w in weights if w]).fit(test.train)
        hybrid_scores = hybrid.score_users(test.users)
        p50, p95, cpu95 = _latency(hybrid, test.train, lat_users)
        hit, ndcg = rank_metrics(hybrid_scores, test.targets, seen_test)
        shit, sndcg = sampled_metrics(hybrid_scores, test.targets, seen_test, np.random.default_rng(seed))
        per_user["hybrid"] = (hit, ndcg)
        singles = {n: results["models"][n] for n in names}
        results["models"]["hybrid"] = {
            "params": {"weights": dict(zip(names, weights))},
            "hr10": float(hit.mean()),
            "ndcg10": float(ndcg.mean()),
            "hr10_se": float(hit.std(ddof=1) / np.sqrt(len(hit))),
            "sampled_hr10": float(shit.mean()),
            "sampled_ndcg10": float(sndcg.mean()),
            "fit_s": sum(singles[n]["fit_s"] for n, w in zip(names, weights) if w),
            "p50_ms": p50,
            "p95_ms": p95,
            "p95_cpu_ms": cpu95,
            "model_mb": sum(singles[n]["model_mb"] for n, w in zip(names, weights) if w),
        }
        results["hybrid_vs"] = {
            n: paired_bootstrap(per_user["hybrid"][1], per_user[n][1]) for n in names if n != "hybrid"
        }
        best_single = max(names, key=lambda n: results["models"][n]["ndcg10"])
        results["best_single"] = best_single
        results["best_vs_ease_plain"] = None

        # -- cold start -------------------------------------------------------------------
        task = bar.add_task("cold start: profile only", total=len(vsplit.users) + len(test.users))
        no_avoids = np.zeros((0, vectors.shape[1]), np.float32)

        def cold(
            split: LeaveLastOut, ref: Interactions, model: Content, grid: list[tuple[float | None, float]]
        ) -> dict[tuple[float | None, float], tuple[np.ndarray, np.ndarray]]:
            """Per (window, popularity weight), each user's HR@10 and NDCG@10 as a new user
            arriving at the time of their held-out item (``ref``: the data it was held out of)."""
            labels = Labels(split.train, by_id)
            seen = split.train.matrix()[split.users]
            last = np.full(ref.n_users, -1, dtype=np.int64)
            last[ref.user_idx] = np.arange(len(ref))  # rows are in time order: the last one is the target
            found: dict[tuple[float | None, float], list[tuple[float, float]]] = {g: [] for g in grid}
            for row, u in enumerate(split.users):
                texts = _profile_text(split.train, by_id, int(u))
                vecs = emb.embed(texts)
                as_of = int(ref.times[last[u]])
                for days, w in grid:
                    s = cold_scores(
                        labels, model, texts, vecs, no_avoids, popularity_weight=w, recent_days=days, as_of=as_of
                    )
                    h, n = rank_metrics(s[None, :], split.targets[row : row + 1], seen[row])
                    found[(days, w)].append((h[0], n[0]))
                bar.advance(task)
            return {g: (np.array([h for h, _ in v]), np.array([n for _, n in v])) for g, v in found.items()}

        cold_grid = [(d, w) for d in COLD_WINDOWS for w in (0.0, 0.25, 0.5, 0.75, 1.0)]
        on_valid = cold(vsplit, test.train, content, cold_grid)
        days, weight = max(on_valid, key=lambda g: float(on_valid[g][1].mean()))
        prior_only = (days, 1.0)
        on_test = cold(test, full, content_test, list(dict.fromkeys([(days, weight), prior_only])))
        cold_h, cold_n = on_test[(days, weight)]
        results["cold_start"] = {
            "hr10": float(cold_h.mean()),
            "ndcg10": float(cold_n.mean()),
            "popularity_weight": weight,
            "recent_days": days,
            "valid_ndcg10": {f"{d}|{w}": float(v[1].mean()) for (d, w), v in on_valid.items()},
            "vs_popularity": paired_bootstrap(cold_n, per_user["popularity"][1]),
            "prior_ndcg10": float(on_test[prior_only][1].mean()),
            "vs_prior": paired_bootstrap(cold_n, on_test[prior_only][1]),
        }

        # -- ratings ----------------------------------------------------------------------
        results["ratings"] = _ratings(full)

        save("without the LLM re-ranking")

        # -- LLM re-ranking ---------------------------------------------------------------
        if rerank_users > 0:
            results["rerank"] = _rerank(
                bar, model, test, by_id, hybrid_scores, per_user["hybrid"][1], rerank_users, seed
            )
    save("complete")
    console.print(f"wrote {out / 'recommend.md'}")


def _items_from_interactions(eng: Engine, path: Path) -> None:
    """A generic interactions file without an items file: each item id is its own title."""
    from ..recommend.imports import read_files

    cat = read_files([path])
    ids = sorted({str(r.get("item") or r.get("item_id") or r.get("movieId")) for _, _, r in cat.interactions})
    eng.store.put_catalog_items(eng.tenant, [CatalogItem(id=i, title=f"item {i}") for i in ids])


def _ratings(full: Interactions) -> dict[str, Any]:
    """Biased MF against the item-mean baseline on a chronological 80/20 split of ratings;
    the l2 weight is chosen on the last eighth of the training part."""
    rated = full.subset(~np.isnan(full.ratings))
    if len(rated) < 10:
        return {}
    cut = int(len(rated) * 0.8)
    order = np.arange(len(rated))
    train, test_rows = rated.subset(order < cut), rated.subset(order >= cut)
    inner = int(cut * 7 / 8)
    fit_part, val_part = train.subset(np.arange(cut) < inner), train.subset(np.arange(cut) >= inner)

    def rmse_of(model: BiasedMF, rows: Interactions, base: Interactions) -> tuple[float, float]:
        users = np.array([base.user_index(rows.users[u]) or -1 for u in rows.user_idx])
        known = np.array([base.user_index(rows.users[u]) is not None for u in rows.user_idx])
        users = np.where(known, users, -1)
        pred = model.predict_many(users, rows.item_idx)
        err = pred - rows.ratings
        return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))

    best = min((0.01, 0.05, 0.1), key=lambda l2: rmse_of(BiasedMF(l2=l2).fit(fit_part), val_part, fit_part)[0])  # type: ignore[arg-type]
    t0 = time.perf_counter()
    mf = BiasedMF(l2=best).fit(train)
    fit_s = time.perf_counter() - t0
    assert isinstance(mf, BiasedMF)
    rmse, mae = rmse_of(mf, test_rows, train)
    mean = float(np.nanmean(train.ratings))
    sums = np.bincount(train.item_idx, weights=train.ratings, minlength=train.n_items)
    counts = np.bincount(train.item_idx, minlength=train.n_items)
    item_mean = np.where(counts > 0, sums / np.maximum(counts, 1), mean)
    base_err = item_mean[test_rows.item_idx] - test_rows.ratings
    return {
        "train": len(train),
        "test": len(test_rows),
        "mf": {"rmse": rmse, "mae": mae, "l2": best, "fit_s": fit_s},
        "item_mean": {"rmse": float(np.sqrt(np.mean(base_err**2))), "mae": float(np.mean(np.abs(base_err)))},
        "global_mean": {
            "rmse": float(np.sqrt(np.mean((mean - test_rows.ratings) ** 2))),
            "mae": float(np.mean(np.abs(mean - test_rows.ratings))),
        },
    }


def _rerank(
    bar: Progress,
    spec: str | None,
    test: LeaveLastOut,
    items: dict[str, CatalogItem],
    scores: np.ndarray,
    base_ndcg: np.ndarray,
    n_users: int,
    seed: int,
) -> dict[str, Any]:
    """The chat model re-ranks the hybrid's top 20 for a sample of users; NDCG@10 of the
    new order against the hybrid's on the same users, and a check of every citation."""
    chat = load_chat_model(spec)
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(len(test.users), size=min(n_users, len(test.users)), replace=False))
    data = test.train
    seen = data.matrix()[test.users]
    task = bar.add_task(f"llm re-rank ({chat.name})", total=len(rows))
    new_ndcg, old_ndcg = [], []
    explained = cited = raw_cites = valid_cites = 0
    seconds = []
    for row in rows:
        u = int(test.users[row])
        s = scores[row].astype(np.float64).copy()
        s[seen[row].indices] = -np.inf
        top = np.lexsort((np.arange(len(s)), -s))[:20]
        user_rows = np.flatnonzero(data.user_idx == u)
        ratings = data.ratings[user_rows][::-1]
        recent = data.item_idx[user_rows][::-1]
        liked = recent[np.isnan(ratings) | (ratings >= LIKE_THRESHOLD)][:10]
        inp = RerankInput(
            candidates=[(data.items[i], items[data.items[i]].title) for i in top],
            profile=[(f"p{n}", f"likes {t}") for n, t in enumerate(_profile_text(data, items, u))],
            history=[(data.items[i], items[data.items[i]].title) for i in liked],
        )
        t0 = time.perf_counter()
        reply = chat.generate([{"role": "user", "content": build_prompt(inp)}], system=RERANK_SYSTEM, max_tokens=450)
        seconds.append(time.perf_counter() - t0)
        ranked = parse(reply.text, inp)
        raw_cites += len(_raw_citations(reply.text))
        valid_cites += sum(len(r.cites) for r in ranked)
        explained += sum(1 for r in ranked if r.why)
        cited += sum(1 for r in ranked if r.why and r.cites)
        new_order = [data.item_index(r.item_id) for r in ranked]
        new_scores = np.full(data.n_items, -1e9)
        for pos, i in enumerate(new_order):
            assert i is not None
            new_scores[i] = 100.0 - pos
        new_scores[seen[row].indices] = -1e9
        _, n_new = rank_metrics(new_scores[None, :], test.targets[row : row + 1], seen[row])
        new_ndcg.append(n_new[0])
        old_ndcg.append(base_ndcg[row])
        bar.advance(task)
    new, old = np.array(new_ndcg), np.array(old_ndcg)
    return {
        "model": chat.name,
        "users": len(rows),
        "ndcg10_hybrid": float(old.mean()),
        "ndcg10_reranked": float(new.mean()),
        "difference": paired_bootstrap(new, old),
        "explained_items": explained,
        "explained_with_valid_citation": cited,
        "citations_made": raw_cites,
        "citations_checked_real": valid_cites,
        "seconds_per_user": float(np.mean(seconds)),
    }


def _raw_citations(text: str) -> list[str]:
    import re

    return re.findall(r'"(?:P|H)\d+"', text)


def _command(
    data: Path | None, interactions: Path | None, items: Path | None, epochs: int, rerank: int, model: str | None
) -> str:
    parts = ["tailored bench recommend"]
    parts += [f"--data {data}"] if data else []
    parts += [f"--interactions {interactions}"] if interactions else []
    parts += [f"--items {items}"] if items else []
    parts += [f"--sasrec-epochs {epochs}", f"--rerank-users {rerank}"]
    parts += [f"--model {model}"] if model else []
    return " ".join(parts)


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    names = sorted(models, key=lambda n: models[n]["ndcg10"])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh(names, [models[n]["ndcg10"] for n in names], color="#4c72b0")
    if "cold_start" in results:
        ax.axvline(results["cold_start"]["ndcg10"], color="#dd8452", ls="--", label="cold start (profile only)")
        ax.legend(loc="lower right")
    ax.set_xlabel("NDCG@10 (full ranking, leave-last-out)")
    ax.set_title(f"{results['dataset']}: {results['test_users']} test users")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ci(t: tuple[float, float, float] | list[float]) -> str:
    return f"{t[0]:+.4f} [{t[1]:+.4f}, {t[2]:+.4f}]"


def _days(days: float | None) -> str:
    return "all time" if days is None else f"{days:g} days"


def _cold_grid(valid: dict[str, float]) -> str:
    """Validation NDCG@10 of the cold start: a row per window, a column per prior share."""
    cells = {tuple(k.split("|")): v for k, v in valid.items()}
    windows = list(dict.fromkeys(d for d, _ in cells))
    shares = list(dict.fromkeys(w for _, w in cells))
    rows = [[_days(None if d == "None" else float(d))] + [f"{cells[(d, w)]:.4f}" for w in shares] for d in windows]
    return table(["validation NDCG@10: window \\ prior share", *shares], rows)


def _report(r: dict[str, Any], command: str) -> str:
    m = r["models"]
    c = r["cold_start"]
    rows = [
        [
            n,
            v["hr10"],
            v["ndcg10"],
            v["sampled_ndcg10"],
            v["fit_s"],
            v["p50_ms"],
            v["p95_ms"],
            v.get("p95_cpu_ms", float("nan")),
            v["model_mb"],
            ", ".join(f"{k}={x}" for k, x in v["params"].items() if k != "weights")
            or ", ".join(f"{k} {x:g}" for k, x in v["params"].get("weights", {}).items()),
        ]
        for n, v in sorted(m.items(), key=lambda kv: -kv[1]["ndcg10"])
    ]
    lines = [
        "# Recommendation benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Data: {r['dataset']}: {r['users']} users, {r['items']} items, {r['interactions']} interactions,"
        f" imported through the store in {r['import_s']:.1f} s. Test users: {r['test_users']}"
        f" (leave-last-out); validation: each user's last training item ({r['valid_users']} users).",
        f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}, tailored"
        f" {r['machine']['tailored']}; whole run {r['elapsed_s'] / 60:.1f} min, peak memory"
        f" {r['peak_rss_mb']:.0f} MB. Load average {r['load_at_start']:.1f} at the first checkpoint,"
        f" {r['load_now']:.1f} at the last on {r['machine']['cpus']} CPUs"
        + (": other jobs shared the CPUs, so times are upper bounds." if r["load_now"] > 2.5 else ".")
        + ("" if r["stage"] == "complete" else f" Report written {r['stage']}."),
        "",
        "Full ranking over every item the user has not interacted with; a tied item counts at its"
        " expected position. `sampled` is NDCG@10 against 99 random unseen items (a side column"
        " only: sampled metrics can reorder models). Latency: one `recommend(user, 10)` call per"
        " user, BLAS and OpenMP on one thread, in ms (wall clock, and the CPU time of the calling thread,"
        " which other jobs on the machine do not inflate); the hybrid's is the blend itself (its weighted parts scored"
        " and ranked in one call); its fit time and size are its weighted parts' sums.",
        "",
        table(
            [
                "recommender",
                "HR@10",
                "NDCG@10",
                "sampled NDCG@10",
                "fit s",
                "p50 ms",
                "p95 ms",
                "p95 CPU ms",
                "model MB",
                "chosen on validation",
            ],
            rows,
            digits=4,
        ),
        "",
        "![NDCG@10 per recommender](recommend.png)",
        "",
        "## Hybrid against each recommender (NDCG@10 difference, paired bootstrap 95% interval)",
        "",
        table(["against", "hybrid minus it"], [[n, _ci(v)] for n, v in r["hybrid_vs"].items()]),
        "",
        "## Cold start",
        "",
        "Each test user as a new user arriving at the time of their held-out item: no interactions,"
        " only a profile of stated preferences built from the training part (their three most frequent"
        " genres among liked films, and their two most frequent tags). The genres and tags they name"
        " pick an audience (the users whose liked films carry them); items rank by that audience's"
        " interactions, blended in log space with a popularity prior: each item's share of the"
        " interactions in a window before that time. The window and the prior's share are chosen on"
        f" the validation items (window {_days(c['recent_days'])}, share {c['popularity_weight']:g}):",
        "",
        _cold_grid(c["valid_ndcg10"]),
        "",
        f"Cold start NDCG@10 {c['ndcg10']:.4f} (HR@10 {c['hr10']:.4f}); minus popularity:"
        f" {_ci(c['vs_popularity'])}. The prior alone (popularity over the same window, no profile):"
        f" NDCG@10 {c['prior_ndcg10']:.4f}; cold start minus it: {_ci(c['vs_prior'])}, which is what the"
        " stated preferences add.",
        "",
    ]
    if r.get("ratings"):
        rt = r["ratings"]
        lines += [
            "## Rating prediction (chronological 80/20 split of ratings)",
            "",
            table(
                ["model", "RMSE", "MAE"],
                [
                    [f"biased MF (l2 {rt['mf']['l2']})", rt["mf"]["rmse"], rt["mf"]["mae"]],
                    ["item mean", rt["item_mean"]["rmse"], rt["item_mean"]["mae"]],
                    ["global mean", rt["global_mean"]["rmse"], rt["global_mean"]["mae"]],
                ],
                digits=4,
            ),
            "",
        ]
    if r.get("rerank"):
        rr = r["rerank"]
        lines += [
            "## LLM re-ranking of the hybrid's top 20",
            "",
            f"{rr['users']} users sampled with a fixed seed, model {rr['model']}, {rr['seconds_per_user']:.1f} s per"
            f" user. NDCG@10 hybrid {rr['ndcg10_hybrid']:.4f}, re-ranked {rr['ndcg10_reranked']:.4f};"
            f" re-ranked minus hybrid: {_ci(rr['difference'])}.",
            f"Explanations: {rr['explained_items']} items explained, {rr['explained_with_valid_citation']} of them"
            f" citing a real profile item or past interaction; the model made {rr['citations_made']} citations, of"
            f" which {rr['citations_checked_real']} named a real one and were kept (the others were dropped).",
            "",
        ]
    return "\n".join(lines)
