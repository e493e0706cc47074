"""Retrieval quality, every ranking mode side by side: Recall@1/5/10, MRR@10, nDCG@10, queries/s.

The corpus is a folder of Markdown articles or a corpus.jsonl ({"id","title","text","lang"}); queries are
JSONL {"qid","query","gold":[ids]} (an empty gold list means "no answer in the knowledge base")."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from kb.config import Settings
from kb.evaluate import METRICS, evaluate, load_queries
from kb.search import MODES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="folder of Markdown articles or a corpus.jsonl")
    p.add_argument("--queries", required=True, help="queries JSONL")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated ranking modes (default {','.join(MODES)})")
    p.add_argument("--model", default=None, help="embedding model (default: KB_MODEL or the built-in default)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N queries")
    p.add_argument("--corpus-sample", type=int, default=0, metavar="N",
                   help="evaluate on N documents: the queries' gold documents plus random others (default: all)")
    p.add_argument("--cache", default="var/eval-cache", help="where the eval indexes are kept (passage vectors: KB_EMBEDDING_CACHE, shared with kb build)")
    p.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    p.add_argument("--per-query", action="store_true", help="include each query's ranking in the JSON")
    p.add_argument("--without", default="", metavar="LOCALES",
                   help="comma-separated locales whose articles are left out (e.g. ko,ja: translations that lag)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a kb setting (repeatable)")
    args = p.parse_args(argv)

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        p.error(f"--modes: unknown mode(s) {', '.join(bad)}; use {', '.join(MODES)}")
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = Settings.from_env(model=args.model, **overrides)
    queries = load_queries(args.queries)[: args.limit or None]
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding corpus", file=sys.stderr)
        bar.update(done - bar.n)

    without = [loc.strip() for loc in args.without.split(",") if loc.strip()]
    result = evaluate(settings, args.corpus, queries, modes, args.cache, progress, per_query=args.per_query,
                      sample=args.corpus_sample, without=without)
    if bar is not None:
        bar.close()
    sampled = f" (sample of {args.corpus_sample})" if args.corpus_sample else ""
    print(f"corpus {result['corpus']}{sampled}: {result['documents']} documents, {result['chunks']} chunks; "
          f"{result['queries']} queries ({result['no_answer_queries']} without answer); model {result['model']}")
    cols = list(METRICS) + ["qps", "no_answer_recall", "false_no_answer", "confident_wrong"]
    print(f"{'mode':<8}" + "".join(f"{c:>17}" for c in cols))
    for mode, r in result["modes"].items():
        mark = " *" if mode == result["default"] else ""
        print(f"{mode + mark:<8}" + "".join(f"{r.get(c, float('nan')) if r.get(c) is not None else float('nan'):>17.4f}" for c in cols))
    print(f"default mode: {result['default']} (*); gold: {result['gold']}")
    print("per query language: nDCG@10 · top-3 hit · right answer shown · confident-wrong (queries)")
    for mode, r in result["modes"].items():
        print(f"  {mode:<7}" + "   ".join(f"{lang} {v['ndcg@10']:.3f} · {v['top3']:.3f} · {v['answer_shown']:.3f} · "
                                          f"{v['confident_wrong']:.3f} ({v['queries']})" for lang, v in r["by_lang"].items()))
    if result.get("unknown_gold"):
        print(f"warning: gold ids not in the corpus: {', '.join(result['unknown_gold'])}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
