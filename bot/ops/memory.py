"""Handing freed heap memory back to the operating system, so a server's resident memory
follows what it holds and not the peaks it once had.

Why: the server frees most of what a request allocates (bodies, JSON views, result rows), from
several threads. glibc's malloc keeps freed chunks in its arenas for reuse and only returns
the top of each heap, so free memory in the middle of an arena stays resident. The 10-minute
soak (bench/bench_soak.py --native) showed exactly that: malloc's bytes in use stayed flat
(48.8 -> 50.3 MiB) while its free-but-kept bytes grew from 4.9 to 41.3 MiB, which was nearly all
of the +24 % RSS. `malloc_trim(0)` gives the free pages of every arena back (madvise), at a
cost of a few milliseconds on another thread, so the timers call it every 30 s (every 60 s
left +9 MiB of free-but-kept memory in the soak).

`tune` sets two glibc malloc parameters once, when a server process starts, because the same
soak showed the trim alone leaves +15 %: at most two malloc arenas (glibc's default is eight per
core, one per thread that meets contention, and a freed chunk stays in the arena of the thread
that made it), and a fixed mmap threshold of 64 KiB (by default glibc raises the threshold to the
size of the largest block freed, up to 32 MiB, so after one large response every later large
buffer lives in the heap and keeps it high). Setting `MALLOC_ARENA_MAX` or
`MALLOC_MMAP_THRESHOLD_` in the environment leaves that parameter to the operator.

Where the C library has no `malloc_trim` (musl, macOS), `release` and `tune` do nothing: those
allocators return memory on their own terms, and nothing here depends on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Mapping
from functools import cache

# glibc's malloc.h parameter numbers for mallopt(3)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# (environment variable glibc reads at start, mallopt parameter, value set)
TUNING = (
    ("MALLOC_ARENA_MAX", M_ARENA_MAX, 2),
    ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, 64 * 1024),
)


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def tune(environ: Mapping[str, str]) -> list[str]:
    """Set the malloc parameters above that the environment leaves unset; call it before the
    process starts threads (arenas are made as threads first allocate). Returns the names of
    the settings applied, for the start-up log."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None or getattr(_libc(), "malloc_trim", None) is None:  # not glibc
        return []
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return [
        f"{name}={value}"
        for name, param, value in TUNING
        if not environ.get(name) and mallopt(param, value) == 1
    ]


def release() -> bool:
    """Return free heap pages to the OS; True if the C library could (and did) give any back."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def settle() -> int:
    """Once the content is loaded, before serving: collect, then move every object alive now
    into the collector's permanent generation; returns how many objects that was.

    Why: the loaded content and the search index (jieba's dictionary alone is one dict of
    several hundred thousand entries) are kept for the life of the process, yet every full
    collection walked them again, ~60 ms on the event loop's thread, the request waiting. And
    CPython starts a full collection only once the objects promoted since the last one reach a
    quarter of those that survived it, so the larger that resident set, the longer cyclic
    garbage from requests sat in memory waiting. Frozen, the resident set costs neither; objects
    that die later are still freed by reference counting as before (only a cycle among them
    would stay, and the content has none: trees are plain values)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
