"""Handing freed heap memory back to the operating system, so a server's resident memory
follows what it holds and not the peaks it once had.

Why: the server frees most of what a request allocates (bodies, JSON views, result rows), from
several threads. glibc's malloc keeps freed chunks in its arenas for reuse and only returns
the top of each heap, so free memory in the middle of an arena stays resident. The 10-minute
soak (bench/bench_soak.py --native) showed exactly that: malloc's bytes in use stayed flat
(48.8 -> 50.3 MiB) while its free-but-kept bytes grew from 4.9 to 41.3 MiB, which was nearly all
of the +24 % RSS. `malloc_trim(0)` gives the free pages of every arena back (madvise), at a
cost of a few milliseconds on another thread, so the timers call it once a minute.

Where the C library has no `malloc_trim` (musl, macOS), `release` does nothing: those
allocators return memory on their own terms, and nothing here depends on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release() -> bool:
    """Return free heap pages to the OS; True if the C library could (and did) give any back."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
