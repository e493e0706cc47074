"""build_index(settings) → BuildReport: validate, chunk, embed what changed, write, swap atomically."""
from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import __version__
from .articles import Article, LoadResult, load_articles
from .chunking import Chunk, chunk_article, title_to_embed
from .config import Settings
from .embed import Embedder, load_embedder
from .errors import ArticleError, BuildError, IndexCorrupt, IndexMismatch, KBError
from .golden import GoldenReport, check_golden
from .index import VectorIndex, choose_index_type
from .links import check_links
from .lexical import TOKENIZER_VERSION, LexicalIndex, chunk_document
from .store import (FORMAT_VERSION, TITLES, current_build, load_snapshot, prune_builds, publish, read_manifest,
                    read_outlines, read_tokens, write_build)

# Anything that changes what a chunk or its vector is; a change forces a full re-embed.
CHUNKING_VERSION = 1


@dataclass
class BuildReport:
    articles: int = 0
    chunks: int = 0
    reembedded: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks_embedded: int = 0
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

    def summary(self) -> str:
        state = "published" if self.published else ("up to date, nothing published" if not self.reason else self.reason)
        return (
            f"{self.articles} articles, {self.chunks} chunks: {self.reembedded} re-embedded "
            f"({self.chunks_embedded} chunks), {self.unchanged} unchanged, {self.removed} removed, "
            f"{len(self.skipped_invalid)} invalid skipped, {self.seconds:.1f} s ({state})"
        )


@contextmanager
def build_lock(index_dir: str | Path) -> Iterator[None]:
    """One build at a time per index folder (an flock: released by the OS even on kill -9)."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / ".build.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build is running on {index_dir}; wait for it to finish") from None
        yield


def _previous(settings: Settings, model_name: str, dim: int):
    """The live build's manifest, chunks and vectors, if they can be reused for an incremental build."""
    build = current_build(settings.index_dir)
    if build is None or not build.is_dir():
        return None, "no previous index"
    try:
        manifest = read_manifest(build)
        if manifest.get("model") != model_name or manifest.get("dim") != dim:
            return None, f"model changed ({manifest.get('model')} → {model_name})"
        if manifest.get("chunk_max_chars") != settings.chunk_max_chars or manifest.get("chunking_version") != CHUNKING_VERSION:
            return None, "chunking settings changed"
        snap = load_snapshot(build, model_name, dim)
    except (IndexCorrupt, IndexMismatch) as exc:
        return None, f"previous index unusable: {exc}"
    return snap, ""


def _live_or_none(settings: Settings, embedder: Embedder):
    """The live snapshot if it can be searched with this embedder (for the golden comparison)."""
    build = current_build(settings.index_dir)
    if build is None:
        return None
    try:
        return load_snapshot(build, embedder.name, embedder.dim)
    except KBError:
        return None


def _title_vectors(articles: list[Article], embedder: Embedder, prev, reuse: set[str]) -> np.ndarray:
    """One title vector per article (a zero row where `title_to_embed` gives none); unchanged articles
    keep the previous build's."""
    out = np.zeros((len(articles), embedder.dim), np.float32)
    old_row = {aid: i for i, aid in enumerate(prev.articles)} if prev is not None and prev.titles is not None else {}
    todo: list[tuple[int, str]] = []
    for row, article in enumerate(articles):
        if article.id in reuse and article.id in old_row:
            out[row] = prev.titles[old_row[article.id]]
        elif (title := title_to_embed(article)) is not None:
            todo.append((row, title))
    if todo:
        vecs = embedder.encode_passages([t for _, t in todo], batch_size=64)
        out[[row for row, _ in todo]] = vecs
    return out


def plan_changes(articles: list[Article], fingerprints: dict[str, str]) -> dict[str, list[str]]:
    """Which article ids are new, edited, unchanged or deleted compared with a build's fingerprints."""
    current = {a.id: a.fingerprint for a in articles}
    return {
        "new": sorted(i for i in current if i not in fingerprints),
        "edited": sorted(i for i in current if i in fingerprints and fingerprints[i] != current[i]),
        "unchanged": sorted(i for i in current if fingerprints.get(i) == current[i]),
        "deleted": sorted(i for i in fingerprints if i not in current),
    }


def index_is_stale(settings: Settings) -> tuple[bool, str]:
    """(stale?, why): is the live index missing, or behind the articles folder or the configured model?"""
    build = current_build(settings.index_dir)
    if build is None:
        return True, "no index built yet"
    try:
        manifest = read_manifest(build)
    except KBError as exc:
        return True, str(exc)
    loaded = load_articles(settings.articles_dir)
    indexable = [a for a in loaded.articles if a.status == "published"]
    changes = plan_changes(indexable, manifest.get("articles", {}))
    if changes["new"] or changes["edited"] or changes["deleted"]:
        return True, ", ".join(f"{len(v)} {k}" for k, v in changes.items() if v and k != "unchanged")
    if manifest.get("model_spec") != settings.model:
        return True, f"model changed to {settings.model}"
    if manifest.get("tokenizer_version") != TOKENIZER_VERSION:
        return True, "the BM25 tokenizer changed"
    if not (build / TITLES).exists():
        return True, "the index has no title vectors (built by an older kb)"
    return False, "up to date"


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
) -> BuildReport:
    """Build the index from settings.articles_dir into settings.index_dir.

    Invalid articles stop the build (all of them reported) unless skip_invalid; the live index is
    only replaced, atomically, once the new build is complete on disk. `loaded` gives the articles
    directly (the eval harness builds from a corpus.jsonl) instead of reading settings.articles_dir.

    Before publishing, the writers' golden queries run on the new build; if it answers them worse than
    the floor or the live index, it is not published (unless `force`). `check_only` builds and checks
    but never publishes."""
    start = time.perf_counter()
    report = BuildReport(full=full)
    knowledge_base = loaded is None
    loaded = loaded or load_articles(settings.articles_dir)
    report.warnings = list(loaded.warnings)
    if knowledge_base:
        outlines = read_outlines(current_build(settings.index_dir))
        report.warnings += check_links(loaded.articles, outlines)
    if loaded.errors and not skip_invalid:
        raise BuildError(f"{len(loaded.errors)} invalid article file(s); the live index was left as it was", loaded.errors)
    report.skipped_invalid = loaded.errors
    articles = [a for a in loaded.articles if a.status == "published"]
    if not articles:
        raise BuildError(f"no published articles in {settings.articles_dir}; nothing to index")

    with build_lock(settings.index_dir):
        embedder = embedder or load_embedder(settings.model, settings.threads)
        prev, why_full = (None, "--full") if full else _previous(settings, embedder.name, embedder.dim)
        report.full = prev is None
        report.reason = "" if prev is not None else why_full
        changes = plan_changes(articles, prev.manifest.get("articles", {}) if prev else {})
        report.changes = changes
        report.removed = len(changes["deleted"])
        reuse = set(changes["unchanged"]) if prev else set()
        report.unchanged = len(reuse)
        report.reembedded = len(articles) - len(reuse)
        report.articles = len(articles)
        if prev is not None and not reuse.symmetric_difference({a.id for a in articles}) and not changes["deleted"] \
                and prev.manifest.get("model_spec") == settings.model and not check_only \
                and prev.manifest.get("tokenizer_version") == TOKENIZER_VERSION and prev.titles is not None \
                and prev.vectors.kind == choose_index_type(settings.index_type, len(prev.chunks), settings.hnsw_min_chunks):
            report.chunks = len(prev.chunks)
            report.reason = ""
            report.seconds = time.perf_counter() - start
            return report
        if dry_run:
            report.reason = "dry run, nothing written"
            report.seconds = time.perf_counter() - start
            return report

        old_vectors: dict[str, np.ndarray] = {}
        old_chunks: dict[str, list[Chunk]] = {}
        old_tokens: dict[str, list[list[str] | None]] = {}
        if prev is not None and reuse:
            all_vectors = prev.vectors.vectors()
            # Stored words are reused only if the tokenizer that made them is this one.
            same_tokenizer = prev.manifest.get("tokenizer_version") == TOKENIZER_VERSION
            prev_tokens = read_tokens(prev.path, len(prev.chunks)) if same_tokenizer else None
            for row, chunk in enumerate(prev.chunks):
                if chunk.article_id in reuse:
                    old_chunks.setdefault(chunk.article_id, []).append(chunk)
                    old_vectors.setdefault(chunk.article_id, []).append(all_vectors[row])
                    old_tokens.setdefault(chunk.article_id, []).append(prev_tokens[row] if prev_tokens else None)

        chunks: list[Chunk] = []
        rows: list[np.ndarray | None] = []
        words: list[list[str] | None] = []
        to_embed: list[int] = []
        for article in articles:
            if article.id in reuse:
                chunks.extend(old_chunks[article.id])
                rows.extend(old_vectors[article.id])
                words.extend(old_tokens[article.id])
            else:
                for chunk in chunk_article(article, settings.chunk_max_chars):
                    to_embed.append(len(chunks))
                    chunks.append(chunk)
                    rows.append(None)
                    words.append(None)
        report.chunks = len(chunks)
        report.chunks_embedded = len(to_embed)

        batch = 32
        for i in range(0, len(to_embed), batch):
            positions = to_embed[i:i + batch]
            vecs = embedder.encode_passages([chunks[p].embed_text for p in positions], batch_size=batch)
            for p, v in zip(positions, vecs):
                rows[p] = v
            if progress:
                progress(min(i + batch, len(to_embed)), len(to_embed))
        matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, embedder.dim), np.float32)
        titles = _title_vectors(articles, embedder, prev, reuse)

        vectors = VectorIndex.build(matrix, embedder.dim, choose_index_type(settings.index_type, len(chunks), settings.hnsw_min_chunks))
        words = [w if w is not None else chunk_document(c.title, c.heading_path, c.text, c.tags) for c, w in zip(chunks, words)]
        lexical = LexicalIndex.build(words)
        now = dt.datetime.now(dt.timezone.utc)
        manifest = {
            "format_version": FORMAT_VERSION,
            "kb_version": __version__,
            "model": embedder.name,
            "model_spec": settings.model,
            "dim": embedder.dim,
            "chunk_max_chars": settings.chunk_max_chars,
            "index_type": vectors.kind,
            "chunking_version": CHUNKING_VERSION,
            "tokenizer_version": TOKENIZER_VERSION,
            "built_at": now.isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - start, 3),
            "counts": {
                "articles": len(articles),
                "chunks": len(chunks),
                "public_articles": sum(a.is_public for a in articles),
                "internal_articles": sum(a.audience == "internal" for a in articles),
                "by_locale": {loc: sum(a.locale == loc for a in articles) for loc in sorted({a.locale for a in articles})},
            },
            "articles": {a.id: a.fingerprint for a in articles},
            "categories": {c.slug: {"names": c.names, "order": c.order} for c in loaded.categories.values()},
        }
        name = now.strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
        build_dir = write_build(settings.index_dir, name, manifest, articles, chunks, vectors, lexical, words,
                                {a.fingerprint: outlines[a.fingerprint] for a in loaded.articles if a.fingerprint in outlines}
                                if knowledge_base else None, titles)
        if knowledge_base:
            live = prev if prev is not None else _live_or_none(settings, embedder)
            report.golden = check_golden(settings, embedder, load_snapshot(build_dir, embedder.name, embedder.dim), live)
            if check_only or (report.golden is not None and not report.golden.passed and not force):
                shutil.rmtree(build_dir)
                report.seconds = time.perf_counter() - start
                if check_only:
                    report.reason = "check only, nothing published"
                    return report
                raise BuildError("golden queries regressed: the new index was not published; the live index is "
                                 "unchanged (fix the articles, or --force to publish anyway)", golden=report.golden)
            report.forced = report.golden is not None and not report.golden.passed
        publish(settings.index_dir, build_dir)
        prune_builds(settings.index_dir, settings.keep_builds)
        report.published = True
        report.build_dir = str(build_dir)
        report.seconds = time.perf_counter() - start
        return report
