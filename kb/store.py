"""The index directory on disk: immutable build folders, a `current` link swapped atomically, and loading.

Layout::

    index/current -> builds/20261125T051500Z-4242   (a relative symlink, replaced with os.replace)
    index/builds/<name>/manifest.json, vectors.faiss, chunks.json, articles.json, pages.json, listings.json,
                        titles.npy, lexical/, identifiers.json, words.json, glossary.json,
                        outlines.json, sources.json, spelling.npz, public/ (lexical/, identifiers.json, words.json: when some chunk is internal)
    index/published.json                              (the builds `current` has pointed to, in publish order)
    index/indexing.json                               (while a build computes vectors: how far it is)
    index/.build.lock                                 (held by a running build)

A build folder holds everything serving needs, made at build time: loading parses (and memory-maps a large
vector index), and a request never renders Markdown, tokenizes stored text or scans every chunk. A public search
reads the statistics of public/ (BM25 idf and vocabulary, identifier postings, typo-correction words of the
public chunks alone), so that nothing it returns depends on an internal article; a build of public articles only
has no public/ folder (the statistics of every chunk are those). The word counts kept with the BM25 index
(lexical/doc_terms.npz) and `outlines.json` are for the next build (re-tokenizing and link-checking only what
changed). The manifest
lists every other file's size and sha256: loading refuses a build whose files changed since it was written.

A reader resolves `current` once and reads only that folder, so it never sees half an index. Only a build that
was published (in published.json, or `current`'s target) is ever loaded: a folder left by a build that died
before publishing may hold anything (an internal article made public, another model) and is deleted by the
next build.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import fcntl
import functools
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import orjson

from .articles import Article, Category
from .bm25 import LexicalIndex, TermCounts
from .chunking import Chunk
from .errors import BuildError, IndexCorrupt, IndexMismatch, IndexNotBuilt, KBError
from .glossary import Glossary
from .identifiers import IdentifierIndex
from .index import MAP_MIN_BYTES, VectorIndex
from .manifest import FORMAT_VERSION, MANIFEST, REBUILD_HINT, UPGRADE_HINT, Manifest, require_servable
from .tables import ArticleTable, ChunkTable, Page, PageTable, column  # (Page: kb.store.Page too)

log = logging.getLogger(__name__)

CHUNKS = "chunks.json"  # one column per Chunk field (a tenth of the parse time of one JSON object a line)
ARTICLES = "articles.json"
PAGES = "pages.json"  # per article id: sanitized HTML and table of contents
LISTINGS = "listings.json"  # translation groups, category listings per interface locale, related articles
IDENTIFIERS = "identifiers.json"  # which chunks are about each crypto identifier (kb.identifiers)
GLOSSARY = "glossary.json"  # the validated glossary the build was made with (kb.glossary)
WORDS = "words.json"  # Latin words of the knowledge base and their counts, for typo correction (kb.spelling)
LEXICAL = "lexical"
PUBLIC = "public"  # the public chunks' own LEXICAL, IDENTIFIERS and WORDS (only when some chunk is internal)
OUTLINES = "outlines.json"  # per article fingerprint: section anchors and links, for link checking
TOKENS = "tokens.jsonl"  # each chunk's BM25 words, in builds before format 7 (now: counts in lexical/doc_terms.npz)
SOURCES = "sources.json"  # each article file's stat when it was read: the next build reads only files changed since
SPELLING = "spelling.npz"  # each chunk's typo-correction words and counts, so that a rebuild counts only changed ones
TITLES = "titles.npy"  # one title vector per article, in articles.json order; a zero row where none
PUBLISHED = "published.json"  # in the index folder: {"builds": [{"name", "model", "published_at"}, ...]}, oldest first
INDEXING = "indexing.json"  # in the index folder while a build computes vectors: {"done", "total", "pid", "updated_at"}
BUILD_HINT = "run: kb build (or python scripts/build_index.py)"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


CHUNK_FIELDS = [f.name for f in dataclasses.fields(Chunk)]
CHUNK_REQUIRED = 11  # the fields every build has (id … tags); the later ones have defaults


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


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Statistics:
    """What search knows of the words of a set of chunks: BM25 (idf, vocabulary, best scores), the identifiers'
    postings and the typo-correction words. Those of every chunk serve agents; a public search reads those of the
    public chunks alone, as if the internal articles did not exist (issue 14: confidence, corrections and ranking
    revealed words only internal articles have)."""

    lexical: LexicalIndex
    identifiers: IdentifierIndex
    words: dict[str, int]


@dataclass
class BuildFiles:
    """Everything one build writes, assembled in memory by kb.build."""

    manifest: Manifest
    articles: list[Article]
    chunks: list[Chunk]
    vectors: VectorIndex
    lexical: LexicalIndex  # its word counts (lexical/doc_terms.npz) are what the next build reuses
    titles: np.ndarray
    pages: dict[str, Page]
    listings: dict[str, Any]
    identifiers: IdentifierIndex
    glossary: Glossary
    words: dict[str, int]  # the knowledge base's Latin words and counts (kb.spelling)
    outlines: dict[str, Any] | None = None
    public: Statistics | None = None  # the public chunks' statistics; None: every chunk is public
    sources: dict[str, Any] | None = None  # kb.articles.LoadResult.sources (a build of the articles folder)
    spelling: TermCounts | None = None  # each chunk's typo-correction words, for the next build
    # files the live build has byte for byte (name → (its path, its manifest entry)): hard-linked, not written again
    same_as: dict[str, tuple[Path, dict[str, Any]]] = dataclasses.field(default_factory=dict)


def _write_json(path: Path, data: Any) -> dict[str, Any]:
    """Write compact JSON, fsynced; its size and sha256, from the bytes written (not read back)."""
    raw = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)  # the bytes json.dumps(…, ensure_ascii=False) makes, faster
    with open(path, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    return {"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def _sync_and_describe(path: Path) -> dict[str, Any]:
    """fsync a written file and return its size and sha256 (one read, from the page cache)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        os.fsync(f.fileno())
        return {"size": f.tell(), "sha256": digest.hexdigest()}


def write_failure(index_dir: str | Path, exc: OSError) -> BuildError:
    """The one-line error of a build that could not write to the index folder (a full disk, above all)."""
    if exc.errno in DISK_FULL:
        return BuildError(f"the disk of {index_dir} is full ({exc.strerror}): the unfinished build was removed and the "
                          f"live index is unchanged; free some space and run kb build again")
    return BuildError(f"cannot write to {index_dir} ({exc.strerror}: {exc.filename}); the live index is unchanged")


def write_build(index_dir: str | Path, name: str, files: BuildFiles, fault=None) -> Path:
    """Write a complete build folder (under a temporary name, renamed when complete) and return it;
    `files.manifest` becomes the manifest written, with each file's size and checksum. A write that fails
    (a full disk) removes the unfinished folder. `fault(stage)` is the build's fault-injection point (tests
    stop a build in the middle of writing)."""
    builds = Path(index_dir) / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    try:
        final = _write_folder(tmp, builds / name, files, fault)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise write_failure(index_dir, exc) from None
        raise
    fsync_dir(builds)
    return final


def _write_folder(tmp: Path, final: Path, files: BuildFiles, fault) -> Path:
    """Every file, fsynced and listed in the manifest (written last), then the rename to `final`. Files are written
    by two threads: one's writing, fsync and sha256 (which release the GIL) overlap the other's encoding."""
    described: dict[str, dict[str, Any]] = {}  # the JSON files' size and sha256, known as they were written
    with ThreadPoolExecutor(2, thread_name_prefix="kb-write") as pool:  # waits for every write, also on an error
        pending: list[Future] = []

        def put(name: str, data: Any) -> None:
            pending.append(pool.submit(lambda: described.__setitem__(name, _write_json(tmp / name, data))))

        def save(write, *args) -> None:
            pending.append(pool.submit(write, *args))

        (tmp / LEXICAL).mkdir()
        save(files.vectors.save, tmp)
        save(files.lexical.save, tmp / LEXICAL)
        put(CHUNKS, {"fields": CHUNK_FIELDS, "columns": list(zip(*map(attrgetter(*CHUNK_FIELDS), files.chunks)))
                     or [[] for _ in CHUNK_FIELDS]})
        if fault:
            fault("mid-write")
        put(ARTICLES, files.articles)  # dataclasses: orjson writes their fields in order, what to_dict() gives
        put(PAGES, files.pages)
        put(LISTINGS, files.listings)
        put(IDENTIFIERS, files.identifiers.to_dict())
        put(GLOSSARY, files.glossary.to_dict())
        put(WORDS, files.words)
        if files.outlines is not None:
            put(OUTLINES, files.outlines)
        if files.sources is not None:
            put(SOURCES, files.sources)
        if files.public is not None:
            (tmp / PUBLIC / LEXICAL).mkdir(parents=True)
            save(files.public.lexical.save, tmp / PUBLIC / LEXICAL, False)  # its counts: those of every chunk
            put(PUBLIC + "/" + IDENTIFIERS, files.public.identifiers.to_dict())
            put(PUBLIC + "/" + WORDS, files.public.words)
        if not _link(files.same_as.get(TITLES), tmp / TITLES, described):
            save(np.save, tmp / TITLES, np.ascontiguousarray(files.titles, dtype=np.float32))
        if files.spelling is not None:
            sp = files.spelling
            save(lambda: np.savez(tmp / SPELLING, words=np.array(sp.words, dtype=str), ptr=sp.ptr, terms=sp.terms,
                                  counts=sp.counts))
        for done in pending:
            done.result()  # its error (a full disk), raised here
        names = [path.relative_to(tmp).as_posix() for path in sorted(tmp.rglob("*")) if path.is_file()]
        others = {name: pool.submit(_sync_and_describe, tmp / name) for name in names if name not in described}
        listed = {name: described[name] if name in described else others[name].result() for name in names}
    # The manifest is written last: a folder without one is never a complete build.
    files.manifest = files.manifest.replace(files=listed)
    files.manifest.write(tmp)
    _sync_and_describe(tmp / MANIFEST)
    os.rename(tmp, final)
    return final


def _link(same: tuple[Path, dict[str, Any]] | None, target: Path, described: dict[str, dict[str, Any]]) -> bool:
    """Hard-link a file of the live build that this build would write byte for byte (build folders are never changed
    in place); False when there is none or the file system refuses (then it is written)."""
    if same is None:
        return False
    source, meta = same
    try:
        if source.stat().st_size != meta.get("size"):
            return False
        os.link(source, target)
    except OSError:
        return False
    described[target.name] = dict(meta)
    return True


@contextmanager
def build_lock(index_dir: str | Path, wait: bool = False) -> Iterator[None]:
    """One build at a time per index folder (an flock: released by the OS even on kill -9). `wait`: for the other
    build to finish (kb build --watch: a change made meanwhile is built after it), rather than refuse."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(index_dir) / ".build.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise BuildError(f"another build is running on {index_dir}; wait for it to finish") from None
            print(f"kb build: another build is running on {index_dir}; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def write_progress(index_dir: str | Path, done: int, total: int) -> None:
    """Say how far the running build's vectors are (replaced in one rename; a failed write only loses the figure)."""
    path = Path(index_dir) / INDEXING
    tmp = path.with_name(f".{INDEXING}-{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"done": int(done), "total": int(total), "pid": os.getpid(),
                                   "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("%s not written: %s", path, exc)
        tmp.unlink(missing_ok=True)


def clear_progress(index_dir: str | Path) -> None:
    (Path(index_dir) / INDEXING).unlink(missing_ok=True)


def read_progress(index_dir: str | Path) -> dict[str, Any] | None:
    """How far a running build's vectors are ({"done", "total", "percent", "updated_at"}), or None when no build
    of this machine is computing them (no file, or its build process is gone)."""
    try:
        data = json.loads((Path(index_dir) / INDEXING).read_text(encoding="utf-8"))
        done, total, pid = int(data["done"]), int(data["total"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    percent = int(100 * done / total) if total > 0 else 0
    return {"done": done, "total": total, "percent": min(percent, 100), "updated_at": data.get("updated_at")}


def _model_of(build_dir: Path) -> str | None:
    try:
        return read_manifest(build_dir).model
    except KBError:
        return None


def _is_partial(build_dir: Path) -> bool:
    try:
        return read_manifest(build_dir).partial
    except KBError:
        return False


def _read_record(index_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(index_dir) / PUBLISHED
    try:
        builds = json.loads(path.read_text(encoding="utf-8"))["builds"]
        return [{"name": str(b["name"]), "model": b.get("model"), "published_at": b.get("published_at")} for b in builds]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("%s unreadable (%s): only the build `current` points to counts as published", path, exc)
        return []


def _write_record(index_dir: str | Path, entries: list[dict[str, Any]]) -> None:
    """Replace published.json in one rename, its content on disk first."""
    path = Path(index_dir) / PUBLISHED
    tmp = path.with_name(f".{PUBLISHED}-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"builds": entries}, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def published_builds(index_dir: str | Path) -> list[dict[str, Any]]:
    """The builds that were published ({"name", "model", "published_at"}), oldest first: the record, and
    `current`'s target even where the record misses it (an index made before the record existed, or a build
    killed between the swap and the record)."""
    entries = _read_record(index_dir)
    live = current_build(index_dir)
    if live is not None and live.parent == (Path(index_dir) / "builds").resolve() \
            and live.name not in {e["name"] for e in entries}:
        entries.append({"name": live.name, "model": _model_of(live), "published_at": None})
    return entries


def fallback_builds(index_dir: str | Path, failed: Path) -> list[Path]:
    """Where to turn when the build `failed` (the live one) does not load: the other published builds made
    with its model, newest first. Never a folder that was not published."""
    entries = published_builds(index_dir)
    model = next((e["model"] for e in entries if e["name"] == failed.name), None) or _model_of(failed)
    builds = Path(index_dir) / "builds"
    return [builds / e["name"] for e in reversed(entries)
            if model is not None and e["model"] == model and e["name"] != failed.name and (builds / e["name"]).is_dir()]


def publish(index_dir: str | Path, build_dir: Path) -> None:
    """Point `current` at build_dir in one atomic rename, then add it to the record of published builds."""
    published = published_builds(index_dir)  # the build being replaced included, if the record missed it
    link = current_link(index_dir)
    tmp_link = link.with_name(f".current-{os.getpid()}")
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(os.path.relpath(build_dir, link.parent), tmp_link)
    os.replace(tmp_link, link)
    fsync_dir(link.parent)
    # Written after the swap: a build killed before it is never in the record. One killed between the two
    # is `current`, which counts as published anyway.
    entry = {"name": build_dir.name, "model": _model_of(build_dir),
             "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    try:
        _write_record(index_dir, [e for e in published if e["name"] != build_dir.name] + [entry])
    except OSError as exc:  # the build is live; the record is completed by the next publish
        log.error("%s not updated (%s): %s is live, the builds before it are not fall-backs until the next build",
                  Path(index_dir) / PUBLISHED, exc, build_dir.name)


def prune_builds(index_dir: str | Path, keep: int) -> list[str]:
    """Keep the live build and the `keep` - 1 builds published last before it; delete every other folder of
    builds/: older builds, builds that were never published, leftovers of crashed builds. Call under the
    build lock (a running build's folder is not published yet: it would be deleted)."""
    builds = Path(index_dir) / "builds"
    if not builds.is_dir():
        return []
    live = current_build(index_dir)
    published = published_builds(index_dir)
    # A lexical snapshot (partial) is kept only while it is live: the full build it stood in for replaces it.
    others = [e["name"] for e in reversed(published)
              if (live is None or e["name"] != live.name) and not _is_partial(builds / e["name"])]
    kept = ({live.name} if live is not None else set()) | set(others[: max(keep, 1) - 1])
    removed = []
    for path in sorted(builds.iterdir()):
        if path.name in kept:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    record = [e for e in published if e["name"] in kept]
    if record != _read_record(index_dir) or not (Path(index_dir) / PUBLISHED).exists():
        if live is not None:
            _write_record(index_dir, record)
    return removed


@dataclass
class Snapshot:
    """One loaded build: read-only after load, shared by every request of the process."""

    path: Path
    manifest: Manifest
    articles: Mapping[str, Article]  # an ArticleTable when loaded from a build folder
    chunks: Sequence[Chunk]  # a ChunkTable when loaded from disk
    vectors: VectorIndex
    lexical: LexicalIndex
    categories: dict[str, Category]
    pages: Mapping[str, Page]  # a PageTable when loaded from disk
    groups: dict[str, list[str]]  # translation group → its public article ids, by locale
    listings: dict[str, dict[str, list[str]]]  # category → interface locale → public article ids, browse order
    identifiers: IdentifierIndex
    glossary: Glossary
    words: dict[str, int]
    titles: np.ndarray | None = None  # title vectors, one row per article in `articles` order (zero: none)
    # The public chunks' statistics (the same object as `everything` when every chunk is public); None only in
    # an older build loaded for a build to reuse, which is never searched publicly.
    public: Statistics | None = None
    related: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # public article id → related ones
    everything: Statistics = dataclasses.field(init=False, repr=False)  # every chunk's statistics (agents')

    def __post_init__(self) -> None:
        self.everything = Statistics(self.lexical, self.identifiers, self.words)
        if self.public is None and all(a == "public" for a in column(self.chunks, "audience")):
            self.public = self.everything

    def statistics(self, audience: str) -> Statistics:
        """What a search of `audience` reads: the public chunks' statistics for a public search (it must not
        depend on internal articles), every chunk's for agents (internal, all)."""
        if audience != "public":
            return self.everything
        if self.public is None:
            raise IndexMismatch(f"{self.path}: no statistics of the public articles (an older build); {UPGRADE_HINT}")
        return self.public

    @property
    def mapped(self) -> bool:
        """Whether searches read pages of the build's files (a large index): a change to them on disk could
        then crash the process, so it must stop serving this build."""
        return self.vectors.mapped or isinstance(self.titles, np.memmap)

    def html(self, article_id: str) -> str:
        """The article's sanitized HTML (rendered at build time)."""
        return self.pages[article_id].html

    def related_to(self, article_id: str) -> list[Article]:
        """The public articles of its locale nearest to a public article (none for an internal one), best first."""
        return [self.articles[i] for i in self.related.get(article_id, ()) if i in self.articles]

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
        data = orjson.loads((Path(build_dir) / OUTLINES).read_bytes()) if build_dir else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_tokens(build_dir: str | Path, count: int) -> TermCounts | None:
    """The chunks' stored BM25 word counts (lexical/doc_terms.npz; tokens.jsonl in a build before format 7), or None
    if the build has none or they do not fit."""
    lexical = Path(build_dir) / LEXICAL
    try:
        with np.load(lexical / LexicalIndex.DOC_TERMS) as doc_terms:
            if "counts" in doc_terms.files:
                vocab = orjson.loads((lexical / "vocab.index.json").read_bytes())
                words = [""] * (max(vocab.values()) + 1 if vocab else 0)
                for word, i in vocab.items():
                    words[i] = word
                tc = TermCounts(words, doc_terms["ptr"], doc_terms["terms"], doc_terms["counts"])
                return tc if len(tc) == count else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    try:
        with open(Path(build_dir) / TOKENS, encoding="utf-8") as f:
            tokens = [json.loads(line) for line in f]
    except (OSError, ValueError):
        return None
    return TermCounts.from_documents(tokens) if len(tokens) == count else None


def read_spelling(build_dir: str | Path, manifest: Manifest, count: int) -> TermCounts | None:
    """The chunks' stored typo-correction words, if the build has them as its manifest lists them."""
    path = Path(build_dir) / SPELLING
    try:
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != manifest.files.get(SPELLING, {}).get("sha256"):
            return None
        with np.load(io.BytesIO(raw)) as data:
            tc = TermCounts([str(w) for w in data["words"]], data["ptr"], data["terms"], data["counts"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return tc if len(tc) == count else None


def read_glossary(build_dir: str | Path | None) -> Glossary | None:
    """A build's glossary, or None when it cannot be read."""
    try:
        return Glossary.from_dict(orjson.loads((Path(build_dir) / GLOSSARY).read_bytes())) if build_dir else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def read_pages(build_dir: str | Path | None) -> dict[str, Page]:
    """A build's rendered pages (empty when unreadable: the next build renders them again)."""
    try:
        data = orjson.loads((Path(build_dir) / PAGES).read_bytes()) if build_dir else {}
        return {aid: Page.from_dict(p) for aid, p in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def changed_files(build_dir: str | Path, manifest: Manifest) -> list[str]:
    """The files of a build whose size is not the one its manifest records (a stat each), described;
    empty for a build made before sizes were recorded."""
    changed = []
    for name, meta in manifest.files.items():
        path = Path(build_dir) / name
        try:
            size = path.stat().st_size
        except OSError:
            changed.append(f"{path}: missing")
            continue
        if size != meta.get("size"):
            changed.append(f"{path}: {size} bytes, but {meta.get('size')} when it was built")
    return changed


class _Files:
    """A build folder's files, read or checked against the sizes and sha256 its manifest records."""

    def __init__(self, build_dir: Path, manifest: Manifest):
        self.dir, self.manifest, self.listed = build_dir, manifest, manifest.files

    def check_sizes(self) -> None:
        changed = changed_files(self.dir, self.manifest)
        if changed:
            raise IndexCorrupt(f"{changed[0]} (changed since it was built); {REBUILD_HINT}")

    def _check(self, name: str, digest: str) -> None:
        meta = self.listed.get(name)
        if meta is not None and digest != meta.get("sha256"):
            raise IndexCorrupt(f"{self.dir / name}: its sha256 is not the one recorded when it was built (changed "
                               f"since); {REBUILD_HINT}")

    def read(self, name: str) -> bytes:
        """The file's bytes, checked (what is parsed is what was written)."""
        data = (self.dir / name).read_bytes()
        self._check(name, hashlib.sha256(data).hexdigest())
        return data

    def text(self, name: str) -> str:
        return self.read(name).decode("utf-8")

    def verify(self, name: str) -> None:
        """Check a file that another library reads (or maps) itself."""
        if name not in self.listed:
            return
        digest = hashlib.sha256()
        try:
            with open(self.dir / name, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise IndexCorrupt(f"{self.dir / name}: unreadable ({exc.strerror}); {REBUILD_HINT}") from None
        self._check(name, digest.hexdigest())

    def small(self, name: str) -> bool:
        """Read into memory rather than mapped: below MAP_MIN_BYTES."""
        return (self.dir / name).stat().st_size < MAP_MIN_BYTES


def load_snapshot(build_dir: str | Path, model_name: str | None = None, dim: int | None = None,
                  for_reuse: bool = False, served: bool = False) -> Snapshot:
    """Load and check one build folder; a mismatch with the configured model is refused, not searched, and
    a file whose size or checksum is not the manifest's is refused (IndexCorrupt naming it), not parsed or mapped.
    `for_reuse`: also a build of an older readable format, for a build to reuse (no public statistics then).
    `served`: what a server holds, not what a build reads: the articles without their Markdown (body ''; a server
    shows the pages the build rendered and the chunks: 14 MB less at 10,000 articles), and the chunk and title
    vectors held in memory as 16-bit floats (VectorIndex.half_of: 30 MB less at 10,000 articles; a mapped large
    index stays as it is on disk), and BM25 indexes without the rows' word ids (LexicalIndex.load: 34 MB less for
    the two at 10,000 articles)."""
    build_dir = Path(build_dir)
    manifest = read_manifest(build_dir)
    require_servable(manifest, build_dir, model_name, dim, for_reuse)
    files = _Files(build_dir, manifest)
    files.check_sizes()
    try:
        table = orjson.loads(files.read(CHUNKS))
        fields = table["fields"]
        # A build made before the last fields (reply, internal) existed has their defaults.
        if fields != CHUNK_FIELDS[: len(fields)] or len(fields) < CHUNK_REQUIRED:
            raise ValueError(f"chunk fields {fields} are not {CHUNK_FIELDS}")
        once: dict[Any, Any] = {}  # a value that recurs (an article's id and title in each of its chunks) held once
        parsed = orjson.loads(files.read(ARTICLES))
        if served:
            for a in parsed:
                a["body"] = ""
        articles = ArticleTable(parsed)
        del parsed
        chunks = ChunkTable.from_columns(dict(zip(fields, table["columns"])), functools.partial(_once, once))
        del table
        pages = PageTable(orjson.loads(files.read(PAGES)), functools.partial(_once, once))
        listings = _shared(orjson.loads(files.read(LISTINGS)), once)  # article ids, each held once
        del once
        groups, by_category, related = listings["groups"], listings["categories"], listings.get("related", {})
        identifiers = IdentifierIndex.from_dict(orjson.loads(files.read(IDENTIFIERS)))
        glossary = Glossary.from_dict(orjson.loads(files.read(GLOSSARY)))
        words = orjson.loads(files.read(WORDS))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # (a number where a string was)
        raise IndexCorrupt(f"{build_dir}: chunks, articles or pages unreadable ({exc}); {REBUILD_HINT}") from None
    vectors = _read_vectors(build_dir, files, half=served)
    lexical = _read_lexical(build_dir, files, LEXICAL, served)
    counts = manifest.counts
    if not (len(chunks) == vectors.count() == lexical.n_docs == counts.get("chunks")) or len(articles) != counts.get("articles") \
            or set(pages) != set(articles) or identifiers.size != len(chunks):
        raise IndexCorrupt(
            f"{build_dir}: counts disagree (manifest {counts.get('chunks')} chunks, {counts.get('articles')} articles; "
            f"found {len(chunks)} chunks, {vectors.count()} vectors, {lexical.n_docs} BM25 rows, {len(articles)} articles, "
            f"{len(pages)} pages); {REBUILD_HINT}"
        )
    categories = {slug: Category(slug, c["names"], c["order"]) for slug, c in manifest.categories.items()}
    public = _read_public(build_dir, files, chunks, served) if manifest.format_version == FORMAT_VERSION else None
    return Snapshot(build_dir, manifest, articles, chunks, vectors, lexical, categories, pages, groups, by_category,
                    identifiers, glossary, words, _read_titles(build_dir, files, len(articles), vectors.dim, served),
                    public, related)


def _once(once: dict[Any, Any], value: Any) -> Any:
    return once.setdefault(value, value)


def _shared(data: Any, once: dict[Any, Any]) -> Any:
    """Parsed JSON with its strings (keys too) replaced by the equal ones already held."""
    if isinstance(data, str):
        return _once(once, data)
    if isinstance(data, list):
        return [_shared(v, once) for v in data]
    if isinstance(data, dict):
        return {_once(once, k): _shared(v, once) for k, v in data.items()}
    return data


def _read_lexical(build_dir: Path, files: _Files, folder: str, served: bool = False) -> LexicalIndex:
    for name in sorted(n for n in files.listed if n.startswith(folder + "/")):
        files.verify(name)  # read into memory by bm25s and numpy (not mapped): checked first
    try:  # (a rebuild reads the words' counts itself: read_tokens)
        return LexicalIndex.load(build_dir / folder, counts=False, served=served)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise IndexCorrupt(f"{build_dir / folder}: unreadable BM25 index ({exc}); {REBUILD_HINT}") from None


def _read_public(build_dir: Path, files: _Files, chunks: Sequence[Chunk], served: bool = False) -> Statistics | None:
    """The public chunks' statistics (None when every chunk is public: the snapshot's own are those), checked
    to describe exactly the public chunks."""
    public = np.flatnonzero(np.array([a == "public" for a in column(chunks, "audience")], dtype=bool))
    if len(public) == len(chunks):
        return None
    lexical = _read_lexical(build_dir, files, f"{PUBLIC}/{LEXICAL}", served)
    try:
        identifiers = IdentifierIndex.from_dict(orjson.loads(files.read(f"{PUBLIC}/{IDENTIFIERS}")))
        words = orjson.loads(files.read(f"{PUBLIC}/{WORDS}"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"{build_dir / PUBLIC}: public statistics unreadable ({exc}); {REBUILD_HINT}") from None
    ids = lexical.ids if lexical.ids is not None else np.arange(lexical.n_docs)
    if lexical.size != len(chunks) or not np.array_equal(ids, public) or identifiers.size != len(public):
        raise IndexCorrupt(f"{build_dir / PUBLIC}: public statistics of {lexical.n_docs} BM25 rows and {identifiers.size} "
                           f"identifier chunks, but {len(public)} of {len(chunks)} chunks are public; {REBUILD_HINT}")
    return Statistics(lexical, identifiers, words)


def _read_vectors(build_dir: Path, files: _Files, half: bool = False) -> VectorIndex:
    """The vector index: from checked bytes held in memory (`half`: a flat one's vectors as 16-bit floats), or
    (from MAP_MIN_BYTES) checked, then mapped."""
    path = build_dir / VectorIndex.FILE
    try:
        if files.small(VectorIndex.FILE):
            return VectorIndex.from_bytes(files.read(VectorIndex.FILE), path, half)
    except OSError as exc:
        raise IndexCorrupt(f"{path}: unreadable vector index ({exc.strerror}); {REBUILD_HINT}") from None
    files.verify(VectorIndex.FILE)
    return VectorIndex.load(build_dir)


def _read_titles(build_dir: Path, files: _Files, count: int, dim: int, half: bool = False) -> np.ndarray | None:
    """The build's title vectors (in memory, as 16-bit floats if `half`, or memory-mapped from MAP_MIN_BYTES), or
    None for a build made before they existed."""
    path = build_dir / TITLES
    if not path.exists():
        return None
    try:
        if files.small(TITLES):
            titles = np.load(io.BytesIO(files.read(TITLES)))
            if half:
                titles = titles.astype(np.float16)
        else:
            files.verify(TITLES)
            titles = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path}: unreadable title vectors ({exc}); {REBUILD_HINT}") from None
    if titles.shape != (count, dim):
        raise IndexCorrupt(f"{path}: shape {titles.shape}, expected ({count}, {dim}); {REBUILD_HINT}")
    return titles


def load_current(index_dir: str | Path, model_name: str | None = None, dim: int | None = None,
                 served: bool = False) -> Snapshot:
    build = current_build(index_dir)
    if build is None:
        raise IndexNotBuilt(f"no index in {index_dir}; {BUILD_HINT}")
    if not build.is_dir():
        raise IndexCorrupt(f"{current_link(index_dir)} points to {build}, which does not exist; {REBUILD_HINT}")
    return load_snapshot(build, model_name, dim, served=served)
