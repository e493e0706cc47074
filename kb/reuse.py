"""What a rebuild takes from the live build instead of making it again: the live build read for reuse (only the
files reuse needs, each checked against its manifest), and the incremental forms of the per-chunk statistics (BM25
word counts, identifier postings, typo-correction words), each the same as a full build of the same chunks makes."""
from __future__ import annotations

import hashlib
import io
import mmap
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import orjson

from . import identifiers as identifiers_module, spelling as spelling_module
from .articles import Article
from .bm25 import LexicalIndex, TermCounts
from .chunking import Chunk
from .errors import IndexCorrupt, KBError
from .identifiers import IdentifierIndex, about_text, find as find_identifiers
from .index import VectorIndex
from .lexical import chunk_document
from .manifest import REBUILD_HINT, Manifest, require_servable
from .spelling import MIN_LENGTH, _WORD as SPELLING_WORD
from .store import ARTICLES, CHUNK_FIELDS, CHUNK_REQUIRED, CHUNKS, IDENTIFIERS, LEXICAL, LISTINGS, TITLES, \
    changed_files, read_manifest, read_spelling, read_tokens


# The source of what the identifier postings and typo-correction words are made by (kb.identifiers, kb.spelling, and
# this module): a build made by another kb has them made again, not reused.
STATISTICS = hashlib.sha256(b"".join(Path(m.__file__).read_bytes()
                                     for m in (identifiers_module, spelling_module, sys.modules[__name__]))).hexdigest()[:16]


@dataclass
class LiveBuild:
    """The live build as a rebuild reads it: what it keeps of the articles that did not change."""

    path: Path
    manifest: Manifest
    articles: dict[str, Article]  # in articles.json order (the title vectors' rows)
    chunks: list[Chunk]
    vectors: np.ndarray  # by chunk row
    titles: np.ndarray | None  # by article row; None in a build made before title vectors
    related: dict[str, list[str]]
    identifiers: IdentifierIndex | None  # every chunk's postings
    words: TermCounts | None  # BM25 word counts by chunk row (None: not kept, or another tokenizer's)
    spelling: TermCounts | None  # typo-correction words by chunk row (None: not kept)


def _checked(build: Path, manifest: Manifest, name: str) -> bytes:
    with CheckedReads(build, manifest) as files:
        data = files.read(name)
        files.verify()
    return data


MAPPED_READ = 1 << 20  # a file at least this large is mapped for reading, not read


def _mapped(f) -> memoryview | None:
    """The file's pages in the page cache, mapped in one call (MAP_POPULATE where there is one) rather than copied
    into new ones; None where the file system does not map (then it is read)."""
    try:
        return memoryview(mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                                    prot=mmap.PROT_READ))
    except (OSError, ValueError):
        return None


class CheckedReads:
    """A build's files read for reuse, each checked against the sha256 its manifest records. The checks run in a
    second thread (hashlib lets go of the GIL) while this one parses what it read; `verify` waits for them and
    raises IndexCorrupt for the first file that differs. A large file is mapped: kb never changes a build folder in
    place, and one cut short by hand while a rebuild maps it stops the rebuilding process (SIGBUS), never the live
    index."""

    def __init__(self, build: Path, manifest: Manifest):
        self._build, self._files = build, manifest.files
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kb-check")
        self._pending: list[tuple[str, Future]] = []

    def __enter__(self) -> "CheckedReads":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(cancel_futures=True)

    def read(self, name: str) -> bytes | memoryview:
        with open(self._build / name, "rb") as f:
            data = _mapped(f) if os.fstat(f.fileno()).st_size >= MAPPED_READ else None
            if data is None:
                data = f.read()
        if name in self._files:
            self._pending.append((name, self._pool.submit(lambda: hashlib.sha256(data).hexdigest())))
        return data

    def verify(self) -> None:
        for name, digest in self._pending:
            if digest.result() != self._files[name].get("sha256"):
                raise IndexCorrupt(f"{self._build / name}: its sha256 is not the one recorded when it was built; {REBUILD_HINT}")
        self._pending.clear()


def read_live(build: Path, tokenizer_version: int, articles: dict[str, Article] | None = None) -> LiveBuild:
    """Read what a rebuild reuses of a build folder, every file checked as loading checks it (IndexCorrupt, or
    IndexMismatch for a build no kb of this version may reuse). `articles`: its articles.json, read already."""
    manifest = read_manifest(build)
    require_servable(manifest, build, None, None, for_reuse=True)
    changed = changed_files(build, manifest)
    if changed:
        raise IndexCorrupt(f"{changed[0]} (changed since it was built); {REBUILD_HINT}")
    with CheckedReads(build, manifest) as files:
        try:
            chunks, articles, related, identifiers, vectors, titles = _read_reused(build, files, articles)
        except (OSError, ValueError, KeyError, TypeError, EOFError, IndexCorrupt) as exc:
            files.verify()  # a file changed since it was built says so, rather than that it does not parse
            if isinstance(exc, IndexCorrupt):
                raise
            raise IndexCorrupt(f"{build}: unreadable for reuse ({exc}); {REBUILD_HINT}") from None
        files.verify()
    if len(vectors) != len(chunks) or (titles is not None and len(titles) != len(articles)):
        raise IndexCorrupt(f"{build}: {len(chunks)} chunks, {len(vectors)} vectors, {len(articles)} articles; {REBUILD_HINT}")
    words = _read_counts(build, manifest, len(chunks)) if manifest.tokenizer_version == tokenizer_version else None
    same = manifest.statistics == STATISTICS
    return LiveBuild(build, manifest, articles, chunks, vectors, titles, related,
                     identifiers if same and identifiers.size == len(chunks) else None, words,
                     read_spelling(build, manifest, len(chunks)) if same else None)


def _read_reused(build: Path, files: CheckedReads, articles: dict[str, Article] | None) -> tuple:
    """read_live's chunks, articles, related lists, identifier postings, vectors and title vectors."""
    table = orjson.loads(files.read(CHUNKS))
    fields = table["fields"]
    if fields != CHUNK_FIELDS[: len(fields)] or len(fields) < CHUNK_REQUIRED:
        raise ValueError(f"chunk fields {fields} are not {CHUNK_FIELDS}")
    columns = table["columns"]
    for tuples in (4, 10):  # heading_path, tags
        columns[tuples] = list(map(tuple, columns[tuples]))
    chunks = list(map(Chunk, *columns))
    del table
    if articles is None:
        articles = {a["id"]: Article.from_dict(a) for a in orjson.loads(files.read(ARTICLES))}
    related = orjson.loads(files.read(LISTINGS)).get("related", {})
    identifiers = IdentifierIndex.from_dict(orjson.loads(files.read(IDENTIFIERS)))
    vectors = VectorIndex.stored_vectors(files.read(VectorIndex.FILE), build / VectorIndex.FILE)
    titles = np.load(io.BytesIO(files.read(TITLES))) if (build / TITLES).exists() else None
    return chunks, articles, related, identifiers, vectors, titles


def _read_counts(build: Path, manifest: Manifest, count: int) -> TermCounts | None:
    """The BM25 word counts kept in lexical/ (checked), or an older build's tokens.jsonl."""
    names = [f"{LEXICAL}/{LexicalIndex.DOC_TERMS}", f"{LEXICAL}/vocab.index.json"]
    try:
        for name in names:
            _checked(build, manifest, name)
    except (OSError, KBError):
        return None
    return read_tokens(build, count)


def spelling_text(chunk: Chunk) -> str:
    return f"{chunk.title} {' '.join(chunk.heading_path)} {chunk.text}"


def spelling_counts(chunks: list[Chunk]) -> TermCounts:
    """Each chunk's typo-correction words (kb.spelling.collect_words' words), in the order they occur."""
    return TermCounts.from_documents([[w.lower() for w in SPELLING_WORD.findall(spelling_text(c)) if len(w) >= MIN_LENGTH]
                                      for c in chunks])


def spelling_words(counts: TermCounts, rows: Sequence[int] | None = None) -> dict[str, int]:
    """collect_words of these chunks' texts (all by default), from their counts: each word and how often it occurs,
    the most frequent first, and of equally frequent words the one met first."""
    if rows is not None:
        counts = counts.take(rows)
    if not len(counts.terms):
        return {}
    totals = np.bincount(counts.terms, weights=counts.counts, minlength=len(counts.words)).astype(np.int64)
    ids, first = np.unique(counts.terms, return_index=True)
    met = ids[np.argsort(first, kind="stable")]
    ranked = met[np.argsort(-totals[met], kind="stable")]
    return {counts.words[i]: int(totals[i]) for i in ranked}


def identifier_postings(chunks: list[Chunk], old_rows: list[int | None], old: IdentifierIndex | None) -> IdentifierIndex:
    """Which chunks are about each identifier: the live build's postings for the chunks kept (by row), kb.identifiers
    for the rest; keys in order (a full and an incremental build make the same file)."""
    postings: dict[str, list[np.ndarray]] = {}
    fresh = [i for i, r in enumerate(old_rows) if r is None or old is None]
    if old is not None:
        where = np.full(old.size, -1, dtype=np.int64)  # live row → position in this build
        kept = [i for i, r in enumerate(old_rows) if r is not None]
        where[[old_rows[i] for i in kept]] = kept
        for ident, rows in old._postings.items():
            moved = where[rows]
            if (moved >= 0).any():
                postings.setdefault(ident, []).append(moved[moved >= 0])
    made: dict[str, list[int]] = {}
    for i in fresh:
        for ident in find_identifiers(about_text(chunks[i])):
            made.setdefault(ident, []).append(i)
    for ident, rows in made.items():
        postings.setdefault(ident, []).append(np.array(rows, dtype=np.int64))
    return IdentifierIndex(len(chunks), {k: np.sort(np.concatenate(postings[k])) for k in sorted(postings)})


def kept_spelling_counts(chunks: list[Chunk], old_rows: list[int | None], old: TermCounts | None) -> TermCounts:
    """Every chunk's typo-correction words: the live build's for a kept chunk, counted for the rest."""
    fresh = [i for i, r in enumerate(old_rows) if r is None or old is None]
    made = spelling_counts([chunks[i] for i in fresh])
    if old is None:
        return made
    joined = TermCounts.from_documents([], base=old)
    vocab = {w: i for i, w in enumerate(joined.words)}
    words = list(joined.words)
    terms = np.array([vocab.setdefault(w, len(vocab)) for w in made.words], dtype=np.int32)
    words.extend(list(vocab)[len(words):])
    both = TermCounts(words, np.concatenate([old.ptr, old.ptr[-1] + made.ptr[1:]]),
                      np.concatenate([old.terms, terms[made.terms] if len(made.terms) else made.terms]),
                      np.concatenate([old.counts, made.counts]))
    order = np.array([r if r is not None else -1 for r in old_rows], dtype=np.int64)
    order[fresh] = len(old) + np.arange(len(fresh))
    return both.take(order)


def word_counts(chunks: list[Chunk], old_rows: list[int | None], old: TermCounts | None) -> TermCounts:
    """Every chunk's BM25 word counts: the live build's for a kept chunk (row given), the tokenizer's for the rest."""
    fresh = [i for i, r in enumerate(old_rows) if r is None or old is None]
    made = TermCounts.from_documents(
        [chunk_document(chunks[i].title, chunks[i].heading_path, chunks[i].search_text, chunks[i].tags) for i in fresh],
        base=old)
    base = len(old) if old is not None else 0
    order = np.array([r if r is not None and old is not None else -1 for r in old_rows], dtype=np.int64)
    order[fresh] = base + np.arange(len(fresh))
    return made.take(order)


