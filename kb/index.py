"""The vector index: the only module that imports faiss."""
from __future__ import annotations

import logging
import struct
from pathlib import Path

logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it tried, at every start

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from .errors import IndexCorrupt  # noqa: E402


INDEX_TYPES = ("auto", "flat", "hnsw")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# A vector index file at least this large is memory-mapped (server processes share its pages); a smaller one is
# read into memory, where a file changed or truncated on disk after loading cannot reach a mapped read (SIGBUS).
MAP_MIN_BYTES = 64 * 2**20
# A saved IndexFlatIP: this tag, its dimension (int32) and count (int64), ..., and last its vectors, their number
# of floats (uint64) just before them (WRITEXBVECTOR in faiss/impl/index_write.cpp). _flat_header makes all that
# comes before the vectors; reading, stored_vectors checks a file's against it.
_FLAT_IP = b"IxFI"


def _flat_header(dim: int, count: int) -> bytes:
    """What faiss writes of an IndexFlatIP of `count` vectors before the vectors: an empty one's header, with the
    count and the number of floats that follow put in."""
    empty = bytearray(faiss.serialize_index(faiss.IndexFlatIP(dim)))
    struct.pack_into("<q", empty, 8, count)
    struct.pack_into("<Q", empty, len(empty) - 8, dim * count)
    return bytes(empty)


def choose_index_type(index_type: str, count: int, hnsw_min_chunks: int) -> str:
    """'flat' (exact) for small knowledge bases, 'hnsw' (approximate, sub-linear) from `hnsw_min_chunks` chunks."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type: {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
    if index_type == "auto":
        return "hnsw" if count >= hnsw_min_chunks else "flat"
    return index_type


class VectorIndex:
    """Inner-product search over L2-normalised vectors (inner product = cosine similarity).

    Exact (IndexFlatIP) or HNSW over the same flat storage. A large index is loaded memory-mapped, so several
    server processes on one machine share the pages of one index file instead of holding a copy each; a small
    one (below MAP_MIN_BYTES) is read from bytes the caller has checked."""

    FILE = "vectors.faiss"

    def __init__(self, index: "faiss.Index | None", mapped: bool = False, flat: np.ndarray | None = None):
        self._faiss = index
        self._flat = flat  # a new flat index's vectors (its faiss index made from them when first searched)
        self._hnsw = isinstance(index, faiss.IndexHNSW)
        self.mapped = mapped  # True: searches read the file's pages, which must not change while it is loaded

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int, kind: str = "flat") -> "VectorIndex":
        """A new index of `vectors`. A flat one keeps the array as it is: a build that only writes the index never
        copies its vectors into faiss (46 MB at 30,000 chunks); the first search does."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        if kind != "hnsw":
            return cls(None, flat=vectors)
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        if len(vectors):
            index.add(vectors)
        return cls(index)

    @property
    def _index(self) -> "faiss.Index":
        if self._faiss is None:  # (two threads searching at once may both make it: the same index)
            index = faiss.IndexFlatIP(self._flat.shape[1])
            if len(self._flat):
                index.add(self._flat)
            self._faiss = index
        return self._faiss

    @property
    def kind(self) -> str:
        return "hnsw" if self._hnsw else "flat"

    @property
    def dim(self) -> int:
        return int(self._faiss.d if self._flat is None else self._flat.shape[1])

    def count(self) -> int:
        return int(self._faiss.ntotal if self._flat is None else len(self._flat))

    def vectors(self, copy: bool = True) -> np.ndarray:
        """All stored vectors, in id order (used to reuse unchanged articles' embeddings); `copy` False: a new flat
        index's own array, read-only, where it has one."""
        if self._flat is not None:
            if copy:
                return self._flat.copy()
            view = self._flat.view()
            view.flags.writeable = False
            return view
        if self.count() == 0:
            return np.zeros((0, self.dim), np.float32)
        return self._index.reconstruct_n(0, self.count())

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(scores, ids) of the k nearest chunks per query; `allowed` is a boolean mask over ids (None = all).

        FAISS pads with id -1 when fewer than k match; those are dropped here (per query, as lists)."""
        k = max(1, min(k, self.count()))
        selector = None
        if allowed is not None and not allowed.all():
            # A bitmap selector costs one bit test per vector (a hash-set selector is far slower on large sets).
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if self._hnsw:
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, k))
            if selector is not None:
                params.sel = selector
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        keep = ids >= 0
        return [s[m] for s, m in zip(scores, keep)], [i[m] for i, m in zip(ids, keep)]

    def save(self, directory: str | Path) -> None:
        # Written by Python, so that a full disk is an OSError (ENOSPC), not a bare RuntimeError.
        with open(Path(directory) / self.FILE, "wb") as f:
            if self._flat is not None:  # faiss's own file of an IndexFlatIP of these vectors, without making one
                f.write(_flat_header(self.dim, self.count()))
                f.write(memoryview(self._flat.reshape(-1)).cast("B"))
                return
            failed: list[OSError] = []

            def write(block: bytes) -> None:  # a megabyte at a time, not a copy of the whole index first
                try:
                    f.write(block)
                except OSError as exc:
                    failed.append(exc)
                    raise

            try:
                faiss.write_index(self._index, faiss.PyCallbackIOWriter(write))
            except RuntimeError:
                if failed:
                    raise failed[0] from None
                raise

    @classmethod
    def load(cls, directory: str | Path) -> "VectorIndex":
        """The index file memory-mapped, read-only (check its size and checksum first: kb.store)."""
        path = Path(directory) / cls.FILE
        try:
            return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY), mapped=True)
        except RuntimeError as exc:  # faiss raises RuntimeError for a missing or truncated file
            raise IndexCorrupt(f"{path}: unreadable vector index ({str(exc).splitlines()[0]})") from None

    @classmethod
    def stored_vectors(cls, data: bytes, path: str | Path) -> np.ndarray:
        """The vectors a saved index holds, in id order (read-only). A flat index's are the end of its file,
        viewed where they are rather than copied twice (into an index, then out of it); any other is loaded."""
        vectors = _flat_vectors(data)
        return vectors if vectors is not None else cls.from_bytes(data, path).vectors()

    @classmethod
    def half_of(cls, vectors: np.ndarray) -> "VectorIndex":
        """An exact index of `vectors` held as 16-bit floats (faiss's fp16 scalar quantizer), what a server
        searches: half the memory of float32 (22 MB instead of 44 at 30,000 chunks of 384 dimensions), scores
        within 1e-4 of the exact ones (near-ties may swap), and no slower (1.8 ms a search of 30,000 vectors on one
        thread, 1.9 ms with a filter, against 2.8 and 5.3 ms). A build keeps float32 vectors: those are what it
        writes and reuses.

        Encoded on one OpenMP thread: gunicorn's master makes this before it forks, and a worker's first parallel
        search would hang on a thread team that the fork did not copy."""
        vectors = vectors.reshape(-1, vectors.shape[-1])
        index = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            for start in range(0, len(vectors), 8192):  # (faiss converts what it is given: a block at a time)
                index.add(np.ascontiguousarray(vectors[start:start + 8192], dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(threads)
        return cls(index)

    @classmethod
    def from_bytes(cls, data: bytes, path: str | Path, half: bool = False) -> "VectorIndex":
        """The index from the file's bytes, held in memory (`path` only names the file in errors); `half`: a flat
        index's vectors as 16-bit floats (half_of)."""
        if half and (vectors := _flat_vectors(data)) is not None:
            return cls.half_of(vectors)
        try:
            return cls(faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path}: unreadable vector index ({str(exc).splitlines()[0]})") from None


def _flat_vectors(data: bytes) -> np.ndarray | None:
    """The vectors of a saved IndexFlatIP, viewed in its bytes (read-only); None for any other index."""
    if data[:4] == _FLAT_IP and len(data) >= 16:
        dim, count = struct.unpack_from("<iq", data, 4)
        start = len(data) - dim * count * 4
        if dim > 0 and count >= 0 and start > 0 and data[:start] == _flat_header(dim, count):
            return np.frombuffer(data, np.float32, dim * count, start).reshape(count, dim)
    return None


def set_threads(threads: int) -> None:
    """FAISS's OpenMP threads for this process (KB_THREADS; 0 leaves FAISS's default, one per core)."""
    if threads > 0:
        faiss.omp_set_num_threads(threads)
