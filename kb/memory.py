"""How a process holds its memory: the C heap's free pages given back (a server's master before it forks), and a
build's policy while it runs (the cyclic collector less often, freed memory kept for the build's next arrays)."""
from __future__ import annotations

import ctypes
import gc
from contextlib import contextmanager
from typing import Iterator

# glibc's mallopt parameters (malloc.h), and their defaults
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_DEFAULT_TRIM, _DEFAULT_TOP_PAD = 128 << 10, 128 << 10


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
def build_memory() -> Iterator[None]:
    """A build's memory policy, while it runs:

    - Python's cyclic garbage collector every 10,000 allocations rather than 700. A build holds millions of objects
      to its end (the articles, the live build it reuses), which each collection of the older generations scans
      again: 0.6 s of a 2.5 s rebuild after one edit at 10,000 articles. Cycles (parsed Markdown and HTML: 400,000
      objects in a full build of the shipped articles) are still collected.
    - glibc keeps the memory a build frees for its next arrays (up to 1 GiB, and arrays up to 32 MiB from the heap)
      instead of giving it back at once: each rebuild makes the same few hundred MB of arrays again, and taking
      them fresh from the system cost 67,000 page faults and 0.6 s of system time in that rebuild. Afterwards the
      defaults are back and the free memory is given back."""
    old = gc.get_threshold()
    gc.set_threshold(10_000, *old[1:])
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TOP_PAD, 256 << 20)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        if libc is not None:
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
            libc.mallopt(_M_TOP_PAD, _DEFAULT_TOP_PAD)
            libc.malloc_trim(0)
