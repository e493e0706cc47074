"""The passage-vector cache: kept across builds by (model, text hash), shared with kb eval, pruned by size."""
from pathlib import Path

import numpy as np

import kb.evaluate
from conftest import CountingEmbedder
from kb.build import build_index
from kb.cache import PassageCache
from kb.evaluate import evaluate, load_queries
from kb.store import load_current


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_full_rebuild_encodes_nothing_already_known_and_gives_the_same_vectors(built, embedder):
    before = load_current(built.index_dir)
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting, full=True)
    assert report.published and report.full and counting.passages == 0
    assert report.vectors_from_cache == report.chunks + report.articles  # every section and every title
    assert "vectors from the cache" in report.summary()
    after = load_current(built.index_dir)
    assert np.array_equal(after.vectors.vectors(), before.vectors.vectors())
    assert np.array_equal(after.titles, before.titles)


def test_a_revert_or_a_readded_article_encodes_nothing(built, kb_dir, embedder):
    original = (kb_dir / "lost-2fa-en.md").read_text(encoding="utf-8")
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    counting = CountingEmbedder(embedder)
    build_index(built, embedder=counting)
    assert counting.passages == 1  # the edited section
    (kb_dir / "lost-2fa-en.md").write_text(original, encoding="utf-8")  # reverted
    counting = CountingEmbedder(embedder)
    assert build_index(built, embedder=counting).published and counting.passages == 0
    moved = (kb_dir / "lost-2fa-en.md").rename(kb_dir.parent / "lost-2fa-en.md")  # removed, then added again
    build_index(built, embedder=embedder, force=True)
    moved.rename(kb_dir / "lost-2fa-en.md")
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    assert report.published and report.changes["new"] == ["lost-2fa-en"] and counting.passages == 0


def test_with_the_cache_off_a_full_rebuild_encodes_everything(built, embedder):
    off = built.replace(embedding_cache="off")
    counting = CountingEmbedder(embedder)
    report = build_index(off, embedder=counting, full=True)
    assert counting.passages == report.chunks + report.articles and report.vectors_from_cache == 0


def test_eval_reads_the_vectors_the_build_wrote(built, tmp_path, monkeypatch, embedder):
    counting = CountingEmbedder(embedder)
    monkeypatch.setattr(kb.evaluate, "load_embedder", lambda *a, **k: counting)
    queries = load_queries(Path(built.articles_dir) / "golden.jsonl")
    result = evaluate(built, built.articles_dir, queries, ("bm25",), tmp_path / "eval")
    assert result["chunks"] > 0 and counting.passages == 0  # every passage from the build's cache


def test_prune_drops_the_least_recently_used_vectors(tmp_path):
    cache = PassageCache(tmp_path, "model/x")
    texts = [f"text {i}" for i in range(2000)]
    cache.put(texts, np.random.default_rng(0).random((2000, 64), dtype=np.float32))
    assert len(cache.get(texts[:100])) == 100  # used now: newer than the others
    size = cache.size_bytes()
    dropped = cache.prune(size / 2)
    assert 1000 <= dropped < 2000 and cache.size_bytes() <= size / 2
    assert len(cache.get(texts[:100])) == 100 and len(cache.get(texts[100:])) < 1000
    assert cache.prune(size) == 0
    cache.close()
    other = PassageCache(tmp_path, "model/y")  # another model's vectors are never this one's
    assert other.get(texts[:10]) == {} and other.path != cache.path
    other.close()
