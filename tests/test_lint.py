"""`ethicsbot validate`: every must-fail tree gives exactly its documented problems."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from bot.catalog import validate
from bot.core.yamlsafe import MAX_BYTES, YamlError, load_yaml
from tests.conftest import FIXTURE_CONTENT, ROOT

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
@pytest.mark.parametrize("with_lines", [True, False], ids=["lines", "fast"])
def test_hostile_yaml_is_refused_with_a_line(
    raw: bytes, line: int, message: str, with_lines: bool
) -> None:
    with pytest.raises(YamlError) as err:
        load_yaml(raw, with_lines=with_lines)
    assert err.value.line == line
    assert message in err.value.message


# Syntax errors and hostile input with the exact message and line we promise trainers, whatever
# PyYAML version reads the file (its own wording and limits change between patch releases).
OUR_WORDS: list[tuple[bytes, int, str]] = [
    (b"a: " + b"[" * 200_000 + b"]" * 200_000, 1, "nesting deeper than 32 levels"),
    (b"{" * 100_000, 1, "mapping keys must be plain values"),
    (b"a: " + b"{b: " * 50_000 + b"1" + b"}" * 50_000, 1, "nesting deeper than 32 levels"),
    (
        b"a:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, 40)),
        33,
        "nesting deeper than 32 levels",
    ),
    (
        b"a: 1\nb: [1, 2\n",
        3,
        "invalid YAML: a [ list ] is not closed, or its items are not separated by commas",
    ),
    (
        b"a: {b: 1\n",
        2,
        "invalid YAML: a { mapping } is not closed, or its entries are not separated by commas",
    ),
    (b'a: 1\nb: "open\n', 3, "invalid YAML: a quoted text is not closed (a missing \" or ')"),
    (b"a: 1\n\tb: 2\n", 2, "invalid YAML: a tab character where YAML allows only spaces"),
    (b"a: b: c\n", 1, "invalid YAML: a ':' where YAML does not expect one (quote the text)"),
    (
        b"a:\n  b: 1\n c: 2\n",
        3,
        "invalid YAML: a key is indented differently from the keys beside it",
    ),
    (b"a: 1\nb: \x07\n", 2, "invalid YAML: character U+0007 is not allowed in YAML"),
    (
        b"due: 2026-02-30\n",
        1,
        "'2026-02-30' looks like a date or number but is not a valid one"
        " (put it in quotes if it is text)",
    ),
]


OUR_WORDS_IDS = [
    "deep-flow",
    "deep-keys",
    "deep-maps",
    "deep-block",
    "unclosed-list",
    "unclosed-map",
    "unclosed-quote",
    "tab",
    "colon",
    "indent",
    "control-char",
    "bad-date",
]


@pytest.mark.parametrize(("raw", "line", "message"), OUR_WORDS, ids=OUR_WORDS_IDS)
@pytest.mark.parametrize("with_lines", [True, False], ids=["lines", "fast"])
def test_syntax_errors_are_named_in_our_words(
    raw: bytes, line: int, message: str, with_lines: bool
) -> None:
    with pytest.raises(YamlError) as err:
        load_yaml(raw, with_lines=with_lines)
    assert (err.value.line, err.value.message) == (line, message)


SCALARS = b"""\
plain: [text, none, null, Null, ~, '', yes, no, on, off, true, True, 'true', 0, 07, 0x1f, -3,
        +4, 1_000, 3.5, .inf, -.Inf, .nan, 1e3, 2026-02-03, '2026-02-03', 12:30, <<x, ==, tee,
        Tuesday, no way, 'null', "yes", Off-line]
keys: {text: 1, next: 2, options: 3, 7: 4, none: 5, Tuesday: 6}
block: |
  kept as text: 1
"""


@pytest.mark.parametrize("twice", [1, 2], ids=["first", "remembered"])
def test_accepted_yaml_gives_exactly_what_safe_load_gives(twice: int) -> None:
    """The fast path asks the resolver once per plain value and then remembers strings: the
    data must stay what `yaml.safe_load` makes of every shipped tree and of tricky scalars."""
    files = [*sorted((ROOT / "dilemmas").glob("*.yaml")), *sorted(MUST_FAIL.glob("*.yaml"))]
    raws = [SCALARS] + [f.read_bytes() for f in files]
    assert load_yaml(SCALARS, with_lines=False)[0]["plain"][-1] == "Off-line"
    for _ in range(twice):
        for raw in raws:
            try:
                fast = load_yaml(raw, with_lines=False)[0]
            except YamlError:
                continue  # refused: the hostile and must-fail tests hold its message
            assert fast == load_yaml(raw)[0] == yaml.safe_load(raw)


OLDEST_PYYAML = "6.0.1"  # pyproject.toml: PyYAML>=6.0.1


def _locked_pyyaml() -> str:
    """The PyYAML version requirements.lock pins: the newest when the lock was refreshed."""
    found = re.search(r"^pyyaml==(\S+)", (ROOT / "requirements.lock").read_text(), re.M | re.I)
    assert found, "requirements.lock pins no PyYAML"
    return found.group(1)


_CROSS_CHECK = textwrap.dedent(
    """
    import json, sys
    import yaml
    from pathlib import Path
    from bot.catalog import validate
    from bot.core.yamlsafe import YamlError, load_yaml

    must_fail, content, cases = Path(sys.argv[1]), Path(sys.argv[2]), json.load(sys.stdin)
    trees = {}
    for f in sorted(must_fail.glob("*.yaml")):
        if f.name != "expected.yaml":
            trees[f.name] = [
                str(p).replace(f"{f}:", "", 1) for p in validate([f], content, environ={})
            ]
    words = []
    for raw in cases:
        try:
            load_yaml(raw.encode("latin-1"))
            words.append(None)
        except YamlError as exc:
            words.append([exc.line, exc.message])
    print(json.dumps({"version": yaml.__version__, "file": yaml.__file__,
                      "trees": trees, "words": words}))
    """
)


@pytest.mark.parametrize("which", ["oldest", "locked"])
def test_messages_are_ours_on_the_oldest_and_newest_pyyaml(
    which: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Install that PyYAML release on its own, run the loader on it in a fresh interpreter, and
    demand exactly the must-fail expectations and our own words for every hostile case."""
    version = OLDEST_PYYAML if which == "oldest" else _locked_pyyaml()
    target = tmp_path_factory.mktemp(f"pyyaml-{version}")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--target",
            str(target),
            f"PyYAML=={version}",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]))
    out = subprocess.run(
        [sys.executable, "-c", _CROSS_CHECK, str(MUST_FAIL), str(FIXTURE_CONTENT)],
        input=json.dumps([raw.decode("latin-1") for raw, _, _ in OUR_WORDS]),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    got = json.loads(out.stdout)
    assert got["version"] == version
    assert Path(got["file"]).is_relative_to(target)
    assert got["trees"] == EXPECTED
    assert got["words"] == [[line, message] for _, line, message in OUR_WORDS]
