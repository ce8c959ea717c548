"""Hostile-input-proof YAML reading: bounded size and depth, no aliases, no duplicate keys.

`yaml.safe_load` alone loads an alias bomb of a few hundred bytes, silently keeps the last of
two duplicate keys and dies with RecursionError on deep nesting; trainers' files are data
edited by hand, so every one of those is refused here with the line it happened on. Alongside
the data we return the line of every path, so schema errors can name file and line.

Every message is ours, never PyYAML's: its wording and its own limits change between patch
releases (6.0.4's libyaml refuses deep flow nesting inside its scanner, before any event
reaches our depth check). So when the fast libyaml parser refuses a file, the file is walked
again with PyYAML's pure-Python parser, whose event stream meets our checks (depth, aliases,
tags, keys) first, and whatever that parser still refuses is named by our own table below.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

MAX_BYTES: Final = 512 * 1024
MAX_DEPTH: Final = 32
MAX_EVENTS: Final = 200_000

Path = tuple[str | int, ...]


class YamlError(Exception):
    """A file that is not acceptable YAML; line is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str, node: str = "-") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.node = node


_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed
_PURE: Any = yaml.SafeLoader  # no depth limit of its own; an event stream, not recursion
_STR = "tag:yaml.org,2002:str"


class _Frame:
    """An open mapping or sequence while the event stream is walked."""

    __slots__ = ("container", "key", "key_line", "path")

    def __init__(self, container: Any, path: Path) -> None:
        self.container = container
        self.path = path
        self.key: Any = _NO_KEY
        self.key_line = 0


_NO_KEY = object()


# Plain scalars the resolver called strings (keys such as `text`, `next`, `options` and
# words such as `none`, which start like `null`, recur in every file): the resolver's answer
# depends on the value alone, so it is asked once per value. Bounded, short values only.
_STRINGS: dict[str, bool] = {}
_STRINGS_MAX = 4096


def _scalar(
    event: Any, resolver: Any, constructor: Any, memo: dict[str, bool] | None = None
) -> Any:
    """A scalar as safe_load would give it: plain ones resolved (int, bool, null…)."""
    if not event.implicit[0]:  # quoted or block scalar: always a string
        return event.value
    tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag == _STR:
        if memo is not None and len(event.value) <= 40 and len(memo) < _STRINGS_MAX:
            memo[event.value] = True
        return event.value
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
    try:
        return constructor.construct_object(node, deep=True)
    except (ValueError, OverflowError):  # e.g. 2026-02-30 matches the date pattern only
        raise YamlError(
            _line(event),
            f"'{event.value}' looks like a date or number but is not a valid one"
            " (put it in quotes if it is text)",
        ) from None


def _build(text: str, with_lines: bool, parser_class: Any) -> tuple[Any, dict[Path, int]]:
    """One pass over the (C-speed) event stream: depth, aliases, tags and duplicate keys are
    refused as soon as they appear, before anything large or deep is built. Line numbers
    are only collected when asked for (they are needed only to report a problem).

    This loop is most of a cold validation's time (about 2,900 events for a 50-node tree),
    so the common events are handled inline: a plain scalar whose first character starts
    none of the resolver's implicit patterns is a string without asking the resolver (the
    resolver's own rule, read from its table), and a finished value is put in its container
    here rather than through `_place`, which handles keys and line numbers."""
    resolver = yaml.resolver.Resolver()
    constructor = yaml.constructor.SafeConstructor()
    table = resolver.yaml_implicit_resolvers
    memo: dict[str, bool] | None = _STRINGS
    if None in table or resolver.yaml_path_resolvers:  # not the stock resolver: ask it always
        table, memo = _EVERY_CHAR, None
    strings = memo if memo is not None else {}
    lines: dict[Path, int] | None = {} if with_lines else None
    stack: list[_Frame] = []
    root: Any = _NO_KEY
    documents = 0
    count = 0
    scalar_event = yaml.ScalarEvent
    parser = parser_class(text)
    get_event = parser.get_event
    try:
        while True:
            event = get_event()
            count += 1
            if count > MAX_EVENTS:
                raise YamlError(_line(event), f"file too complex (more than {MAX_EVENTS} events)")
            kind = type(event)
            if kind is scalar_event:
                if event.anchor or event.tag not in (None, "!"):
                    _refuse(event)
                value = event.value
                if event.implicit[0] and value[:1] in table and value not in strings:
                    value = _scalar(event, resolver, constructor, memo)
                if not stack:
                    root = value
                    if lines is not None:
                        lines[()] = _line(event)
                    continue
                top = stack[-1]
                container = top.container
                if lines is not None:
                    _place(stack, value, event, lines, None)
                elif type(container) is list:
                    container.append(value)
                elif top.key is not _NO_KEY:
                    container[top.key] = value
                    top.key = _NO_KEY
                elif type(value) is str and value not in container:
                    top.key = value
                else:  # a key that is no string, or a duplicate: _place says which
                    _place(stack, value, event, lines, None)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor or event.tag not in (None, "!"):
                    _refuse(event)
                if len(stack) >= MAX_DEPTH:
                    raise YamlError(_line(event), f"nesting deeper than {MAX_DEPTH} levels")
                if stack and type(stack[-1].container) is dict and stack[-1].key is _NO_KEY:
                    raise YamlError(_line(event), "mapping keys must be plain values")
                path = _child_path(stack) if lines is not None else ()
                if lines is not None:
                    lines[path] = _line(event)
                stack.append(_Frame({} if kind is yaml.MappingStartEvent else [], path))
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()
                if not stack:
                    root = done.container
                    continue
                top = stack[-1]
                if lines is None and type(top.container) is list:
                    top.container.append(done.container)
                elif lines is None and type(top.container) is dict and top.key is not _NO_KEY:
                    top.container[top.key] = done.container
                    top.key = _NO_KEY
                else:
                    _place(stack, done.container, event, lines, done.path)
            elif kind is yaml.AliasEvent:
                _refuse(event)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlError(_line(event), "only one YAML document per file")
            elif kind is yaml.StreamEndEvent:
                break
    finally:
        parser.dispose()
    if root is _NO_KEY:
        raise YamlError(1, "file is empty")
    return root, lines or {}


class _EveryChar:
    """A stand-in table that sends every plain scalar to the resolver."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERY_CHAR: Any = _EveryChar()


def _line(event: Any) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0


def _refuse(event: Any) -> None:
    if isinstance(event, yaml.AliasEvent) or event.anchor:
        raise YamlError(_line(event), "YAML anchors and aliases (&, *) are not allowed")
    raise YamlError(_line(event), f"explicit YAML tags are not allowed ({event.tag})")


def _child_path(stack: list[_Frame]) -> Path:
    if not stack:
        return ()
    top = stack[-1]
    if isinstance(top.container, dict):
        return (*top.path, top.key)
    return (*top.path, len(top.container))


def _place(
    stack: list[_Frame], value: Any, event: Any, lines: dict[Path, int] | None, path: Path | None
) -> None:
    """Put a finished value into the open container on top of the stack."""
    top = stack[-1]
    if type(top.container) is list:
        if lines is not None and path is None:
            lines[(*top.path, len(top.container))] = _line(event)
        top.container.append(value)
        return
    if top.key is _NO_KEY:  # this scalar is a key
        key = value if isinstance(value, (str, int)) and not isinstance(value, bool) else str(value)
        if key in top.container:
            node_id = str(key) if top.path == ("nodes",) else "-"
            what = "node id" if node_id != "-" else "key"
            raise YamlError(_line(event), f"duplicate {what} '{key}'", node_id)
        top.key = key
        if lines is not None:
            top.key_line = _line(event)
        return
    if lines is not None and path is None:
        lines[(*top.path, top.key)] = top.key_line
    top.container[top.key] = value
    top.key = _NO_KEY


def load_yaml(raw: bytes, *, with_lines: bool = True) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document into plain data plus a path -> line map (empty when
    `with_lines` is False: the fast path for files that turn out to be valid).

    Raises YamlError for anything a trainer should fix; never RecursionError or MemoryError.
    """
    if len(raw) > MAX_BYTES:
        raise YamlError(0, f"file is {len(raw)} bytes, larger than the {MAX_BYTES} allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(
            line, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return _build(text, with_lines, _FAST)
    except YamlError:
        if not with_lines:  # a problem: parse again with positions to report it
            return _parse_or_explain(text, _FAST)
        raise
    except yaml.YAMLError:
        # libyaml refused the file, in its words and by its limits: let our checks see the
        # pure parser's events first, and name whatever it refuses in our words.
        return _parse_or_explain(text, _PURE)


def _parse_or_explain(text: str, parser_class: Any) -> tuple[Any, dict[Path, int]]:
    """Parse with line numbers; any PyYAML error becomes a YamlError in our own words."""
    try:
        return _build(text, True, parser_class)
    except yaml.YAMLError as exc:
        if parser_class is _FAST:  # libyaml refused it only now: let the pure parser say
            return _parse_or_explain(text, _PURE)
        raise _explain(exc, text) from None


# What the pure parser was doing or found (its `context` / `problem`), and how we say it.
# Matched by substring, so a rewording upstream costs a hint, never our wording.
_HINTS: Final = (
    ("quoted scalar", "a quoted text is not closed (a missing \" or ')"),
    ("block scalar", "a | or > text block is not indented consistently"),
    ("'\\t'", "a tab character where YAML allows only spaces"),
    ("mapping values are not allowed", "a ':' where YAML does not expect one (quote the text)"),
    ("simple key", "a 'key:' is not finished (a missing ':' or a key longer than one line)"),
    ("flow sequence", "a [ list ] is not closed, or its items are not separated by commas"),
    ("flow mapping", "a { mapping } is not closed, or its entries are not separated by commas"),
    ("block mapping", "a key is indented differently from the keys beside it"),
    ("block collection", "an item is indented differently from the items beside it"),
    ("block sequence", "a '- item' is indented differently from the items beside it"),
    ("tag", "an explicit YAML tag (!...) that cannot be read"),
    ("directive", "a YAML directive (%...) that cannot be read"),
    ("anchor", "YAML anchors and aliases (&, *) are not allowed"),
    ("alias", "YAML anchors and aliases (&, *) are not allowed"),
)


def _explain(exc: yaml.YAMLError, text: str) -> YamlError:
    """A PyYAML error (any version, any class) as our own message with its 1-based line."""
    if isinstance(exc, yaml.reader.ReaderError):
        position = max(0, int(exc.position))
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        line = text[:position].count("\n") + 1
        return YamlError(line, f"invalid YAML: character U+{char:04X} is not allowed in YAML")
    line = 0
    said = ""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        said = f"{exc.context or ''} {exc.problem or ''}"
    for clue, hint in _HINTS:
        if clue in said:
            return YamlError(line, f"invalid YAML: {hint}")
    if isinstance(exc, yaml.scanner.ScannerError):
        return YamlError(line, "invalid YAML: text here cannot be read as YAML (quote it?)")
    if isinstance(exc, yaml.parser.ParserError):
        return YamlError(line, "invalid YAML: the structure breaks here (check indentation)")
    return YamlError(line, "invalid YAML: this file cannot be read as YAML")


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of path, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
