"""The validation cache and pool change how fast `ethicsbot validate` answers, never what."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bot.catalog import validate
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
