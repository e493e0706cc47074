"""The eval harness: build (or reuse) an index of a corpus, run queries in each ranking mode, score them."""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .articles import Article, Category, LoadResult, load_articles
from .build import build_index
from .config import Settings
from .embed import load_embedder
from .glossary import load_glossary
from .metrics import METRICS, Query, load_queries, score_ranking  # noqa: F401  (load_queries: re-exported for the commands)
from .search import MODES, Searcher
from .store import load_current

# per query language: answerable queries with the right topic in the top 3, the right answer shown first above
# the threshold, and confident-wrong: an answer shown (at or above the threshold) that is wrong, or any answer
# shown to a query that has none.
LANG_FIGURES = ("queries", "answerable", "ndcg@10", "top3", "answer_shown", "confident_wrong")
LANG_TO_LOCALE = {"zh": "zh-CN", "zh-cn": "zh-CN", "en": "en", "ko": "ko", "ja": "ja"}


def load_corpus(path: str | Path, without: Iterable[str] = ()) -> LoadResult:
    """A folder of Markdown articles, or a corpus.jsonl of {"id", "title", "text", "lang"} documents; `without`
    drops the articles of those locales (a help center whose translations lag)."""
    path = Path(path)
    if path.is_dir():
        loaded = load_articles(path)
        if without:
            loaded = LoadResult([a for a in loaded.articles if a.locale not in set(without)], loaded.errors,
                                loaded.warnings, loaded.categories)
        return loaded
    articles = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        d = json.loads(line)
        text = str(d.get("text") or d.get("title") or "").strip()
        if not text:
            continue
        locale = LANG_TO_LOCALE.get(str(d.get("lang", "en")).lower(), "en")
        raw = json.dumps([d.get("title"), text], ensure_ascii=False).encode("utf-8")
        articles.append(Article(
            id=str(d["id"]), title=str(d.get("title") or text[:80])[:300], locale=locale,
            category=str(d.get("category") or "eval"), tags=(), audience="public", status="published",
            translation_group=str(d["id"]), updated=None, body=text + "\n", path=f"{path.name}:{n}",
            fingerprint=hashlib.sha256(raw).hexdigest(),
        ))
    categories = {c: Category(c, {}, i) for i, c in enumerate(sorted({a.category for a in articles}))}
    return LoadResult(articles, [], [], categories)


def sample_corpus(loaded: LoadResult, queries: list[Query], size: int, seed: int = 13) -> LoadResult:
    """The gold documents of `queries` plus random other documents, `size` in all (0: the whole corpus).

    Evaluating a slow model on a large set is then possible in minutes; every mode and model given the same
    size and queries sees the same documents, so the comparison between them stays fair."""
    if not size or size >= len(loaded.articles):
        return loaded
    gold = {g for q in queries for g in q.gold}
    keep = [a for a in loaded.articles if a.id in gold]
    rest = [a for a in loaded.articles if a.id not in gold]
    random.Random(seed).shuffle(rest)
    keep += rest[: max(0, size - len(keep))]
    return LoadResult(sorted(keep, key=lambda a: a.id), loaded.errors, loaded.warnings, loaded.categories)


def corpus_key(corpus: str | Path, sample: int = 0) -> str:
    p = Path(corpus).resolve()
    key = f"{p.parent.name}-{p.stem}" if p.is_file() else p.name
    return f"{key}-sample{sample}" if sample else key


def _index_dir(settings: Settings, cache_dir: Path, corpus: str | Path, sample: int, without: tuple[str, ...] = ()) -> str:
    key = corpus_key(corpus, sample) + "".join(f"-without-{loc}" for loc in without)
    return str(cache_dir / "index" / key / f"{settings.model.replace('/', '_')}-{settings.chunk_max_chars}")


def evaluate(
    settings: Settings,
    corpus: str | Path,
    queries: list[Query],
    modes: Iterable[str] = MODES,
    cache_dir: str | Path = "var/eval-cache",
    progress: Callable[[int, int], None] | None = None,
    per_query: bool = False,
    sample: int = 0,
    without: Iterable[str] = (),
) -> dict:
    """Metrics per mode, side by side, on one index built from `corpus` (or a `sample` of it, or without the
    articles of the locales in `without`) with `settings`; also per query language, with the confident-wrong rate.

    Gold ids are article ids, or translation groups (an answer in any language of the right topic counts)."""
    cache_dir = Path(cache_dir)
    embedder = load_embedder(settings.model, settings.threads)
    return _evaluate(settings, embedder, corpus, queries, modes, cache_dir, progress, per_query, sample,
                     tuple(sorted(without)))


def _eval_settings(settings: Settings, cache_dir: Path, corpus, sample: int, without: tuple[str, ...]) -> Settings:
    """The settings of a corpus's eval index: its own folder under `cache_dir`, and the passage cache of the
    knowledge base's builds (what `kb build` embedded, an eval never embeds again, and the other way round)."""
    shared = settings.embedding_cache_dir
    return settings.replace(index_dir=_index_dir(settings, cache_dir, corpus, sample, without),
                            embedding_cache=str(shared) if shared else "off")


def _evaluate(settings, embedder, corpus, queries, modes, cache_dir, progress, per_query, sample, without) -> dict:
    settings = _eval_settings(settings, cache_dir, corpus, sample, without)
    loaded = sample_corpus(load_corpus(corpus, without), queries, sample)
    t0 = time.perf_counter()
    glossary = load_glossary(corpus)[0] if Path(corpus).is_dir() else None
    build = build_index(settings, embedder=embedder, loaded=loaded, progress=progress, glossary=glossary)
    snap = load_current(settings.index_dir, embedder.name, embedder.dim)
    searcher = Searcher(snap, embedder, settings)
    known = set(snap.articles)
    out: dict = {
        "default": settings.retriever, "model": embedder.name, "corpus": str(corpus), "documents": len(snap.articles),
        "sample": sample or None, "chunks": len(snap.chunks), "queries": len(queries), "no_answer_queries": sum(not q.gold for q in queries),
        "build_seconds": round(time.perf_counter() - t0, 1), "reembedded": build.reembedded, "modes": {},
    }
    groups = {a.translation_group for a in snap.articles.values()}
    by_group = all(g in groups for q in queries for g in q.gold) and not all(g in known for q in queries for g in q.gold)
    unknown_gold = sorted({g for q in queries for g in q.gold if g not in (groups if by_group else known)})
    if unknown_gold:
        out["unknown_gold"] = unknown_gold[:20]
    out["gold"] = "translation groups" if by_group else "articles"
    for mode in modes:
        sums = dict.fromkeys(METRICS, 0.0)
        answered = [q for q in queries if q.gold]
        flagged_none = flagged_answerable = 0
        rows = []
        langs: dict[str, dict[str, float]] = {}
        start = time.perf_counter()
        for q in queries:
            resp = searcher.search(q.query, audience="public", k=10, mode=mode, snippets=False)
            ranked = [snap.articles[h.id].translation_group if by_group else h.id for h in resp.results]
            lang = langs.setdefault(q.lang or "all", dict.fromkeys(LANG_FIGURES, 0.0))
            lang["queries"] += 1
            shown = bool(ranked) and not resp.no_answer
            right = bool(ranked) and ranked[0] in q.gold
            lang["confident_wrong"] += shown and not right
            if q.gold:
                s = score_ranking(ranked, q.gold)
                for m in METRICS:
                    sums[m] += s[m]
                flagged_answerable += resp.no_answer
                lang["answerable"] += 1
                lang["ndcg@10"] += s["ndcg@10"]
                lang["top3"] += bool(set(ranked[:3]) & set(q.gold))
                lang["answer_shown"] += shown and right
            else:
                flagged_none += resp.no_answer
            if per_query:
                rows.append({"qid": q.qid, "query": q.query, "gold": list(q.gold), "ranked": ranked[:5],
                             "confidence": resp.confidence, "no_answer": resp.no_answer})
        elapsed = time.perf_counter() - start
        result = {m: round(sums[m] / max(1, len(answered)), 4) for m in METRICS}
        result["qps"] = round(len(queries) / elapsed, 1) if elapsed else None
        n_none = len(queries) - len(answered)
        if n_none:
            result["no_answer_recall"] = round(flagged_none / n_none, 4)
        result["false_no_answer"] = round(flagged_answerable / max(1, len(answered)), 4)
        result["confident_wrong"] = round(sum(v["confident_wrong"] for v in langs.values()) / max(1, len(queries)), 4)
        result["by_lang"] = {
            name: {"queries": int(v["queries"]), "ndcg@10": round(v["ndcg@10"] / max(1, v["answerable"]), 4),
                   "top3": round(v["top3"] / max(1, v["answerable"]), 4),
                   "answer_shown": round(v["answer_shown"] / max(1, v["answerable"]), 4),
                   "confident_wrong": round(v["confident_wrong"] / max(1, v["queries"]), 4)}
            for name, v in sorted(langs.items())
        }
        if per_query:
            result["per_query"] = rows
        out["modes"][mode] = result
    return out


def open_searcher(
    settings: Settings, corpus: str | Path, cache_dir: str | Path = "var/eval-cache",
    queries: list[Query] | None = None, sample: int = 0, without: Iterable[str] = (),
) -> Searcher:
    """Build (or reuse) the cached index of a corpus (or a sample of it, see `sample_corpus`, or without the
    articles of some locales) and return a Searcher."""
    cache_dir = Path(cache_dir)
    without = tuple(sorted(without))
    embedder = load_embedder(settings.model, settings.threads)
    settings = _eval_settings(settings, cache_dir, corpus, sample, without)
    glossary = load_glossary(corpus)[0] if Path(corpus).is_dir() else None
    build_index(settings, embedder=embedder, loaded=sample_corpus(load_corpus(corpus, without), queries or [], sample),
                glossary=glossary)
    return Searcher(load_current(settings.index_dir, embedder.name, embedder.dim), embedder, settings)


@dataclass
class Replay:
    """One query's retrieval, kept so that fusion settings can be swept without searching again."""

    query: Query
    candidates: "object"
    analysed: "object"  # the kb.query.Query the candidates were retrieved for


def collect(searcher: Searcher, queries: list[Query]) -> list[Replay]:
    """Each query's hybrid candidates over all public chunks, through the Searcher's public parts."""
    mask = searcher.retriever.mask(None, None, "public")
    out = []
    for q in queries:
        analysed = searcher.analyse(q.query, audience="public")
        out.append(Replay(q, searcher.retriever.candidates(analysed, "hybrid", mask), analysed))
    return out


def replay_metrics(searcher: Searcher, replays: list[Replay], mode: str, params) -> dict[str, float]:
    """Mean metrics of the answerable queries for one fusion setting."""
    from .ranking import fuse

    sums = dict.fromkeys(METRICS, 0.0)
    n = 0
    for r in replays:
        if not r.query.gold:
            continue
        ids, _ = fuse(r.candidates, mode, params)
        ranked: list[str] = []
        for cid in ids.tolist():
            aid = searcher.retriever.article_of[cid]
            if aid not in ranked:
                ranked.append(aid)
                if len(ranked) == 10:
                    break
        s = score_ranking(ranked, r.query.gold)
        for m in METRICS:
            sums[m] += s[m]
        n += 1
    return {m: sums[m] / max(n, 1) for m in METRICS}
