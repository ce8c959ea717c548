"""Hostile-input-proof YAML reading: bounded size and depth, no aliases, no duplicate keys.

`yaml.safe_load` alone loads an alias bomb of a few hundred bytes, silently keeps the last of
two duplicate keys and dies with RecursionError on deep nesting; trainers' files are data
edited by hand, so every one of those is refused here with the line it happened on. Alongside
the data we return the line of every path, so schema errors can name file and line.
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


def _check_events(text: str) -> None:
    """Walk the event stream (iterative in PyYAML) to bound depth and refuse aliases early."""
    depth = 0
    count = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            count += 1
            line = event.start_mark.line + 1 if event.start_mark else 0
            if count > MAX_EVENTS:
                raise YamlError(line, f"file too complex (more than {MAX_EVENTS} YAML events)")
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise YamlError(line, "YAML anchors and aliases (&, *) are not allowed")
            tag = getattr(event, "tag", None)
            if tag not in (None, "!"):
                raise YamlError(line, f"explicit YAML tags are not allowed ({tag})")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(line, f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.DocumentStartEvent) and count > 2:
                raise YamlError(line, "only one YAML document per file")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(mark.line + 1 if mark else 0, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(0, f"invalid YAML: {exc}") from None


def _convert(node: yaml.Node, loader: yaml.SafeLoader, path: Path, lines: dict[Path, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(key_node.start_mark.line + 1, "mapping keys must be plain values")
            key = loader.construct_object(key_node)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                key = str(key)
            if key in out:
                node_id = str(key) if path == ("nodes",) else "-"
                what = "node id" if node_id != "-" else "key"
                raise YamlError(key_node.start_mark.line + 1, f"duplicate {what} '{key}'", node_id)
            out[key] = _convert(value_node, loader, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(v, loader, (*path, i), lines) for i, v in enumerate(node.value)]
    return loader.construct_object(node)


def load_yaml(raw: bytes) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document into plain data plus a path -> line map.

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
    _check_events(text)
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise YamlError(1, "file is empty")
        lines: dict[Path, int] = {}
        data = _convert(root, loader, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(mark.line + 1 if mark else 0, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(0, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, lines


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of path, or of its nearest ancestor present in the file."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get((), 1)
