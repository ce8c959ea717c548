"""Parsed YAML kept by content hash, and parsing spread over the machine's cores.

Validation's cost is PyYAML's parser (about 4 ms of a 50-node tree's 5.5 ms), and no check
may be dropped to save it. So the work changes shape instead: a file whose bytes were parsed
before, by this very loader code, is not parsed again (a trainer who edits one file of a
thousand re-parses one file), and the files that must be parsed are spread over a process
pool. What is kept is the plain data `load_yaml` returned for a file it accepted: the
schema check, the graph lint and the cross-file checks (handoffs, duplicate ids) still run
over every tree every time, so a cached file is held to exactly the same rules. Files that
failed to parse are never cached: their problem is produced afresh, with its line.

The cache is one folder (mode 0700, ours alone: a file others could write there would be
read as our own parse) of `marshal` entries (plain dicts, lists and scalars, read back about
twenty times faster than pickled pydantic models), keyed by the file's bytes and by a hash
of the loader's own source, so an upgrade never serves a parse made by older rules. A cache
that cannot be read or written is simply not used: validation never fails because of it.
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

from bot.core import loader, model, yamlsafe
from bot.core.loader import Loaded, Problem, parse_tree
from bot.core.yamlsafe import YamlError, load_yaml

POOL_THRESHOLD = 64  # below this many files to parse, starting processes costs more than it saves
_CODE_HASH: str | None = None


def default_dir() -> Path:
    """$ETHICSBOT_CACHE_DIR, else the user's cache folder."""
    if os.environ.get("ETHICSBOT_CACHE_DIR"):
        return Path(os.environ["ETHICSBOT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ethicsbot" / "yaml"


def _code_hash() -> str:
    """What a parse depends on besides the bytes: the YAML guard, the loader, the model."""
    global _CODE_HASH
    if _CODE_HASH is None:
        h = hashlib.sha256()
        for mod in (yamlsafe, loader, model):
            h.update(Path(mod.__file__ or "").read_bytes())
        _CODE_HASH = h.hexdigest()[:16]
    return _CODE_HASH


def _private(folder: Path) -> bool:
    """True when `folder` exists (made if needed) and no one but us can write to it."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class TreeCache:
    """The accepted YAML of tree files by content hash, in one private folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_dir()
        self.usable = _private(self.folder)
        self.hits = 0
        self.misses = 0

    def _path(self, raw: bytes) -> Path:
        return self.folder / f"{_code_hash()}-{hashlib.sha256(raw).hexdigest()}.marshal"

    def get(self, raw: bytes) -> tuple[bool, Any]:
        """(True, data) when these bytes were parsed and accepted before, else (False, None)."""
        if not self.usable:
            return False, None
        try:
            return True, marshal.loads(self._path(raw).read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return False, None

    def put(self, raw: bytes, data: Any) -> None:
        if not self.usable:
            return
        try:
            blob = marshal.dumps(data)
        except ValueError:  # a value marshal cannot hold (a YAML timestamp): parse next time
            return
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, self._path(raw))  # readers see a whole entry or none
        except OSError:
            self.usable = False


def _load(raws: Sequence[bytes]) -> list[tuple[bool, Any]]:
    """`load_yaml` for each file: (True, data), or (False, None) where it refused the file
    (the caller parses that one again itself, to report the problem with its line)."""
    out: list[tuple[bool, Any]] = []
    for raw in raws:
        try:
            out.append((True, load_yaml(raw, with_lines=False)[0]))
        except YamlError:
            out.append((False, None))
    return out


def parse_many(
    files: Sequence[tuple[str, bytes]],
    *,
    cache: TreeCache | None = None,
    workers: int | None = None,
) -> list[Loaded]:
    """`parse_tree` for every file, in input order: the YAML from the cache where it has the
    bytes, the rest parsed across `workers` processes (default: every core) when there are
    enough of them to pay for the start."""
    paused = gc.isenabled()
    gc.disable()  # see loader.parse_trees: thousands of live trees, no cycles to find
    try:
        parsed: list[tuple[bool, Any]] = [
            cache.get(raw) if cache else (False, None) for _, raw in files
        ]
        todo = [i for i, (hit, _) in enumerate(parsed) if not hit]
        if cache:
            cache.hits += len(files) - len(todo)
            cache.misses += len(todo)
        raws = [files[i][1] for i in todo]
        n = workers if workers is not None else (os.cpu_count() or 1)
        if n > 1 and len(raws) >= POOL_THRESHOLD:
            size = -(-len(raws) // (n * 4))  # a few chunks per worker evens out uneven files
            chunks = [raws[k : k + size] for k in range(0, len(raws), size)]
            with ProcessPoolExecutor(max_workers=n) as pool:
                fresh = [x for part in pool.map(_load, chunks) for x in part]
        else:
            fresh = _load(raws)
        for i, result in zip(todo, fresh, strict=True):
            parsed[i] = result
            if cache and result[0]:
                cache.put(files[i][1], result[1])
        return [
            parse_tree(name, raw, data=data) if ok else parse_tree(name, raw)
            for (name, raw), (ok, data) in zip(files, parsed, strict=True)
        ]
    finally:
        if paused:
            gc.enable()


def read_many(
    paths: Sequence[Path], *, cache: TreeCache | None = None, workers: int | None = None
) -> list[Loaded]:
    """`loader.read_files` through the cache and the pool: unreadable files first, as there."""
    unreadable: list[Loaded] = []
    contents: list[tuple[str, bytes]] = []
    for p in paths:
        try:
            contents.append((str(p), p.read_bytes()))
        except OSError as exc:
            unreadable.append(Loaded(file=str(p), problems=[Problem(str(p), 0, "-", str(exc))]))
    return unreadable + parse_many(contents, cache=cache, workers=workers)
