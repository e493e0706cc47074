"""Embedding caches: an in-memory LRU of query vectors for serving, and a persistent passage cache
keyed by model and text hash (SQLite) so that eval re-runs encode only new text."""
from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np


class CachedEmbedder:
    """Wraps an Embedder; passage vectors are stored by sha1 of the text in one SQLite file per model."""

    def __init__(self, inner, cache_dir: str | Path):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        path = Path(cache_dir) / (re.sub(r"[^A-Za-z0-9._-]+", "_", inner.name) + ".sqlite")
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self.hits = self.misses = 0

    def _cached(self, kind: str, texts: Sequence[str], encode, batch_size: int, progress=None) -> np.ndarray:
        keys = [kind + hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 900):
            part = keys[i:i + 900]
            rows = self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})", part)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in found}.values())
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        step = max(batch_size, 256)
        for i in range(0, len(missing), step):
            idx = missing[i:i + step]
            vecs = encode([texts[j] for j in idx])
            rows = [(keys[j], np.asarray(v, dtype=np.float32).tobytes()) for j, v in zip(idx, vecs)]
            self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)", rows)
            self._db.commit()
            found.update((keys[j], np.asarray(v, dtype=np.float32)) for j, v in zip(idx, vecs))
            if progress:
                progress(min(i + step, len(missing)), len(missing))
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([found[k] for k in keys])

    def close(self) -> None:
        self._db.close()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        # Not cached: query encoding is part of what the harness's queries/s measures.
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32, progress=None) -> np.ndarray:
        return self._cached("p", texts, lambda t: self.inner.encode_passages(t, batch_size), batch_size, progress)


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
