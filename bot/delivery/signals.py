"""Wake-ups from services to this process's delivery workers, one per worker."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Signals:
    """Wake-ups, one per worker: services call `notify` after committing outbox rows and
    only the workers of the platforms concerned (all of them when None) wake early. Thread-
    safe; a process with no worker registered simply waits for the polling interval."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakes: dict[str, list[Callable[[], None]]] = {}

    def register(self, platform: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Add a wake-up; returns the function that removes it again."""
        with self._lock:
            self._wakes.setdefault(platform, []).append(wake)

        def unregister() -> None:
            with self._lock:
                if wake in self._wakes.get(platform, []):
                    self._wakes[platform].remove(wake)

        return unregister

    def notify(self, platforms: str | set[str] | None = None) -> None:
        with self._lock:
            if platforms is None:
                wakes = [w for ws in self._wakes.values() for w in ws]
            else:
                wanted = {platforms} if isinstance(platforms, str) else platforms
                wakes = [w for p in wanted for w in self._wakes.get(p, [])]
        for wake in wakes:
            wake()
