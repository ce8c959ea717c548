"""Every document in the repository can be followed from a clone of it alone.

A link (or a path in code) that climbs out of the repository, or a web address, would send a
reader somewhere a clone does not carry and that may change under them. Loopback addresses
and the reserved example domains (RFC 2606) are allowed: they name no real place.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
DOCS = sorted(
    p for p in ROOT.rglob("*.md") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts[:-1])
)

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")
BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s)>\]`'\"]+")
UPWARD = re.compile(r"(?<![\w.])((?:\.\./)+[^\s)`'\"\]>]*)")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
EXAMPLE_SUFFIXES = (".example", ".test", ".invalid")
EXAMPLE_DOMAINS = {"example.com", "example.org", "example.net"}


def _allowed_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in LOCAL_HOSTS or host in EXAMPLE_DOMAINS or host.endswith(EXAMPLE_SUFFIXES):
        return True
    return any(host.endswith("." + d) for d in EXAMPLE_DOMAINS)


def outside_links(doc: Path, root: Path = ROOT) -> list[str]:
    """Every link or path in `doc` that leads out of `root` or to the web, or is broken."""
    text = doc.read_text(encoding="utf-8")
    prose = CODE_SPAN.sub(" ", FENCE.sub(" ", text))
    bad: list[str] = []
    targets = LINK.findall(prose) + REF_DEF.findall(prose) + AUTOLINK.findall(prose)
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            if not _allowed_host(target):
                bad.append(f"web link {target}")
            continue
        if target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        resolved = (root / path.lstrip("/")) if path.startswith("/") else (doc.parent / path)
        resolved = resolved.resolve()
        if not resolved.is_relative_to(root.resolve()):
            bad.append(f"link out of the repository {target}")
        elif not resolved.exists():
            bad.append(f"broken link {target}")
    for url in BARE_URL.findall(AUTOLINK.sub(" ", REF_DEF.sub(" ", LINK.sub(" ", prose)))):
        if not _allowed_host(url):
            bad.append(f"web address {url}")
    # a path in code counts too: "see `../shared/DESIGN.md`" is a link a reader follows
    for path in UPWARD.findall(text):
        if not (doc.parent / path).resolve().is_relative_to(root.resolve()):
            bad.append(f"path out of the repository {path}")
    return bad


def test_documents_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {"README.md", "docs/architecture.md", "docs/data-flows.md", "docs/contracts.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_document_links_outside_the_repository(doc: Path) -> None:
    assert outside_links(doc) == []


def test_the_check_catches_what_it_must(tmp_path: Path) -> None:
    """The scanner itself: each way out is reported, and what stays inside is not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("x")
    doc = tmp_path / "docs" / "a.md"
    doc.write_text(
        "See `../../shared/DESIGN.md` and [design](../../shared/DESIGN.md).\n"
        "[web](https://github.com/x/y) <https://pypi.org/> and https://slack.com/api\n"
        "[ok](there.md) [up-inside](../docs/there.md#top) [gone](missing.md) [anchor](#x)\n"
        "[ref]: https://docs.python.org/3/\n"
        "```sh\ncurl http://127.0.0.1:3000/healthz https://ethics.example.com/slack/events\n```\n"
    )
    assert outside_links(doc, tmp_path) == [
        "link out of the repository ../../shared/DESIGN.md",
        "web link https://github.com/x/y",
        "broken link missing.md",
        "web link https://docs.python.org/3/",
        "web link https://pypi.org/",
        "web address https://slack.com/api",
        "path out of the repository ../../shared/DESIGN.md",
        "path out of the repository ../../shared/DESIGN.md",
    ]
