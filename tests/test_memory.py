"""Sharing memory between server processes (issue 17): the segmenter's mapped table (kb.segmenter), the live
build preloaded by gunicorn's master (kb.live.preload), the prefix tables made after the first answer, and
`kb serve --workers 2` answering as one process does. Memory itself is measured by kb bench, not here."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import QueryMemo

from kb import lexical, live, segmenter
from kb.errors import IndexMismatch
from kb.live import LiveIndex
from kb.store import current_build

ROOT = Path(__file__).resolve().parent.parent
CHINESE = ["充值一直没到账怎么办", "提现显示成功但是对方没收到", "谷歌验证器丢了怎么重置", "API密钥泄露了怎么办",
           "系统维护期间可以充值吗", "我的账户被冻结了，客服几点上班？", "合约爆仓是什么意思"]


def test_frozen_frequencies_answer_as_the_dict_does(tmp_path):
    freq = {"充值": 50000, "充": 0, "到账": 3, "未到账": 30000, "a": 1, "长" * 16: 7}
    path = tmp_path / "t.bin"
    segmenter.write_table(path, segmenter.encode_table(freq, 80011, "k"))
    table, total = segmenter.load_table(path, "k")
    assert total == 80011 and len(table) == len(freq) and sorted(table) == sorted(freq)
    for word, value in freq.items():
        assert word in table and table[word] == value and table.get(word) == value
    for missing in ["", "充值x", "到", "b", None, 3]:
        assert missing not in table and table.get(missing, -1) == -1
    with pytest.raises(KeyError):
        table["未"]


def test_a_changed_truncated_or_foreign_table_is_not_used(tmp_path):
    path = tmp_path / "t.bin"
    data = segmenter.encode_table({"充值": 5, "充": 0}, 5, "k")
    segmenter.write_table(path, data)
    assert segmenter.load_table(path, "other key") is None
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one word's byte changed: its checksum differs
    assert segmenter.load_table(path, "k") is None
    path.write_bytes(data[: len(data) // 2])
    assert segmenter.load_table(path, "k") is None
    path.write_bytes(b"")
    assert segmenter.load_table(path, "k") is None
    assert segmenter.load_table(tmp_path / "missing.bin", "k") is None


@pytest.fixture
def mapped_segmenter(tmp_path, monkeypatch):
    """kb.lexical with the mapped table (made in a child process, in a folder of the test's), restored after."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(lexical, "_jieba", None)
    monkeypatch.setattr(lexical, "_mapped_segmenter", True)
    lexical._segment.cache_clear()
    yield lexical._get_jieba()
    lexical._segment.cache_clear()


def test_the_mapped_segmenter_cuts_every_text_as_jiebas_dictionary_does(mapped_segmenter, monkeypatch):
    assert isinstance(mapped_segmenter.FREQ, segmenter.FrozenFrequencies)
    texts = CHINESE + [p.read_text(encoding="utf-8") for p in sorted((ROOT / "articles" / "zh").glob("*.md"))[:25]]
    mapped = [(list(mapped_segmenter.cut_for_search(t)), list(mapped_segmenter.cut(t)), lexical.tokenize(t),
               lexical.match_terms(t)) for t in texts]
    monkeypatch.setattr(lexical, "_jieba", None)
    monkeypatch.setattr(lexical, "_mapped_segmenter", False)
    lexical._segment.cache_clear()
    plain = lexical._get_jieba()
    assert isinstance(plain.FREQ, dict) and plain.total == mapped_segmenter.total
    assert mapped == [(list(plain.cut_for_search(t)), list(plain.cut(t)), lexical.tokenize(t), lexical.match_terms(t))
                      for t in texts]


def test_a_table_that_cannot_be_made_leaves_jiebas_dictionary(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    tokenizer = segmenter.server_tokenizer()
    assert tokenizer is None  # the child could not write it: kb.lexical loads jieba's own dictionary instead


def test_a_preloaded_build_is_the_one_served_and_searches_as_a_loaded_one(built, embedder):
    searcher = live.preload(built)
    assert searcher is not None and live._preloaded
    preloaded = LiveIndex(built, embedder)
    assert preloaded.searcher is searcher and searcher.embedder is preloaded.embedder and not live._preloaded
    loaded = LiveIndex(built, embedder)  # nothing preloaded left: this one reads the build from disk
    assert loaded.searcher.snapshot is not searcher.snapshot
    for query in ["deposit not credited", "充值没到账", "2FA"]:
        a, b = preloaded.searcher.search(query), loaded.searcher.search(query)
        assert [(h.id, h.score, h.snippet) for h in a.results] == [(h.id, h.score, h.snippet) for h in b.results]
    assert [h.id for h in preloaded.searcher.instant.suggest("depo")[0]] == \
        [h.id for h in loaded.searcher.instant.suggest("depo")[0]]


def test_a_preloaded_build_of_another_model_is_refused(built):
    class Other:
        name, dim = "another/model", 384

    live.preload(built)
    with pytest.raises(IndexMismatch):
        LiveIndex(built, Other())
    live._preloaded.clear()


def test_a_preloaded_build_changed_on_disk_is_read_again_and_refused(built, embedder):
    live.preload(built)
    build = current_build(built.index_dir)
    with open(build / "words.json", "a", encoding="utf-8") as f:
        f.write(" ")  # its size is not the manifest's any more: the preloaded copy is not served, nor is the file
    try:
        with pytest.raises(Exception, match="words.json"):
            LiveIndex(built, embedder)
    finally:
        live._preloaded.clear()


def test_the_prefix_tables_are_made_after_the_first_answer(built, embedder, tmp_path):
    from webapp import create_app

    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
                      "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "SECRET_KEY": "t"}, embedder=embedder)
    searcher = app.extensions["kb"].live.searcher
    assert "instant" not in searcher.__dict__  # not made by the start
    response = app.test_client().get("/api/search?q=deposit")
    assert response.status_code == 200 and "instant" not in searcher.__dict__
    response.close()  # as a WSGI server does once the response is sent
    for _ in range(200):
        if "instant" in searcher.__dict__:
            break
        time.sleep(0.05)
    assert "instant" in searcher.__dict__
    app.extensions["kb"].db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_answer_as_one_process_does(built, embedder, tmp_path):
    """gunicorn's master preloads the build and the segmenter's table, then forks: every worker answers
    (none hangs on the model's or faiss's OpenMP, with two threads each, as on a machine of twice as many cores as
    workers), with the results of a process that loaded everything itself."""
    from webapp import create_app

    port = _free_port()
    env = {**os.environ, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
           "KB_DB_PATH": str(tmp_path / "serve.sqlite3"), "KB_RATE_LIMITS": "off", "TMPDIR": str(tmp_path),
           "KB_QUERY_CACHE_SIZE": "0", "KB_THREADS": "2"}
    server = subprocess.Popen([sys.executable, "-m", "webapp.commands.serve", "--port", str(port), "--workers", "2"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    app = create_app({"TESTING": True, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
                      "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "SECRET_KEY": "t", "KB_RATE_LIMITS": "off"},
                     embedder=embedder)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        client = app.test_client()
        for query in ["deposit not credited", *CHINESE[:3]] * 3:  # enough requests to reach both workers
            path = f"/api/search?q={urllib.parse.quote(query)}"
            served = json.loads(urllib.request.urlopen(base + path, timeout=30).read())
            expected = client.get(path).get_json()
            assert [(r["id"], r["snippet"]) for r in served["results"]] == \
                [(r["id"], r["snippet"]) for r in expected["results"]]
            assert [r["score"] for r in served["results"]] == pytest.approx([r["score"] for r in expected["results"]], abs=1e-4)
        suggested = json.loads(urllib.request.urlopen(f"{base}/api/instant?q=depo", timeout=30).read())
        assert suggested["results"] == client.get("/api/instant?q=depo").get_json()["results"]
        assert list(tmp_path.glob("kb-jieba-*.bin"))  # the segmenter's table, made once for the machine
    finally:
        server.terminate()
        server.wait(30)
        server.stderr.close()
        app.extensions["kb"].db.dispose()


SERVING = """
import json, subprocess, sys
from kb.config import Settings
from webapp import create_app, db
config = json.loads(sys.argv[1])
assert subprocess.run([sys.executable, "-m", "webapp.migrate"]).returncode == 0  # as gunicorn's master does
db.migrated_before_fork(db.database_url(Settings.from_env()))
app = create_app(config)
assert app.test_client().get("/api/search?q=deposit+not+credited").get_json()["results"]
assert app.test_client().get("/api/instant?q=depo").status_code == 200
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako", "markdown", "bs4", "nh3")
                        or m in ("kb.build", "kb.render", "kb.catalog", "kb.links", "kb.golden", "kb.reuse"))))
"""


def test_a_serving_process_imports_no_library_only_a_build_or_a_migration_needs(built, tmp_path):
    """A gunicorn worker (the database migrated by its master's child, `python -m webapp.migrate`) answers searches
    without importing Alembic, Markdown, bs4 or the build (20 MB of Python objects in each process that would)."""
    env = {**os.environ, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
           "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_RATE_LIMITS": "off", "KB_SECRET_KEY": "t"}
    run = subprocess.run([sys.executable, "-c", SERVING, json.dumps({"TESTING": True})], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == []
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:  # the child migrated it: to head, its tables there
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert "search_log" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_a_database_that_cannot_be_migrated_stops_gunicorn_with_a_message(built, tmp_path):
    """The master's migration fails (no database answers): the server does not start, and says why in a line."""
    env = {**os.environ, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
           "KB_DATABASE_URL": f"postgresql+psycopg://kb@127.0.0.1:{_free_port()}/kb", "KB_RATE_LIMITS": "off"}
    run = subprocess.run([sys.executable, "-m", "webapp.commands.serve", "--port", str(_free_port()), "--workers", "2"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "cannot migrate the database: OperationalError" in run.stderr and "cannot start" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_loaded_build_holds_recurring_values_once_and_the_same_chunks(built):
    from kb.articles import Article
    from kb.chunking import Chunk
    from kb.store import ARTICLES, CHUNKS, load_current

    snapshot = load_current(built.index_dir)
    build = current_build(built.index_dir)
    table = json.loads((build / CHUNKS).read_text(encoding="utf-8"))
    rows = zip(*table["columns"])
    assert snapshot.chunks == [Chunk(*r[:4], tuple(r[4]), *r[5:10], tuple(r[10]), *r[11:]) for r in rows]
    assert snapshot.articles == {a["id"]: Article.from_dict(a)
                                 for a in json.loads((build / ARTICLES).read_text(encoding="utf-8"))}
    listings = json.loads((build / "listings.json").read_text(encoding="utf-8"))
    assert (snapshot.groups, snapshot.listings, snapshot.related) == \
        (listings["groups"], listings["categories"], listings.get("related", {}))
    for chunk in snapshot.chunks:
        article = snapshot.articles[chunk.article_id]  # (made when read from the article table: no object held)
        assert (chunk.article_id, chunk.title, chunk.locale) == (article.id, article.title, article.locale)
        assert chunk.reply is chunk.text or chunk.reply != chunk.text


def test_a_served_build_holds_no_article_bodies_and_shows_every_page(built, embedder):
    """A server's snapshot (preloaded or loaded by a worker) leaves out the articles' Markdown, which only a build
    reads; everything else of each article, and its page, is the build's."""
    from kb.store import load_current

    full = load_current(built.index_dir)
    live.preload(built)
    for index in (LiveIndex(built, embedder), LiveIndex(built, embedder)):  # the preloaded one, then one from disk
        served = index.searcher.snapshot
        assert served.articles.keys() == full.articles.keys() and all(a.body for a in full.articles.values())
        for aid, article in served.articles.items():
            assert article.body == "" and article.to_dict() == {**full.articles[aid].to_dict(), "body": ""}
            assert served.pages[aid] == full.pages[aid]


def test_a_served_build_holds_its_vectors_as_16_bit_floats_and_answers_as_the_build(built, embedder):
    """A server holds the chunk and title vectors as 16-bit floats (half the memory of the build's float32); its
    answers are the float32 vectors' answers: the same articles in the same order, the confidence within 1e-3 and
    the scores (relative to the best candidates') within 5e-3, for every dev query, public and internal."""
    import numpy as np

    from kb.search import Searcher
    from kb.store import load_current, load_snapshot

    full = load_current(built.index_dir)
    served = load_snapshot(current_build(built.index_dir), served=True)
    vectors, exact = served.vectors, full.vectors.vectors()
    assert (vectors.count(), vectors.dim, vectors.kind, vectors.mapped) == (len(exact), exact.shape[1], "flat", False)
    assert vectors._index.sa_code_size() == 2 * exact.shape[1]  # two bytes a dimension
    assert 0 < np.abs(vectors.vectors() - exact).max() < 1e-3
    assert served.titles.dtype == np.float16 and full.titles.dtype == np.float32
    assert np.abs(served.titles.astype(np.float32) - full.titles).max() < 1e-3

    lines = (ROOT / "tests" / "data" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["query"] for line in lines]
    memo = QueryMemo(embedder)  # each query encoded once, for both
    exact_searcher, half_searcher = Searcher(full, memo, built), Searcher(served, memo, built)
    for query in queries:
        for audience in ("public", "internal"):
            a, b = exact_searcher.search(query, audience=audience), half_searcher.search(query, audience=audience)
            assert [h.id for h in a.results] == [h.id for h in b.results], (query, audience)
            assert (a.no_answer, a.fallback) == (b.no_answer, b.fallback), (query, audience)
            assert abs(a.confidence - b.confidence) < 1e-3 and all(
                abs(x.score - y.score) < 5e-3 for x, y in zip(a.results, b.results)), (query, audience)


FORKED_SEARCH = """
import os, sys, time
import numpy as np
from kb.index import VectorIndex, set_threads
vectors = np.random.default_rng(0).standard_normal((20000, 384)).astype(np.float32)
index = VectorIndex.half_of(vectors)  # what gunicorn's master makes before it forks
pid = os.fork()
if pid == 0:
    set_threads(2)  # a worker's searches on two threads
    index.search(vectors[:1], 10)
    os._exit(0)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if os.waitpid(pid, os.WNOHANG)[0]:
        print("answered")
        sys.exit(0)
    time.sleep(0.05)
os.kill(pid, 9)
print("hung")
"""


def test_a_forked_worker_searches_the_16_bit_vectors_its_master_made(tmp_path):
    """The master makes the fp16 index before forking: encoding it must start no OpenMP thread team there, or a
    worker's first parallel search waits forever for threads the fork did not copy (20,000 vectors: faiss encodes and
    searches that many in parallel)."""
    run = subprocess.run([sys.executable, "-c", FORKED_SEARCH], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["answered"], run.stdout + run.stderr


def test_a_served_build_reads_coverage_and_document_frequencies_from_the_bm25_matrix(built, tmp_path):
    """A server's BM25 indexes hold no rows' word ids (the next build's: with 16-bit row numbers, 18 MB less per
    index at 30,000 chunks) and keep row numbers in 16 bits: every word's coverage of every chunk, its document frequency and its scores are what the
    rows' word ids and the build's own index give."""
    import numpy as np

    from kb.bm25 import evidence_words
    from kb.store import load_current, load_snapshot

    full = load_current(built.index_dir)
    served = load_snapshot(current_build(built.index_dir), served=True)
    for audience in ("public", "internal"):
        exact, lean = full.statistics(audience).lexical, served.statistics(audience).lexical
        assert lean._terms is None and lean._bm25.scores["indices"].dtype == np.uint16
        with pytest.raises(ValueError, match="never saved"):  # (what a next build reuses is not in it)
            lean.save(tmp_path)
        words = exact.words().by_id()
        size = len(words)
        assert np.array_equal(lean.row_counts(), np.bincount(exact._terms, minlength=size)) and lean.row_counts().sum()
        assert np.array_equal(exact.row_counts(), lean.row_counts())
        chunks = exact.ids if exact.ids is not None else range(exact.n_docs)
        for row, chunk_id in enumerate(chunks):
            held = {words[i] for i in exact._terms[exact._terms_ptr[row]:exact._terms_ptr[row + 1]]}
            query = sorted(held)[:6] + ["nowhere-word", words[row % size]]
            expected = len(evidence_words(query) & held) / len(evidence_words(query))
            assert lean.coverage(query, int(chunk_id)) == exact.coverage(query, int(chunk_id)) == expected, chunk_id
        for word in words[::7]:
            assert np.array_equal(lean.scores([word]), exact.scores([word])), word


def test_a_preloaded_searcher_is_freed_once_a_new_build_is_served(built, embedder):
    """The master's objects are frozen (gc.freeze): the collector never frees them, so the preloaded searcher's one
    cycle (searcher ↔ prefix tables) is broken when a worker leaves it, and reference counting frees it."""
    import gc
    import weakref

    from kb.build import build_index

    live.preload(built)
    index = LiveIndex(built, embedder)
    first = index.searcher.snapshot.path
    old = weakref.ref(index.searcher)
    assert "instant" in old().__dict__
    build_index(built, embedder=embedder, full=True)
    gc.disable()
    try:
        index.maybe_reload(wait=True)
        assert index.searcher.snapshot.path != first
        assert old() is None
    finally:
        gc.enable()
