"""The validation cache and pool change how fast `ethicsbot validate` answers, never what."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pydantic
import pytest
import yaml

from bot.catalog import Validation, validate
from bot.treecache import POOL_THRESHOLD, TreeCache
from tests.conftest import FIXTURE_CONTENT

MUST_FAIL = Path(__file__).parent / "must_fail"
MINI = (FIXTURE_CONTENT / "dilemmas" / "mini.yaml").read_bytes()


def _report(paths: list[Path], **kw: object) -> list[str]:
    return [str(p) for p in validate(paths, FIXTURE_CONTENT, environ={}, **kw)]  # type: ignore[arg-type]


def test_cached_runs_report_exactly_what_an_uncached_run_reports(tmp_path: Path) -> None:
    cache = TreeCache(tmp_path / "cache")
    plain = _report([MUST_FAIL])
    assert plain, "the must-fail folder must report problems"
    assert _report([MUST_FAIL], cache=cache) == plain  # fills the cache
    assert cache.misses > 0
    again = TreeCache(tmp_path / "cache")
    assert _report([MUST_FAIL], cache=again) == plain  # served from it
    assert again.hits > 0


def test_an_edit_is_seen_at_once_and_reverting_it_is_clean_again(tmp_path: Path) -> None:
    tree = tmp_path / "trees" / "mini.yaml"
    tree.parent.mkdir()
    tree.write_bytes(MINI)
    cache = TreeCache(tmp_path / "cache")
    assert _report([tree], cache=cache) == []
    tree.write_bytes(MINI.replace(b"next: facts", b"next: nowhere", 1))
    broken = _report([tree], cache=cache)
    assert len(broken) == 1 and "nowhere" in broken[0] and broken[0].startswith(f"{tree}:")
    tree.write_bytes(MINI)
    assert _report([tree], cache=cache) == []


def test_same_bytes_under_another_name_report_that_name(tmp_path: Path) -> None:
    cache = TreeCache(tmp_path / "cache")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "t.yaml").write_bytes(MINI.replace(b"next: facts", b"next: gone", 1))
    first = _report([tmp_path / "a" / "t.yaml"], cache=cache)
    second = _report([tmp_path / "b" / "t.yaml"], cache=cache)
    assert first == [line.replace("/b/", "/a/") for line in second]
    assert all("/b/" in line for line in second)


def test_a_folder_others_can_write_to_is_never_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    cache = TreeCache(shared)
    assert not cache.usable
    assert _report([MUST_FAIL / "unknown-next.yaml"], cache=cache) == _report(
        [MUST_FAIL / "unknown-next.yaml"]
    )
    assert list(shared.iterdir()) == []


def test_the_pool_reports_what_one_process_reports(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(POOL_THRESHOLD + 6):
        raw = MINI.replace(b"id: mini", f"id: mini-{i:03d}".encode(), 1)
        if i % 17 == 0:
            raw = raw.replace(b"next: facts", b"next: missing", 1)
        if i == 40:
            raw = b"id: [unclosed\n"
        (folder / f"t{i:03d}.yaml").write_bytes(raw)
    one = _report([folder], workers=1)
    assert len(one) >= 5
    assert _report([folder], workers=2) == one
    assert _report([folder], workers=2, cache=TreeCache(tmp_path / "c")) == one


def _folder(tmp_path: Path, count: int = 4) -> list[Path]:
    """`count` valid trees with their own ids, one file each."""
    folder = tmp_path / "trees"
    folder.mkdir()
    files = []
    for i in range(count):
        f = folder / f"t{i}.yaml"
        f.write_bytes(MINI.replace(b"id: mini", f"id: mini-{i}".encode(), 1))
        files.append(f)
    return files


def _entry_stamps(cache: TreeCache, files: list[Path]) -> list[int]:
    return [cache.path(f.read_bytes()).stat().st_mtime_ns for f in files]


def test_after_one_edit_only_that_file_is_parsed_again(tmp_path: Path) -> None:
    files = _folder(tmp_path)
    first = TreeCache(tmp_path / "cache")
    assert _report([files[0].parent], cache=first) == []
    assert (first.hits, first.misses) == (0, 5)  # and the shipped fixture tree
    before = _entry_stamps(first, files[1:])
    files[0].write_bytes(files[0].read_bytes().replace(b"next: facts", b"next: nowhere", 1))
    second = TreeCache(tmp_path / "cache")
    report = _report([files[0].parent], cache=second)
    assert (second.hits, second.misses) == (4, 1)
    assert len(report) == 1 and report[0].startswith(f"{files[0]}:") and "nowhere" in report[0]
    assert _entry_stamps(second, files[1:]) == before  # the unchanged entries were not rewritten


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[: len(blob) // 2],  # cut short (a crash mid-write elsewhere)
        lambda blob: blob[:20] + bytes([blob[20] ^ 0xFF]) + blob[21:],  # one byte flipped
        lambda blob: b"",
    ],
    ids=["truncated", "flipped", "empty"],
)
def test_a_damaged_entry_is_ignored_and_written_again(tmp_path: Path, damage: object) -> None:
    broken = tmp_path / "t.yaml"
    broken.write_bytes(MINI.replace(b"next: facts", b"next: gone", 1))
    plain = _report([broken])
    cache = TreeCache(tmp_path / "cache")
    assert _report([broken], cache=cache) == plain
    entry = cache.path(broken.read_bytes())
    good = entry.read_bytes()
    entry.write_bytes(damage(good))  # type: ignore[operator]
    again = TreeCache(tmp_path / "cache")
    assert _report([broken], cache=again) == plain
    assert (again.hits, again.misses) == (1, 1)  # the shipped fixture tree hits
    assert entry.read_bytes() == good


def test_another_files_entry_under_this_name_is_not_served(tmp_path: Path) -> None:
    """An intact entry copied over another's name (a clean result for a broken file) is a
    miss: the checksum covers the name, which is the content hash."""
    clean, broken = tmp_path / "clean.yaml", tmp_path / "broken.yaml"
    clean.write_bytes(MINI)
    broken.write_bytes(MINI.replace(b"next: facts", b"next: gone", 1))
    cache = TreeCache(tmp_path / "cache")
    assert _report([clean], cache=cache) == []
    bad = _report([broken], cache=cache)
    assert bad
    cache.path(broken.read_bytes()).write_bytes(cache.path(MINI).read_bytes())
    assert _report([broken], cache=TreeCache(tmp_path / "cache")) == bad


@pytest.mark.parametrize(("library", "attribute"), [(yaml, "__version__"), (pydantic, "VERSION")])
def test_another_library_version_starts_a_fresh_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, library: object, attribute: str
) -> None:
    files = _folder(tmp_path, 2)
    assert _report([files[0].parent], cache=TreeCache(tmp_path / "cache")) == []
    same = TreeCache(tmp_path / "cache")
    _report([files[0].parent], cache=same)
    assert (same.hits, same.misses) == (3, 0)
    monkeypatch.setattr(library, attribute, "0.0.0-another")
    upgraded = TreeCache(tmp_path / "cache")
    assert upgraded.key != same.key
    assert _report([files[0].parent], cache=upgraded) == []
    assert (upgraded.hits, upgraded.misses) == (0, 3)


def test_a_kept_validation_parses_only_what_changed_and_still_checks_across_files(
    tmp_path: Path,
) -> None:
    """What `validate --watch` runs on every save: the unchanged files come from memory, yet
    a clash with one of them (a duplicate id) is reported, and it goes when fixed."""
    files = _folder(tmp_path)
    folder = files[0].parent
    kept = Validation([folder], FIXTURE_CONTENT, environ={})
    assert kept.run() == [] and kept.parsed == 5  # with the shipped fixture tree
    assert kept.run() == [] and kept.parsed == 5
    os.utime(files[2])  # touched, not changed: read again, not parsed again
    assert kept.run({files[2]}) == [] and kept.parsed == 5
    files[3].write_bytes(files[1].read_bytes())
    clash = [str(p) for p in kept.run({files[3]})]
    assert kept.parsed == 6
    assert clash == _report([folder])
    assert clash == [f"{files[3]}:2: -: duplicate tree id 'mini-1' (also in {files[1]})"]
    files[3].write_bytes(MINI.replace(b"id: mini", b"id: mini-3", 1))
    assert kept.run() == [] and kept.parsed == 7  # seen by its stamp, with no watcher's word
    files[1].unlink()
    assert kept.run() == [] and kept.parsed == 7


def test_watch_reports_a_saved_mistake_and_its_fix(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "dilemmas").mkdir(parents=True)
    (content / "policies").mkdir()
    for f in (FIXTURE_CONTENT / "policies").iterdir():
        (content / "policies" / f.name).write_bytes(f.read_bytes())
    tree = content / "dilemmas" / "mini.yaml"
    tree.write_bytes(MINI)
    env = dict(os.environ, ETHICSBOT_CONTENT=str(content), ETHICSBOT_CACHE_DIR=str(tmp_path / "c"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "validate", "--watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == "ok"
        assert "watching" in proc.stderr.readline()
        time.sleep(0.3)
        tree.write_bytes(MINI.replace(b"next: facts", b"next: nowhere", 1))
        line = proc.stdout.readline().strip()
        assert line.startswith(f"{tree}:") and "nowhere" in line
        tree.write_bytes(MINI)
        while (line := proc.stdout.readline().strip()) != "ok":
            assert line, "validate --watch ended without reporting the fix"
    finally:
        proc.terminate()
        proc.wait(10)
