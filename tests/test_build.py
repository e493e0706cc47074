import json
import os
from collections import Counter

import numpy as np
import pytest

from conftest import CountingEmbedder
from kb.build import build_index, index_is_stale
from kb.errors import BuildError, IndexCorrupt, IndexMismatch
from kb.store import current_build, load_current, load_snapshot, read_tokens


def edit(path, old, new):
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_full_build_writes_manifest_and_hides_nothing_it_should_keep(settings, embedder):
    report = build_index(settings, embedder=embedder)
    assert report.published and report.articles == 6 and report.reembedded == 6 and report.chunks > 6
    snap = load_current(settings.index_dir, embedder.name, embedder.dim)
    m = snap.manifest
    assert m["model"] == embedder.name and m["dim"] == embedder.dim
    assert m["counts"]["articles"] == 6 and m["counts"]["internal_articles"] == 1
    assert "draft-fees-en" not in snap.articles  # drafts are never indexed
    assert set(m["articles"]) == set(snap.articles) and all(len(f) == 64 for f in m["articles"].values())
    assert snap.vectors.count() == len(snap.chunks) == m["counts"]["chunks"]


def test_incremental_rebuild_reembeds_only_the_changed_article(built, kb_dir, embedder):
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    (kb_dir / "withdrawal-pending-review-zh.md").unlink()
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting, force=True)  # deleting a golden query's article needs --force
    assert report.published and not report.full
    assert report.changes["edited"] == ["lost-2fa-en"] and report.changes["deleted"] == ["withdrawal-pending-review-zh"]
    assert (report.reembedded, report.unchanged, report.removed) == (1, 4, 1)
    snap = load_current(built.index_dir)
    lost_chunks = [c for c in snap.chunks if c.article_id == "lost-2fa-en"]
    assert len(lost_chunks) == report.chunks_embedded
    # Only the edited section is encoded: its other sections and its title are in the passage cache
    assert counting.passages == 1 and report.vectors_from_cache == len(lost_chunks)
    assert "withdrawal-pending-review-zh" not in snap.articles
    # reused vectors are the same vectors a full build computes, sections and titles alike
    fresh = embedder.encode_passages([c.embed_text for c in snap.chunks])
    assert abs(snap.vectors.vectors() - fresh).max() < 1e-4
    fresh_titles = embedder.encode_passages([a.title for a in snap.articles.values()])
    assert snap.titles.shape == fresh_titles.shape and abs(snap.titles - fresh_titles).max() < 1e-4
    # and the reused BM25 words are the words a full build computes (only the edited article is re-tokenized)
    from kb.lexical import chunk_document
    from kb.store import read_tokens

    tokens = read_tokens(snap.path, len(snap.chunks))
    assert [tokens.row(i) for i in range(len(tokens))] == \
        [Counter(chunk_document(c.title, c.heading_path, c.search_text, c.tags)) for c in snap.chunks]


def test_up_to_date_build_publishes_nothing(built, embedder):
    before = current_build(built.index_dir)
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    assert not report.published and counting.passages == 0 and current_build(built.index_dir) == before
    assert index_is_stale(built) == (False, "up to date")


def test_an_up_to_date_build_does_not_load_the_model(built):
    report = build_index(built)  # no embedder given: it would be loaded from KB_MODEL if anything needed it
    assert not report.published and report.reason == "" and not report.model_loaded


def test_tokenizer_change_retokenizes_without_reembedding(built, embedder, monkeypatch):
    import kb.build
    import kb.reuse
    from kb.lexical import chunk_document

    def old_words(title, heading_path, text, tags):
        return ["stale"]

    monkeypatch.setattr(kb.build, "TOKENIZER_VERSION", 0)
    monkeypatch.setattr(kb.reuse, "chunk_document", old_words)
    assert build_index(built, embedder=embedder, full=True, force=True).published  # as an older tokenizer made it
    monkeypatch.undo()
    assert index_is_stale(built) == (True, "the BM25 tokenizer changed")
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    assert report.published and counting.passages == 0  # nothing re-embedded, every chunk re-tokenized
    snap = load_current(built.index_dir)
    assert snap.manifest["tokenizer_version"] == kb.build.TOKENIZER_VERSION
    tokens = read_tokens(snap.path, len(snap.chunks))
    assert [tokens.row(i) for i in range(len(tokens))] == \
        [Counter(chunk_document(c.title, c.heading_path, c.search_text, c.tags)) for c in snap.chunks]
    assert index_is_stale(built) == (False, "up to date")


def test_full_flag_and_model_change_reembed_everything(built, embedder):
    counting = CountingEmbedder(embedder)
    assert build_index(built, embedder=counting, full=True).reembedded == 6
    from kb.embed import load_embedder

    other = load_embedder("use-multilingual")
    report = build_index(built.replace(model="use-multilingual"), embedder=other)
    assert report.full and report.reembedded == 6 and "model changed" in report.reason
    with pytest.raises(IndexMismatch, match="configured model"):
        load_current(built.index_dir, embedder.name, embedder.dim)


def test_invalid_article_refuses_build_and_leaves_live_index(built, kb_dir, embedder):
    live = current_build(built.index_dir)
    (kb_dir / "bad.md").write_text("---\nid: bad\ntitle: [oops\n---\nbody\n", encoding="utf-8")
    edit(kb_dir / "lost-2fa-en.md", "locale: en", "locale: klingon")
    with pytest.raises(BuildError) as info:
        build_index(built, embedder=embedder)
    assert {os.path.basename(e.path) for e in info.value.errors} == {"bad.md", "lost-2fa-en.md"}
    assert current_build(built.index_dir) == live
    report = build_index(built, embedder=embedder, skip_invalid=True, force=True)
    assert report.published and len(report.skipped_invalid) == 2 and report.forced
    assert "lost-2fa-en" not in load_current(built.index_dir).articles


def test_crash_mid_build_leaves_old_index_serving(built, kb_dir, embedder):
    live = current_build(built.index_dir)
    before = load_current(built.index_dir).manifest
    for name in ("lost-2fa-en.md", "deposit-not-credited-en.md"):
        edit(kb_dir / name, "## ", "## Updated ")
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(built, embedder=CountingEmbedder(embedder, fail_after=3))
    assert current_build(built.index_dir) == live
    assert load_current(built.index_dir, embedder.name, embedder.dim).manifest == before
    report = build_index(built, embedder=embedder)  # the next build cleans up and succeeds
    assert report.published and report.reembedded == 2
    assert not [p for p in (current_build(built.index_dir).parent).iterdir() if p.name.startswith(".tmp-")]


def test_dry_run_lists_changes_and_writes_nothing(built, kb_dir, embedder):
    live = current_build(built.index_dir)
    edit(kb_dir / "lost-2fa-en.md", "phone", "mobile phone")
    report = build_index(built, embedder=embedder, dry_run=True)
    assert not report.published and report.changes["edited"] == ["lost-2fa-en"]
    assert current_build(built.index_dir) == live
    assert index_is_stale(built) == (True, "1 edited")


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_index_file_is_named(built, embedder):
    build = current_build(built.index_dir)
    truncate(build / "vectors.faiss")
    with pytest.raises(IndexCorrupt, match="vectors.faiss"):
        load_snapshot(build)


def test_truncated_title_vectors_are_named_and_a_build_without_them_still_loads(built, embedder):
    build = current_build(built.index_dir)
    truncate(build / "titles.npy")
    with pytest.raises(IndexCorrupt, match="titles.npy"):
        load_snapshot(build)
    (build / "titles.npy").unlink()  # as an older kb wrote it (no titles, no file sizes): searchable, and reported stale
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["files"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert load_snapshot(build).titles is None
    assert index_is_stale(built) == (True, "the index has no title vectors (built by an older kb)")


def test_old_builds_are_pruned(built, kb_dir, embedder):
    for i in range(4):
        edit(kb_dir / "lost-2fa-en.md", "identity check", f"identity check ({i})")
        build_index(built, embedder=embedder)
    builds = [p for p in (current_build(built.index_dir).parent).iterdir()]
    assert len(builds) == built.keep_builds and current_build(built.index_dir) in builds
    json.loads((current_build(built.index_dir) / "manifest.json").read_text())


def test_index_type_follows_size_and_hnsw_finds_what_flat_finds(built, embedder):
    from kb.index import choose_index_type

    assert choose_index_type("auto", 49_999, 50_000) == "flat" and choose_index_type("auto", 50_000, 50_000) == "hnsw"
    with pytest.raises(ValueError, match="index_type"):
        choose_index_type("ivf", 10, 50_000)
    flat = load_current(built.index_dir)
    assert flat.manifest["index_type"] == "flat" and flat.vectors.kind == "flat"
    # a smaller threshold makes the same knowledge base an HNSW index, without any article changing
    small = built.replace(hnsw_min_chunks=5)
    report = build_index(small, embedder=embedder)
    assert report.published
    hnsw = load_current(small.index_dir)
    assert hnsw.manifest["index_type"] == "hnsw" and hnsw.vectors.kind == "hnsw"
    queries = embedder.encode_queries(["deposit not credited", "提现审核中", "lost 2FA"])
    allowed = np.array([not c.article_id.startswith("sop-") for c in flat.chunks])
    for mask in (None, allowed):
        _, flat_ids = flat.vectors.search(queries, 5, mask)
        _, hnsw_ids = hnsw.vectors.search(queries, 5, mask)
        for a, b in zip(flat_ids, hnsw_ids):
            assert list(a) == list(b)  # a tiny graph is searched exhaustively
    _, ids = hnsw.vectors.search(queries, 50, allowed)
    assert all(allowed[i] for row in ids for i in row)


def test_link_check_renders_only_changed_articles(built, kb_dir, embedder, monkeypatch):
    import kb.links

    rendered = []
    real = kb.links.outline
    monkeypatch.setattr(kb.links, "outline", lambda a: rendered.append(a.id) or real(a))
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "see [the missing section](/articles/deposit-not-credited-en#nope)")
    report = build_index(built, embedder=embedder, force=True)
    assert rendered == ["lost-2fa-en"]  # the other articles' outlines come from the live build
    assert any("#nope" in str(w) and "lost-2fa-en" in str(w) for w in report.warnings)


def test_a_live_build_that_does_not_load_is_rebuilt_in_full(built, kb_dir, embedder):
    (current_build(built.index_dir) / "chunks.json").write_text("{not json", encoding="utf-8")
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    report = build_index(built, embedder=embedder)
    assert report.published and report.full and report.reembedded == 6 and "previous index unusable" in report.reason
    assert load_current(built.index_dir, embedder.name, embedder.dim).chunks


def test_a_build_of_the_previous_format_is_refused_for_serving_and_rebuilt_without_reembedding(built, embedder):
    """Format 6 added public/ (the public articles' own statistics, issue 14 item 9): a format-5 build (no public/)
    is reported stale and not served, and the next build reuses every vector and title vector of it."""
    import shutil

    from kb.live import LiveIndex
    from kb.manifest import FORMAT_VERSION
    from kb.store import PUBLIC

    build = current_build(built.index_dir)
    old = load_snapshot(build)
    manifest = json.loads((build / "manifest.json").read_text())
    shutil.rmtree(build / PUBLIC)  # the folder as the kb before format 6 wrote it
    manifest.update(format_version=5, files={k: v for k, v in manifest["files"].items() if not k.startswith(PUBLIC)})
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert index_is_stale(built) == (True, f"index format 5, but this kb reads {FORMAT_VERSION}")
    with pytest.raises(IndexMismatch, match=r"index format 5, .*; run: kb build \(it reuses the vectors"):
        load_current(built.index_dir, embedder.name, embedder.dim)
    with pytest.raises(IndexMismatch, match="index format 5"):
        LiveIndex(built, embedder)
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    assert report.published and not report.full and counting.passages == 0 and report.unchanged == 6
    assert report.golden.recall_live == 1.0  # the gate compared with the old build, searched as it would be now
    new = load_current(built.index_dir, embedder.name, embedder.dim)
    assert new.manifest["format_version"] == FORMAT_VERSION and (new.path / PUBLIC).is_dir()
    assert np.array_equal(new.vectors.vectors(), old.vectors.vectors()) and np.array_equal(new.titles, old.titles)
    assert index_is_stale(built) == (False, "up to date")
    manifest.update(format_version=4)  # older formats are not read: built in full, as before
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match=r"index format 4 but this kb reads 7; run: kb build --full"):
        load_snapshot(build)


def test_an_internal_articles_chunks_from_an_older_build_get_their_reply_without_reembedding(built, embedder, kb_dir, monkeypatch):
    """A build made before Chunk.reply/.internal existed has them empty: the next build makes an internal
    article's chunks again (keeping their vectors), so that Insert never takes a template's internal notes."""
    import dataclasses

    import kb.build

    real = kb.build.read_live

    def older(*args, **kwargs):  # what a build of an older kb reads as: no reply, no internal notes, no CHUNKER
        live = real(*args, **kwargs)
        return dataclasses.replace(live, chunks=[dataclasses.replace(c, reply="", internal="") for c in live.chunks],
                                   manifest=live.manifest.replace(chunker=""))

    monkeypatch.setattr(kb.build, "read_live", older)
    (kb_dir / "lost-2fa-en.md").write_text((kb_dir / "lost-2fa-en.md").read_text(encoding="utf-8") + "\nOne more line.\n",
                                           encoding="utf-8")
    counting = CountingEmbedder(embedder)
    report = build_index(built, embedder=counting)
    monkeypatch.undo()
    snap = load_current(built.index_dir)
    # only the edited article was embedded again: the SOP kept its vectors
    assert report.published and report.reembedded == 1
    assert report.chunks_embedded == sum(c.article_id == "lost-2fa-en" for c in snap.chunks)
    reply = next(c for c in snap.chunks if c.article_id == "sop-freeze-account-en" and c.heading == "Reply to the user")
    assert "SEC-ONCALL" in reply.internal and reply.reply.startswith("We froze your account")


def test_the_saved_vectors_are_read_back_exactly_a_flat_index_without_a_copy(tmp_path):
    """A new flat index is written without making a faiss index (the file faiss writes of one, byte for byte) and
    its vectors read back as a view of the file's bytes; searching it makes the faiss index."""
    import faiss

    from kb.index import VectorIndex

    rng = np.random.default_rng(3)
    for kind, count in [("flat", 0), ("flat", 1), ("flat", 37), ("hnsw", 40)]:
        vectors = rng.standard_normal((count, 16)).astype(np.float32)
        folder = tmp_path / f"{kind}-{count}"
        folder.mkdir()
        index = VectorIndex.build(vectors, 16, kind)
        index.save(folder)
        data = (folder / VectorIndex.FILE).read_bytes()
        if kind == "flat":
            made = faiss.IndexFlatIP(16)
            made.add(vectors)
            assert data == bytes(faiss.serialize_index(made))
            if count:
                _, ids = index.search(vectors[:1], 1)
                assert list(ids[0]) == [int(np.argmax(vectors @ vectors[0]))]
        stored = VectorIndex.stored_vectors(data, folder / VectorIndex.FILE)
        assert stored.shape == (count, 16) and np.array_equal(stored, vectors)
        assert np.array_equal(stored, VectorIndex.from_bytes(data, "x").vectors())
        assert (stored.base is not None) == (kind == "flat")  # a view of the file's bytes


def test_a_build_puts_the_garbage_collector_back_as_it_found_it(settings, embedder):
    import gc

    before = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    try:
        build_index(settings, embedder=embedder)
        assert gc.get_threshold() == (900, 11, 12)
    finally:
        gc.set_threshold(*before)


def test_loads_and_builds_that_overlap_put_the_collector_back_as_the_first_found_it():
    import gc
    import threading

    from kb.memory import fewer_collections

    before = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def a():
        with fewer_collections():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with fewer_collections():
            b_in.set()
            a_out.wait(5)  # a leaves first, while b is still inside
            seen.append(gc.get_threshold()[0])

    try:
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert a_out.is_set() and seen == [10_000] and gc.get_threshold() == (900, 11, 12)
    finally:
        gc.set_threshold(*before)


def _build_files(settings) -> dict:
    """Each file of the live build and its sha256 (the manifest: its JSON, less when and how fast it was made)."""
    import hashlib

    build = current_build(settings.index_dir)
    out = {p.relative_to(build).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
           for p in sorted(build.rglob("*")) if p.is_file() and p.name not in ("manifest.json", "sources.json")}
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    for varies in ("built_at", "build_seconds"):
        manifest.pop(varies)
    manifest["files"].pop("sources.json")  # a file edited the moment before is not recorded: when, decides
    sources = json.loads((build / "sources.json").read_text(encoding="utf-8"))
    return {**out, "manifest": manifest, "sources": {k: v for k, v in sources.items() if k != "files"}}


def test_a_watching_builder_rebuilds_from_memory_what_a_rebuild_from_disk_makes(kb_dir, tmp_path, embedder, monkeypatch):
    """kb build --watch keeps the build it published (kb.build.Warm): its next rebuild reads nothing of the live build
    back from disk, and writes, file for file, what kb build writes after the same edits."""
    import kb.build as build_module
    from kb.build import Warm
    from kb.config import Settings

    monkeypatch.chdir(tmp_path)  # the watching builder's index by a relative path: still its own build
    cold = Settings.from_mapping({"articles_dir": str(kb_dir), "index_dir": str(tmp_path / "cold")})
    hot = Settings.from_mapping({"articles_dir": str(kb_dir), "index_dir": "hot"})
    warm = Warm(model=embedder)  # as kb build --watch loads it, once

    def both(**kw):
        reports = [build_index(cold, embedder=embedder, **kw)]
        with monkeypatch.context() as m:
            if warm.live is not None:  # from the second build on, reading the live build is an error
                for name in ("read_live", "known_files", "read_pages", "read_outlines", "load_snapshot"):
                    m.setattr(build_module, name, lambda *a, _name=name, **k: pytest.fail(f"{_name} read the live build"))
            reports.append(build_index(hot, warm=warm, **kw))
        assert _build_files(hot) == _build_files(cold)
        return reports

    first = both()
    assert all(r.published and r.full for r in first) and warm.model is embedder
    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    (kb_dir / "withdrawal-pending-review-zh.md").unlink()
    second = both(force=True)  # (deleting a golden query's article needs --force)
    assert all(r.published and not r.full and r.changes["edited"] == ["lost-2fa-en"] for r in second)
    assert second[0].chunks_embedded == second[1].chunks_embedded > 0
    assert [r.golden.passed for r in second] == [second[0].golden.passed] * 2
    edit(kb_dir / "deposit-not-credited-en.md", "title: My deposit has not arrived", "title: My deposit is missing")
    third = both(force=True)
    assert all(r.published and r.changes["edited"] == ["deposit-not-credited-en"] for r in third)
    assert not any(r.published for r in both())  # up to date

    # another process publishes: the kept build is not the live one any more, and is not used
    edit(kb_dir / "lost-2fa-en.md", "2 to 4 business days", "3 to 5 business days")
    build_index(hot, embedder=embedder, force=True)
    assert warm.of(current_build(hot.index_dir)) is None
    reads = []
    monkeypatch.setattr(build_module, "read_live", lambda *a, _f=build_module.read_live, **k: reads.append(a) or _f(*a, **k))
    edit(kb_dir / "lost-2fa-en.md", "3 to 5 business days", "4 to 6 business days")
    assert build_index(hot, warm=warm, force=True).published and len(reads) == 1
    assert warm.of(current_build(hot.index_dir)) is warm


def test_kb_build_watch_builds_after_each_change_and_goes_on_after_a_broken_article(built, kb_dir, embedder, capsys):
    """kb build --watch: an edit is published by the next build, made from the build in memory; an invalid article
    is reported and publishes nothing, and the build after its fix goes on; setting `stop` ends the watch."""
    import threading

    from kb.build import Warm
    from kb.commands import build as command

    args = command.parser().parse_args(["--quiet", "--force"])
    warm = Warm(model=embedder)
    statuses: list[int] = []
    built_once = threading.Condition()

    def rebuild() -> int:
        status = command.build_once(built, args, warm)
        with built_once:
            statuses.append(status)
            built_once.notify_all()
        return status

    def next_build(after: int) -> int:
        with built_once:
            assert built_once.wait_for(lambda: len(statuses) > after, timeout=60), "no build after the change"
            return statuses[after]

    assert command.build_once(built, args, warm) == 0  # what main does first (up to date: read into memory)
    first = current_build(built.index_dir)
    assert warm.of(first) is warm
    stop, ready = threading.Event(), threading.Event()
    watcher = threading.Thread(target=command.watch, args=(str(kb_dir), rebuild, stop, ready.set, [built.index_dir]))
    watcher.start()
    try:
        assert ready.wait(30), "the folder was never watched"
        edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
        assert next_build(0) == 0
        second = current_build(built.index_dir)
        assert second != first and warm.of(second) is warm
        assert any("2 to 4 business days" in c.text for c in load_current(built.index_dir).chunks)

        count = len(statuses)  # (before the change: its build may be over before the next line)
        (kb_dir / "broken-en.md").write_text("---\ntitle: No id\nlocale: en\n---\n\nBody.\n", encoding="utf-8")
        assert next_build(count) == 1
        assert current_build(built.index_dir) == second  # the live index as it was
        assert "broken-en.md" in capsys.readouterr().err

        count = len(statuses)
        (kb_dir / "broken-en.md").unlink()
        assert next_build(count) == 0 and current_build(built.index_dir) == second  # fixed: up to date again
        count = len(statuses)
        edit(kb_dir / "lost-2fa-en.md", "2 to 4 business days", "3 to 5 business days")
        assert next_build(count) == 0 and warm.of(current_build(built.index_dir)) is warm
        assert any("3 to 5 business days" in c.text for c in load_current(built.index_dir).chunks)
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()


def test_a_watch_goes_on_after_a_rebuild_that_raises_and_stops_when_its_server_is_gone(tmp_path):
    """A rebuild that raises (a file gone between listing and reading it) is reported and the next change is built;
    `first` builds once the folder is watched; `alive` false (kb serve --watch's server killed) ends the watch."""
    import threading

    from kb.commands import build as command

    calls: list[int] = []
    called = threading.Condition()
    server_up = threading.Event()
    server_up.set()

    def rebuild() -> int:
        with called:
            calls.append(len(calls))
            called.notify_all()
        if len(calls) == 2:
            raise FileNotFoundError("articles/gone.md")
        return 0

    def next_call(after: int) -> None:
        with called:
            assert called.wait_for(lambda: len(calls) > after, timeout=30), "no build"

    ended = []
    watcher = threading.Thread(target=lambda: ended.append(command.watch(str(tmp_path), rebuild, first=True,
                                                                         alive=server_up.is_set)))
    watcher.start()
    try:
        next_call(0)  # the first build, with the folder watched
        (tmp_path / "a.md").write_text("one", encoding="utf-8")
        next_call(1)  # ... which raises
        (tmp_path / "a.md").write_text("two", encoding="utf-8")
        next_call(2)  # the watch went on
    finally:
        server_up.clear()
        watcher.join(10)
    assert not watcher.is_alive() and ended == [0] and calls == [0, 1, 2]


def test_a_watching_builder_waits_for_another_build_to_finish_rather_than_refusing(built, kb_dir, embedder, capsys):
    import threading
    import time

    from kb.build import Warm, build_lock

    edit(kb_dir / "lost-2fa-en.md", "1 to 3 business days", "2 to 4 business days")
    reports = []
    waiting = ""
    with build_lock(built.index_dir):  # another build, running
        with pytest.raises(BuildError, match="another build is running"):
            build_index(built, embedder=embedder, force=True)
        builder = threading.Thread(target=lambda: reports.append(build_index(built, warm=Warm(model=embedder), force=True)))
        builder.start()
        deadline = time.monotonic() + 30
        while "waiting for it" not in waiting:
            assert time.monotonic() < deadline and builder.is_alive(), "the builder neither waited nor said so"
            waiting += capsys.readouterr().err
            time.sleep(0.05)
        assert not reports  # it waits for the lock, and builds only after
    builder.join(60)
    assert len(reports) == 1 and reports[0].published and reports[0].changes["edited"] == ["lost-2fa-en"]
