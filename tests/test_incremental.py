"""An incremental rebuild makes exactly what a full build of the same articles makes (issue 17: one edited article
of 10,000 rebuilt in seconds): chunks, vectors, BM25 scores, identifiers, typo-correction words, public statistics,
pages, listings, related articles and search results; and it reads only the article files that changed."""
import random

import numpy as np
import pytest

from conftest import QueryMemo

import kb.articles
import kb.errors
from kb.build import build_index
from kb.lexical import tokenize
from kb.search import Searcher
from kb.store import current_build, load_current

TOPICS = ["deposit", "withdrawal", "authenticator", "futures", "margin", "staking", "identity", "password", "card",
          "transfer", "network", "memo", "address", "fee", "limit", "review"]
ZH = ["充值", "提币", "验证器", "合约", "保证金", "质押", "身份", "密码", "银行卡", "转账", "网络", "备注"]


def _article(i: int, rnd: random.Random, **front) -> str:
    """A small article of 2 or 3 sections; about a few topics so that related articles differ in how near they are."""
    locale = front.get("locale", "en")
    words = ZH if locale == "zh-CN" else TOPICS
    picked = rnd.sample(words, 4)
    sep = "" if locale == "zh-CN" else " "
    sections = "".join(f"\n## {w} {i}\n\n{sep.join(rnd.choices(picked, k=12))} TRC20 USDT {1000 + i}.\n"
                       for w in picked[: rnd.randint(2, 3)])
    meta = {"id": f"gen-{i}", "title": f"{picked[0]} {picked[1]} {i}", "locale": locale, "category": "security",
            "tags": f"[{picked[0]}, {picked[2]}]", **front}
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in meta.items()) + "---\n\nAbout " + sep.join(picked) + "." + sections


@pytest.fixture
def big_kb(kb_dir):
    """The fixture knowledge base plus 40 generated articles: English and Chinese, some internal, some translations."""
    rnd = random.Random(17)
    for i in range(40):
        front = {}
        if i % 4 == 1:
            front = {"locale": "zh-CN", "translation_group": f"gen-{i - 1}"}
        if i % 7 == 3:
            front["audience"] = "internal"
        (kb_dir / f"gen-{i:02d}.md").write_text(_article(i, rnd, **front), encoding="utf-8")
    (kb_dir / "golden.jsonl").unlink()  # the gate is not the point here (and a deletion would need --force)
    return kb_dir


@pytest.fixture(scope="module")
def passage_cache(tmp_path_factory):
    """One passage-vector cache for this file's builds: the real model embeds each generated section once, not once
    a test (what these tests compare is how builds assemble vectors, not the model; kb.cache has its own tests)."""
    return tmp_path_factory.mktemp("passages")


@pytest.fixture
def settings(settings, passage_cache):
    return settings.replace(embedding_cache=str(passage_cache))


def _full(settings, embedder, tmp_path, name, *, from_scratch=False):
    """A full build of the same articles into an index folder of its own; its vectors from the cache the other
    builds use, or `from_scratch`, every passage embedded again."""
    cache = tmp_path / f"{name}-cache" if from_scratch else settings.embedding_cache_dir
    other = settings.replace(index_dir=str(tmp_path / name), embedding_cache=str(cache))
    report = build_index(other, embedder=embedder, full=True)
    assert report.full and report.published
    return load_current(other.index_dir)


def _queries(snap) -> list[str]:
    return [c.title for c in snap.chunks[::3]] + ["TRC20 deposit", "充值 未到账", "withdrawl pendng", "USDT 1003"]


def assert_same_build(new, full, embedder, settings):
    """Everything a build holds, and what searches return, equal (floats within tolerance)."""
    assert new.chunks == full.chunks
    assert list(new.articles) == list(full.articles) and new.articles == full.articles
    assert new.pages == full.pages
    assert new.groups == full.groups and new.listings == full.listings and new.related == full.related
    assert new.manifest.articles == full.manifest.articles and new.manifest.counts == full.manifest.counts
    assert np.allclose(new.vectors.vectors(), full.vectors.vectors(), atol=1e-6)
    assert np.allclose(new.titles, full.titles, atol=1e-6)
    for audience in ("public", "all"):
        a, b = new.statistics(audience), full.statistics(audience)
        assert a.identifiers.to_dict() == b.identifiers.to_dict()
        assert list(a.words.items()) == list(b.words.items())  # counts and order (the speller's tie-break)
        assert a.lexical.document_frequencies() == b.lexical.document_frequencies()
        for q in _queries(full):
            tokens = tokenize(q)
            assert np.allclose(a.lexical.scores(tokens), b.lexical.scores(tokens), rtol=1e-6, atol=1e-6), q
            assert a.lexical.attainable(tokens) == pytest.approx(b.lexical.attainable(tokens), rel=1e-6)
    memo = embedder if isinstance(embedder, QueryMemo) else QueryMemo(embedder)
    mine, theirs = Searcher(new, memo, settings), Searcher(full, memo, settings)
    for q in _queries(full):
        for audience in ("public", "all"):
            x = mine.search(q, audience=audience, k=10, snippets=False)
            y = theirs.search(q, audience=audience, k=10, snippets=False)
            assert [h.id for h in x.results] == [h.id for h in y.results], (q, audience)
            assert [h.score for h in x.results] == pytest.approx([h.score for h in y.results], abs=1e-5)


def test_incremental_rebuilds_equal_full_builds_after_an_edit_an_add_and_a_delete(big_kb, settings, embedder, tmp_path,
                                                                                  monkeypatch):
    assert build_index(settings, embedder=embedder).published
    parsed = []
    real = kb.articles.parse_article

    def counting(raw, path, *args, **kwargs):
        parsed.append(path)
        return real(raw, path, *args, **kwargs)

    monkeypatch.setattr(kb.articles, "parse_article", counting)
    # the records of files just written are not trusted (a second edit within the same clock tick would keep the stat)
    monkeypatch.setattr(kb.articles, "RACY_NS", -10**18)
    assert build_index(settings, embedder=embedder, full=True).published  # a build that records every file
    rnd = random.Random(3)
    steps = [
        ("edit", lambda: (big_kb / "gen-04.md").write_text(
            (big_kb / "gen-04.md").read_text(encoding="utf-8") + "\nOne more sentence about a margin call.\n",
            encoding="utf-8")),
        ("add", lambda: (big_kb / "gen-99.md").write_text(_article(99, rnd), encoding="utf-8")),
        ("delete", lambda: (big_kb / "gen-08.md").unlink()),
        ("retitle and make internal", lambda: (big_kb / "gen-12.md").write_text(
            _article(12, rnd, audience="internal", title="Staking staking"), encoding="utf-8")),
        ("move to another translation group", lambda: (big_kb / "gen-05.md").write_text(
            _article(5, rnd, locale="zh-CN", translation_group="gen-16"), encoding="utf-8")),
    ]
    memo = QueryMemo(embedder)
    for n, (what, change) in enumerate(steps):
        change()
        parsed.clear()
        report = build_index(settings, embedder=embedder, force=True)
        assert report.published and not report.full, what
        assert report.unchanged >= len(report.changes["unchanged"]) - 1 and report.reembedded <= 1, what
        # only the changed file was read again (a deletion reads none), and the drafts (a build keeps no draft)
        changed = [p for p in parsed if "draft-" not in p]
        assert len(changed) <= 1 and all("gen-" in p for p in changed), (what, parsed)
        new = load_current(settings.index_dir)
        # what this step embedded is the model's own vector for each new or edited section (the full build
        # below reads the same cache, so it alone could not tell a wrong vector stored for a new text)
        touched = set(report.changes["new"]) | set(report.changes["edited"])
        rows = [cid for cid, c in enumerate(new.chunks) if c.article_id in touched]
        assert bool(rows) == bool(touched), what
        if rows:
            fresh = embedder.encode_passages([new.chunks[cid].embed_text for cid in rows])
            assert np.allclose(new.vectors.vectors()[rows], fresh, atol=1e-4), what
        assert_same_build(new, _full(settings, embedder, tmp_path, f"full-{n}"), memo, settings)


def test_a_file_whose_stat_changed_is_read_again_and_a_broken_one_never_reaches_the_index(big_kb, settings, embedder,
                                                                                         monkeypatch):
    monkeypatch.setattr(kb.articles, "RACY_NS", -10**18)
    assert build_index(settings, embedder=embedder).published
    live = current_build(settings.index_dir)
    path = big_kb / "gen-06.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("category: security", "category: nowhere"), encoding="utf-8")  # same size or not
    with pytest.raises(kb.errors.BuildError, match="invalid article"):
        build_index(settings, embedder=embedder)
    assert current_build(settings.index_dir) == live
    path.write_text(text, encoding="utf-8")  # back as it was, with a new mtime: read again, the same article
    report = build_index(settings, embedder=embedder)
    assert not report.published and report.reason == ""  # up to date: nothing to publish


def test_a_tampered_record_of_the_live_build_is_not_trusted(big_kb, settings, embedder, monkeypatch):
    """sources.json and articles.json are read only as the manifest recorded them: else every file is read."""
    monkeypatch.setattr(kb.articles, "RACY_NS", -10**18)
    assert build_index(settings, embedder=embedder).published
    build = current_build(settings.index_dir)
    (build / "sources.json").write_text("{}", encoding="utf-8")
    parsed = []
    real = kb.articles.parse_article
    monkeypatch.setattr(kb.articles, "parse_article", lambda raw, path, *a, **k: parsed.append(path) or real(raw, path, *a, **k))
    build_index(settings, embedder=embedder)
    assert len(parsed) == len(list(big_kb.rglob("*.md")))


def test_a_broken_live_build_is_rebuilt_in_full(big_kb, settings, embedder, tmp_path):
    assert build_index(settings, embedder=embedder).published
    build = current_build(settings.index_dir)
    (big_kb / "gen-00.md").write_text((big_kb / "gen-00.md").read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    chunks = build / "chunks.json"
    chunks.write_bytes(chunks.read_bytes().replace(b"TRC20", b"TRX20", 1))  # the same size, another sha256
    report = build_index(settings, embedder=embedder)
    assert report.published and report.full and "unusable" in report.reason
    assert_same_build(load_current(settings.index_dir), _full(settings, embedder, tmp_path, "full", from_scratch=True),
                      embedder, settings)
