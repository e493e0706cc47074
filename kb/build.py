"""build_index(settings) → BuildReport, in six stages, each a function of its own:

    plan      what changed since the live build (typed Manifest, one `compatibility` check)
    assemble  chunk, tokenize and embed only what changed (the model is loaded only if something needs it)
    write     a complete build folder under a temporary name, renamed when complete
    gate      golden queries and --strict link errors: a failing build is removed, never published
    publish   swap index/current to the new folder in one rename, and add it to index/published.json
              (with no live index, a lexical snapshot is published first, before the vectors are computed)
    prune     delete old builds, builds never published and leftovers of crashed ones (also before writing)
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from . import __version__
from .articles import Article, Category, KnownFiles, LoadResult, load_articles
from .cache import PassageCache, encode_with_cache
from .catalog import make_listings, make_pages, related_articles
from .chunking import CHUNKER, Chunk, chunk_article, title_to_embed
from .config import Settings
from .embed import Embedder, load_embedder
from .errors import ArticleError, BuildError, IndexCorrupt, KBError
from .glossary import EMPTY as EMPTY_GLOSSARY, Glossary, load_glossary
from .golden import GoldenReport, check_golden, golden_path
from .identifiers import IdentifierIndex
from .index import VectorIndex, choose_index_type, set_threads
from .lexical import TOKENIZER_VERSION, LexicalIndex, TermCounts
from .reuse import (STATISTICS, CheckedReads, LiveBuild, identifier_postings, kept_spelling_counts, read_live, spelling_counts, spelling_words,
                    word_counts)
from .links import check_links
from .manifest import Manifest, compatibility
from .memory import build_memory
from .store import (ARTICLES, DISK_FULL, SOURCES, TITLES, BuildFiles, Page, Snapshot, Statistics, build_lock, clear_progress,
                    current_build, load_snapshot,
                    prune_builds, publish, read_glossary, read_manifest, read_outlines, read_pages, read_tokens,
                    write_build, write_failure, write_progress)
from .tables import column

@dataclass
class BuildReport:
    articles: int = 0
    chunks: int = 0
    reembedded: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_embedded: int = 0  # chunks that needed a vector (not reused from the live build)...
    vectors_from_cache: int = 0  # ...and vectors (chunks and titles) the passage cache gave instead of the model
    skipped_invalid: list[ArticleError] = field(default_factory=list)
    warnings: list[ArticleError] = field(default_factory=list)
    seconds: float = 0.0
    published: bool = False
    full: bool = False
    build_dir: str | None = None
    reason: str = ""
    changes: dict[str, list[str]] = field(default_factory=dict)
    golden: GoldenReport | None = None
    forced: bool = False
    model_loaded: bool = False
    gate_failures: list[str] = field(default_factory=list)  # why the gate refused (with check_only: would refuse)
    partial_published: str | None = None  # the lexical snapshot published first (no live index), if any

    def summary(self) -> str:
        state = "published" if self.published else ("up to date, nothing published" if not self.reason else self.reason)
        return (
            f"{self.articles} articles, {self.chunks} chunks: {self.reembedded} re-embedded "
            f"({self.chunks_embedded} chunks, {self.vectors_from_cache} vectors from the cache), "
            f"{self.unchanged} unchanged, {self.removed} removed, "
            f"{len(self.skipped_invalid)} invalid skipped, {self.seconds:.1f} s ({state})"
        )


def fault_point(settings: Settings, stage: str) -> None:
    """KB_BUILD_FAULT=<stage>: the build says so on stderr and waits there to be killed (fault tests)."""
    if settings.build_fault == stage:
        print(f"kb build: paused at {stage} (KB_BUILD_FAULT)", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)


class LazyEmbedder:
    """The configured model, loaded on first use: a build with nothing to embed never loads it."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self._settings, self._embedder = settings, embedder

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def get(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self._settings.model, self._settings.threads)
        return self._embedder


def plan_changes(articles: list[Article], fingerprints: dict[str, str]) -> dict[str, list[str]]:
    """Which article ids are new, edited, unchanged or deleted compared with a build's fingerprints."""
    current = {a.id: a.fingerprint for a in articles}
    return {
        "new": sorted(i for i in current if i not in fingerprints),
        "edited": sorted(i for i in current if i in fingerprints and fingerprints[i] != current[i]),
        "unchanged": sorted(i for i in current if fingerprints.get(i) == current[i]),
        "deleted": sorted(i for i in fingerprints if i not in current),
    }


# -- stage 1: plan -------------------------------------------------------------------------------

@dataclass
class Plan:
    """What a build will do, decided before any model is loaded."""

    loaded: LoadResult
    articles: list[Article]  # published articles, to index
    knowledge_base: bool  # built from the articles folder (link check, golden queries), not a corpus
    outlines: dict
    live: Path | None  # the live build folder
    live_manifest: Manifest | None
    changes: dict[str, list[str]]
    reuse: set[str]  # article ids whose vectors, words and pages are kept
    reason: str  # why the build is full ("" when incremental)
    up_to_date: bool
    glossary: Glossary = EMPTY_GLOSSARY
    known: KnownFiles | None = None  # what the live build read of the articles folder
    warm: Warm | None = None  # the live build in this process's memory (it published it): nothing of it is read


@dataclass
class Warm:
    """What a process that builds again and again (kb build --watch) keeps of the last build it published: the model,
    and that build as a rebuild reads it. A rebuild after an edit then reads nothing of the live build back from
    disk; only while that build is still the live one (another process may have published since)."""

    model: Embedder | None = None
    live: LiveBuild | None = None
    known: KnownFiles | None = None
    pages: dict[str, Page] = field(default_factory=dict)
    outlines: dict = field(default_factory=dict)
    snapshot: Snapshot | None = None  # as the golden queries search it (None: read when they run)

    def of(self, live: Path | None) -> Warm | None:
        """Itself if it holds the build `live` (the live build folder), else None."""
        return self if live is not None and self.live is not None and self.live.path == live else None

    def keep(self, files: BuildFiles, new: Snapshot, model: LazyEmbedder) -> None:
        """The build just published (`new`, in memory), as read_live, known_files, read_pages, read_outlines and the
        golden queries would read it."""
        articles = {a.id: a for a in files.articles}
        self.model = model.get() if model.loaded else self.model
        # (its path resolved, as current_build gives the live build's)
        self.live = LiveBuild(new.path.resolve(), files.manifest, articles, files.chunks, files.vectors.vectors(copy=False),
                              files.titles, files.listings.get("related", {}), files.identifiers,
                              files.lexical.term_counts(), files.spelling)
        # (through JSON, as sources.json gives it back: a file's stat is a list there)
        self.known = KnownFiles(orjson.loads(orjson.dumps(files.sources)), articles) if files.sources is not None else None
        self.pages, self.outlines, self.snapshot = files.pages, files.outlines or {}, new

    def read(self, live: Path, manifest: Manifest) -> None:
        """The live build, read from disk as a rebuild reads it (a watch's first build found nothing to do)."""
        known = known_files(live, manifest)
        try:
            self.live = read_live(live, TOKENIZER_VERSION, known.articles if known is not None else None)
        except KBError:  # the next rebuild reads it itself, and says why it cannot reuse it
            return
        self.known, self.pages, self.outlines, self.snapshot = known, read_pages(live), read_outlines(live), None


def plan(settings: Settings, *, full: bool = False, skip_invalid: bool = False, loaded: LoadResult | None = None,
         glossary: Glossary | None = None, warm: Warm | None = None) -> Plan:
    """Load and validate the articles and the glossary, link-check them, and compare them with the live build's
    manifest. `glossary` given: used as it is (the eval harness's), else read from the articles folder. `warm`: the
    last build this process published, used instead of reading the live build when it is that one."""
    knowledge_base = loaded is None
    live = current_build(settings.index_dir)
    warm = warm.of(live) if warm is not None else None
    live_manifest = warm.live.manifest if warm else _read_manifest(live)
    known = None if full or loaded is not None else warm.known if warm else known_files(live, live_manifest)
    loaded = loaded or load_articles(settings.articles_dir, known)
    outlines: dict = {}
    warnings = list(loaded.warnings)
    if knowledge_base:
        outlines = warm.outlines if warm else read_outlines(live)
        warnings += check_links(loaded.articles, outlines)
    glossary_errors: list[ArticleError] = []
    if glossary is None:
        glossary, glossary_errors = load_glossary(settings.articles_dir) if knowledge_base else (EMPTY_GLOSSARY, [])
    loaded = LoadResult(loaded.articles, loaded.errors + glossary_errors, warnings, loaded.categories, loaded.sources)
    if loaded.errors and not skip_invalid:
        raise BuildError(f"{len(loaded.errors)} invalid article file(s); the live index was left as it was", loaded.errors)
    articles = [a for a in loaded.articles if a.status == "published"]
    if not articles:
        raise BuildError(f"no published articles in {settings.articles_dir}; nothing to index")

    manifest, reason = None, "--full" if full else ""
    if live is None:
        reason = reason or "no previous index"
    elif not full:
        manifest = live_manifest
        if isinstance(live_manifest, KBError):
            manifest, reason = None, f"previous index unusable: {live_manifest}"
    changes = plan_changes(articles, manifest.articles if manifest else {})
    up_to_date = False
    if manifest is not None:
        check = compatibility(manifest, settings, tokenizer_version=TOKENIZER_VERSION,
                              index_type=choose_index_type(settings.index_type, manifest.counts.get("chunks", 0),
                                                           settings.hnsw_min_chunks),
                              has_titles=(live / TITLES).exists())
        if not check.reusable:
            manifest, reason = None, check.reason
        else:
            up_to_date = check.current and not (changes["new"] or changes["edited"] or changes["deleted"])
    if manifest is None:
        changes = plan_changes(articles, {})
    reuse = set(changes["unchanged"]) if manifest is not None else set()
    if manifest is not None and up_to_date:
        # the glossary is part of the build: an edit to it alone is a change too
        live_glossary = read_glossary(live)
        up_to_date = live_glossary is not None and live_glossary.to_dict() == glossary.to_dict()
    return Plan(loaded, articles, knowledge_base, outlines, live, manifest, changes, reuse, reason, up_to_date, glossary,
                known, warm)


def _read_manifest(build: Path | None) -> Manifest | KBError | None:
    """The live build's manifest, the error that stops it being read, or None with no live build."""
    if build is None:
        return None
    try:
        return read_manifest(build)
    except KBError as exc:
        return exc


def known_files(build: Path | None, manifest: Manifest | KBError | None) -> KnownFiles | None:
    """What the live build read of the articles folder (kb.articles.load_articles reads only files changed since),
    if its record and articles are there, as written (their sha256 the manifest's)."""
    if not isinstance(manifest, Manifest) or SOURCES not in manifest.files:
        return None
    try:
        with CheckedReads(build, manifest) as files:
            sources, articles = (orjson.loads(files.read(name)) for name in (SOURCES, ARTICLES))
            files.verify()
        return KnownFiles(sources, {a["id"]: Article.from_dict(a) for a in articles})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexCorrupt):
        return None


def index_is_stale(settings: Settings) -> tuple[bool, str]:
    """(stale?, why): is the live index missing, or behind the articles folder or the configured model?"""
    build = current_build(settings.index_dir)
    if build is None:
        return True, "no index built yet"
    manifest = _read_manifest(build)
    if isinstance(manifest, KBError):
        return True, str(manifest)
    loaded = load_articles(settings.articles_dir, known_files(build, manifest))
    changes = plan_changes([a for a in loaded.articles if a.status == "published"], manifest.articles)
    if changes["new"] or changes["edited"] or changes["deleted"]:
        return True, ", ".join(f"{len(v)} {k}" for k, v in changes.items() if v and k != "unchanged")
    check = compatibility(manifest, settings, tokenizer_version=TOKENIZER_VERSION, has_titles=(build / TITLES).exists())
    return (False, "up to date") if check.current else (True, check.reason)


# -- stage 2: assemble ---------------------------------------------------------------------------

@dataclass
class _Reused:
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)  # their rows in the live build
    live: LiveBuild | None = None


def _reused(p: Plan) -> _Reused:
    """The live build's chunks (and their rows: vectors, BM25 words...) of the articles that did not change."""
    out = _Reused()
    if not p.reuse or p.live is None:
        return out
    try:
        out.live = live = p.warm.live if p.warm else \
            read_live(p.live, TOKENIZER_VERSION, p.known.articles if p.known is not None else None)
    except KBError as exc:  # the manifest reads but the build does not load: build everything anew
        p.reuse.clear()
        p.live_manifest, p.reason = None, f"previous index unusable: {exc}"
        return out
    for row, chunk in enumerate(live.chunks):
        if chunk.article_id in p.reuse:
            out.chunks.setdefault(chunk.article_id, []).append(chunk)
            out.rows.setdefault(chunk.article_id, []).append(row)
    return out


def _model_identity(settings: Settings, p: Plan, model: LazyEmbedder) -> tuple[str, int]:
    """The model's name and dimension: the live build's when it was made with the configured model (the model is
    then loaded only if something is not in the cache), else the loaded model's."""
    if not model.loaded and p.live is not None:
        try:
            live = p.live_manifest or read_manifest(p.live)
        except KBError:
            live = None
        if live is not None and live.model_spec == settings.model:
            return live.model, live.dim
    embedder = model.get()
    return embedder.name, embedder.dim


def _title_vectors(articles: list[Article], model: LazyEmbedder, prev: LiveBuild | None, reuse: set[str], dim: int,
                   cache: PassageCache | None = None) -> np.ndarray:
    """One title vector per article (a zero row where `title_to_embed` gives none); unchanged articles
    keep the previous build's, and the cache gives those it knows."""
    out = np.zeros((len(articles), dim), np.float32)
    old_row = {aid: i for i, aid in enumerate(prev.articles)} if prev is not None and prev.titles is not None else {}
    todo: list[tuple[int, str]] = []
    for row, article in enumerate(articles):
        if article.id in reuse and article.id in old_row:
            out[row] = prev.titles[old_row[article.id]]
        elif (title := title_to_embed(article)) is not None:
            todo.append((row, title))
    if todo:
        out[[row for row, _ in todo]] = encode_with_cache(
            cache, [t for _, t in todo], lambda texts: model.get().encode_passages(texts, batch_size=64), 64, dim=dim)
    return out


def public_statistics(chunks: list[Chunk], words: TermCounts, identifiers: IdentifierIndex | None = None,
                      spelling: TermCounts | None = None) -> Statistics | None:
    """BM25, identifier postings and typo-correction words of the public chunks alone, the same as a build without
    the internal articles would make (None when every chunk is public: the build's own statistics are those).
    `identifiers` and `spelling`: every chunk's, made already (else made here)."""
    ids = [i for i, c in enumerate(chunks) if c.audience == "public"]
    if len(ids) == len(chunks):
        return None
    if identifiers is None:
        identifiers = identifier_postings(chunks, [None] * len(chunks), None)
    if spelling is None:  # (not `or`: counts of no words are counts too, and empty)
        spelling = spelling_counts(chunks)
    public = np.zeros(len(chunks), dtype=bool)
    public[ids] = True
    postings = {k: v[public[v]] for k, v in identifiers._postings.items()}
    return Statistics(LexicalIndex.from_counts(words.take(ids), ids=ids, size=len(chunks)),
                      IdentifierIndex(len(ids), {k: v for k, v in postings.items() if len(v)}),
                      spelling_words(spelling, ids))


def assemble(settings: Settings, p: Plan, model: LazyEmbedder, report: BuildReport,
             progress: Callable[[int, int], None] | None = None,
             early: Callable[[BuildFiles, int], None] | None = None) -> BuildFiles:
    """Everything the new build holds, in memory: changed articles chunked, tokenized and embedded. `early`, when
    given, receives the build's lexical snapshot (everything but the vectors: Manifest.partial) once the words
    are made, and how many vectors are to be computed, if the cache does not have them all."""
    start = time.perf_counter()
    old = _reused(p)
    if p.live_manifest is None:  # a full build after all: the live build did not load
        report.full, report.reason = True, p.reason
        report.unchanged, report.reembedded = 0, len(p.articles)
    same_chunker = old.live is not None and old.live.manifest.chunker == CHUNKER
    chunks: list[Chunk] = []
    old_rows: list[int | None] = []  # each chunk's row in the live build, None for a chunk made anew
    to_embed: list[int] = []
    for article in p.articles:
        kept = old.chunks.get(article.id) if article.id in p.reuse else None
        if kept is not None and article.audience == "internal" and not same_chunker:
            # An internal article's chunks are made again when another kb's chunker made them: what Insert puts into
            # a reply and its internal notes (Chunk.reply, .internal) come from the chunker of this kb.
            fresh = chunk_article(article, settings.chunk_max_chars)
            kept = fresh if [c.search_text for c in fresh] == [c.search_text for c in kept] else None
        if kept is not None:
            chunks.extend(kept)
            old_rows.extend(old.rows[article.id])
        else:
            for chunk in chunk_article(article, settings.chunk_max_chars):
                to_embed.append(len(chunks))
                chunks.append(chunk)
                old_rows.append(None)
    report.chunks, report.chunks_embedded = len(chunks), len(to_embed)

    # Nothing to encode (only words or pages changed, or every text cached): the live build says what the model is.
    name, dim = _model_identity(settings, p, model) if to_embed or not old.live else \
        (old.live.manifest.model, old.live.manifest.dim)
    # What does not depend on the vectors: words, BM25, identifiers, pages, listings.
    live = old.live
    words = word_counts(chunks, old_rows, live.words if live else None)
    spelling = kept_spelling_counts(chunks, old_rows, live.spelling if live else None)
    identifiers = identifier_postings(chunks, old_rows, live.identifiers if live else None)
    kind = choose_index_type(settings.index_type, len(chunks), settings.hnsw_min_chunks)
    base = BuildFiles(
        manifest=_manifest(settings, p, name, dim, chunks, "flat", start, partial=True), articles=p.articles,
        chunks=chunks, vectors=None, lexical=LexicalIndex.from_counts(words), titles=None,
        pages=make_pages(p.articles, chunks, (p.warm.pages if p.warm else read_pages(p.live)) if p.reuse else None,
                         p.reuse),
        listings={**make_listings(p.articles, p.loaded.categories), "related": {}},
        outlines=({a.fingerprint: p.outlines[a.fingerprint] for a in p.loaded.articles if a.fingerprint in p.outlines}
                  if p.knowledge_base else None),
        identifiers=identifiers, glossary=p.glossary, spelling=spelling,
        sources=p.loaded.sources if p.knowledge_base else None,
        words=spelling_words(spelling), public=public_statistics(chunks, words, identifiers, spelling),
    )
    cache = PassageCache(settings.embedding_cache_dir, name) if settings.embedding_cache_dir else None
    try:
        vecs = encode_with_cache(cache, [chunks[pos].embed_text for pos in to_embed],
                                 lambda texts: model.get().encode_passages(texts, batch_size=32), 32, progress, dim,
                                 before=(lambda missing: early(_lexical_snapshot(base), missing) if missing else None) if early else None)
        if live is not None and len(live.vectors):  # the kept chunks' rows in one gather (a new chunk's row: written next)
            matrix = live.vectors[np.fromiter((r or 0 for r in old_rows), np.int64, len(old_rows))]
        else:
            matrix = np.zeros((len(chunks), dim), np.float32)
        if to_embed:
            matrix[to_embed] = vecs
        titles = _title_vectors(p.articles, model, live, p.reuse, dim, cache)
        if cache is not None:
            report.vectors_from_cache = cache.hits
            cache.prune(settings.embedding_cache_mb * 2**20)
    finally:
        if cache is not None:
            cache.close()
    vectors = VectorIndex.build(matrix, dim, kind)
    same_as = {}
    if live is not None and live.titles is not None and TITLES in live.manifest.files \
            and np.array_equal(live.titles, titles) and live.titles.dtype == np.float32:
        same_as[TITLES] = (live.path / TITLES, live.manifest.files[TITLES])
    return dataclasses.replace(
        base, manifest=_manifest(settings, p, name, dim, chunks, vectors.kind, start), vectors=vectors, titles=titles,
        same_as=same_as,
        listings={**base.listings, "related": related_articles(p.articles, chunks, matrix, titles, **_related_since(p, old))})


def _related_since(p: Plan, old: _Reused) -> dict:
    """What related_articles may keep of the live build: its lists, and which articles changed since (none when the
    live build's section or title vectors were not all kept)."""
    snap = old.live
    if snap is None or snap.titles is None or not p.reuse or p.live_manifest is None:
        return {}
    return {"previous": snap.related,
            "changed": {a.id for a in p.articles if a.id not in p.reuse} | set(snap.articles) - {a.id for a in p.articles}}


def _lexical_snapshot(base: BuildFiles) -> BuildFiles:
    """The build without its vectors (zeros where they will be): what a first server searches by BM25 meanwhile."""
    dim = base.manifest.dim
    return dataclasses.replace(base, vectors=VectorIndex.build(np.zeros((len(base.chunks), dim), np.float32), dim, "flat"),
                               titles=np.zeros((len(base.articles), dim), np.float32))


def _manifest(settings: Settings, p: Plan, model: str, dim: int, chunks: list[Chunk], index_type: str, start: float,
              partial: bool = False) -> Manifest:
    return Manifest(
        model=model, model_spec=settings.model, dim=dim, chunk_max_chars=settings.chunk_max_chars,
        index_type=index_type, tokenizer_version=TOKENIZER_VERSION,
        built_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - start, 3), kb_version=__version__,
        counts={
            "articles": len(p.articles),
            "chunks": len(chunks),
            "public_articles": sum(a.is_public for a in p.articles),
            "public_chunks": sum(c.audience == "public" for c in chunks),
            "internal_articles": sum(a.audience == "internal" for a in p.articles),
            "by_locale": {loc: sum(a.locale == loc for a in p.articles) for loc in sorted({a.locale for a in p.articles})},
        },
        articles={a.id: a.fingerprint for a in p.articles},
        categories={c.slug: {"names": c.names, "order": c.order} for c in p.loaded.categories.values()},
        partial=partial, chunker=CHUNKER, statistics=STATISTICS,
    )


def in_memory_snapshot(files: BuildFiles, path: Path) -> Snapshot:
    """The new build as serving would load it, without reading it back from disk."""
    categories = {slug: Category(slug, c["names"], c["order"]) for slug, c in files.manifest.categories.items()}
    return Snapshot(path, files.manifest, {a.id: a for a in files.articles}, files.chunks, files.vectors, files.lexical,
                    categories, files.pages, files.listings["groups"], files.listings["categories"], files.identifiers,
                    files.glossary, files.words, files.titles, files.public, files.listings.get("related", {}))


# -- stage 3: write ------------------------------------------------------------------------------

def write(settings: Settings, files: BuildFiles) -> Path:
    fault_point(settings, "before-write")
    name = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
    return write_build(settings.index_dir, name, files, fault=lambda stage: fault_point(settings, stage))


# -- stage 4: gate -------------------------------------------------------------------------------

def gate(settings: Settings, p: Plan, new: Snapshot, model: LazyEmbedder, report: BuildReport, *,
         strict: bool = False, force: bool = False, check_only: bool = False) -> None:
    """Run the golden queries on the new build (and the live one); raise BuildError, the new folder removed,
    if they regressed (unless `force`) or if `strict` and there are warnings or invalid articles. With
    `check_only` nothing is raised: the report says what failed (the build is removed either way)."""
    if p.knowledge_base and golden_path(settings).exists():  # no golden queries: neither the model nor the live build
        report.golden = check_golden(settings, model.get(), new, _live_for_gate(p, model.get()))
    failed = []
    if report.golden is not None and not report.golden.passed and not force:
        failed.append("golden queries regressed")
    if strict and (report.warnings or report.skipped_invalid):
        failed.append(_strict_failure(report))
    report.gate_failures = failed
    if failed and not check_only:
        shutil.rmtree(new.path, ignore_errors=True)
        raise BuildError("; ".join(failed) + ": the new index was not published; the live index is unchanged "
                         "(fix the articles, or --force to publish despite the golden queries)",
                         errors=report.warnings + report.skipped_invalid if strict else None, golden=report.golden)
    report.forced = report.golden is not None and not report.golden.passed


def _live_for_gate(p: Plan, embedder: Embedder) -> Snapshot | None:
    """The live build as the golden queries search it, if the model can."""
    if p.live is None:
        return None
    if p.warm is not None and p.warm.snapshot is not None:
        return p.warm.snapshot
    try:
        live = load_snapshot(p.live, embedder.name, embedder.dim, for_reuse=True)
    except KBError:
        return None
    if live.public is None and any(a != "public" for a in column(live.chunks, "audience")):
        # an older format: its public statistics, made as it would
        tokens = read_tokens(live.path, len(live.chunks))
        live = dataclasses.replace(live, public=public_statistics(live.chunks, tokens)) if tokens else None
    return live


def _strict_failure(report: BuildReport) -> str:
    return f"strict: {len(report.warnings)} warning(s) and {len(report.skipped_invalid)} invalid article(s) count as failure"


# -- the six stages ------------------------------------------------------------------------------

def build_index(
    settings: Settings,
    *,
    full: bool = False,
    skip_invalid: bool = False,
    dry_run: bool = False,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
    loaded: LoadResult | None = None,
    check_only: bool = False,
    force: bool = False,
    strict: bool = False,
    glossary: Glossary | None = None,
    warm: Warm | None = None,
) -> BuildReport:
    """Build the index from settings.articles_dir into settings.index_dir.

    Invalid articles stop the build (all of them reported) unless skip_invalid; the live index is
    only replaced, atomically, once the new build is complete on disk and has passed the gate. `loaded`
    gives the articles directly (the eval harness builds from a corpus.jsonl) instead of reading
    settings.articles_dir. `check_only` builds and checks but never publishes. `warm` (kb build --watch): its model
    is used, it takes the build this call publishes, for the next call to rebuild from without reading it, and a
    build running on the same index is waited for, not refused."""
    start = time.perf_counter()
    set_threads(settings.threads)
    report = BuildReport()
    with build_lock(settings.index_dir, wait=warm is not None), build_memory(keep=warm is not None):
        p = plan(settings, full=full, skip_invalid=skip_invalid, loaded=loaded, glossary=glossary, warm=warm)
        report.warnings, report.skipped_invalid, report.changes = p.loaded.warnings, p.loaded.errors, p.changes
        report.articles, report.removed = len(p.articles), len(p.changes["deleted"])
        report.unchanged, report.reembedded = len(p.reuse), len(p.articles) - len(p.reuse)
        report.full, report.reason = p.live_manifest is None, p.reason
        if p.up_to_date and not check_only:
            if strict and (report.warnings or report.skipped_invalid):  # refused as the gate would, unbuilt
                raise BuildError(_strict_failure(report) + ": nothing published",
                                 errors=report.warnings + report.skipped_invalid)
            report.chunks, report.reason = p.live_manifest.counts["chunks"], ""
            if warm is not None and p.warm is None:
                warm.read(p.live, p.live_manifest)
            prune_builds(settings.index_dir, settings.keep_builds)  # leftovers of builds that never published
        elif dry_run:
            report.reason = "dry run, nothing written"
        else:
            try:
                _build_and_publish(settings, p, report, embedder or (warm.model if warm else None), progress,
                                   check_only=check_only, force=force, strict=strict, warm=warm)
            except OSError as exc:
                if exc.errno not in DISK_FULL:
                    raise
                raise write_failure(settings.index_dir, exc) from None
    report.seconds = time.perf_counter() - start
    return report


def _build_and_publish(settings: Settings, p: Plan, report: BuildReport, embedder: Embedder | None,
                       progress: Callable[[int, int], None] | None, *, check_only: bool, force: bool, strict: bool,
                       warm: Warm | None = None) -> None:
    """Stages 2 to 6, under the build lock. Folders no published build owns are deleted first (their space
    may be what this build needs)."""
    prune_builds(settings.index_dir, settings.keep_builds)
    model = LazyEmbedder(settings, embedder)

    def early(lexical: BuildFiles, missing: int) -> None:
        """No live index: publish the words now, so that a new server answers while the vectors are computed."""
        write_progress(settings.index_dir, 0, missing)
        path = write(settings, lexical)
        publish(settings.index_dir, path)
        report.partial_published = path.name
        fault_point(settings, "after-partial")

    counted = 0.0

    def tracked(done: int, total: int) -> None:
        nonlocal counted
        if done >= total or time.monotonic() - counted >= 0.5:  # a figure for /healthz, not a write per batch
            counted = time.monotonic()
            write_progress(settings.index_dir, done, total)
        if progress:
            progress(done, total)

    first = p.live is None and p.knowledge_base and not check_only
    try:
        files = assemble(settings, p, model, report, tracked, early if first else None)
    finally:
        clear_progress(settings.index_dir)
    new = in_memory_snapshot(files, write(settings, files))
    try:
        gate(settings, p, new, model, report, strict=strict, force=force, check_only=check_only)
    finally:
        report.model_loaded = model.loaded
    if check_only:
        shutil.rmtree(new.path, ignore_errors=True)
        report.reason = "check only, nothing published"
        return
    fault_point(settings, "before-publish")
    try:
        publish(settings.index_dir, new.path)
    except BaseException:
        if current_build(settings.index_dir) != new.path:
            shutil.rmtree(new.path, ignore_errors=True)
        raise
    fault_point(settings, "after-publish")
    if warm is not None:
        warm.keep(files, new, model)
    prune_builds(settings.index_dir, settings.keep_builds)
    report.published, report.build_dir = True, str(new.path)
