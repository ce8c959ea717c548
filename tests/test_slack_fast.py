"""The Slack route's hot-path shortcuts keep its behaviour: the fast form decoder gives what
urllib gives, and a full backlog is still said in the log, once per interval rather than
once per command turned away."""

from __future__ import annotations

import logging
import random
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.adapters.slack.mount import form_fields
from tests.fakes.signing import block_action, command_body, interactive_body
from tests.fakes.slack_api import FakeSlack
from tests.harness import start_bot

EDGES = [
    "",
    "&",
    "a",
    "a=",
    "=b",
    "a=1&a=2",
    "a=%",
    "a=%4",
    "a=%zz&b=%41",
    "a=%%41",
    "a=%E4%B8%AD%E6%96%87",
    "a=%E4%B8",  # a UTF-8 sequence cut short
    "a=%FF%FE",
    "a=x+y%2By",
    "a=\\x41%41",
    "a=\\",
    "a=中%41文",
    "a=%e4%b8%ad",
    "k%3D=v%26w",
    "a=b=c",
    "&&a=1&&",
]


@pytest.mark.parametrize("raw", EDGES)
def test_the_form_decoder_matches_urllib_on_edge_cases(raw: str) -> None:
    assert form_fields(raw) == dict(parse_qsl(raw, keep_blank_values=True))


def test_the_form_decoder_matches_urllib_on_slack_bodies_and_random_text() -> None:
    bodies = [
        command_body("confidentiality 中文 100% sure & \\ more", user="U9"),
        interactive_body(block_action("eb.choose:0", 'a|"quoted"|1|0', user="U9")),
    ]
    rng = random.Random(11)
    alphabet = 'ab%+=&\\4Fz9中é "{}:'
    for _ in range(3000):
        bodies.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))))
        text = "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 12)))
        bodies.append(urlencode({"payload": text, "x": text[::-1]}))
    for raw in bodies:
        assert form_fields(raw) == dict(parse_qsl(raw, keep_blank_values=True)), raw


async def test_a_full_backlog_is_logged_once_per_interval_with_the_count(
    fake: FakeSlack, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    busy = await start_bot(sqlite_url, fake, ETHICSBOT_MAX_BACKLOG="0")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.adapters.slack.listeners"):
            for _ in range(5):
                r = await busy.command("mini")
                assert r.status == 200 and "very busy" in r.json()["text"]
        lines = [r.getMessage() for r in caplog.records if "turned" in r.getMessage()]
        # the first refusal is said at once; the next four wait for the next line's count
        assert lines == ["turned 1 command(s) away in the last 10 s: 0 tasks queued"]
    finally:
        await busy.stop()
