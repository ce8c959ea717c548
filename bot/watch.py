"""`ethicsbot validate --watch`: validate again each time a trainer saves a file.

watchfiles waits on the kernel's file events (inotify) instead of polling, so a save is
seen within milliseconds; the tree cache means only the saved file is parsed again.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfiles import watch as file_events

_YAML = (".yaml", ".yml")


def watch(paths: Sequence[Path], run: Callable[[], int]) -> int:
    """Run `run` now and after every change to a YAML file under `paths`, until Ctrl-C.

    The exit code is that of the last run, so a script can tell how it ended."""
    code = run()
    targets = [p for p in paths if p.exists()]
    print("watching for changes (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        for changes in file_events(*targets, debounce=50, step=10, raise_interrupt=True):
            if not any(str(name).endswith(_YAML) for _, name in changes):
                continue
            started = time.perf_counter()
            code = run()
            ms = (time.perf_counter() - started) * 1000
            print(f"(validated again in {ms:.0f} ms)", file=sys.stderr, flush=True)
            gc.collect()  # the last run's garbage, collected while the trainer reads
    except KeyboardInterrupt:
        pass
    return code
