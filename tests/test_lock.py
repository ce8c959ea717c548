"""requirements.lock is what a clean install gets: complete, hashed, and from PyPI only."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT

LOCK = (ROOT / "requirements.lock").read_text()
ENTRIES = re.split(r"\n(?=[a-z0-9])", LOCK.split("\n", 2)[2])  # after the two header lines


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_of_pyproject_is_pinned() -> None:
    """Adding a dependency to pyproject.toml without running scripts/lock fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["dev"]}
    pinned = {_name(e) for e in ENTRIES}
    assert wanted - pinned == set(), "run scripts/lock"


def test_every_pin_is_exact_and_hashed() -> None:
    for entry in ENTRIES:
        assert re.match(r"^[a-z0-9][a-z0-9._-]*==[^\s;]+", entry), entry
        assert "--hash=sha256:" in entry, entry


def test_the_lock_names_no_local_path_or_other_index() -> None:
    """This machine's pip.conf has local indexes and wheel folders; none may leak in."""
    for bad in (
        "file:",
        "/opt/",
        "/tmp/",
        "/work/",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "-e ",
        "git+",
    ):
        assert bad not in LOCK, bad
