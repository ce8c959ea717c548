"""`ethicsbot validate --watch`: validate again each time a trainer saves a file.

watchfiles waits on the kernel's file events (inotify) instead of polling, so a save is
seen within milliseconds. The run it calls (bot/catalog.py `Validation`) keeps every file's
own checks in this process, so a save parses the saved file alone and then redoes only the
cheap cross-file checks over all of them: a trainer sees the result before looking up.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfiles import watch as file_events

_YAML = (".yaml", ".yml")


def watch(paths: Sequence[Path], run: Callable[[set[Path]], int]) -> int:
    """Run `run` now and after every change to a YAML file under `paths` (passing the
    files the kernel named), until Ctrl-C. The exit code is that of the last run, so a
    script can tell how it ended."""
    code = run(set())
    _settle()
    targets = [p for p in paths if p.exists()]
    print("watching for changes (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        for changes in file_events(*targets, debounce=50, step=10, raise_interrupt=True):
            names = {Path(name) for _, name in changes if str(name).endswith(_YAML)}
            if not names:
                continue
            started = time.perf_counter()
            code = run(names)
            ms = (time.perf_counter() - started) * 1000
            print(f"(validated again in {ms:.0f} ms)", file=sys.stderr, flush=True)
            _settle()
    except KeyboardInterrupt:
        pass
    return code


def _settle() -> None:
    """Collect the last run's garbage while the trainer reads, then freeze what survives
    (the kept results of a thousand files): later collections need not scan it again."""
    gc.collect()
    gc.freeze()
