"""The index directory on disk: immutable build folders, a `current` link swapped atomically, and loading.

Layout::

    index/current -> builds/20261125T051500Z-4242   (a relative symlink, replaced with os.replace)
    index/builds/<name>/manifest.json, vectors.faiss, chunks.jsonl, articles.json, lexical/
    index/.build.lock                                 (held by a running build)

A reader resolves `current` once and reads only that folder, so it never sees half an index.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .articles import Article, Category
from .chunking import Chunk
from .errors import IndexCorrupt, IndexMismatch, IndexNotBuilt
from .index import VectorIndex
from .lexical import LexicalIndex, chunk_document
from .render import render_markdown

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.json"
LEXICAL = "lexical"
OUTLINES = "outlines.json"  # per article fingerprint: section anchors and links, for link checking
TOKENS = "tokens.jsonl"  # each chunk's BM25 words, so that a rebuild re-tokenizes only changed articles
TITLES = "titles.npy"  # one title vector per article, in articles.json order; a zero row where none
REBUILD_HINT = "run: python scripts/build_index.py --full"


def current_link(index_dir: str | Path) -> Path:
    return Path(index_dir) / "current"


def current_build(index_dir: str | Path) -> Path | None:
    """The live build folder, or None when nothing was ever published."""
    link = current_link(index_dir)
    if not link.is_symlink() and not link.exists():
        return None
    return link.resolve()


def read_manifest(build_dir: str | Path) -> dict[str, Any]:
    path = Path(build_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"{path}: missing; {REBUILD_HINT}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"{path}: unreadable ({exc}); {REBUILD_HINT}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"{path}: index format {manifest.get('format_version')} but this kb reads {FORMAT_VERSION}; {REBUILD_HINT}")
    return manifest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_build(index_dir: str | Path, name: str, manifest: dict[str, Any], articles: list[Article],
                chunks: list[Chunk], vectors: VectorIndex, lexical: LexicalIndex,
                tokens: list[list[str]] | None = None, outlines: dict[str, Any] | None = None,
                titles: np.ndarray | None = None) -> Path:
    """Write a complete build folder (under a temporary name, renamed when complete) and return it."""
    builds = Path(index_dir) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    vectors.save(tmp)
    (tmp / LEXICAL).mkdir()
    lexical.save(tmp / LEXICAL)
    with open(tmp / CHUNKS, "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    (tmp / ARTICLES).write_text(json.dumps([a.to_dict() for a in articles], ensure_ascii=False), encoding="utf-8")
    if outlines is not None:
        (tmp / OUTLINES).write_text(json.dumps(outlines, ensure_ascii=False), encoding="utf-8")
    if titles is not None:
        np.save(tmp / TITLES, np.ascontiguousarray(titles, dtype=np.float32))
    if tokens is not None:
        with open(tmp / TOKENS, "w", encoding="utf-8") as f:
            for words in tokens:
                f.write(json.dumps(words, ensure_ascii=False) + "\n")
    # The manifest is written last: a folder without one is never a complete build.
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    final = builds / name
    os.rename(tmp, final)
    _fsync_dir(builds)
    return final


def publish(index_dir: str | Path, build_dir: Path) -> None:
    """Point `current` at build_dir in one atomic rename."""
    link = current_link(index_dir)
    tmp_link = link.with_name(f".current-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(os.path.relpath(build_dir, link.parent), tmp_link)
    os.replace(tmp_link, link)
    _fsync_dir(link.parent)


def prune_builds(index_dir: str | Path, keep: int) -> list[str]:
    """Delete old build folders and leftovers of crashed builds; never the live one. Call under the build lock."""
    builds = Path(index_dir) / "builds"
    if not builds.is_dir():
        return []
    live = current_build(index_dir)
    removed = []
    finished = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    old = [p for p in finished if p != live][: max(0, len(finished) - max(keep, 1))]
    leftovers = [p for p in builds.iterdir() if p.name.startswith(".tmp-")]
    for path in old + leftovers:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed


@dataclass
class Snapshot:
    """One loaded build: read-only after load, shared by every request of the process."""

    path: Path
    manifest: dict[str, Any]
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: VectorIndex
    lexical: LexicalIndex
    categories: dict[str, Category]
    _html: dict[str, str]
    titles: np.ndarray | None = None  # title vectors, one row per article in `articles` order (zero: none)

    def lexical_tokens(self, chunk_id: int) -> list[str]:
        """The BM25 tokens of one chunk (computed on demand; used for query-coverage confidence)."""
        chunk = self.chunks[chunk_id]
        return chunk_document(chunk.title, chunk.heading_path, chunk.text, chunk.tags)

    def html(self, article_id: str) -> str:
        """The article's sanitized HTML, rendered on first use and kept (a load need not render every article)."""
        html = self._html.get(article_id)
        if html is None:
            html = self._html[article_id] = render_markdown(self.articles[article_id].body)
        return html


def read_outlines(build_dir: str | Path | None) -> dict[str, Any]:
    """The stored article outlines of a build (empty when there are none)."""
    try:
        data = json.loads((Path(build_dir) / OUTLINES).read_text(encoding="utf-8")) if build_dir else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_tokens(build_dir: str | Path, count: int) -> list[list[str]] | None:
    """The chunks' stored BM25 words, or None if the build has none (older builds) or they do not fit."""
    try:
        with open(Path(build_dir) / TOKENS, encoding="utf-8") as f:
            tokens = [json.loads(line) for line in f]
    except (OSError, ValueError):
        return None
    return tokens if len(tokens) == count else None


def load_snapshot(build_dir: str | Path, model_name: str | None = None, dim: int | None = None) -> Snapshot:
    """Load and check one build folder; a mismatch with the configured model is refused, not searched."""
    build_dir = Path(build_dir)
    manifest = read_manifest(build_dir)
    if model_name is not None and manifest.get("model") != model_name:
        raise IndexMismatch(
            f"{build_dir}: index built with model {manifest.get('model')!r}, but the configured model is {model_name!r}; {REBUILD_HINT}"
        )
    if dim is not None and manifest.get("dim") != dim:
        raise IndexMismatch(f"{build_dir}: index dimension {manifest.get('dim')} != model dimension {dim}; {REBUILD_HINT}")
    try:
        with open(build_dir / CHUNKS, encoding="utf-8") as f:
            chunks = [Chunk.from_dict(json.loads(line)) for line in f if line.strip()]
        articles = {a["id"]: Article.from_dict(a) for a in json.loads((build_dir / ARTICLES).read_text(encoding="utf-8"))}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{build_dir}: chunks or articles unreadable ({exc}); {REBUILD_HINT}") from None
    vectors = VectorIndex.load(build_dir)
    try:
        lexical = LexicalIndex.load(build_dir / LEXICAL)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorrupt(f"{build_dir / LEXICAL}: unreadable BM25 index ({exc}); {REBUILD_HINT}") from None
    counts = manifest.get("counts", {})
    if not (len(chunks) == vectors.count() == lexical.n_docs == counts.get("chunks")) or len(articles) != counts.get("articles"):
        raise IndexCorrupt(
            f"{build_dir}: counts disagree (manifest {counts.get('chunks')} chunks, {counts.get('articles')} articles; "
            f"found {len(chunks)} chunks, {vectors.count()} vectors, {lexical.n_docs} BM25 rows, {len(articles)} articles); {REBUILD_HINT}"
        )
    categories = {
        slug: Category(slug, c["names"], c["order"]) for slug, c in manifest.get("categories", {}).items()
    }
    return Snapshot(build_dir, manifest, articles, chunks, vectors, lexical, categories, {},
                    _read_titles(build_dir, len(articles), vectors.dim))


def _read_titles(build_dir: Path, count: int, dim: int) -> np.ndarray | None:
    """The build's title vectors (memory-mapped), or None for a build made before they existed."""
    path = build_dir / TITLES
    if not path.exists():
        return None
    try:
        titles = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path}: unreadable title vectors ({exc}); {REBUILD_HINT}") from None
    if titles.shape != (count, dim):
        raise IndexCorrupt(f"{path}: shape {titles.shape}, expected ({count}, {dim}); {REBUILD_HINT}")
    return titles


def load_current(index_dir: str | Path, model_name: str | None = None, dim: int | None = None) -> Snapshot:
    build = current_build(index_dir)
    if build is None:
        raise IndexNotBuilt(f"no index in {index_dir}; run: python scripts/build_index.py")
    if not build.is_dir():
        raise IndexCorrupt(f"{current_link(index_dir)} points to {build}, which does not exist; {REBUILD_HINT}")
    return load_snapshot(build, model_name, dim)
