"""Run the fake Bot Connector by itself, to try `ethicsbot serve` without Teams or Azure.

    python scripts/fake_teams.py --port 3978

It accepts what the bot posts (new messages, replies, updates), prints one line each, and
keeps them so `scripts/teams_send.py` can show the bot's cards and click their buttons.
Start the bot in anonymous mode (no token is checked; local use only):

    CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED=true ethicsbot serve
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.teams_connector import FakeConnector


class ShowingConnector(FakeConnector):
    """The test fake, printing one line per activity the bot sends."""

    async def _post(self, request: web.Request) -> web.Response:
        response = await super()._post(request)
        if self.posted:
            p = self.posted[-1]
            first = ""
            for att in p.body.get("attachments") or []:
                body = (att.get("content") or {}).get("body") or []
                first = next((b.get("text", "") for b in body if b.get("type") == "TextBlock"), "")
            print(f"{p.method:<4} {p.conversation[:40]:<40} {first[:60]}", flush=True)
        return response


async def main(port: int) -> None:
    await ShowingConnector().start(port)
    print(f"fake Bot Connector on http://127.0.0.1:{port}/  (Ctrl-C to stop)", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3978)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().port))
