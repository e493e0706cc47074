"""Embedding caches: an in-memory LRU of query vectors for serving, and a persistent passage cache keyed by model
and text hash (SQLite), shared by builds and eval runs, so that each encodes only text it has not seen."""
from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np


class PassageCache:
    """Passage vectors of one model by sha1 of the text, in one SQLite file per model, kept across builds and
    shared with kb eval. Each row remembers when it was last used; `prune` drops the least recently used."""

    def __init__(self, cache_dir: str | Path, model_name: str):
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(cache_dir) / (re.sub(r"[^A-Za-z0-9._-]+", "_", model_name) + ".sqlite")
        # A build and an eval may share the file: SQLite's locking, a wait instead of "database is locked".
        self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(vec)")}
            if "used" not in columns:  # a cache written before rows kept their last use
                self._db.execute("ALTER TABLE vec ADD COLUMN used REAL NOT NULL DEFAULT 0")
        self.hits = self.misses = 0

    @staticmethod
    def key(text: str) -> str:
        return "p" + hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Position in `texts` → cached vector, for the texts the cache knows (marked used now)."""
        keys = [self.key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock, self._db:
            for i in range(0, len(keys), 900):
                part = keys[i:i + 900]
                marks = ",".join("?" * len(part))
                found.update((k, np.frombuffer(v, dtype=np.float32))
                             for k, v in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", part))
                self._db.execute(f"UPDATE vec SET used = ? WHERE key IN ({marks})", [time.time(), *part])
        out = {i: found[k] for i, k in enumerate(keys) if k in found}
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        now = time.time()
        rows = [(self.key(t), np.asarray(v, dtype=np.float32).tobytes(), now) for t, v in zip(texts, vectors)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vec (key, v, used) VALUES (?, ?, ?)", rows)

    def size_bytes(self) -> int:
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0] - self._db.execute("PRAGMA freelist_count").fetchone()[0]
            return int(pages * self._db.execute("PRAGMA page_size").fetchone()[0])

    def prune(self, max_bytes: float) -> int:
        """Drop the least recently used vectors until the file's data fits in `max_bytes`; rows dropped."""
        size = self.size_bytes()
        if size <= max_bytes:
            return 0
        with self._lock:
            count = self._db.execute("SELECT count(*) FROM vec").fetchone()[0]
            drop = count - int(count * max_bytes * 0.9 / size)  # to 90 %: not again at the next build
            with self._db:
                self._db.execute("DELETE FROM vec WHERE key IN (SELECT key FROM vec ORDER BY used LIMIT ?)", (drop,))
            self._db.execute("VACUUM")
        return drop

    def close(self) -> None:
        self._db.close()


def encode_with_cache(cache: PassageCache | None, texts: Sequence[str], encode, batch: int = 32,
                      progress=None, dim: int = 0, before=None) -> np.ndarray:
    """Vectors of `texts`: the cache's where it has them, `encode` (in batches, stored as they come) for the rest.
    `progress(done, total)` counts the texts encoded; `before(missing)` is told how many must be, first."""
    known = cache.get(texts) if cache is not None else {}
    missing = [i for i in range(len(texts)) if i not in known]
    if before is not None:
        before(len(missing))
    for start in range(0, len(missing), batch):
        idx = missing[start:start + batch]
        vecs = encode([texts[j] for j in idx])
        if cache is not None:
            cache.put([texts[j] for j in idx], vecs)
        known.update(zip(idx, np.asarray(vecs, dtype=np.float32)))
        if progress:
            progress(min(start + batch, len(missing)), len(missing))
    if not len(texts):
        return np.zeros((0, dim), np.float32)
    return np.vstack([known[i] for i in range(len(texts))])


class QueryCache:
    """Wraps an Embedder with an LRU of query vectors: repeated searches and the ticket form's keystrokes
    skip the model. Thread-safe; passages pass straight through."""

    def __init__(self, inner, size: int = 2048):
        self.inner, self.name, self.dim, self.size = inner, inner.name, inner.dim, size
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        out: list[np.ndarray | None] = []
        missing = []
        with self._lock:
            for i, text in enumerate(texts):
                vec = self._lru.get(text)
                if vec is not None:
                    self._lru.move_to_end(text)
                    self.hits += 1
                else:
                    missing.append(i)
                out.append(vec)
        if missing:
            vecs = self.inner.encode_queries([texts[i] for i in missing])
            with self._lock:
                self.misses += len(missing)
                for i, vec in zip(missing, vecs):
                    out[i] = vec
                    self._lru[texts[i]] = vec
                while len(self._lru) > self.size:
                    self._lru.popitem(last=False)
        return np.vstack(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.inner.encode_passages(texts, batch_size)
