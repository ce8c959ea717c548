"""`ethicsbot validate`: every must-fail tree gives exactly its documented problems."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.catalog import validate
from bot.core.yamlsafe import MAX_BYTES, YamlError, load_yaml
from tests.conftest import FIXTURE_CONTENT

MUST_FAIL = Path(__file__).parent / "must_fail"
EXPECTED: dict[str, list[str]] = yaml.safe_load((MUST_FAIL / "expected.yaml").read_text())


def test_every_must_fail_file_has_an_expectation() -> None:
    files = {p.name for p in MUST_FAIL.glob("*.yaml")} - {"expected.yaml"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_must_fail_tree_reports_exact_problems(name: str) -> None:
    problems = validate([MUST_FAIL / name], FIXTURE_CONTENT, environ={})
    got = [str(p).replace(f"{MUST_FAIL / name}:", "", 1) for p in problems]
    assert got == EXPECTED[name]


def test_fixture_tree_is_valid() -> None:
    assert validate([FIXTURE_CONTENT / "dilemmas"], FIXTURE_CONTENT, environ={}) == []


def test_cli_exit_codes_and_format() -> None:
    env = dict(os.environ, ETHICSBOT_CONTENT=str(FIXTURE_CONTENT))
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "validate", str(MUST_FAIL)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1
    first = bad.stdout.splitlines()[0]
    assert (
        first
        == f"{MUST_FAIL / 'alias-bomb.yaml'}:1: -: YAML anchors and aliases (&, *) are not allowed"
    )
    good = subprocess.run(
        [sys.executable, "-m", "bot.cli", "validate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (good.returncode, good.stdout.strip()) == (0, "ok")


def test_duplicate_tree_ids_across_files(tmp_path: Path) -> None:
    src = (FIXTURE_CONTENT / "dilemmas" / "mini.yaml").read_bytes()
    (tmp_path / "a.yaml").write_bytes(src)
    (tmp_path / "b.yaml").write_bytes(src)
    problems = [str(p) for p in validate([tmp_path], FIXTURE_CONTENT, environ={})]
    assert problems == [
        f"{tmp_path / 'b.yaml'}:2: -: duplicate tree id 'mini' (also in {tmp_path / 'a.yaml'})"
    ]


@pytest.mark.parametrize(
    ("raw", "line", "message"),
    [
        (b"a: 1\n" + b"#" * MAX_BYTES, 0, f"larger than the {MAX_BYTES} allowed"),
        (b"a: " + b"[" * 200_000 + b"]" * 200_000, 1, "nesting deeper than 32 levels"),
        (b"{" * 100_000, 1, "mapping keys must be plain values"),
        (b"a: " + b"{b: " * 50_000 + b"1" + b"}" * 50_000, 1, "nesting deeper than 32 levels"),
        (b"a: 1\nb: [1, 2\n", 3, "invalid YAML"),
        (
            b"a: !!python/object/apply:os.system ['echo hi']\n",
            1,
            "explicit YAML tags are not allowed",
        ),
        (b"", 1, "file is empty"),
        (b"ok: 1\n\xff\xfe\n", 2, "not UTF-8"),
    ],
    ids=[
        "huge",
        "deep-flow",
        "deep-keys",
        "deep-maps",
        "unclosed",
        "python-tag",
        "empty",
        "latin1",
    ],
)
def test_hostile_yaml_is_refused_with_a_line(raw: bytes, line: int, message: str) -> None:
    with pytest.raises(YamlError) as err:
        load_yaml(raw)
    assert err.value.line == line
    assert message in err.value.message
