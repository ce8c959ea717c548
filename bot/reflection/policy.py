"""policies/reflection.yaml as typed data: when follow-ups go out, and where they never do."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.model import Severity
from bot.core.yamlsafe import YamlError, load_yaml

log = logging.getLogger(__name__)

FILE = Path("policies") / "reflection.yaml"


class ReflectionPolicy(BaseModel):
    """Trainers switch follow-ups off per outcome severity or per tree; `after_days` counts
    from the moment the consultation reached its outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    after_days: int = Field(default=14, ge=1, le=365)
    off_for_severities: list[Severity] = Field(default_factory=list)
    off_for_trees: list[str] = Field(default_factory=list)
    # platforms whose users can be asked (the console demo has nobody to come back to)
    platforms: list[str] = Field(default_factory=lambda: ["slack", "teams"])

    def applies(self, tree_id: str, severity: str) -> bool:
        return (
            self.enabled
            and tree_id not in self.off_for_trees
            and severity not in {s.value for s in self.off_for_severities}
        )


def load_reflection(root: Path) -> ReflectionPolicy:
    path = root / FILE
    if not path.exists():
        return ReflectionPolicy()
    return ReflectionPolicy.model_validate(load_yaml(path.read_bytes())[0])


class PolicyFile:
    """The policy, re-read when the file changes, so a trainer's edit applies without a
    restart. A broken edit keeps the last good policy (and says so in the log)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stamp: tuple[float, int] | None = None
        self._policy = ReflectionPolicy()
        self._lock = threading.Lock()

    def __call__(self) -> ReflectionPolicy:
        path = self.root / FILE
        try:
            st = path.stat()
            stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._policy = load_reflection(self.root)
                except (YamlError, ValidationError, OSError) as exc:
                    # a trainer's typo must not stop follow-ups (or start them where off)
                    log.error(
                        "policies/reflection.yaml not loaded (%s); keeping the last good one",
                        type(exc).__name__,
                    )
            return self._policy
