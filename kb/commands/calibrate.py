"""Fit the confidence model (kb/data/calibration.json) and report the no-answer threshold.

For each ranking mode, a logistic regression maps a query's retrieval signals to P(top result is right),
fitted on development sets (CORPUS:QUERIES; queries with an empty gold list are 'no answer' examples; a
WITHOUT part leaves some locales' articles out, so that cross-language answers are in the fit too).
It prints, for thresholds 0.1..0.6, how many no-answer queries are caught and answerable ones lost, and per
set, judged by a model fitted on the other sets, the confident-wrong rate and the share of right answers
shown at KB_MIN_CONFIDENCE.

    kb calibrate --limit 500 --corpus-sample 3000 --write \\
        articles:tests/data/queries.jsonl \\
        articles:../shared/eval/multilingual-kb/queries.dev.jsonl \\
        articles:../shared/eval/multilingual-kb/queries.dev.jsonl:1:ko,ja \\
        ../shared/eval/stackfaq-en/corpus.jsonl:../shared/eval/stackfaq-en/queries.dev.jsonl ...
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from kb.config import Settings
from kb.evaluate import collect, open_searcher
from kb.metrics import load_queries
from kb.ranking import CALIBRATION_FILE, FEATURES, Calibration, FusionParams
from kb.search import MODES



def rows_for(searcher, replays, mode: str, params: FusionParams):
    X, y, no_answer = [], [], []
    for r in replays:
        ranked = searcher.ranker.rank(r.candidates, r.analysed, mode, params)
        X.append([ranked.signals[f] for f in FEATURES])
        top = int(ranked.ids[0]) if len(ranked.ids) else None
        gold = set(r.query.gold)
        # gold lists articles, or translation groups (an answer in any language of the right topic counts)
        right = top is not None and bool({searcher.retriever.article_of[top], searcher.retriever.group_of[top]} & gold)
        y.append(1 if right else 0)
        no_answer.append(not r.query.gold)
    return X, y, no_answer


def fit(X, y, w):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000).fit(X, y, sample_weight=w)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sets", nargs="+", metavar="CORPUS:QUERIES[:WEIGHT[:WITHOUT]]",
                   help="WITHOUT: comma-separated locales whose articles are left out (e.g. ko,ja)")
    p.add_argument("--model", default=None)
    p.add_argument("--limit", type=int, default=400, help="queries per set")
    p.add_argument("--corpus-sample", type=int, default=0, metavar="N",
                   help="use N documents of each corpus: the queries' gold documents plus random others")
    p.add_argument("--cache", default="var/eval-cache")
    p.add_argument("--write", action="store_true", help=f"save the fitted weights into {CALIBRATION_FILE}")
    args = p.parse_args(argv)

    settings = Settings.from_env(model=args.model)
    params = FusionParams(settings.fusion, settings.dense_weight, settings.lexical_weight, settings.rrf_k)
    data = {m: ([], [], [], [], []) for m in MODES}  # X, y, no answer, weight, set
    name = None
    for spec in args.sets:
        parts = spec.split(":")
        corpus, queries = parts[0], parts[1]
        weight = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
        without = tuple(parts[3].split(",")) if len(parts) > 3 and parts[3] else ()
        qs = load_queries(queries)[: args.limit]
        searcher = open_searcher(settings, corpus, args.cache, qs, args.corpus_sample, without)
        name = searcher.embedder.name
        replays = collect(searcher, qs)
        label = Path(queries).parent.name or Path(queries).stem
        label += "".join(f"-without-{loc}" for loc in without)
        for mode in MODES:
            X, y, na = rows_for(searcher, replays, mode, params)
            for column, values in zip(data[mode], (X, y, na, [weight] * len(y), [label] * len(y))):
                column.extend(values)
    table = Calibration.load_table()
    table[name] = {}
    t = settings.min_confidence
    for mode in MODES:
        X, y, na, w, sets = (np.array(v) for v in data[mode])
        clf = fit(X, y, w)
        weights = {f: round(float(c), 4) for f, c in zip(FEATURES, clf.coef_[0])}
        table[name][mode] = weights
        conf = clf.predict_proba(X)[:, 1]
        print(f"{name} {mode}: weights {weights}")
        print(f"  top-1 right {y.mean():.3f}; no-answer queries {int(na.sum())}")
        for th in (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6):
            caught = (conf[na] < th).mean() if na.any() else float("nan")
            lost_right = ((conf < th) & (y == 1) & ~na).sum() / max(1, ((y == 1) & ~na).sum())
            print(f"  threshold {th:.2f}: no-answer caught {caught:.3f}, right answers hidden {lost_right:.3f}")
        # Each set judged by a model fitted on the others (a set and its -without- variants are held out
        # together): what a knowledge base the fit never saw would get at the search threshold.
        if len(set(sets.tolist())) > 1:
            print(f"  held out, at KB_MIN_CONFIDENCE {t}: confident-wrong / right answer shown")
            for label in sorted(set(sets.tolist())):
                held = np.array([s.split("-without-")[0] == label.split("-without-")[0] for s in sets.tolist()])
                mine = sets == label
                if held.all() or len(set(y[~held].tolist())) < 2:
                    print(f"    {label:40s} (not judged: the other sets have only right or only wrong answers)")
                    continue
                c = fit(X[~held], y[~held], w[~held]).predict_proba(X[mine])[:, 1]
                shown = c >= t
                cw = (shown & (y[mine] == 0)).mean()
                answerable = ~na[mine]
                right_shown = (shown & (y[mine] == 1) & answerable).sum() / max(1, answerable.sum())
                print(f"    {label:40s} {cw:.3f} / {right_shown:.3f}  ({int(mine.sum())} queries)")
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
