"""A long-running server gives freed heap memory back: what the 10-minute soak found growing
(+24 % RSS, all of it memory glibc kept after requests had freed it) is returned by
`bot.ops.memory.release`, which the timers call every 30 s; and a server process keeps
malloc to two arenas and a fixed mmap threshold (`bot.ops.memory.tune`, at start), unless the
operator's environment says otherwise."""

from __future__ import annotations

import ctypes.util
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.harness import slack_env
from tests.serving import Serve

# A thread allocates 96 MiB in 64 KiB blocks (under glibc's mmap threshold, so they come from
# that thread's arena), frees all but every 64th (so the arena's top stays in use and malloc
# cannot shrink it by itself), and the main thread reports resident memory before and after.
CHILD = textwrap.dedent(
    """
    import threading
    from pathlib import Path
    from bot.ops import memory

    def rss_mib():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024

    kept = []
    def churn():
        blocks = [b"x" * (64 * 1024) for _ in range(96 * 16)]
        kept.extend(blocks[63::64])
    t = threading.Thread(target=churn)
    t.start()
    t.join()
    before = rss_mib()
    released = memory.release()
    print(before, rss_mib(), released)
    """
)


GLIBC = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc"
    or ctypes.util.find_library("c") is None,
    reason="malloc_trim and mallopt are glibc's; elsewhere memory does nothing by design",
)  # fmt: skip

# Eight threads allocate at once (glibc gives each new thread an arena of its own, up to its
# limit); then a 1 MiB block is freed, which by default raises the mmap threshold to 1 MiB, and
# 256 KiB blocks are asked for, sixteen more than the heaps' free chunks could hold: those
# sixteen are mmapped (returned whole when freed) only if the threshold stayed at 64 KiB.
ARENAS = textwrap.dedent(
    """
    import ctypes, ctypes.util, os, sys, tempfile, threading
    from bot.ops import memory

    applied = memory.tune(os.environ) if sys.argv[1] == "tune" else []
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    barrier = threading.Barrier(8)
    def work():
        barrier.wait()
        blocks = [libc.malloc(1000) for _ in range(2000)]
        barrier.wait()
        for b in blocks:
            libc.free(b)
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p] * 2
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "info.xml")
        fp = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, fp)
        libc.fclose(fp)
        arenas = open(path).read().count("<heap nr=")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        ).split()]
    libc.mallinfo2.restype = MallInfo2
    libc.free(libc.malloc(1 << 20))
    # free chunks already in the heaps (the threads' freed blocks) may serve a few 256 KiB
    # requests whatever the threshold; ask for sixteen more than they could hold
    info = libc.mallinfo2()
    asked = info.fordblks // (256 * 1024) + 16
    blocks = [libc.malloc(256 * 1024) for _ in range(asked)]
    print(arenas, libc.mallinfo2().hblks - info.hblks, ",".join(applied))
    """
)


def _arenas(mode: str, **env: str) -> tuple[int, int, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", ARENAS, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**environ, **env},
    ).stdout.split()
    return int(out[0]), int(out[1]), out[2] if len(out) > 2 else ""


@GLIBC
def test_memory_tuned_process_keeps_to_two_arenas_and_mmaps_large_blocks() -> None:
    arenas, mmapped, applied = _arenas("tune")
    assert applied == "MALLOC_ARENA_MAX=2,MALLOC_MMAP_THRESHOLD_=65536"
    assert arenas <= 2 and mmapped >= 16
    # the same process untuned: an arena per thread, and every 256 KiB block in the heap
    arenas, mmapped, _ = _arenas("plain")
    assert arenas > 2 and mmapped == 0


@GLIBC
def test_memory_the_operators_malloc_settings_win() -> None:
    arenas, mmapped, applied = _arenas("tune", MALLOC_ARENA_MAX="4")
    assert applied == "MALLOC_MMAP_THRESHOLD_=65536"
    assert arenas == 4 and mmapped >= 16


async def test_memory_serve_says_at_start_how_it_tuned_malloc(
    fake: FakeSlack, tmp_path: Path
) -> None:
    env = slack_env(f"sqlite:///{tmp_path / 'm.db'}", fake.url, ETHICSBOT_LOG_LEVEL="info")
    # whatever the machine's environment says, this server is left to tune malloc itself
    env.update(MALLOC_ARENA_MAX="", MALLOC_MMAP_THRESHOLD_="")
    server = Serve(env, tmp_path / "stderr.log")
    await server.start()
    try:
        said = [line["msg"] for line in server.lines() if line["logger"] == "bot.ops.memory"]
    finally:
        await server.aclose()
    expected = "malloc tuned: MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=65536"
    glibc = platform.libc_ver()[0] == "glibc" and ctypes.util.find_library("c") is not None
    tuned = [m for m in said if m.startswith("malloc tuned")]
    assert tuned == ([expected] if glibc else [])
    # the loaded content was moved out of the collector's way before the first request
    settled = [m for m in said if m.startswith("heap settled")]
    assert len(settled) == 1 and int(settled[0].split()[2]) > 10_000, said


# The content is loaded and settled (frozen), then reloaded: the old content and its search
# index must still be freed, or every trainer's edit would leave a copy in memory for good.
RELOAD = textwrap.dedent(
    """
    import gc, os, sys, weakref
    from bot.bootstrap import bootstrap
    from bot.config import Settings
    from bot.ops import memory

    services = bootstrap(Settings.from_env())
    memory.settle()
    old = services.content.content
    alive = [weakref.ref(old), weakref.ref(old.search)]
    del old
    for _ in range(3):
        assert services.content.maybe_reload(force=True)
    gc.collect()
    print(sum(r() is not None for r in alive))
    """
)


def test_memory_content_reloaded_after_the_heap_settled_is_still_freed(
    fake: FakeSlack, tmp_path: Path
) -> None:
    env = slack_env(f"sqlite:///{tmp_path / 'r.db'}", fake.url)
    out = subprocess.run(
        [sys.executable, "-c", RELOAD],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0"]


@GLIBC
def test_memory_a_burst_freed_is_given_back_to_the_os() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    before, after, released = int(out[0]), int(out[1]), out[2] == "True"
    assert released
    # 94.5 of the 96 MiB were freed; at least 80 of them must leave the process
    assert before - after >= 80, (before, after)
