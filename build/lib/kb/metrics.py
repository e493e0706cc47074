"""Query sets ({"qid", "query", "gold": [ids]} JSONL) and the ranking metrics they are scored with."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class Query:
    qid: str
    query: str
    gold: tuple[str, ...]
    lang: str = ""  # the query's language, when the set says (for per-language figures)


def load_queries(path: str | Path) -> list[Query]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Query(str(d["qid"]), str(d["query"]), tuple(d.get("gold") or ()), str(d.get("lang") or "")))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: not a query line {{\"qid\", \"query\", \"gold\"}} ({exc})") from None
    return out


def score_ranking(ranked: list[str], gold: Iterable[str]) -> dict[str, float]:
    """Binary-relevance metrics of one ranked list of article ids (recall = share of the gold ids found)."""
    gold = set(gold)
    hits = [1 if doc in gold else 0 for doc in ranked[:10]]
    first = next((i for i, h in enumerate(hits) if h), None)
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 10)))
    return {
        "recall@1": sum(hits[:1]) / len(gold), "recall@5": sum(hits[:5]) / len(gold),
        "recall@10": sum(hits[:10]) / len(gold), "mrr@10": 0.0 if first is None else 1 / (first + 1),
        "ndcg@10": dcg / idcg if idcg else 0.0,
    }
