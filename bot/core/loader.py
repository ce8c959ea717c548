"""YAML files -> validated dilemma trees, and the graph lint trainers run before publishing.

Every problem is a `Problem(file, line, node, message)` printed as `file:line: node: message`,
so an editor can jump to it. Loading never raises for bad content: it returns the problems.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from bot.core.method import STEPS, Step
from bot.core.model import Dilemma, Escalation, Exercise, Severity
from bot.core.yamlsafe import Path, YamlError, line_of, load_yaml


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    node: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.node}: {self.message}"


@dataclass
class Loaded:
    """One file's result: the tree when it is valid, else the problems."""

    file: str
    tree: Dilemma | None = None
    problems: list[Problem] = field(default_factory=list)
    lines: dict[Path, int] | None = None
    raw: bytes = b""

    def line(self, path: Path) -> int:
        """The line of `path`; positions are parsed only when a problem needs them."""
        if self.lines is None:
            self.lines = load_yaml(self.raw)[1]
        return line_of(self.lines, path)


def _friendly(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc[2:] if loc[:1] == ["nodes"] else loc)
    if err["type"] == "missing" and loc and loc[-1] in ("en", "zh"):
        return f"{where}: the '{loc[-1]}' text is missing (every text needs en and zh)"
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field (check the spelling against dilemmas/README.md)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _node_of(loc: tuple[Any, ...]) -> str:
    return str(loc[1]) if len(loc) > 1 and loc[0] == "nodes" else "-"


_UNPARSED: Any = object()


def parse_tree(file: str, raw: bytes, *, data: Any = _UNPARSED) -> Loaded:
    """Parse and schema-check one tree file (graph checks come from `lint`). `data` is the
    file's YAML already parsed by `load_yaml` (bot/treecache.py keeps it by content hash),
    so the schema check still runs on every call while the parse does not."""
    result = Loaded(file=file, raw=raw)
    if data is _UNPARSED:
        try:
            data, _ = load_yaml(raw, with_lines=False)
        except YamlError as exc:
            result.problems.append(Problem(file, exc.line, exc.node, exc.message))
            return result
    if not isinstance(data, dict):
        result.problems.append(Problem(file, 1, "-", "a tree file must be a mapping"))
        return result
    try:
        result.tree = Dilemma.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            result.problems.append(
                Problem(file, result.line(loc), _node_of(loc), _friendly(dict(err)))
            )
    return result


def _reachable(tree: Dilemma) -> set[str]:
    seen: set[str] = set()
    todo = [tree.start]
    while todo:
        nid = todo.pop()
        if nid in seen or nid not in tree.nodes:
            continue
        seen.add(nid)
        todo.extend(tree.nodes[nid].successors())
    return seen


def _cycles(tree: Dilemma) -> list[tuple[str, str]]:
    """Back edges (u -> v) found by an iterative depth-first search."""
    colour: dict[str, int] = {}
    back: list[tuple[str, str]] = []
    for root in [tree.start, *tree.nodes]:
        if root in colour or root not in tree.nodes:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(tree.nodes[root].successors()))]
        colour[root] = 1
        while stack:
            nid, succ = stack[-1]
            nxt = next(iter(succ), None)
            if nxt is None:
                colour[nid] = 2
                stack.pop()
                continue
            if nxt not in tree.nodes:
                continue
            if colour.get(nxt) == 1:
                back.append((nid, nxt))
            elif nxt not in colour:
                colour[nxt] = 1
                stack.append((nxt, iter(tree.nodes[nxt].successors())))
    return back


Ref = tuple[str, str, Path, str]
"""What a tree points to outside itself: (kind "clause" or "tree", node, path, target id)."""

_UNKNOWN_CLAUSE = "unknown clause id '{}' (not in policies/code_of_conduct.yaml)"


@dataclass
class Checked:
    """One file after every check that needs only that file: its own problems, its tree id
    when the tree is valid, and the clause and tree ids it cites. That is all the cross-file
    checks need, and it is small plain data, so it can be cached by content hash and sent
    back from a worker process instead of the tree itself (bot/treecache.py)."""

    file: str
    tree_id: str | None
    problems: list[Problem]
    refs: list[Ref]
    raw: bytes = b""
    lines: dict[Path, int] | None = None

    def line(self, path: Path) -> int:
        """The line of `path`, parsed from the bytes only when a cross-file problem needs it."""
        if self.lines is None:
            try:
                self.lines = load_yaml(self.raw)[1]
            except YamlError:
                self.lines = {}
        return line_of(self.lines, path)

    def plain(self) -> tuple[Any, ...]:
        """The content-determined part, without the file name (same bytes, same result)."""
        return (
            self.tree_id,
            [(p.line, p.node, p.message) for p in self.problems],
            self.refs,
        )

    @classmethod
    def from_plain(cls, file: str, raw: bytes, plain: Any) -> Checked:
        tree_id, problems, refs = plain
        if tree_id is not None and not isinstance(tree_id, str):
            raise TypeError("tree id")
        return cls(
            file=file,
            tree_id=tree_id,
            problems=[
                Problem(file, int(line), str(node), str(msg)) for line, node, msg in problems
            ],
            refs=[(str(k), str(n), tuple(path), str(t)) for k, n, path, t in refs],
            raw=raw,
        )


def check_one(loaded: Loaded) -> Checked:
    """The checks of DESIGN.md section 4 that need this file alone (schema problems when the
    tree is not valid), plus what it refers to, for `cross_check`."""
    tree = loaded.tree
    if tree is None:
        return Checked(loaded.file, None, list(loaded.problems), [], loaded.raw, loaded.lines)
    out: list[Problem] = []
    refs: list[Ref] = []
    f = loaded.file

    def add(node: str, path: Path, message: str) -> None:
        out.append(Problem(f, loaded.line(path), node, message))

    def done() -> Checked:
        return Checked(f, tree.id, sorted(out), refs, loaded.raw, loaded.lines)

    if tree.start not in tree.nodes:
        add("-", ("start",), f"start node '{tree.start}' does not exist")
        return done()
    if tree.nodes[tree.start].step is not Step.identify:
        add(tree.start, ("nodes", tree.start, "step"), "the start node must be in step 'identify'")
    refs.extend(("clause", "-", ("cites",), cid) for cid in tree.cites)

    for nid, node in tree.nodes.items():
        base: Path = ("nodes", nid)
        if node.kind == "dead_end":
            add(nid, base, "dead end: no options, no next and no outcome")
        targets: list[tuple[Path, str]] = []
        if node.options is not None:
            targets = [((*base, "options", i, "next"), o.next) for i, o in enumerate(node.options)]
        elif node.next is not None:
            targets = [((*base, "next"), node.next)]
        for path, target in targets:
            if target not in tree.nodes:
                add(nid, path, f"'next' points to unknown node '{target}'")
                continue
            a, b = STEPS.index(node.step), STEPS.index(tree.nodes[target].step)
            if b < a:
                add(
                    nid,
                    path,
                    f"goes back from step '{node.step.value}' to '{STEPS[b].value}' at '{target}'",
                )
            elif b > a + 1:
                skipped = ", ".join(s.value for s in STEPS[a + 1 : b])
                add(nid, path, f"skips step {skipped} on the way to '{target}'")
        if node.plus is not None and node.step is not Step.evaluate:
            add(nid, (*base, "plus"), "a PLUS weighing belongs to step 'evaluate'")
        oc = node.outcome
        if oc is None:
            continue
        if oc.severity.rank >= Severity.high.rank and oc.escalation is Escalation.none:
            add(
                nid,
                (*base, "outcome", "escalation"),
                f"severity {oc.severity.value} must offer or require escalation",
            )
        if not oc.cites:
            add(nid, (*base, "outcome", "cites"), "an outcome must cite at least one clause")
        refs.extend(
            ("clause", nid, (*base, "outcome", "cites", i), cid) for i, cid in enumerate(oc.cites)
        )
        if oc.handoff is not None:
            refs.append(("tree", nid, (*base, "outcome", "handoff"), oc.handoff))

    reachable = _reachable(tree)
    for nid in tree.nodes:
        if nid not in reachable:
            add(nid, ("nodes", nid), f"unreachable from start node '{tree.start}'")
    for u, v in _cycles(tree):
        add(u, ("nodes", u), f"cycle: '{u}' leads back to '{v}'")
    if not any(p.message.startswith("cycle") for p in out):
        out.extend(_unweighed(tree, loaded))
    return done()


def _ref_problems(
    checked: Checked, clauses: set[str] | None, trees: set[str] | None
) -> list[Problem]:
    """Clause ids and handoffs of one file that the given sets do not know."""
    out: list[Problem] = []
    for kind, node, path, target in checked.refs:
        if kind == "clause":
            if clauses is not None and target not in clauses:
                out.append(
                    Problem(checked.file, checked.line(path), node, _UNKNOWN_CLAUSE.format(target))
                )
        elif trees is not None and target not in trees:
            message = f"handoff to unknown tree '{target}'"
            out.append(Problem(checked.file, checked.line(path), node, message))
    return out


def lint(
    loaded: Loaded, *, clauses: set[str] | None = None, trees: set[str] | None = None
) -> list[Problem]:
    """Graph and reference checks of DESIGN.md section 4 on a schema-valid tree."""
    if loaded.tree is None:
        return loaded.problems
    checked = check_one(loaded)
    return sorted(checked.problems + _ref_problems(checked, clauses, trees))


def _unweighed(tree: Dilemma, loaded: Loaded) -> list[Problem]:
    """Outcomes reachable on a path that never weighs the options with PLUS in step 3."""
    seen: set[str] = set()
    todo = [tree.start]
    bad: list[Problem] = []
    while todo:
        nid = todo.pop()
        if nid in seen or nid not in tree.nodes:
            continue
        seen.add(nid)
        node = tree.nodes[nid]
        if node.plus is not None:
            continue
        if node.outcome is not None:
            bad.append(
                Problem(
                    loaded.file,
                    loaded.line(("nodes", nid)),
                    nid,
                    "reachable on a path with no PLUS weighing in step 'evaluate'",
                )
            )
        todo.extend(node.successors())
    return bad


def parse_trees(files: Iterable[tuple[str, bytes]]) -> list[Loaded]:
    """Parse many tree files. The cyclic garbage collector is paused meanwhile: parsed trees
    are acyclic, yet with a thousand of them alive it kept rescanning them and took ~45% of
    a large validation run."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return [parse_tree(name, raw) for name, raw in files]
    finally:
        if paused:
            gc.enable()


def read_files(paths: Iterable[FsPath]) -> list[Loaded]:
    """Parse each tree file; reading errors become problems, never exceptions."""
    unreadable: list[Loaded] = []
    contents: list[tuple[str, bytes]] = []
    for p in paths:
        try:
            contents.append((str(p), p.read_bytes()))
        except OSError as exc:
            unreadable.append(Loaded(file=str(p), problems=[Problem(str(p), 0, "-", str(exc))]))
    return unreadable + parse_trees(contents)


def check_all(
    loaded: list[Loaded], *, clauses: set[str] | None, known_trees: set[str] | None = None
) -> list[Problem]:
    """Lint a set of files together: adds duplicate tree ids and cross-tree handoffs. The
    cyclic collector is paused as in `parse_trees`: linting a thousand trees allocates
    enough to trigger it over and over, and each pass rescans every live parsed tree (an
    in-process content reload went from 0.78 to 2.66 s without the pause)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        checked = [check_one(x) for x in loaded]
        return cross_check(checked, clauses=clauses, known_trees=known_trees)
    finally:
        if paused:
            gc.enable()


def cross_check(
    checked: list[Checked], *, clauses: set[str] | None, known_trees: set[str] | None = None
) -> list[Problem]:
    """Every file's own problems plus what needs them all: clause ids, handoffs between
    trees and duplicate tree ids. Cheap (no parsing), so it runs over every file each time
    even when only one file changed."""
    problems: list[Problem] = []
    ids: dict[str, str] = {}
    trees = set(known_trees or ()) | {c.tree_id for c in checked if c.tree_id is not None}
    for c in checked:
        problems.extend(c.problems)
        if c.refs:
            problems.extend(_ref_problems(c, clauses, trees))
        if c.tree_id is not None:
            if c.tree_id in ids:
                problems.append(
                    Problem(
                        c.file,
                        c.line(("id",)),
                        "-",
                        f"duplicate tree id '{c.tree_id}' (also in {ids[c.tree_id]})",
                    )
                )
            else:
                ids[c.tree_id] = c.file
    return sorted(problems)


@dataclass
class LoadedExercise:
    file: str
    exercise: Exercise | None = None
    problems: list[Problem] = field(default_factory=list)
    lines: dict[Path, int] = field(default_factory=dict)


def parse_exercise(
    file: str, raw: bytes, *, clauses: set[str] | None, trees: set[str] | None
) -> LoadedExercise:
    """Parse, schema-check and cross-check one weekly exercise file."""
    result = LoadedExercise(file=file)
    try:
        data, lines = load_yaml(raw)
    except YamlError as exc:
        result.problems.append(Problem(file, exc.line, exc.node, exc.message))
        return result
    result.lines = lines
    if not isinstance(data, dict):
        result.problems.append(Problem(file, 1, "-", "an exercise file must be a mapping"))
        return result
    try:
        ex = Exercise.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(map(str, loc))
            msg = str(err["msg"]).removeprefix("Value error, ")
            result.problems.append(
                Problem(file, line_of(lines, loc), "-", f"{where}: {msg}" if where else msg)
            )
        return result
    for i, opt in enumerate(ex.options):
        if not opt.cites:
            result.problems.append(
                Problem(
                    file,
                    line_of(lines, ("options", i)),
                    opt.id,
                    "every option's explanation must cite a clause",
                )
            )
        for j, cid in enumerate(opt.cites):
            if clauses is not None and cid not in clauses:
                result.problems.append(
                    Problem(
                        file,
                        line_of(lines, ("options", i, "cites", j)),
                        opt.id,
                        f"unknown clause id '{cid}' (not in policies/code_of_conduct.yaml)",
                    )
                )
    if ex.explore_tree and trees is not None and ex.explore_tree not in trees:
        result.problems.append(
            Problem(
                file,
                line_of(lines, ("explore_tree",)),
                "-",
                f"explore_tree '{ex.explore_tree}' is not a known tree",
            )
        )
    if not result.problems:
        result.exercise = ex
    return result
