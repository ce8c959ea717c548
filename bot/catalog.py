"""The content a running bot serves: trees and policies read from disk, last good version kept.

Reading is all-or-nothing per file: a tree whose new version fails validation keeps serving
its previous good version, and the problems are reported, never raised into a live process.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from bot.core.loader import Checked, Problem, check_all, cross_check, parse_exercise, read_files
from bot.core.model import Dilemma, Exercise
from bot.core.policy import CodeOfConduct, EscalationPolicy, expand_env
from bot.core.yamlsafe import YamlError, line_of, load_yaml
from bot.treecache import TreeCache, check_many

if TYPE_CHECKING:
    from bot.search import SearchIndex

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


def content_root(environ: Mapping[str, str] | None = None) -> Path:
    """ETHICSBOT_CONTENT, else the repository the package was installed from, else cwd."""
    env = os.environ if environ is None else environ
    if env.get("ETHICSBOT_CONTENT"):
        return Path(env["ETHICSBOT_CONTENT"])
    if (REPO_ROOT / "dilemmas").is_dir():
        return REPO_ROOT
    return Path.cwd()


def read_policy(
    path: Path, model: type[BaseModel], environ: Mapping[str, str]
) -> tuple[Any, list[Problem]]:
    """Parse one policy file into `model`; problems carry file and line like tree problems."""
    try:
        data, lines = load_yaml(path.read_bytes())
    except OSError as exc:
        return None, [Problem(str(path), 0, "-", f"cannot read: {exc.strerror}")]
    except YamlError as exc:
        return None, [Problem(str(path), exc.line, "-", exc.message)]
    try:
        return model.model_validate(expand_env(data, environ)), []
    except ValidationError as exc:
        return None, [
            Problem(
                str(path),
                line_of(lines, tuple(e["loc"])),
                ".".join(map(str, e["loc"])) or "-",
                str(e["msg"]).removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]


def tree_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders to their *.yaml trees (exercises live in their own subfolder)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.y*ml") if q.is_file()))
        else:
            out.append(p)
    return out


@dataclass
class Content:
    """An immutable snapshot of what the bot serves; replaced whole on reload."""

    root: Path
    trees: dict[str, Dilemma] = field(default_factory=dict)
    by_file: dict[str, Dilemma] = field(default_factory=dict)
    exercises: dict[str, Exercise] = field(default_factory=dict)
    clauses: CodeOfConduct | None = None
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    problems: list[Problem] = field(default_factory=list)
    search: SearchIndex | None = None  # built by ContentSource at load, or on first use

    def search_index(self) -> SearchIndex:
        """The free-text index of these trees (built here only outside a running bot)."""
        if self.search is None:
            from bot.search import SearchIndex

            self.search = SearchIndex.build(self.trees)
        return self.search

    def clause_ids(self) -> set[str]:
        return set(self.clauses.clauses) if self.clauses else set()


def load_content(
    root: Path, environ: Mapping[str, str] | None = None, previous: Content | None = None
) -> Content:
    """Read policies and trees under root; a broken tree keeps its previous good version."""
    env = os.environ if environ is None else environ
    content = Content(root=root)
    clauses, probs = read_policy(root / "policies" / "code_of_conduct.yaml", CodeOfConduct, env)
    content.problems += probs
    content.clauses = clauses or (previous.clauses if previous else None)
    esc, probs = read_policy(root / "policies" / "escalation.yaml", EscalationPolicy, env)
    content.problems += probs
    content.escalation = esc or (previous.escalation if previous else EscalationPolicy())
    loaded = read_files(tree_files([root / "dilemmas"]))
    problems = check_all(loaded, clauses=content.clause_ids() if content.clauses else None)
    content.problems += problems
    bad_files = {p.file for p in problems}
    for x in loaded:
        if x.tree is not None and x.file not in bad_files:
            content.by_file[x.file] = x.tree
        elif previous is not None and x.file in previous.by_file:
            old = previous.by_file[x.file]
            content.by_file[x.file] = old
            log.warning("%s is broken; still serving %s v%d", x.file, old.id, old.version)
    content.trees = {t.id: t for t in content.by_file.values()}
    content.exercises = load_exercises(root, content.clause_ids() or None, set(content.trees))
    if previous is not None:  # a broken exercise file keeps its last good version
        for ex_id, ex in previous.exercises.items():
            content.exercises.setdefault(ex_id, ex)
    return content


Stamp = tuple[int, int, int]  # mtime_ns, size, inode: a file rewritten changes at least one


class Validation:
    """What `ethicsbot validate` reports for some files or folders, kept between runs.

    `--watch` asks again after every save; each file's own checks (parse, schema, graph)
    are kept here with the file's stamp and content hash, so a run reads again only the
    files whose stamp changed (or that the file watcher named) and parses only those whose
    bytes changed. The cross-file checks (clauses, handoffs, duplicate ids, exercises) and
    the policies are redone on every run: they are cheap and depend on every file."""

    def __init__(
        self,
        paths: list[Path],
        root: Path,
        environ: Mapping[str, str] | None = None,
        *,
        cache: TreeCache | None = None,
        workers: int | None = None,
    ) -> None:
        self.paths = paths
        self.root = root
        self.environ = os.environ if environ is None else environ
        self.cache = cache
        self.workers = workers
        self.parsed = 0  # files parsed (not served from memory or the cache), for tests
        self._kept: dict[Path, tuple[Stamp, bytes, Checked]] = {}

    def _stamp(self, path: Path) -> Stamp | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _checked(self, files: list[Path], changed: set[Path]) -> dict[Path, Checked]:
        out: dict[Path, Checked] = {}
        stale: list[Path] = []
        stamps: dict[Path, Stamp | None] = {}
        for p in files:
            kept = self._kept.get(p)
            stamps[p] = stamp = self._stamp(p)  # before the read: a later write is seen next run
            if kept is not None and stamp == kept[0] and p not in changed:
                out[p] = kept[2]
            else:
                stale.append(p)
        fresh: list[tuple[Path, bytes]] = []
        for p in stale:
            try:
                raw = p.read_bytes()
            except OSError as exc:
                out[p] = Checked(str(p), None, [Problem(str(p), 0, "-", str(exc))], [])
                self._kept.pop(p, None)
                continue
            digest = hashlib.sha256(raw).digest()
            kept = self._kept.get(p)
            if kept is not None and kept[1] == digest:  # touched, not changed
                out[p] = kept[2]
                self._kept[p] = (stamps[p] or kept[0], digest, kept[2])
            else:
                fresh.append((p, raw))
        hits = self.cache.hits if self.cache else 0
        results = check_many(
            [(str(p), raw) for p, raw in fresh], cache=self.cache, workers=self.workers
        )
        self.parsed += len(fresh) - ((self.cache.hits - hits) if self.cache else 0)
        for (p, raw), c in zip(fresh, results, strict=True):
            out[p] = c
            stamp = stamps[p]
            if stamp is not None:
                self._kept[p] = (stamp, hashlib.sha256(raw).digest(), c)
        for gone in set(self._kept) - set(files):
            del self._kept[gone]
        return out

    def run(self, changed: Iterable[Path] = ()) -> list[Problem]:
        """Every problem, sorted as `ethicsbot validate` prints them. `changed` names files
        known to have changed (from the file watcher), read again whatever their stamp."""
        env = self.environ
        root = self.root
        problems: list[Problem] = []
        policies = root / "policies"
        clauses, probs = read_policy(policies / "code_of_conduct.yaml", CodeOfConduct, env)
        problems += probs
        _, probs = read_policy(policies / "escalation.yaml", EscalationPolicy, env)
        problems += probs
        ids = set(clauses.clauses) if clauses else None
        # Each file is checked once, even when the files asked about are the shipped folder
        # itself (the known ids for handoffs come from the same check).
        shipped = tree_files([root / "dilemmas"])
        tree_paths = [p for p in tree_files(self.paths) if p.parent.name != "exercises"]
        every = list(dict.fromkeys([*shipped, *tree_paths]))
        parsed = self._checked(every, {Path(p) for p in changed})
        known = {c.tree_id for p in shipped if (c := parsed[p]).tree_id is not None}
        problems += cross_check([parsed[p] for p in tree_paths], clauses=ids, known_trees=known)
        ex_paths = [p for p in self.paths if p.is_dir() and (p / "exercises").is_dir()]
        ex_files = [
            p
            for p in tree_files([*self.paths, *(p / "exercises" for p in ex_paths)])
            if p.parent.name == "exercises"
        ]
        problems += check_exercises(sorted(set(ex_files)), clauses=ids, trees=known)
        return problems


def validate(
    paths: list[Path],
    root: Path,
    environ: Mapping[str, str] | None = None,
    *,
    cache: TreeCache | None = None,
    workers: int | None = None,
) -> list[Problem]:
    """Everything `ethicsbot validate` reports for the given files or folders (`cache` and
    `workers` only change how fast: see bot/treecache.py)."""
    return Validation(paths, root, environ, cache=cache, workers=workers).run()


def check_exercises(
    files: list[Path], *, clauses: set[str] | None, trees: set[str] | None
) -> list[Problem]:
    """Lint exercise files together (ids must be unique across them)."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            raw = f.read_bytes()
        except OSError as exc:
            problems.append(Problem(str(f), 0, "-", f"cannot read: {exc.strerror}"))
            continue
        x = parse_exercise(str(f), raw, clauses=clauses, trees=trees)
        problems += x.problems
        if x.exercise is not None:
            if x.exercise.id in seen:
                problems.append(
                    Problem(
                        str(f),
                        line_of(x.lines, ("id",)),
                        "-",
                        f"duplicate exercise id '{x.exercise.id}' (also in {seen[x.exercise.id]})",
                    )
                )
            seen[x.exercise.id] = str(f)
    return sorted(problems)


def load_exercises(root: Path, clauses: set[str] | None, trees: set[str]) -> dict[str, Exercise]:
    """Valid exercises under root/dilemmas/exercises (broken ones are left out and logged)."""
    out: dict[str, Exercise] = {}
    folder = root / "dilemmas" / "exercises"
    if not folder.is_dir():
        return out
    for f in tree_files([folder]):
        x = parse_exercise(str(f), f.read_bytes(), clauses=clauses, trees=trees)
        for p in x.problems:
            log.error("exercise problem: %s", p)
        if x.exercise is not None:
            out[x.exercise.id] = x.exercise
    return out
