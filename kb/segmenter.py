"""jieba's word frequencies for a server: one flat, memory-mapped table shared by every server process.

jieba keeps its dictionary (half a million words and their prefixes, with kb's support vocabulary) as a dict of
Python strings: about 70 MB in each process, and 0.7 s to load. A server only segments queries, so it reads
the same words and frequencies from a table file instead (made once per machine by `python -m kb.segmenter`,
which a server runs in a child process when the file is missing): mapped read-only, its pages are shared by all
workers through the page cache, and loading it costs a checksum. A build keeps jieba's own dict (it segments
every chunk, where a dict look-up is faster). The answers are the same: the table is made from that dict.

File layout: 8-byte magic, 8-byte header length, a JSON header (key, total, counts, sha256 of the rest), zero
padding to 8 bytes, then the open-addressing slots (int32), the word offsets (int64), the frequencies (int64) and
the UTF-8 words. A file whose header, size or checksum is not what this process expects is not used.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"KBJIEBA1"
USERDICT = Path(__file__).resolve().parent / "data" / "userdict.txt"


def table_key() -> str:
    """What the table is made from: jieba's version and dictionary, kb's support vocabulary."""
    import jieba

    dictionary = Path(jieba.__file__).resolve().parent / jieba.DEFAULT_DICT_NAME
    stat = dictionary.stat()
    parts = [MAGIC.decode(), jieba.__version__, str(dictionary), str(stat.st_size), str(int(stat.st_mtime)),
             hashlib.sha256(USERDICT.read_bytes()).hexdigest()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def table_path(key: str) -> Path:
    """In the temporary folder (TMPDIR), where jieba keeps its own cache."""
    return Path(tempfile.gettempdir()) / f"kb-jieba-{key[:16]}.bin"


class FrozenFrequencies(Mapping):
    """A read-only word → frequency mapping over the table's arrays (open addressing, linear probing on the
    words' CRC-32, so that the file is the same in every process)."""

    def __init__(self, slots: memoryview, offsets: memoryview, values: memoryview, words: memoryview):
        self._slots, self._offsets, self._values, self._words = slots, offsets, values, words
        self._mask = len(slots) - 1

    def _find(self, word: object) -> int:
        if not isinstance(word, str):
            return -1
        key = word.encode("utf-8")
        slot = zlib.crc32(key) & self._mask
        while True:
            i = self._slots[slot]
            if i < 0 or self._words[self._offsets[i]:self._offsets[i + 1]] == key:
                return i
            slot = (slot + 1) & self._mask

    def __getitem__(self, word: str) -> int:
        i = self._find(word)
        if i < 0:
            raise KeyError(word)
        return self._values[i]

    def __contains__(self, word: object) -> bool:
        return self._find(word) >= 0

    def get(self, word, default=None):
        i = self._find(word)
        return default if i < 0 else self._values[i]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self._values)):
            yield bytes(self._words[self._offsets[i]:self._offsets[i + 1]]).decode("utf-8")


def encode_table(freq: Mapping[str, int], total: int, key: str) -> bytes:
    """The table file's bytes for jieba's FREQ and total."""
    words = [w.encode("utf-8") for w in freq]
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=offsets[1:])
    values = np.fromiter(freq.values(), dtype=np.int64, count=len(words))
    size = 1 << max(4, (2 * len(words)).bit_length())  # at most half full: short probe runs
    hashes = np.fromiter((zlib.crc32(w) for w in words), dtype=np.int64, count=len(words))
    slots = np.full(size, -1, dtype=np.int32)
    pending, step = np.arange(len(words)), 0
    while len(pending):  # each round: per free slot, the first word whose probe reached it takes it
        at = (hashes[pending] + step) & (size - 1)
        free = slots[at] == -1
        _, first = np.unique(at[free], return_index=True)
        placed = pending[free][first]
        slots[at[free][first]] = placed
        pending = np.setdiff1d(pending, placed, assume_unique=True)
        step += 1
    body = slots.tobytes() + offsets.tobytes() + values.tobytes() + b"".join(words)
    header = json.dumps({"key": key, "total": int(total), "words": len(words), "slots": size,
                         "sha256": hashlib.sha256(body).hexdigest()}).encode()
    header += b" " * (-len(header) % 8)
    return MAGIC + len(header).to_bytes(8, "little") + header + body


def write_table(path: Path, data: bytes) -> None:
    """Written aside and renamed: a process that mapped the old file keeps reading the old file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_table(path: Path, key: str) -> tuple[FrozenFrequencies, int] | None:
    """(frequencies, total) from the table file, or None when it is missing or not this key's, whole table."""
    try:
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    view = memoryview(mapped)
    try:
        if view[:8] != MAGIC:
            return None
        length = int.from_bytes(view[8:16], "little")
        header = json.loads(bytes(view[16:16 + length]))
        body = view[16 + length:]
        n, size = header["words"], header["slots"]
        start = 4 * size + 16 * n + 8
        if header["key"] != key or len(body) < start or hashlib.sha256(body).hexdigest() != header["sha256"]:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    # Checked, then read through this one mapping (never the path again): what is read is what was checked.
    slots = body[:4 * size].cast("i")
    offsets = body[4 * size:4 * size + 8 * (n + 1)].cast("q")
    values = body[4 * size + 8 * (n + 1):start].cast("q")
    return FrozenFrequencies(slots, offsets, values, body[start:]), int(header["total"])


def make_table(key: str) -> Path:
    """Load jieba's dictionary with kb's vocabulary (as kb.lexical does) and write its table."""
    from .lexical import _get_jieba

    tokenizer = _get_jieba()
    path = table_path(key)
    write_table(path, encode_table(tokenizer.FREQ, tokenizer.total, key))
    return path


def server_tokenizer():
    """A jieba Tokenizer reading the mapped table (made in a child process when missing, so that this process
    never holds jieba's dict), or None when it cannot be had: the caller loads jieba's own dictionary then."""
    import jieba

    try:
        key = table_key()
        loaded = load_table(table_path(key), key)
        if loaded is None:
            subprocess.run([sys.executable, "-m", "kb.segmenter"], check=True, timeout=300, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(table_path(key).parent)})
            loaded = load_table(table_path(key), key)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("segmenter table unavailable (%s): loading jieba's dictionary", exc)
        return None
    if loaded is None:
        log.warning("segmenter table %s unreadable: loading jieba's dictionary", table_path(key))
        return None
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = loaded
    tokenizer.initialized = True  # the userdict's words are in the table (none has frequency 0: no forced split)
    return tokenizer


if __name__ == "__main__":
    print(make_table(table_key()))
