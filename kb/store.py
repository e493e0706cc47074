"""The index directory on disk: immutable build folders, a `current` link swapped atomically, and loading.

Layout::

    index/current -> builds/20261125T051500Z-4242   (a relative symlink, replaced with os.replace)
    index/builds/<name>/manifest.json, vectors.faiss, chunks.json, articles.json, pages.json, listings.json,
                        titles.npy, lexical/, tokens.jsonl, outlines.json
    index/.build.lock                                 (held by a running build)

A build folder holds everything serving needs, made at build time: loading parses and memory-maps, and a
request never renders Markdown, tokenizes stored text or scans every chunk. `tokens.jsonl` and
`outlines.json` are for the next build (re-tokenizing and link-checking only what changed).

A reader resolves `current` once and reads only that folder, so it never sees half an index.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .articles import Article, Category
from .bm25 import LexicalIndex
from .chunking import Chunk
from .errors import IndexCorrupt, IndexNotBuilt
from .glossary import Glossary
from .identifiers import IdentifierIndex
from .index import VectorIndex
from .manifest import REBUILD_HINT, Manifest, require_servable

CHUNKS = "chunks.json"  # one column per Chunk field (a tenth of the parse time of one JSON object a line)
ARTICLES = "articles.json"
PAGES = "pages.json"  # per article id: sanitized HTML and table of contents
LISTINGS = "listings.json"  # translation groups and category listings per interface locale
IDENTIFIERS = "identifiers.json"  # which chunks are about each crypto identifier (kb.identifiers)
GLOSSARY = "glossary.json"  # the validated glossary the build was made with (kb.glossary)
WORDS = "words.json"  # Latin words of the knowledge base and their counts, for typo correction (kb.spelling)
LEXICAL = "lexical"
OUTLINES = "outlines.json"  # per article fingerprint: section anchors and links, for link checking
TOKENS = "tokens.jsonl"  # each chunk's BM25 words, so that a rebuild re-tokenizes only changed articles
TITLES = "titles.npy"  # one title vector per article, in articles.json order; a zero row where none
BUILD_HINT = "run: kb build (or python scripts/build_index.py)"


CHUNK_FIELDS = [f.name for f in dataclasses.fields(Chunk)]


@dataclass(frozen=True)
class Page:
    html: str  # sanitized article HTML
    toc: tuple[tuple[str, str], ...]  # (anchor, heading) of each top-level section, in reading order

    def to_dict(self) -> dict[str, Any]:
        return {"html": self.html, "toc": [list(t) for t in self.toc]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Page":
        return cls(d["html"], tuple((a, h) for a, h in d["toc"]))


def current_link(index_dir: str | Path) -> Path:
    return Path(index_dir) / "current"


def current_build(index_dir: str | Path) -> Path | None:
    """The live build folder, or None when nothing was ever published."""
    link = current_link(index_dir)
    if not link.is_symlink() and not link.exists():
        return None
    return link.resolve()


def read_manifest(build_dir: str | Path) -> Manifest:
    return Manifest.read(build_dir)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class BuildFiles:
    """Everything one build writes, assembled in memory by kb.build."""

    manifest: Manifest
    articles: list[Article]
    chunks: list[Chunk]
    vectors: VectorIndex
    lexical: LexicalIndex
    tokens: list[list[str]]
    titles: np.ndarray
    pages: dict[str, Page]
    listings: dict[str, Any]
    identifiers: IdentifierIndex
    glossary: Glossary
    words: dict[str, int]  # the knowledge base's Latin words and counts (kb.spelling)
    outlines: dict[str, Any] | None = None


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def write_build(index_dir: str | Path, name: str, files: BuildFiles, fault=None) -> Path:
    """Write a complete build folder (under a temporary name, renamed when complete) and return it.
    `fault(stage)` is the build's fault-injection point (tests stop a build in the middle of writing)."""
    builds = Path(index_dir) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    files.vectors.save(tmp)
    (tmp / LEXICAL).mkdir()
    files.lexical.save(tmp / LEXICAL)
    _write_json(tmp / CHUNKS, {"fields": CHUNK_FIELDS, "columns": [[getattr(c, name) for c in files.chunks]
                                                                   for name in CHUNK_FIELDS]})
    if fault:
        fault("mid-write")
    _write_json(tmp / ARTICLES, [a.to_dict() for a in files.articles])
    _write_json(tmp / PAGES, {aid: p.to_dict() for aid, p in files.pages.items()})
    _write_json(tmp / LISTINGS, files.listings)
    _write_json(tmp / IDENTIFIERS, files.identifiers.to_dict())
    _write_json(tmp / GLOSSARY, files.glossary.to_dict())
    _write_json(tmp / WORDS, files.words)
    if files.outlines is not None:
        _write_json(tmp / OUTLINES, files.outlines)
    np.save(tmp / TITLES, np.ascontiguousarray(files.titles, dtype=np.float32))
    with open(tmp / TOKENS, "w", encoding="utf-8") as f:
        for words in files.tokens:
            f.write(json.dumps(words, ensure_ascii=False) + "\n")
    # The manifest is written last: a folder without one is never a complete build.
    files.manifest.write(tmp)
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
    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    vectors: VectorIndex
    lexical: LexicalIndex
    categories: dict[str, Category]
    pages: dict[str, Page]
    groups: dict[str, list[str]]  # translation group → its public article ids, by locale
    listings: dict[str, dict[str, list[str]]]  # category → interface locale → public article ids, browse order
    identifiers: IdentifierIndex
    glossary: Glossary
    words: dict[str, int]
    titles: np.ndarray | None = None  # title vectors, one row per article in `articles` order (zero: none)

    def html(self, article_id: str) -> str:
        """The article's sanitized HTML (rendered at build time)."""
        return self.pages[article_id].html

    def toc(self, article_id: str) -> list[tuple[str, str]]:
        """(anchor, heading) of the article's top-level sections."""
        return list(self.pages[article_id].toc)

    def translations(self, article: Article) -> list[Article]:
        """The public translations of an article (itself excluded), by locale."""
        return [self.articles[i] for i in self.groups.get(article.translation_group, []) if i != article.id]

    def listing(self, category: str, locale: str) -> list[Article]:
        """A category's public articles as a reader browsing in `locale` sees them."""
        return [self.articles[i] for i in self.listings.get(category, {}).get(locale, [])]


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


def read_glossary(build_dir: str | Path | None) -> Glossary | None:
    """A build's glossary, or None when it cannot be read."""
    try:
        return Glossary.from_dict(json.loads((Path(build_dir) / GLOSSARY).read_text(encoding="utf-8"))) if build_dir else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def read_pages(build_dir: str | Path | None) -> dict[str, Page]:
    """A build's rendered pages (empty when unreadable: the next build renders them again)."""
    try:
        data = json.loads((Path(build_dir) / PAGES).read_text(encoding="utf-8")) if build_dir else {}
        return {aid: Page.from_dict(p) for aid, p in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def load_snapshot(build_dir: str | Path, model_name: str | None = None, dim: int | None = None) -> Snapshot:
    """Load and check one build folder; a mismatch with the configured model is refused, not searched."""
    build_dir = Path(build_dir)
    manifest = read_manifest(build_dir)
    require_servable(manifest, build_dir, model_name, dim)
    try:
        table = json.loads((build_dir / CHUNKS).read_text(encoding="utf-8"))
        if table["fields"] != CHUNK_FIELDS:
            raise ValueError(f"chunk fields {table['fields']} are not {CHUNK_FIELDS}")
        chunks = [Chunk(*row[:4], tuple(row[4]), *row[5:10], tuple(row[10])) for row in zip(*table["columns"])]
        articles = {a["id"]: Article.from_dict(a) for a in json.loads((build_dir / ARTICLES).read_text(encoding="utf-8"))}
        pages = {aid: Page.from_dict(p) for aid, p in json.loads((build_dir / PAGES).read_text(encoding="utf-8")).items()}
        listings = json.loads((build_dir / LISTINGS).read_text(encoding="utf-8"))
        groups, by_category = listings["groups"], listings["categories"]
        identifiers = IdentifierIndex.from_dict(json.loads((build_dir / IDENTIFIERS).read_text(encoding="utf-8")))
        glossary = Glossary.from_dict(json.loads((build_dir / GLOSSARY).read_text(encoding="utf-8")))
        words = json.loads((build_dir / WORDS).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{build_dir}: chunks, articles or pages unreadable ({exc}); {REBUILD_HINT}") from None
    vectors = VectorIndex.load(build_dir)
    try:
        lexical = LexicalIndex.load(build_dir / LEXICAL)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise IndexCorrupt(f"{build_dir / LEXICAL}: unreadable BM25 index ({exc}); {REBUILD_HINT}") from None
    counts = manifest.counts
    if not (len(chunks) == vectors.count() == lexical.n_docs == counts.get("chunks")) or len(articles) != counts.get("articles") \
            or set(pages) != set(articles) or identifiers.size != len(chunks):
        raise IndexCorrupt(
            f"{build_dir}: counts disagree (manifest {counts.get('chunks')} chunks, {counts.get('articles')} articles; "
            f"found {len(chunks)} chunks, {vectors.count()} vectors, {lexical.n_docs} BM25 rows, {len(articles)} articles, "
            f"{len(pages)} pages); {REBUILD_HINT}"
        )
    categories = {slug: Category(slug, c["names"], c["order"]) for slug, c in manifest.categories.items()}
    return Snapshot(build_dir, manifest, articles, chunks, vectors, lexical, categories, pages, groups, by_category,
                    identifiers, glossary, words, _read_titles(build_dir, len(articles), vectors.dim))


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
        raise IndexNotBuilt(f"no index in {index_dir}; {BUILD_HINT}")
    if not build.is_dir():
        raise IndexCorrupt(f"{current_link(index_dir)} points to {build}, which does not exist; {REBUILD_HINT}")
    return load_snapshot(build, model_name, dim)
