"""BM25 over the chunks (bm25s), in the same order as the vector index: the only module that imports bm25s.

Everything here works on words already made by kb.lexical: loading and searching never tokenize stored text.
The index is computed here, vectorised, from each chunk's word counts (TermCounts), in the layout bm25s saves,
loads and searches: a rebuild counts again only the words of the chunks that changed."""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np
import scipy.sparse as sp

from .charsets import HAN
from .tables import WordTable

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

_HAN_CHAR_RE = re.compile(f"[{HAN}]")


def evidence_words(tokens: list[str]) -> set[str]:
    """The distinct tokens that are evidence of a match: words and bigrams, not single Han characters
    (kept in BM25 for recall, but they match almost anything); all tokens if nothing else is left."""
    words = {t for t in tokens if not _HAN_CHAR_RE.fullmatch(t)}
    return words or set(tokens)



SENTINEL = "\u2205"  # the one word of an empty document (bm25s would drop the row)


def take_rows(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSR `ptr` of the rows `rows` (in that order), and the positions of their entries in the old arrays."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out, np.repeat(starts - out[:-1], lengths) + np.arange(out[-1], dtype=np.int64)


@dataclass(frozen=True)
class TermCounts:
    """Each chunk's BM25 words as counts, in CSR: row i holds word ids terms[ptr[i]:ptr[i + 1]] (distinct), each
    counts[...] times; `words` names the ids. What a rebuild keeps of the chunks that did not change."""

    words: list[str]
    ptr: np.ndarray
    terms: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @classmethod
    def from_documents(cls, documents: Sequence[Sequence[str]], base: "TermCounts | None" = None) -> "TermCounts":
        """The counts of `documents`; with `base`, its rows first and then these, over its words and the new ones."""
        words = list(base.words) if base is not None else []
        vocab = {w: i for i, w in enumerate(words)}
        ptr, terms, counts = [0], [], []
        for doc in documents:
            for word, n in Counter(doc).items():
                terms.append(vocab.setdefault(word, len(vocab)))
                counts.append(n)
            ptr.append(len(terms))
        if len(vocab) > len(words):
            words.extend(list(vocab)[len(words):])
        ptr_a, terms_a, counts_a = np.array(ptr, np.int64), np.array(terms, np.int32), np.array(counts, np.int32)
        if base is None:
            return cls(words, ptr_a, terms_a, counts_a)
        return cls(words, np.concatenate([base.ptr, base.ptr[-1] + ptr_a[1:]]), np.concatenate([base.terms, terms_a]),
                   np.concatenate([base.counts, counts_a]))

    def take(self, rows: Sequence[int]) -> "TermCounts":
        """These rows, in this order (over the same words)."""
        ptr, pos = take_rows(self.ptr, np.asarray(rows, dtype=np.int64))
        return TermCounts(self.words, ptr, self.terms[pos], self.counts[pos])

    def row(self, i: int) -> dict[str, int]:
        """Row i's words and how often each occurs."""
        lo, hi = self.ptr[i], self.ptr[i + 1]
        return {self.words[t]: int(n) for t, n in zip(self.terms[lo:hi], self.counts[lo:hi])}


def _bm25_arrays(tc: TermCounts, k1: float, b: float) -> tuple[dict[str, int], dict, np.ndarray, list[str]]:
    """What bm25s.BM25(method="lucene").index() computes of these documents (its vocabulary and scores matrix, an
    empty row holding the sentinel), with numpy and scipy; each row's word ids in that vocabulary; and its words in
    id order (which is word order)."""
    n = len(tc)
    cum = np.zeros(len(tc.counts) + 1, dtype=np.int64)
    np.cumsum(tc.counts, out=cum[1:])
    lengths = cum[tc.ptr[1:]] - cum[tc.ptr[:-1]]
    seen = np.bincount(tc.terms, minlength=len(tc.words)) if len(tc.terms) else np.zeros(len(tc.words), np.int64)
    used = np.flatnonzero(seen)
    empty = lengths == 0 if n else np.ones(1, dtype=bool)  # no documents at all: one of the sentinel
    names = [tc.words[i] for i in used] + ([SENTINEL] if empty.any() else [])
    # The vocabulary in word order: the same ids whatever order the words were met in (a full and an incremental
    # build make the same files).
    order = np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    local = np.zeros(len(tc.words), dtype=np.int32)
    local[used] = rank[: len(used)]
    row_terms = local[tc.terms]
    # the matrix bm25s scores with: each row's words, an empty row's sentinel (tf 1, length 1) in its place
    ptr = tc.ptr if n else np.zeros(2, np.int64)
    lengths = lengths if n else np.zeros(1, np.int64)
    if empty.any():
        ptr2 = ptr + np.concatenate([[0], np.cumsum(empty)])
        nnz = int(ptr2[-1])
        real = np.ones(nnz, dtype=bool)
        real[ptr2[:-1][empty]] = False
        terms = np.empty(nnz, dtype=np.int32)
        terms[real], terms[~real] = row_terms, rank[-1]
        tf = np.ones(nnz, dtype=np.float32)
        tf[real] = tc.counts
    else:  # every row has words (the usual case): the rows' own arrays
        ptr2, terms, tf = ptr, row_terms, tc.counts.astype(np.float32)
    dl = np.where(empty, 1, lengths)
    n_bm25 = len(dl)
    df = np.bincount(terms, minlength=len(names))
    # bm25s's arithmetic, in its order and precision: idf and tf in float32, the length norm in float64
    idf = np.log(1 + (n_bm25 - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = k1 * ((1 - b) + b * dl / dl.mean())
    scores = (idf[terms] * (tf / (np.repeat(norm, np.diff(ptr2)) + tf))).astype(np.float32)
    # CSR by row → CSC by word (scipy's conversion keeps each column's rows ascending, as bm25s sorts them)
    csc = sp.csr_matrix((scores, terms, ptr2), shape=(n_bm25, len(names))).tocsc()
    vocab = {names[i]: int(rank[i]) for i in range(len(names))}
    vocab[""] = len(names)  # bm25s's empty token (create_empty_token)
    matrix = {"data": csc.data.astype(np.float32, copy=False), "indices": csc.indices.astype(np.int32, copy=False),
              "indptr": csc.indptr.astype(np.int64), "num_docs": n_bm25}
    return vocab, matrix, row_terms, [names[i] for i in order.tolist()]


class LexicalIndex:
    """BM25 over the chunks, in the same order as the vector index; or over some of them (the public chunks:
    `ids` maps each row to its chunk id), with idf, vocabulary and best scores of those chunks alone, and
    scores and coverage still by chunk id."""

    FILES = ("params.index.json", "vocab.index.json")

    DOC_TERMS = "doc_terms.npz"

    def __init__(self, retriever: bm25s.BM25, n_docs: int, terms_ptr: np.ndarray | None, terms: np.ndarray | None,
                 ids: np.ndarray | None = None, size: int | None = None, counts: np.ndarray | None = None,
                 words: WordTable | None = None):
        """`words`: the vocabulary (default: the retriever's, which an index loaded by `load` leaves empty)."""
        self._bm25 = retriever
        # word → id: a table, not bm25s's dict (kb.tables.WordTable); bm25s's empty token is no word
        self._words = words if words is not None else WordTable.of_vocabulary(
            {w: i for w, i in retriever.vocab_dict.items() if w})
        self.n_docs = n_docs  # rows
        # Each row's chunk id (None: row i is chunk i), and how many chunks there are (the length of `scores`).
        self.ids = None if ids is None else np.asarray(ids, dtype=np.int64)
        self.size = n_docs if size is None else size
        self._row = None  # chunk id → row, -1 for a chunk this index does not hold
        if self.ids is not None:
            self._row = np.full(self.size, -1, dtype=np.int64)
            self._row[self.ids] = np.arange(len(self.ids))
        # Each row's distinct word ids (CSR: terms[terms_ptr[i]:terms_ptr[i + 1]], sorted), made at build, which
        # the next build reuses (None in a server's index).
        self._terms_ptr, self._terms = terms_ptr, terms
        self._counts = counts  # how often each of those words occurs (None in a build made before they were kept)
        self._best: np.ndarray | None = None  # per word, its highest score in any chunk (computed on first use)

    @classmethod
    def build(cls, documents: list[list[str]], k1: float = 1.2, b: float = 0.75, ids: list[int] | None = None,
              size: int | None = None) -> "LexicalIndex":
        """An index of `documents`; with `ids`, those are the chunks `ids` of `size` chunks."""
        return cls.from_counts(TermCounts.from_documents(documents), k1, b, ids, size)

    @classmethod
    def from_counts(cls, tc: TermCounts, k1: float = 1.2, b: float = 0.75, ids: Sequence[int] | None = None,
                    size: int | None = None) -> "LexicalIndex":
        """The index of the documents whose word counts are `tc`; with `ids`, those are the chunks `ids` of `size`."""
        if ids is not None and len(ids) != len(tc):
            raise ValueError(f"{len(ids)} chunk ids for {len(tc)} documents")
        vocab, matrix, terms, names = _bm25_arrays(tc, k1, b)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        retriever.scores, retriever.vocab_dict = matrix, vocab  # the dict is what bm25s saves
        retriever.unique_token_ids_set, retriever.nonoccurrence_array = set(), None  # (only its own searches read it)
        return cls(retriever, len(tc), tc.ptr, terms, None if ids is None else np.asarray(ids, dtype=np.int64), size,
                   tc.counts, WordTable.of(names))

    def term_counts(self) -> TermCounts | None:
        """Each row's word counts (what the next build reuses), or None for an index saved before they were."""
        if self._counts is None:
            return None
        return TermCounts(self._words.by_id(), self._terms_ptr, self._terms, self._counts)

    def coverage(self, query_tokens: list[str], chunk_id: int) -> float:
        """The share of the query's evidence words that one chunk contains."""
        words = evidence_words(query_tokens)
        if not words:
            return 0.0
        ids = self._words.ids_of(words)
        if not ids:
            return 0.0
        row = chunk_id if self._row is None else int(self._row[chunk_id])
        if row < 0:
            return 0.0
        # each word's column of the BM25 matrix lists the rows that hold it, ascending
        indptr, indices = self._bm25.scores["indptr"], self._bm25.scores["indices"]
        held = 0
        for i in ids:
            rows = indices[indptr[i]:indptr[i + 1]]
            at = int(np.searchsorted(rows, row))
            held += at < len(rows) and int(rows[at]) == row
        return held / len(words)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk, by chunk id (0 where nothing matches, and for chunks it does not hold)."""
        known = self._words.ids_of(query_tokens)
        if not known or self.n_docs == 0:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores_from_ids(known), dtype=np.float32)
        if self.ids is None:
            return scores
        out = np.zeros(self.size, dtype=np.float32)
        out[self.ids] = scores
        return out

    def document_frequencies(self) -> dict[str, int]:
        """Every word of the index and how many of its rows hold it (row_counts)."""
        counts = self.row_counts()
        return {word: int(counts[i]) for word, i in self._words.items() if counts[i] > 0}

    def row_counts(self) -> np.ndarray:
        """How many rows hold each word, by word id: the length of its column of the BM25 matrix (0 for the
        sentinel, which only empty rows hold)."""
        size = int(self._words.ids().max()) + 1 if len(self._words) else 0
        counts = np.zeros(size, np.int64)
        held = np.diff(self._bm25.scores["indptr"])[:size]
        counts[:len(held)] = held
        if size and (sentinel := self._words.id(SENTINEL)) >= 0:
            counts[sentinel] = 0
        return counts

    def words(self) -> WordTable:
        """The index's words (kb.tables.WordTable: sorted, each with its id)."""
        return self._words

    def knows(self, word: str) -> bool:
        """Whether the index has this BM25 word."""
        return word in self._words

    def known_share(self, query_tokens: list[str]) -> float:
        """The share of the query's evidence words that occur anywhere in the knowledge base: a question
        about something the articles never mention (a stock, the weather) has few."""
        words = evidence_words(query_tokens)
        return sum(w in self._words for w in words) / len(words) if words else 0.0

    def attainable(self, query_tokens: list[str]) -> float:
        """The highest BM25 score the query's words could reach: each word's best score in any chunk, summed.
        A top score divided by this is the share of the query that matched, comparable across query lengths."""
        if self._best is None:
            data, ptr = np.asarray(self._bm25.scores["data"]), np.asarray(self._bm25.scores["indptr"])
            best = np.zeros(len(ptr) - 1, dtype=np.float32)
            filled = ptr[1:] > ptr[:-1]
            if filled.any():
                best[filled] = np.maximum.reduceat(data, ptr[:-1][filled])
            self._best = best
        return float(sum(self._best[i] for i in self._words.ids_of(query_tokens) if i < len(self._best)))

    def save(self, directory: str | Path, counts: bool = True) -> None:
        """`counts` False: without the words' counts (the public chunks' index: a rebuild reads every chunk's)."""
        if self._terms is None:
            raise ValueError("a server's BM25 index (LexicalIndex.load(served=True)) holds no rows' word ids: "
                             "it is searched, never saved")
        self._bm25.save(str(directory), show_progress=False)
        self._words.save(Path(directory) / WordTable.FILE)
        rows = {} if self.ids is None else {"ids": self.ids}
        if counts and self._counts is not None:
            rows["counts"] = self._counts
        np.savez(Path(directory) / self.DOC_TERMS, ptr=self._terms_ptr, terms=self._terms, **rows)
        (Path(directory) / "lexical.json").write_text(json.dumps({"n_docs": self.n_docs, "size": self.size}))

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = False, counts: bool = True, served: bool = False) -> "LexicalIndex":
        """`counts` False: without the words' counts, which only a rebuild reads (kb.store.read_tokens reads them
        from the file): 11 MB smaller at 30,000 chunks, and never saved again. `served`: a server's index, without
        the counts nor each row's word ids (coverage and document frequencies read the matrix's columns), and the
        matrix's row numbers in 16 bits when there are at most 65,536 rows: 18 MB less at 30,000 chunks."""
        info = json.loads((Path(directory) / "lexical.json").read_text())
        n_docs, size = info["n_docs"], info.get("size", info["n_docs"])
        with np.load(Path(directory) / cls.DOC_TERMS) as doc_terms:
            ptr = doc_terms["ptr"]
            terms = None if served else doc_terms["terms"]
            ids = doc_terms["ids"] if "ids" in doc_terms.files else None
            counts = doc_terms["counts"] if counts and not served and "counts" in doc_terms.files else None
        if len(ptr) != n_docs + 1:
            raise ValueError(f"{cls.DOC_TERMS} has {len(ptr) - 1} rows for {n_docs} documents")
        if ids is None and size != n_docs:
            raise ValueError(f"{n_docs} rows without chunk ids for {size} chunks")
        if ids is not None and (len(ids) != n_docs or (len(ids) and (ids.min() < 0 or ids.max() >= size))):
            raise ValueError(f"{cls.DOC_TERMS}: {len(ids)} chunk ids for {n_docs} rows of {size} chunks")
        if counts is not None and len(counts) != len(terms):
            raise ValueError(f"{cls.DOC_TERMS} has {len(counts)} counts for {len(terms)} terms")
        table = Path(directory) / WordTable.FILE  # (a build made before it was kept: bm25s's vocabulary file)
        words = WordTable.load(table) if table.is_file() else None
        retriever = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0, load_vocab=words is None)
        if served:
            ptr = None
            matrix = retriever.scores
            if matrix["num_docs"] <= 2**16 and not mmap:
                matrix["indices"] = np.asarray(matrix["indices"]).astype(np.uint16)
        return cls(retriever, n_docs, ptr, terms, ids, size, counts, words)
