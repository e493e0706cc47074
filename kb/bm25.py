"""BM25 over the chunks (bm25s), in the same order as the vector index: the only module that imports bm25s.

Everything here works on words already made by kb.lexical: loading and searching never tokenize stored text."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import bm25s
import numpy as np

from .charsets import HAN

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

_HAN_CHAR_RE = re.compile(f"[{HAN}]")


def evidence_words(tokens: list[str]) -> set[str]:
    """The distinct tokens that are evidence of a match: words and bigrams, not single Han characters
    (kept in BM25 for recall, but they match almost anything); all tokens if nothing else is left."""
    words = {t for t in tokens if not _HAN_CHAR_RE.fullmatch(t)}
    return words or set(tokens)



class LexicalIndex:
    """BM25 over the chunks, in the same order as the vector index; or over some of them (the public chunks:
    `ids` maps each row to its chunk id), with idf, vocabulary and best scores of those chunks alone, and
    scores and coverage still by chunk id."""

    FILES = ("params.index.json", "vocab.index.json")

    DOC_TERMS = "doc_terms.npz"

    def __init__(self, retriever: bm25s.BM25, n_docs: int, terms_ptr: np.ndarray, terms: np.ndarray,
                 ids: np.ndarray | None = None, size: int | None = None):
        self._bm25 = retriever
        self._vocab = retriever.vocab_dict
        self.n_docs = n_docs  # rows
        # Each row's chunk id (None: row i is chunk i), and how many chunks there are (the length of `scores`).
        self.ids = None if ids is None else np.asarray(ids, dtype=np.int64)
        self.size = n_docs if size is None else size
        self._row = None  # chunk id → row, -1 for a chunk this index does not hold
        if self.ids is not None:
            self._row = np.full(self.size, -1, dtype=np.int64)
            self._row[self.ids] = np.arange(len(self.ids))
        # Each row's distinct word ids (CSR: terms[terms_ptr[i]:terms_ptr[i + 1]], sorted), made at build,
        # so that serving never tokenizes stored text again.
        self._terms_ptr, self._terms = terms_ptr, terms
        self._best: np.ndarray | None = None  # per word, its highest score in any chunk (computed on first use)

    @classmethod
    def build(cls, documents: list[list[str]], k1: float = 1.2, b: float = 0.75, ids: list[int] | None = None,
              size: int | None = None) -> "LexicalIndex":
        """An index of `documents`; with `ids`, those are the chunks `ids` of `size` chunks."""
        if ids is not None and len(ids) != len(documents):
            raise ValueError(f"{len(ids)} chunk ids for {len(documents)} documents")
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # An empty document would make bm25s drop the row; a sentinel keeps ids aligned with the chunks (and an
        # index of no chunks at all, e.g. the public ones of an internal-only knowledge base, has one to hold).
        retriever.index([d or ["\u2205"] for d in documents] or [["\u2205"]], show_progress=False)
        vocab = retriever.vocab_dict
        rows = [np.unique(np.array([vocab[t] for t in doc if t in vocab], dtype=np.int32)) for doc in documents]
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=ptr[1:])
        terms = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        return cls(retriever, len(documents), ptr, terms.astype(np.int32),
                   None if ids is None else np.asarray(ids, dtype=np.int64), size)

    def coverage(self, query_tokens: list[str], chunk_id: int) -> float:
        """The share of the query's evidence words that one chunk contains."""
        words = evidence_words(query_tokens)
        if not words:
            return 0.0
        ids = [self._vocab[w] for w in words if w in self._vocab]
        if not ids:
            return 0.0
        row = chunk_id if self._row is None else int(self._row[chunk_id])
        if row < 0:
            return 0.0
        row = self._terms[self._terms_ptr[row]:self._terms_ptr[row + 1]]
        return int(np.isin(np.array(ids, dtype=np.int32), row).sum()) / len(words)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk, by chunk id (0 where nothing matches, and for chunks it does not hold)."""
        known = [t for t in query_tokens if t in self._vocab]
        if not known or self.n_docs == 0:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        if self.ids is None:
            return scores
        out = np.zeros(self.size, dtype=np.float32)
        out[self.ids] = scores
        return out

    def document_frequencies(self) -> dict[str, int]:
        """Every word of the index and how many of its rows hold it (from the rows' word ids made at build)."""
        counts = np.bincount(self._terms, minlength=len(self._vocab)) if len(self._terms) else np.zeros(len(self._vocab), np.int64)
        return {word: int(counts[i]) for word, i in self._vocab.items() if counts[i] > 0}

    def knows(self, word: str) -> bool:
        """Whether the index has this BM25 word."""
        return word in self._vocab

    def known_share(self, query_tokens: list[str]) -> float:
        """The share of the query's evidence words that occur anywhere in the knowledge base: a question
        about something the articles never mention (a stock, the weather) has few."""
        words = evidence_words(query_tokens)
        return sum(w in self._vocab for w in words) / len(words) if words else 0.0

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
        ids = [self._vocab[t] for t in query_tokens if t in self._vocab]
        return float(sum(self._best[i] for i in ids if i < len(self._best)))

    def save(self, directory: str | Path) -> None:
        self._bm25.save(str(directory), show_progress=False)
        rows = {} if self.ids is None else {"ids": self.ids}
        np.savez(Path(directory) / self.DOC_TERMS, ptr=self._terms_ptr, terms=self._terms, **rows)
        (Path(directory) / "lexical.json").write_text(json.dumps({"n_docs": self.n_docs, "size": self.size}))

    @classmethod
    def load(cls, directory: str | Path, mmap: bool = False) -> "LexicalIndex":
        info = json.loads((Path(directory) / "lexical.json").read_text())
        n_docs, size = info["n_docs"], info.get("size", info["n_docs"])
        with np.load(Path(directory) / cls.DOC_TERMS) as doc_terms:
            ptr, terms = doc_terms["ptr"], doc_terms["terms"]
            ids = doc_terms["ids"] if "ids" in doc_terms.files else None
        if len(ptr) != n_docs + 1:
            raise ValueError(f"{cls.DOC_TERMS} has {len(ptr) - 1} rows for {n_docs} documents")
        if ids is None and size != n_docs:
            raise ValueError(f"{n_docs} rows without chunk ids for {size} chunks")
        if ids is not None and (len(ids) != n_docs or (len(ids) and (ids.min() < 0 or ids.max() >= size))):
            raise ValueError(f"{cls.DOC_TERMS}: {len(ids)} chunk ids for {n_docs} rows of {size} chunks")
        return cls(bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False, verbosity=0), n_docs, ptr, terms,
                   ids, size)
