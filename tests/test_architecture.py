"""The layering rules of DESIGN.md section 3, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
# the chat platforms' SDKs; aiohttp is the web server every adapter mounts on, not a platform
PLATFORM = ("slack_bolt", "slack_sdk", "microsoft_agents")
CORE_ALLOWED = ("bot.core", "pydantic", "yaml", "__future__")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _stdlib(name: str) -> bool:
    import sys

    return name.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("path", sorted((BOT / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    for name in _imports(path):
        assert _stdlib(name) or name.startswith(CORE_ALLOWED), f"{path.name} imports {name}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in BOT.rglob("*.py") if "adapters" not in p.parts),
    ids=lambda p: str(p.relative_to(BOT)),
)
def test_only_adapters_touch_platforms(path: Path) -> None:
    for name in _imports(path):
        assert not name.startswith(PLATFORM), f"{path.relative_to(BOT)} imports {name}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in BOT.rglob("*.py") if "adapters" not in p.parts and p.name != "cli.py"),
    ids=lambda p: str(p.relative_to(BOT)),
)
def test_below_the_adapters_nothing_knows_an_adapter(path: Path) -> None:
    """The web host mounts adapters by name from the settings; services never call up.
    (The CLI is the composition root: its commands start a chosen adapter.)"""
    for name in _imports(path):
        assert not name.startswith("bot.adapters"), f"{path.relative_to(BOT)} imports {name}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in BOT.rglob("*.py") if "adapters" not in p.parts and p.name != "cli.py"),
    ids=lambda p: str(p.relative_to(BOT)),
)
def test_no_platform_is_assumed_below_the_adapters(path: Path) -> None:
    """A service call that forgets its platform must fail, not fall back to Slack: no
    parameter named `platform` (or `*_platform`) defaults to a platform below the adapters
    (`None`, meaning "no platform-specific wording", is allowed)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        a = node.args
        positional = a.posonlyargs + a.args
        pairs = list(zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True))
        pairs += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d]
        for arg, default in pairs:
            names_one = not (isinstance(default, ast.Constant) and default.value is None)
            assert not (arg.arg.endswith("platform") and names_one), (
                f"{path.relative_to(BOT)}:{node.lineno} {node.name}() defaults {arg.arg}"
            )
