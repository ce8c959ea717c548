"""The live content source: current trees and policies, reloaded safely while running.

Tree versions are registered in the database the first time they are served, so a session
pinned to an old version can finish after the file changed, on any instance. A file whose
content changed without a version bump is refused like a broken file: the version already
registered keeps being served.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog import Content, load_content
from bot.core.loader import Problem
from bot.core.model import Dilemma
from bot.storage.db import Database, insert
from bot.storage.tables import TreeVersionRow

log = logging.getLogger(__name__)


def _hash(tree: Dilemma) -> str:
    return hashlib.sha256(tree.model_dump_json().encode()).hexdigest()


class ContentSource:
    """Holds the current `Content`; `maybe_reload` swaps it whole when files changed."""

    def __init__(
        self,
        root: Path,
        db: Database,
        environ: Mapping[str, str],
        check_every: float = 5.0,
    ) -> None:
        self.root = root
        self.db = db
        self.environ = environ
        self.check_every = check_every
        self._lock = threading.Lock()
        self._stamp = self._mtimes()
        self._checked = time.monotonic()
        self._pinned: dict[tuple[str, int], Dilemma] = {}
        self.content = self._register(load_content(root, environ))
        self.content.search_index()  # jieba and the index load now, not on a request

    @property
    def trees(self) -> dict[str, Dilemma]:
        return self.content.trees

    @property
    def problems(self) -> list[Problem]:
        return self.content.problems

    def _mtimes(self) -> tuple[tuple[str, float, int], ...]:
        files = [
            *self.root.glob("dilemmas/*.y*ml"),
            *self.root.glob("dilemmas/exercises/*.y*ml"),
            *self.root.glob("policies/*.y*ml"),
        ]
        out = []
        for f in sorted(files):
            try:
                st = f.stat()
                out.append((str(f), st.st_mtime, st.st_size))
            except OSError:
                continue
        return tuple(out)

    def maybe_reload(self, force: bool = False) -> bool:
        """Reload when a file changed (checked at most every `check_every` seconds)."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_every:
            return False
        with self._lock:
            self._checked = now
            stamp = self._mtimes()
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp
            new = self._register(load_content(self.root, self.environ, previous=self.content))
            for p in new.problems:
                log.error("content problem: %s", p)
            new.search_index()  # the search index is rebuilt with the content it describes
            self.content = new
            return True

    def _register(self, content: Content) -> Content:
        """Record each served tree version; refuse silent edits of a registered version."""
        with self.db.tx() as s:
            stored = {
                (r.tree_id, r.version): r
                for r in s.scalars(
                    select(TreeVersionRow).where(TreeVersionRow.tree_id.in_(list(content.trees)))
                )
            }
            for file, tree in list(content.by_file.items()):
                row = stored.get((tree.id, tree.version))
                digest = _hash(tree)
                if row is None:
                    values = dict(
                        tree_id=tree.id,
                        version=tree.version,
                        content_hash=digest,
                        body=tree.model_dump_json(),
                        created_at=datetime.now(UTC),
                    )
                    s.execute(insert(s)(TreeVersionRow).values(**values).on_conflict_do_nothing())
                elif row.content_hash != digest:
                    content.problems.append(
                        Problem(
                            file,
                            1,
                            "-",
                            f"content changed but version is still {tree.version}: "
                            "bump `version` (keeping the registered content until then)",
                        )
                    )
                    content.by_file[file] = Dilemma.model_validate_json(row.body)
        content.trees = {t.id: t for t in content.by_file.values()}
        return content

    def tree(
        self, tree_id: str, version: int | None = None, *, s: Session | None = None
    ) -> Dilemma | None:
        """The current tree, or a pinned older version from the database.

        A caller already inside a transaction passes it as `s`: on SQLite a second
        transaction from the same thread would wait for the first one's write lock (until the
        busy timeout), which is how a one-transaction click once hung on an edited tree."""
        current = self.content.trees.get(tree_id)
        if version is None or (current is not None and current.version == version):
            return current
        key = (tree_id, version)
        if key not in self._pinned:
            if s is not None:
                row = s.get(TreeVersionRow, key)
            else:
                with self.db.read() as own:
                    row = own.get(TreeVersionRow, key)
            if row is None:
                return None
            self._pinned[key] = Dilemma.model_validate_json(row.body)
        return self._pinned[key]
