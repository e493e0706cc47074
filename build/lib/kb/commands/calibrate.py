"""Fit the confidence model (kb/data/calibration.json) and report the no-answer threshold.

For each ranking mode, a logistic regression maps a query's retrieval signals to P(top result is right),
fitted on development sets (CORPUS:QUERIES; queries with an empty gold list are 'no answer' examples).
It prints, for thresholds 0.1..0.6, how many no-answer queries are caught and answerable ones lost."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from kb.config import Settings
from kb.evaluate import collect, open_searcher
from kb.metrics import load_queries
from kb.ranking import FEATURES, Calibration, FusionParams, fuse
from kb.search import MODES

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "kb" / "data" / "calibration.json"


def rows_for(searcher, replays, mode: str, params: FusionParams):
    X, y, no_answer = [], [], []
    for r in replays:
        ids, _ = fuse(r.candidates, mode, params)
        top = int(ids[0]) if len(ids) else None
        sig = searcher.ranker.signals(r.candidates, r.analysed, top)
        X.append([sig[f] for f in FEATURES])
        right = top is not None and searcher.retriever.article_of[top] in set(r.query.gold)
        y.append(1 if right else 0)
        no_answer.append(not r.query.gold)
    return X, y, no_answer


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="+", metavar="CORPUS:QUERIES[:WEIGHT]")
    p.add_argument("--model", default=None)
    p.add_argument("--limit", type=int, default=400, help="queries per set")
    p.add_argument("--corpus-sample", type=int, default=0, metavar="N",
                   help="use N documents of each corpus: the queries' gold documents plus random others")
    p.add_argument("--cache", default="var/eval-cache")
    p.add_argument("--write", action="store_true", help=f"save the fitted weights into {CALIBRATION_FILE}")
    args = p.parse_args(argv)
    from sklearn.linear_model import LogisticRegression

    settings = Settings.from_env(model=args.model)
    params = FusionParams(settings.fusion, settings.dense_weight, settings.lexical_weight, settings.rrf_k)
    data = {m: ([], [], [], []) for m in MODES}
    name = None
    for spec in args.sets:
        parts = spec.split(":")
        corpus, queries, weight = parts[0], parts[1], float(parts[2]) if len(parts) > 2 else 1.0
        qs = load_queries(queries)[: args.limit]
        searcher = open_searcher(settings, corpus, args.cache, qs, args.corpus_sample)
        name = searcher.embedder.name
        replays = collect(searcher, qs)
        for mode in MODES:
            X, y, na = rows_for(searcher, replays, mode, params)
            data[mode][0].extend(X)
            data[mode][1].extend(y)
            data[mode][2].extend(na)
            data[mode][3].extend([weight] * len(y))
    table = Calibration.load_table()
    table[name] = {}
    for mode in MODES:
        X, y, na, w = (np.array(v) for v in data[mode])
        clf = LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000)
        clf.fit(X, y, sample_weight=w)
        weights = {f: round(float(c), 4) for f, c in zip(FEATURES, clf.coef_[0])}
        table[name][mode] = weights
        conf = clf.predict_proba(X)[:, 1]
        print(f"{name} {mode}: weights {weights}")
        print(f"  top-1 right {y.mean():.3f}; no-answer queries {int(na.sum())}")
        for t in (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6):
            caught = (conf[na] < t).mean() if na.any() else float("nan")
            lost_right = ((conf < t) & (y == 1) & ~na).sum() / max(1, ((y == 1) & ~na).sum())
            print(f"  threshold {t:.2f}: no-answer caught {caught:.3f}, right answers hidden {lost_right:.3f}")
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
