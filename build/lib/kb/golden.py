"""The writers' golden queries: a rebuild that would make them worse is not published."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cache import QueryCache
from .config import Settings
from .embed import Embedder
from .metrics import Query, load_queries, score_ranking
from .search import Searcher
from .store import Snapshot

GOLDEN_FILE = "golden.jsonl"


@dataclass
class GoldenReport:
    queries: int
    recall_new: float
    recall_live: float | None
    floor: float
    max_drop: float
    regressed: list[tuple[Query, list[str], list[str]]] = field(default_factory=list)  # (query, live top 5, new top 5)
    failing: list[tuple[Query, list[str]]] = field(default_factory=list)  # answerable queries missing from the new top 5

    @property
    def passed(self) -> bool:
        if self.recall_new < self.floor:
            return False
        return self.recall_live is None or self.recall_new >= self.recall_live - self.max_drop

    def describe(self) -> list[str]:
        live = "none" if self.recall_live is None else f"{self.recall_live:.3f}"
        lines = [f"golden queries: Recall@5 {self.recall_new:.3f} (live index {live}; floor {self.floor:.2f}, "
                 f"allowed drop {self.max_drop:.2f}) over {self.queries} queries"]
        for q, live_top, new_top in self.regressed:
            lines.append(f"  regressed {q.qid} {q.query!r}: expected {', '.join(q.gold)}; live top 5 {live_top}; new top 5 {new_top}")
        return lines


def golden_path(settings: Settings) -> Path:
    return Path(settings.golden_file or Path(settings.articles_dir) / GOLDEN_FILE)


def _top5(searcher: Searcher, q: Query) -> list[str]:
    """What the query's users see: public search, unless a gold article is internal (a question agents ask)."""
    articles = searcher.snapshot.articles
    internal = any(g in articles and articles[g].audience == "internal" for g in q.gold)
    return [h.id for h in searcher.search(q.query, audience="all" if internal else "public", k=5, snippets=False).results]


def check_golden(settings: Settings, embedder: Embedder, new: Snapshot, live: Snapshot | None) -> GoldenReport | None:
    """Compare the new build with the live one on the golden queries; None when there is no golden file."""
    path = golden_path(settings)
    if not path.exists():
        return None
    queries = [q for q in load_queries(path) if q.gold]
    embedder = QueryCache(embedder, size=max(1, len(queries)))  # each query is encoded once for both indexes
    new_searcher = Searcher(new, embedder, settings)
    live_searcher = Searcher(live, embedder, settings) if live is not None else None
    new_sum = live_sum = 0.0
    report = GoldenReport(len(queries), 0.0, None, settings.golden_min_recall, settings.golden_max_drop)
    for q in queries:
        new_top = _top5(new_searcher, q)
        new_recall = score_ranking(new_top, q.gold)["recall@5"]
        new_sum += new_recall
        if new_recall == 0:
            report.failing.append((q, new_top))
        if live_searcher is not None:
            live_top = _top5(live_searcher, q)
            live_recall = score_ranking(live_top, q.gold)["recall@5"]
            live_sum += live_recall
            if new_recall < live_recall:
                report.regressed.append((q, live_top, new_top))
    if queries:
        report.recall_new = new_sum / len(queries)
        report.recall_live = live_sum / len(queries) if live_searcher is not None else None
    else:
        report.recall_new = 1.0
    return report
