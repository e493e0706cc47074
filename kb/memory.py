"""How a process holds its memory: the C heap's free pages given back (a server's master before it forks), the
cyclic collector run less often while a build is loaded or made, and a build's use of freed memory."""
from __future__ import annotations

import ctypes
import gc
import threading
from contextlib import contextmanager
from typing import Iterator

# glibc's mallopt parameters (malloc.h), and their defaults
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_DEFAULT_TRIM, _DEFAULT_TOP_PAD = 128 << 10, 128 << 10

_lock = threading.Lock()
_inside = 0  # fewer_collections() entered and not left, in all threads
_threshold = gc.get_threshold()  # the threshold the first of them found


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (another C library has neither)
        return libc
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim): what loading freed would otherwise
    stay resident in a server's master, and each worker's first allocations there would copy those pages."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector every 10,000 allocations rather than 700, while a process makes objects
    that live on: each collection of the older generations scans all of them again. Loading a build of 10,000
    articles (600,000 objects) took 1.5–1.7 s with the default, 1.2 s with this; a rebuild after one edit, 0.6 s
    less of 2.5. Cycles (a build's parsed Markdown and HTML: 400,000 objects in a full build of the shipped
    articles) are still collected. Threads may overlap (a worker loads a new build while it serves): the first
    in sets the threshold, the last out puts back the one it found."""
    global _inside, _threshold
    with _lock:
        if _inside == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(10_000, *_threshold[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_threshold)


@contextmanager
def build_memory(keep: bool = False) -> Iterator[None]:
    """A build's memory policy, while it runs: fewer collections (above), and glibc keeps the memory the build
    frees for its next arrays (up to 1 GiB, and arrays up to 32 MiB from the heap) instead of giving it back at
    once. A build makes a few hundred MB of arrays, one after another; taking each fresh from the system cost
    67,000 page faults and 0.6 s of system time in a rebuild after one edit at 10,000 articles. Afterwards the trim
    threshold and top pad are glibc's defaults again and the free memory is given back; blocks up to 32 MiB stay
    in the heap (where glibc's own sliding threshold goes once such blocks are freed). `keep`: glibc keeps it all for
    the next build too (a process that builds again and again, kb build --watch: its first rebuilds after an edit
    took 1.8–2.0 s at 10,000 articles, then 1.1–1.3 s, with the memory given back after each)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TOP_PAD, 256 << 20)
    try:
        with fewer_collections():
            yield
    finally:
        if libc is not None and not keep:
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
            libc.mallopt(_M_TOP_PAD, _DEFAULT_TOP_PAD)
            libc.malloc_trim(0)
