"""Checked tree files kept by content hash, and the checking spread over the machine's cores.

Validation's cost is PyYAML's parser (about 4 ms of a 50-node tree's 6 ms), and no check
may be dropped to save it. So the work changes shape instead: a file whose bytes were
checked before, by this very loader code and these very library versions, is not parsed
again (a trainer who edits one file of a thousand re-parses one file), and the files that
must be parsed are spread over a process pool. What is kept per file is its `Checked`
summary (bot/core/loader.py): the problems found in that file alone, its tree id and the
clause and tree ids it cites. The cross-file checks (clauses, handoffs, duplicate ids,
exercises) run over every file's summary every time, so a cached file is held to exactly
the same rules; workers send summaries back, not trees, because pickling a thousand trees
back to the parent cost more than parsing them in two processes saved.

The cache is one folder (mode 0700, ours alone: a file others could write there would be
read as our own result) of `marshal` entries, each behind a checksum (a damaged entry is
a miss and is written again), keyed by the file's bytes and by `cache_key()`: a format
number, a hash of the loader's own source, and the PyYAML, libyaml and pydantic versions
whose behaviour and messages the result holds. An upgrade never serves a result made by
older code. Deleting the folder is always safe; a cache that cannot be read or written is
simply not used: validation never fails because of it.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import stat
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
import yaml

from bot.core import loader, method, model, yamlsafe
from bot.core.loader import Checked, check_one, parse_tree

POOL_THRESHOLD = 64  # below this many files to parse, starting processes costs more than it saves
FORMAT = 2  # bump when the entry layout or the meaning of a summary changes
_CODE_HASH: str | None = None
_DIGEST = 16  # bytes of blake2b checksum in front of every entry


def default_dir() -> Path:
    """$ETHICSBOT_CACHE_DIR, else the user's cache folder."""
    if os.environ.get("ETHICSBOT_CACHE_DIR"):
        return Path(os.environ["ETHICSBOT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ethicsbot" / "checked"


def _code_hash() -> str:
    """What a check depends on besides the bytes: the YAML guard, the loader, the model."""
    global _CODE_HASH
    if _CODE_HASH is None:
        h = hashlib.sha256()
        for mod in (yamlsafe, loader, model, method):
            h.update(Path(mod.__file__ or "").read_bytes())
        _CODE_HASH = h.hexdigest()[:16]
    return _CODE_HASH


def cache_key() -> str:
    """Everything besides a file's bytes that its result depends on. Read at each start, so a
    new PyYAML (its parser's limits), libyaml present or not, or a new pydantic (the wording
    of schema problems) starts a fresh set of entries."""
    parts = (
        f"format={FORMAT}",
        f"code={_code_hash()}",
        f"pyyaml={yaml.__version__}",
        f"libyaml={getattr(yaml, '__with_libyaml__', False)}",
        f"pydantic={pydantic.VERSION}",
        f"pydantic-core={pydantic_core.__version__}",
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _private(folder: Path) -> bool:
    """True when `folder` exists (made if needed) and no one but us can write to it."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class TreeCache:
    """Each checked tree file's summary by content hash, in one private folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_dir()
        self.usable = _private(self.folder)
        self.key = cache_key()
        self.hits = 0
        self.misses = 0

    def path(self, raw: bytes) -> Path:
        """Where the entry for these bytes lives (whether or not it exists)."""
        return self.folder / f"{self.key}-{hashlib.sha256(raw).hexdigest()}.marshal"

    def get(self, file: str, raw: bytes) -> Checked | None:
        """The summary of these bytes, named `file`, when an intact entry has it."""
        if not self.usable:
            return None
        path = self.path(raw)
        try:
            blob = path.read_bytes()
            body = blob[_DIGEST:]
            if _digest(path, body) != blob[:_DIGEST]:
                return None  # damaged or misplaced: parse again, write it again
            return Checked.from_plain(file, raw, marshal.loads(body))
        except (OSError, EOFError, ValueError, TypeError, IndexError):
            return None

    def put(self, raw: bytes, checked: Checked) -> None:
        if not self.usable:
            return
        try:
            body = marshal.dumps(checked.plain())
        except ValueError:  # not plain data after all: check it again next time
            return
        path = self.path(raw)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(_digest(path, body) + body)
            os.replace(tmp, path)  # readers see a whole entry or none
        except OSError:
            self.usable = False


def _digest(path: Path, body: bytes) -> bytes:
    """The checksum of an entry, bound to its name: a damaged entry, or one copied over
    another's name, is a miss, never another file's result."""
    return hashlib.blake2b(path.name.encode() + b"\0" + body, digest_size=_DIGEST).digest()


def _check(files: Sequence[tuple[str, bytes]]) -> list[tuple[Any, ...]]:
    """Parse and check each file on its own (in a worker process): plain summaries back."""
    return [check_one(parse_tree(name, raw)).plain() for name, raw in files]


def check_many(
    files: Sequence[tuple[str, bytes]],
    *,
    cache: TreeCache | None = None,
    workers: int | None = None,
) -> list[Checked]:
    """`check_one(parse_tree(...))` for every file, in input order: from the cache where it
    has the bytes, the rest across `workers` processes (default: every core) when there are
    enough of them to pay for the start."""
    paused = gc.isenabled()
    gc.disable()  # see loader.parse_trees: thousands of live objects, no cycles to find
    try:
        out: list[Checked | None] = [cache.get(n, r) if cache else None for n, r in files]
        todo = [i for i, c in enumerate(out) if c is None]
        if cache:
            cache.hits += len(files) - len(todo)
            cache.misses += len(todo)
        pending = [files[i] for i in todo]
        n = workers if workers is not None else (os.cpu_count() or 1)
        if n > 1 and len(pending) >= POOL_THRESHOLD:
            size = -(-len(pending) // (n * 4))  # a few chunks per worker evens out uneven files
            chunks = [pending[k : k + size] for k in range(0, len(pending), size)]
            with ProcessPoolExecutor(max_workers=n) as pool:
                plains = [x for part in pool.map(_check, chunks) for x in part]
            fresh = [
                Checked.from_plain(nm, raw, p) for (nm, raw), p in zip(pending, plains, strict=True)
            ]
        else:
            fresh = [check_one(parse_tree(nm, raw)) for nm, raw in pending]
        for i, checked in zip(todo, fresh, strict=True):
            out[i] = checked
            if cache:
                cache.put(files[i][1], checked)
        return [c for c in out if c is not None]
    finally:
        if paused:
            gc.enable()
