"""Issue 14, item 9: a public search must not reveal words that only internal articles have. Its BM25 idf and
vocabulary, 'known' share, typo-correction words and identifier postings are those of the public articles alone,
made at build time; agents (audience internal or all) keep searching with everything."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import CountingEmbedder
from kb.build import build_index
from kb.errors import IndexCorrupt
from kb.search import Searcher
from kb.store import PUBLIC, current_build, load_current, load_snapshot

SOP = "sop-freeze-account-en"
# A second internal article: words (tonviewer, SEC-ONCALL, Harbor) and identifiers (TON, error 7301 in its title
# and headings) that no public article is about.
TON_SOP = """---
id: sop-ton-withdrawal-en
title: "SOP: TON withdrawal error 7301"
locale: en
category: withdrawals
tags: [ton, sop, tonviewer]
audience: internal
status: published
translation_group: sop-ton-withdrawal
updated: 2026-11-20
---

Check the transfer on tonviewer.com before you answer the user.

## Error 7301 in Harbor Admin

Error 7301 means the TON node refused the withdrawal. Page SEC-ONCALL when it repeats.
"""
QUERIES = [
    "SEC-ONCALL", "SEC-ONCALX",  # only in the SOPs, and a made-up twin
    "tonviewer.com", "tonvoewer.com", "tonwiever.com",  # only internal, a made-up twin, a typo of it
    "Harbor Admin", "Harbr Admin", "Reported compromised",
    "freeze account SOP Harbor Admin", "hacked account freeze",
    "error 7301", "TON memo", "TON withdrawal error 7301", "TRC20 error 7301",  # identifiers only internal ones name
    "withdrawal pending", "withdrawl pendng", "充值未到账", "deposit missing memo tag", "XRP tag",
    "0x" + "5f" * 32, "forgot google authenticator", "how do I cook rice in a pan",
]


def seen(searcher: Searcher, query: str, **kwargs):
    """Everything a client sees of a search (but took_ms)."""
    r = searcher.search(query, **kwargs)
    return (r.confidence, r.no_answer, r.corrected_query, r.fallback, r.notes, r.locale, r.detected_locale,
            [(h.id, h.score, h.confidence, h.url, h.section, h.snippet, h.fallback,
              [(s.heading, s.url, s.snippet, s.score) for s in h.sections]) for h in r.results])


@pytest.fixture
def twins(settings, kb_dir, embedder):
    """(with, without): the fixture knowledge base with two internal SOPs, and the same knowledge base after the
    internal articles were deleted (an incremental build: the same vectors, nothing re-embedded)."""
    (kb_dir / "sop-ton-withdrawal-en.md").write_text(TON_SOP, encoding="utf-8")
    assert build_index(settings, embedder=embedder).published
    with_internal = load_current(settings.index_dir, embedder.name, embedder.dim)
    for name in (f"{SOP}.md", "sop-ton-withdrawal-en.md"):
        (kb_dir / name).unlink()
    counting = CountingEmbedder(embedder)
    report = build_index(settings, embedder=counting)
    assert report.published and counting.passages == 0 and report.changes["deleted"] == [SOP, "sop-ton-withdrawal-en"]
    without = load_current(settings.index_dir, embedder.name, embedder.dim)
    assert with_internal.path != without.path and not with_internal.mapped  # held in memory: its folder may go
    return Searcher(with_internal, embedder, settings), Searcher(without, embedder, settings)


def test_public_confidence_is_the_same_as_without_internal_articles(twins):
    with_internal, without = twins
    assert with_internal.snapshot.manifest["counts"]["internal_articles"] == 2
    for query in QUERIES:
        assert seen(with_internal, query) == seen(without, query), query
    for mode in ("bm25", "dense"):
        for query in ("SEC-ONCALL", "tonviewer.com", "TON memo", "withdrawal pending", "充值未到账"):
            assert seen(with_internal, query, mode=mode) == seen(without, query, mode=mode), (mode, query)
    for query in ("SEC-ONCALL", "Harbr Admin", "TON withdrawal error 7301", "deposit"):
        for filters in ({"locale": "en"}, {"category": "withdrawals"}, {"locale": "zh-CN", "category": "security"}):
            assert seen(with_internal, query, **filters) == seen(without, query, **filters), (query, filters)


def test_the_attack_worked_with_the_statistics_of_every_article(twins):
    """The replay has teeth: with every article's statistics (as before the fix), the public responses to words
    only internal articles have differ from those of the knowledge base without them."""
    with_internal, without = twins
    snap = with_internal.snapshot
    leaky = Searcher(dataclasses.replace(snap, public=snap.everything), with_internal.embedder, with_internal.settings)
    differ = [q for q in QUERIES if seen(leaky, q) != seen(without, q)]
    assert {"SEC-ONCALL", "tonviewer.com", "tonwiever.com", "TON memo"} <= set(differ)
    assert leaky.search("tonwiever.com").corrected_query == "tonviewer.com"  # the correction named the word
    assert with_internal.search("tonwiever.com").corrected_query is None


def test_agents_still_search_with_every_articles_words(twins):
    with_internal, without = twins
    for query, sop in (("SEC-ONCALL", None), ("Harbor Admin", SOP), ("tonviewer.com", "sop-ton-withdrawal-en"),
                       ("error 7301", "sop-ton-withdrawal-en")):
        agent = with_internal.search(query, audience="all")
        assert agent.results[0].id.startswith("sop-") and (sop is None or agent.results[0].id == sop), query
        assert agent.results[0].confidence > without.search(query).confidence, query
        assert with_internal.search(query, audience="internal").results[0].id == agent.results[0].id
        assert not any(h.id.startswith("sop-") for h in with_internal.search(query).results)
    # a typo of an internal-only word is corrected for agents, never for the public
    assert with_internal.search("tonwiever.com", audience="all").corrected_query == "tonviewer.com"
    assert with_internal.search("Harbr Admin", audience="all").corrected_query == "harbor Admin"
    assert with_internal.search("Harbr Admin").corrected_query is None
    # identifiers only internal articles name: known to an agent's query, unknown to a public one
    assert with_internal.analyse("TON error 7301", audience="all").identifiers == ("code:7301", "ton")
    assert with_internal.analyse("TON error 7301").identifiers == ()
    with pytest.raises(ValueError, match="audience"):
        with_internal.rank(with_internal.analyse("TON"), "hybrid", None, None, "all")


def test_public_statistics_are_made_at_build_and_describe_the_public_chunks(twins, embedder):
    with_internal, without = twins
    snap = with_internal.snapshot
    public_ids = [i for i, c in enumerate(snap.chunks) if c.audience == "public"]
    assert len(public_ids) < len(snap.chunks) == snap.lexical.n_docs
    stats = snap.statistics("public")
    assert stats.lexical.ids.tolist() == public_ids and stats.lexical.n_docs == len(public_ids)
    assert stats.identifiers.size == len(public_ids) and snap.manifest["counts"]["public_chunks"] == len(public_ids)
    assert snap.statistics("all") is snap.statistics("internal") is snap.everything
    assert snap.lexical.knows("oncal") and not stats.lexical.knows("oncal")
    assert "tonviewer" in snap.words and "tonviewer" not in stats.words
    assert set(stats.words) == set(without.snapshot.words) and stats.words == without.snapshot.words
    # read back from disk (the build before the last is kept), the same
    reloaded = load_snapshot(snap.path, embedder.name, embedder.dim).statistics("public")
    assert reloaded.lexical.ids.tolist() == public_ids and reloaded.words == stats.words
    assert reloaded.identifiers.to_dict() == stats.identifiers.to_dict()
    # a build of public articles only has no public/ folder: its statistics are the public ones
    assert not (without.snapshot.path / PUBLIC).exists()
    assert without.snapshot.statistics("public") is without.snapshot.everything
    assert without.snapshot.manifest["counts"]["public_chunks"] == len(without.snapshot.chunks)


def test_public_statistics_on_disk_are_checked(built, embedder):
    build = current_build(built.index_dir)
    listed = json.loads((build / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert {f"{PUBLIC}/words.json", f"{PUBLIC}/identifiers.json", f"{PUBLIC}/lexical/doc_terms.npz"} <= set(listed)
    snap = load_snapshot(build, embedder.name, embedder.dim)
    assert snap.statistics("public") is not snap.everything
    words = build / PUBLIC / "words.json"
    text = words.read_text(encoding="utf-8")
    words.write_text(text.replace('"withdrawal"', '"withdrawak"'), encoding="utf-8")  # same size, other bytes
    with pytest.raises(IndexCorrupt, match="public/words.json"):
        load_snapshot(build, embedder.name, embedder.dim)
    words.write_text(text, encoding="utf-8")
    (build / PUBLIC / "identifiers.json").unlink()
    with pytest.raises(IndexCorrupt, match="public/identifiers.json: missing"):
        load_snapshot(build, embedder.name, embedder.dim)


def test_a_lexical_index_of_some_chunks_scores_by_chunk_id():
    from kb.lexical import LexicalIndex, tokenize

    docs = [tokenize("deposit not credited"), tokenize("internal freeze harbor"), tokenize("withdrawal pending")]
    alone = LexicalIndex.build([docs[0], docs[2]])
    some = LexicalIndex.build([docs[0], docs[2]], ids=[0, 2], size=3)
    q = tokenize("deposit pending harbor")
    assert some.scores(q).tolist() == [alone.scores(q)[0], 0.0, alone.scores(q)[1]]
    assert some.attainable(q) == alone.attainable(q) and some.known_share(q) == alone.known_share(q)
    assert not some.knows("harbor") and some.coverage(q, 1) == 0.0 and some.coverage(q, 2) == alone.coverage(q, 1)
    none = LexicalIndex.build([], ids=[], size=3)  # the public chunks of an internal-only knowledge base
    assert none.scores(q).tolist() == [0.0, 0.0, 0.0] and none.known_share(q) == 0.0 and none.attainable(q) == 0.0
    with pytest.raises(ValueError, match="chunk ids"):
        LexicalIndex.build(docs, ids=[0, 1], size=3)


def test_an_internal_only_knowledge_base_searches_publicly_for_nothing(settings, kb_dir, embedder):
    for path in Path(kb_dir).glob("*.md"):
        if path.stem != SOP:
            path.unlink()
    (Path(kb_dir) / "golden.jsonl").unlink()
    assert build_index(settings, embedder=embedder).published
    searcher = Searcher(load_current(settings.index_dir, embedder.name, embedder.dim), embedder, settings)
    public = searcher.search("freeze account Harbor Admin")
    assert public.results == [] and public.no_answer and public.corrected_query is None
    assert searcher.search("freeze account Harbor Admin", audience="all").results[0].id == SOP
    assert np.all(searcher.snapshot.statistics("public").lexical.scores(["harbor"]) == 0)
