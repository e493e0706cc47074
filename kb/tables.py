"""A loaded build's articles, chunks, pages and BM25 words as a few columns, not one Python object per article,
chunk, page, word and field.

A server's master loads the build and forks its workers, which share its pages until they write to them. Reading a
Python object writes its reference count, so every chunk a search or a suggestion touched used to copy the page it
sat on (with its neighbours) into the worker: about 20 MB per worker under a load mix at 10,000 articles. Here the
strings are one UTF-8 buffer with offsets, recurring values (article, title, locale, category, audience) codes into
lists of those values, and an Article, a Chunk or a Page is made when one is read: the buffer is read, never
written. A vocabulary (WordTable) is its words sorted in such a buffer, found by binary search."""
from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import orjson

from .articles import Article
from .chunking import Chunk

# Chunk fields held as codes into their distinct values (shared with the articles' own strings), and those held in
# the buffer: one string per chunk (the tuples as JSON arrays). A reply that is the text itself is not held twice.
CODED = ("article_id", "title", "locale", "category", "audience")
BUFFERED = ("id", "heading_path", "anchor", "text", "reply", "internal", "index_text", "tags")
_TUPLES = ("heading_path", "tags")


def _pack(parts: Sequence[bytes]) -> tuple[bytes, np.ndarray]:
    """Byte strings as one buffer and each one's end in it (part i is buffer[ends[i - 1]:ends[i]])."""
    return b"".join(parts), np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Page:
    """An article's page as the build rendered it."""

    html: str  # sanitized article HTML
    toc: tuple[tuple[str, str], ...]  # (anchor, heading) of each top-level section, in reading order

    def to_dict(self) -> dict[str, Any]:
        return {"html": self.html, "toc": [list(t) for t in self.toc]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Page":
        return cls(d["html"], tuple((a, h) for a, h in d["toc"]))


class PageTable(Mapping[str, Page]):
    """The pages of one loaded build, by article id: their HTML and tables of contents in one buffer."""

    def __init__(self, pages: dict[str, dict[str, Any]], share=lambda value: value):
        """`pages`: pages.json as parsed (article id → {"html", "toc"}); `share` as ChunkTable.from_columns'."""
        self._row = {share(aid): i for i, aid in enumerate(pages)}
        parts: list[bytes] = []
        for page in pages.values():
            parts += (page["html"].encode(), orjson.dumps([[a, h] for a, h in page["toc"]]))
        self._buffer, self._ends = _pack(parts)

    def __getitem__(self, article_id: str) -> Page:
        at = 2 * self._row[article_id]
        start = self._ends[at - 1] if at else 0
        html, toc = self._buffer[start:self._ends[at]], self._buffer[self._ends[at]:self._ends[at + 1]]
        return Page(html.decode(), tuple((a, h) for a, h in orjson.loads(toc)))

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


class ChunkTable(Sequence[Chunk]):
    """The chunks of one loaded build, by chunk id; read-only, shared across threads."""

    def __init__(self, codes: dict[str, np.ndarray], values: dict[str, list], ordinals: np.ndarray, buffer: bytes,
                 ends: np.ndarray, reply_is_text: np.ndarray):
        self._codes, self._values, self._ordinals, self._reply_is_text = codes, values, ordinals, reply_is_text
        self._buffer, self._ends = buffer, ends  # row i, field f: buffer[ends[i * F + f - 1]:ends[i * F + f]]
        self._n = len(ordinals)

    @classmethod
    def from_columns(cls, columns: dict[str, list], share=lambda value: value) -> "ChunkTable":
        """The table of chunks.json's columns (a field missing from an older build: its default). `share(value)`
        gives the one object kept for an equal value (kb.store shares the articles' ids and titles with them)."""
        n = len(columns["id"])
        codes, values = {}, {}
        for name in CODED:
            index: dict = {}
            codes[name] = np.fromiter((index.setdefault(share(v), len(index)) for v in columns[name]), np.int32, n)
            values[name] = list(index)
        text = columns["text"]
        reply = columns.get("reply") or [""] * n
        empty = [""] * n
        same = np.fromiter(map(str.__eq__, reply, text), bool, n)
        parts: list[bytes] = []
        for row in zip(columns["id"], columns["heading_path"], columns["anchor"], text, reply, same,
                       columns.get("internal") or empty, columns.get("index_text") or empty, columns["tags"]):
            cid, path, anchor, body, answer, is_text, internal, index_text, tags = row
            parts += (cid.encode(), orjson.dumps(list(path)), anchor.encode(), body.encode(),
                      b"" if is_text else answer.encode(), internal.encode(), index_text.encode(), orjson.dumps(list(tags)))
        buffer, ends = _pack(parts)
        return cls(codes, values, np.asarray(columns["ordinal"], dtype=np.int32), buffer, ends, same)

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> "ChunkTable":
        """The table of these chunks."""
        return cls.from_columns({name: [getattr(c, name) for c in chunks] for name in (*CODED, *BUFFERED, "ordinal")})

    def __len__(self) -> int:
        return self._n

    def _field(self, row: int, f: int) -> bytes:
        at = row * len(BUFFERED) + f
        return self._buffer[self._ends[at - 1] if at else 0:self._ends[at]]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = operator.index(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"chunk {i} of {self._n}")
        cid, path, anchor, text, reply, internal, index_text, tags = (self._field(i, f) for f in range(len(BUFFERED)))
        text = text.decode()
        coded = [self._values[name][self._codes[name][i]] for name in CODED]
        return Chunk(cid.decode(), coded[0], int(self._ordinals[i]), coded[1], tuple(orjson.loads(path)), anchor.decode(),
                     text, *coded[2:], tuple(orjson.loads(tags)), text if self._reply_is_text[i] else reply.decode(),
                     internal.decode(), index_text.decode())

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(self._n))

    def __eq__(self, other: object) -> bool:
        """The same chunks in the same order (as another table, or as a list of them)."""
        if not isinstance(other, (ChunkTable, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def column(self, name: str) -> list:
        """Every chunk's `name` (a field, or `heading`), without making the chunks."""
        if name in CODED:
            values = self._values[name]
            return [values[c] for c in self._codes[name].tolist()]
        if name == "ordinal":
            return self._ordinals.tolist()
        if name == "heading":
            return [path[-1] if path else "" for path in self.column("heading_path")]
        f = BUFFERED.index(name)
        raw = (self._field(i, f) for i in range(self._n))
        if name in _TUPLES:
            return [tuple(orjson.loads(b)) for b in raw]
        if name == "reply":
            return [c.reply for c in self]
        return [b.decode() for b in raw]


def column(rows, name: str) -> list:
    """Every chunk's or article's `name` (a field; a chunk's `heading` too), in order: from a ChunkTable's or an
    ArticleTable's columns, or from each Chunk of a list or each Article of a dict."""
    if isinstance(rows, (ChunkTable, ArticleTable)):
        return rows.column(name)
    if isinstance(rows, Mapping):
        rows = rows.values()
    return [getattr(r, name) for r in rows]


class Strings(Sequence[str]):
    """Strings in one UTF-8 buffer with offsets; the i-th is decoded when read (the buffer is never written)."""

    def __init__(self, values: Sequence[str]):
        self._buffer, self._ends_array = _pack([v.encode() for v in values])
        self._ends = memoryview(self._ends_array)

    def __len__(self) -> int:
        return len(self._ends_array)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = operator.index(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"string {i} of {len(self)}")
        return self._buffer[self._ends[i - 1] if i else 0:self._ends[i]].decode()


class WordTable:
    """A vocabulary (word → id): its words sorted, in one UTF-8 buffer with offsets, and each one's id. A look-up
    reads the buffer and writes nothing the master made: a dict's returns an int whose count it writes, which
    copied a page of the dict's ints into a worker for each new word looked up (about 10 MB per worker for the
    public BM25 words at 10,000 articles). Found words are remembered per process, in memory of its own."""

    FILE = "words.npz"

    def __init__(self, buffer: bytes, ends: np.ndarray, ids: np.ndarray):
        if len(ends) != len(ids) or (len(ends) and int(ends[-1]) != len(buffer)):
            raise ValueError(f"a word table of {len(ids)} ids, {len(ends)} offsets and {len(buffer)} bytes")
        self._buffer, self._ends_array, self._ids_array = buffer, np.asarray(ends, np.int64), np.asarray(ids, np.int64)
        self._ends, self._ids = memoryview(self._ends_array), memoryview(self._ids_array)  # indexing makes an int
        self._n = len(ids)
        self.id = functools.lru_cache(maxsize=16384)(self._id)

    @classmethod
    def of(cls, words: Sequence[str], ids: Sequence[int] | None = None) -> "WordTable":
        """The table of `words` with their `ids` (default: each word's place in `words`); sorted here unless
        they come sorted."""
        ids = np.arange(len(words), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if any(a >= b for a, b in zip(words, words[1:])):
            order = sorted(range(len(words)), key=words.__getitem__)
            words, ids = [words[i] for i in order], ids[np.array(order, dtype=np.int64)]
        return cls(*_pack([w.encode() for w in words]), ids)

    @classmethod
    def of_vocabulary(cls, vocab: Mapping[str, int]) -> "WordTable":
        return cls.of(list(vocab), list(vocab.values()))

    def save(self, path) -> None:
        np.savez(path, buffer=np.frombuffer(self._buffer, np.uint8), ends=self._ends_array, ids=self._ids_array)

    @classmethod
    def load(cls, path) -> "WordTable":
        with np.load(path) as f:
            return cls(f["buffer"].tobytes(), f["ends"], f["ids"])

    def __len__(self) -> int:
        return self._n

    def _word(self, at: int) -> bytes:
        return self._buffer[self._ends[at - 1] if at else 0:self._ends[at]]

    def _lower_bound(self, key: bytes) -> int:
        """The first place whose word is not before `key` (UTF-8 sorts as the code points do)."""
        lo, hi = 0, self._n
        while lo < hi:
            mid = (lo + hi) // 2
            if self._word(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def place(self, word: str) -> int:
        """The word's place in sorted order, -1 if the table does not hold it."""
        key = word.encode("utf-8", "surrogatepass")  # (a lone surrogate: bytes no stored word has)
        at = self._lower_bound(key)
        return at if at < self._n and self._word(at) == key else -1

    def _id(self, word: str) -> int:
        at = self.place(word)
        return self._ids[at] if at >= 0 else -1

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.id(word) >= 0

    def ids_of(self, words) -> list[int]:
        """The ids of those of `words` the table holds, in their order (repeats kept)."""
        return [i for i in map(self.id, words) if i >= 0]

    def prefixed(self, prefix: str) -> range:
        """The places of the words that start with `prefix` (the word itself included)."""
        key = prefix.encode("utf-8", "surrogatepass")
        lo = self._lower_bound(key)
        return range(lo, self._lower_bound(key + b"\xff"))  # no UTF-8 byte is 0xff: it follows every continuation

    def word(self, at: int) -> str:
        """The word at a place in sorted order."""
        return self._word(at).decode()

    def ids(self) -> np.ndarray:
        """Each place's id."""
        return self._ids_array

    def by_id(self) -> list[str]:
        """The words as a list indexed by id ('' for an id no word has)."""
        words = [""] * (int(self._ids_array.max()) + 1 if self._n else 0)
        for at, i in enumerate(self._ids_array.tolist()):
            words[i] = self.word(at)
        return words

    def items(self) -> Iterator[tuple[str, int]]:
        """(word, id) in sorted order."""
        return zip(map(self.word, range(self._n)), self._ids_array.tolist())


class ArticleTable(Mapping[str, Article]):
    """The articles of one loaded build, by id, in the build's order: fields that recur (locale, category,
    audience, status, translation group) as codes, the others in one buffer; an Article is made when one is read,
    and an id is found in a WordTable (no dict of ids, whose look-up would write an int's count)."""

    CODED = ("locale", "category", "audience", "status", "translation_group")
    BUFFERED = ("id", "title", "tags", "updated", "body", "path", "fingerprint")

    def __init__(self, articles: Sequence[dict[str, Any]]):
        """`articles`: articles.json as parsed (each as Article.to_dict gives it)."""
        n = len(articles)
        self._values = {}
        codes = np.zeros((n, len(self.CODED)), dtype=np.int32)  # row → each coded field's code
        for f, name in enumerate(self.CODED):
            index: dict = {}
            codes[:, f] = np.fromiter((index.setdefault(a[name], len(index)) for a in articles), np.int32, n)
            self._values[name] = list(index)
        self._codes = codes
        self._coded = [self._values[name] for name in self.CODED]
        parts: list[bytes] = []
        for a in articles:
            parts += (a["id"].encode(), a["title"].encode(), orjson.dumps(list(a["tags"])), orjson.dumps(a["updated"]),
                      a["body"].encode(), a["path"].encode(), a["fingerprint"].encode())
        self._buffer, ends = _pack(parts)
        self._ends = memoryview(ends)
        self._n = n
        ids = [a["id"] for a in articles]
        if len(set(ids)) != n:
            raise ValueError("article ids are not unique")
        self._rows = WordTable.of(ids)  # id → row

    @classmethod
    def of(cls, articles: Sequence[Article]) -> "ArticleTable":
        return cls([a.to_dict() for a in articles])

    def _field(self, row: int, f: int) -> bytes:
        at = row * len(self.BUFFERED) + f
        return self._buffer[self._ends[at - 1] if at else 0:self._ends[at]]

    def _article(self, row: int) -> Article:
        at = row * len(self.BUFFERED)
        ends, buffer = self._ends, self._buffer
        start = ends[at - 1] if at else 0
        fields = []
        for end in ends[at:at + len(self.BUFFERED)]:
            fields.append(buffer[start:end])
            start = end
        aid, title, tags, updated, body, path, fingerprint = fields
        locale, category, audience, status, group = (values[c] for values, c in zip(self._coded, self._codes[row].tolist()))
        return Article(aid.decode(), title.decode(), locale, category, tuple(orjson.loads(tags)), audience, status, group,
                       orjson.loads(updated), body.decode(), path.decode(), fingerprint.decode())

    def __getitem__(self, article_id: str) -> Article:
        row = self._rows.id(article_id) if isinstance(article_id, str) else -1
        if row < 0:
            raise KeyError(article_id)
        return self._article(row)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return (self._field(row, 0).decode() for row in range(self._n))

    def __len__(self) -> int:
        return self._n

    def values(self):  # (Mapping's would find each id again)
        return [self._article(row) for row in range(self._n)]

    def items(self):
        return [(a.id, a) for a in self.values()]

    def column(self, name: str) -> list:
        """Every article's `name` (a field, or `is_public`), in order, without making the articles."""
        if name == "is_public":
            return [audience == "public" and status == "published"  # (Article.is_public)
                    for audience, status in zip(self.column("audience"), self.column("status"))]
        if name in self.CODED:
            values = self._values[name]
            return [values[c] for c in self._codes[:, self.CODED.index(name)].tolist()]
        f = self.BUFFERED.index(name)
        if name == "tags":
            return [tuple(orjson.loads(self._field(row, f))) for row in range(self._n)]
        if name == "updated":
            return [orjson.loads(self._field(row, f)) for row in range(self._n)]
        return [self._field(row, f).decode() for row in range(self._n)]
