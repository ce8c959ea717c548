"""What operations see of the real `ethicsbot serve`: JSON access lines with request ids and
nothing private, liveness apart from readiness, and a clear refusal for each bad setting."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.conftest import FIXTURE_CONTENT, PG_OK
from tests.fakes.signing import SECRET, command_body, signed_headers
from tests.fakes.slack_api import FakeSlack
from tests.harness import slack_env
from tests.serving import Serve, TcpProxy, free_port, pg_database, pg_url, run_cli

TYPED = "my manager asked me to backdate the Zhang family loan papers"


async def _get(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], CIMultiDict[str]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        body = await r.json(content_type=None) if r.status != 404 else {}
        return r.status, body, CIMultiDict(r.headers)


async def test_one_json_line_per_request_with_its_id_and_nothing_private(
    fake: FakeSlack, tmp_path: Path
) -> None:
    env = slack_env(f"sqlite:///{tmp_path / 'o.db'}", fake.url, ETHICSBOT_LOG_LEVEL="info")
    server = Serve(env, tmp_path / "stderr.log")
    url = await server.start()
    try:
        status, _, headers = await _get(url + "/healthz", {"X-Request-Id": "lb-7f3a.1"})
        assert status == 200 and headers["X-Request-Id"] == "lb-7f3a.1"
        # an id that could forge log fields is replaced, not echoed
        _, _, headers = await _get(url + "/healthz", {"X-Request-Id": 'x" "level": "error'})
        minted = headers["X-Request-Id"]
        assert minted and '"' not in minted
        body = command_body(TYPED, user="U1")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url + "/slack/events", data=body.encode(), headers=signed_headers(body)
            ) as r:
                assert r.status == 200
                slack_id = r.headers["X-Request-Id"]
            async with http.post(
                url + "/slack/events",
                data=body.encode(),
                headers=signed_headers(body, secret="forged"),
            ) as r:
                assert r.status == 401
            async with http.get(url + "/nowhere?token=xoxb-leaked-token") as r:
                assert r.status == 404 and r.headers["X-Request-Id"]
        await fake.wait_for("views.open")
    finally:
        assert server.stop() == 0
    lines = server.lines()  # every line of stderr is a JSON object
    access = [x for x in lines if x["logger"] == "bot.access"]
    by_id = {x["request_id"]: x for x in access}
    assert by_id["lb-7f3a.1"]["route"] == "/healthz" and by_id["lb-7f3a.1"]["status"] == 200
    assert by_id[minted]["method"] == "GET"
    assert by_id[slack_id]["route"] == "/slack/events" and by_id[slack_id]["status"] == 200
    assert isinstance(by_id[slack_id]["latency_ms"], float)
    assert [x["status"] for x in access if x["route"] == "/slack/events"] == [200, 401]
    assert [x["route"] for x in access if x["status"] == 404] == ["unmatched"]
    assert {x["level"] for x in lines} <= {"info", "warning", "error", "critical"}
    log = server.text()
    for private in (TYPED, "backdate", SECRET, "xoxb-test-token", "xoxb-leaked-token"):
        assert private not in log


async def test_text_format_on_request(fake: FakeSlack, tmp_path: Path) -> None:
    env = slack_env(
        f"sqlite:///{tmp_path / 'o.db'}",
        fake.url,
        ETHICSBOT_LOG_FORMAT="text",
        ETHICSBOT_LOG_LEVEL="info",
    )
    server = Serve(env, tmp_path / "stderr.log")
    url = await server.start()
    try:
        await _get(url + "/healthz", {"X-Request-Id": "abc-1"})
    finally:
        server.stop()
    line = next(x for x in server.text().splitlines() if "request_id=abc-1" in x)
    assert "bot.access" in line and "route=/healthz" in line and "status=200" in line


@pytest.mark.skipif(not PG_OK, reason="PostgreSQL not reachable on 127.0.0.1:5432")
async def test_readyz_goes_503_while_postgresql_is_away_and_recovers_by_itself(
    fake: FakeSlack, tmp_path: Path
) -> None:
    proxy = await TcpProxy().start()
    with pg_database() as name:
        env = slack_env(pg_url(name, proxy.port), fake.url)
        server = Serve(env, tmp_path / "stderr.log")
        url = await server.start()
        try:
            status, body, _ = await _get(url + "/readyz")
            assert status == 200 and body["status"] == "ready"
            await proxy.cut()
            status, body, _ = await _get(url + "/readyz")
            assert status == 503 and body["checks"]["database"].startswith("unreachable")
            assert body["checks"]["content"] == "ok"  # it says which check failed
            assert (await _get(url + "/healthz"))[0] == 200  # alive: do not restart it
            await proxy.restore()

            async def ready() -> bool:
                return (await _get(url + "/readyz"))[0] == 200

            for _ in range(100):
                if await ready():
                    break
                await asyncio.sleep(0.1)
            assert await ready()
        finally:
            server.stop()
            await proxy.stop()
    assert any("not ready: database unreachable" in x["msg"] for x in server.lines())


async def test_readyz_names_a_schema_behind_and_content_missing(
    fake: FakeSlack, tmp_path: Path
) -> None:
    """A release whose migrations did not run (ETHICSBOT_AUTO_MIGRATE=0 on an older schema)
    and a content folder without a valid tree: both answer, neither is ready."""
    import sqlite3

    from bot.ops.readiness import schema_head

    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT / "policies", content / "policies")
    (content / "dilemmas").mkdir()
    path = tmp_path / "behind.db"
    server = Serve(slack_env(f"sqlite:///{path}", fake.url, content), tmp_path / "stderr.log")
    try:
        url = await server.start()
        status, body, _ = await _get(url + "/readyz")
        assert status == 503
        assert body["checks"] == {
            "database": "ok",
            "schema": "ok",
            "content": "no valid tree loaded",
        }
        with sqlite3.connect(path) as conn:  # as if the newest migration had not run
            conn.execute("UPDATE alembic_version SET version_num = '0005'")
        status, body, _ = await _get(url + "/readyz")
    finally:
        server.stop()
    assert status == 503
    assert body["checks"]["schema"] == (
        f"at 0005, this release needs {schema_head()}: run 'ethicsbot db upgrade'"
    )


BAD = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
GOOD_SECRET = "8f1c2e7a9b3d4c5e6f708192a3b4c5d6"


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"SLACK_SIGNING_SECRET": "", "SLACK_BOT_TOKEN": ""}, [], "no platform configured"),
        ({"SLACK_BOT_TOKEN": ""}, [], "missing environment variable(s): SLACK_BOT_TOKEN"),
        ({"ETHICSBOT_ENV": "prod"}, [], "ETHICSBOT_ENV must be one of"),
        (
            {"ETHICSBOT_DISPATCH_INTERVAL": "fast"},
            [],
            "ETHICSBOT_DISPATCH_INTERVAL must be a number",
        ),
        ({"ETHICSBOT_OUTBOX_LEASE": "0"}, [], "ETHICSBOT_OUTBOX_LEASE must be more than 0"),
        ({"ETHICSBOT_LOG_FORMAT": "xml"}, [], "ETHICSBOT_LOG_FORMAT must be json or text"),
        ({"DATABASE_URL": "mysql://db/eb"}, [], "DATABASE_URL must start with sqlite"),
        ({"SLACK_BOT_TOKEN": "xapp-1-A"}, [], "SLACK_BOT_TOKEN holds an app-level token"),
        ({"PORT": "http"}, [], "PORT must be a port number"),
        (
            {"ETHICSBOT_ENV": "production", "SLACK_SIGNING_SECRET": "local-secret"},
            [],
            "SLACK_SIGNING_SECRET is empty, too short or an example value",
        ),
        (
            {"ETHICSBOT_ENV": "production", BAD + "ANONYMOUS_ALLOWED": "true"},
            [],
            "ANONYMOUS_ALLOWED accepts unauthenticated Teams requests",
        ),
        ({"ETHICSBOT_ENV": "production"}, ["--workers", "2"], "--workers 2 with SQLite"),
        (
            {"ETHICSBOT_ENV": "production", "ETHICSBOT_LOG_LEVEL": "debug"},
            [],
            "ETHICSBOT_LOG_LEVEL=debug makes the Slack and HTTP libraries log request",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_serve_refuses_each_bad_setting_by_name(
    tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    base = slack_env(f"sqlite:///{tmp_path / 'c.db'}", "http://127.0.0.1:9/api/")
    base["SLACK_SIGNING_SECRET"] = GOOD_SECRET
    done = run_cli(
        {**base, "PORT": str(free_port()), **env}, "serve", "--host", "127.0.0.1", *args, timeout=30
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_production_names_every_problem_at_once(tmp_path: Path) -> None:
    env = slack_env(
        f"sqlite:///{tmp_path / 'c.db'}",
        "http://127.0.0.1:9/api/",
        ETHICSBOT_ENV="production",
        SLACK_SIGNING_SECRET="local-secret",
        ETHICSBOT_LOG_LEVEL="debug",
        **{BAD + "ANONYMOUS_ALLOWED": "1"},
    )
    done = run_cli(env, "serve", "--workers", "3")
    assert done.returncode == 2
    for problem in (
        "SLACK_SIGNING_SECRET is empty",
        "ANONYMOUS_ALLOWED",
        "--workers 3 with SQLite",
        "LOG_LEVEL=debug",
    ):
        assert problem in done.stderr


async def test_production_with_sound_settings_starts(fake: FakeSlack, tmp_path: Path) -> None:
    env = slack_env(
        f"sqlite:///{tmp_path / 'p.db'}",
        fake.url,
        ETHICSBOT_ENV="production",
        SLACK_SIGNING_SECRET=GOOD_SECRET,
    )
    server = Serve(env, tmp_path / "stderr.log")
    url = await server.start()
    try:
        assert (await _get(url + "/readyz"))[0] == 200
    finally:
        assert server.stop() == 0
