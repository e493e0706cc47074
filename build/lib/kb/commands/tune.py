"""Sweep the hybrid fusion (method and weights) on development sets and print nDCG@10 per setting.

Each set is given as CORPUS:QUERIES; retrieval runs once per query and the fusion is replayed per setting."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kb.config import Settings
from kb.evaluate import collect, load_queries, open_searcher, replay_metrics
from kb.ranking import FusionParams


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("sets", nargs="+", metavar="CORPUS:QUERIES")
    p.add_argument("--model", default=None)
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--corpus-sample", type=int, default=0, metavar="N",
                   help="use N documents of each corpus: the queries' gold documents plus random others")
    p.add_argument("--cache", default="var/eval-cache")
    p.add_argument("--json", help="write all results to this file")
    args = p.parse_args(argv)
    settings = Settings.from_env(model=args.model)
    grid = [FusionParams("mix", w, 1 - w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    grid += [FusionParams("rrf", w, 1 - w, k) for w in (0.3, 0.5, 0.7) for k in (10, 60)]
    results: dict = {}
    for spec in args.sets:
        corpus, queries = spec.split(":", 1)
        qs = load_queries(queries)[: args.limit]
        searcher = open_searcher(settings, corpus, args.cache, qs, args.corpus_sample)
        replays = collect(searcher, qs)
        name = Path(corpus).parent.name if Path(corpus).is_file() else Path(corpus).name
        row = {"bm25": replay_metrics(searcher, replays, "bm25", grid[0])["ndcg@10"],
               "dense": replay_metrics(searcher, replays, "dense", grid[0])["ndcg@10"]}
        for params in grid:
            key = f"{params.method}:{params.dense_weight:.1f}" + (f":k{params.rrf_k}" if params.method == "rrf" else "")
            row[key] = replay_metrics(searcher, replays, "hybrid", params)["ndcg@10"]
        results[name] = row
        print(name, " ".join(f"{k}={v:.4f}" for k, v in row.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": settings.model, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
