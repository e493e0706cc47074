import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb.evaluate import load_corpus, load_queries, score_ranking

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def test_score_ranking_metrics():
    s = score_ranking(["x", "a", "y", "b"], ["a", "b"])
    assert s["recall@1"] == 0 and s["recall@5"] == 1.0 and s["mrr@10"] == 0.5
    assert s["ndcg@10"] == pytest.approx((1 / 1.585 + 1 / 2.3219) / (1 + 1 / 1.585), rel=1e-3)
    assert score_ranking(["a"], ["a"]) == {"recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0, "ndcg@10": 1.0}


def test_jsonl_corpus_becomes_articles(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "d1", "title": "T", "text": "保险怎么买", "lang": "zh"}\n{"id": "d2", "title": "", "text": "", "lang": "en"}\n', encoding="utf-8")
    loaded = load_corpus(corpus)
    assert [(a.id, a.locale, a.title) for a in loaded.articles] == [("d1", "zh-CN", "T")]


def test_bad_query_line_names_the_line(tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text('{"qid": "1", "query": "x", "gold": []}\n{"query": "no id"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.jsonl:2"):
        load_queries(q)


def test_eval_cli_prints_all_modes_and_writes_json(tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "eval.py"), "--corpus", str(DATA / "kb"), "--queries",
         str(DATA / "fixture_queries.jsonl"), "--cache", str(tmp_path / "cache"), "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for mode in ("hybrid", "dense", "bm25"):
        assert f"\n{mode}" in proc.stdout
    assert "default mode: hybrid" in proc.stdout
    result = json.loads(out.read_text())
    assert result["default"] == "hybrid" and set(result["modes"]) == {"hybrid", "dense", "bm25"}
    hybrid = result["modes"]["hybrid"]
    assert set(hybrid) >= {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "qps"}
    assert hybrid["recall@5"] == 1.0 and hybrid["no_answer_recall"] == 1.0
