"""Run the fake Slack Web API by itself, to try `ethicsbot serve` without a workspace.

    python scripts/fake_slack.py --port 3999

It answers the Web API calls the bot makes, prints one line per call, and keeps the last
view and the messages so `scripts/slack_send.py` can click the buttons the bot showed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.slack_api import FakeSlack


class ShowingFake(FakeSlack):
    """The test fake, printing one line per call, with the last view kept for slack_send."""

    def _answer(self, method, args):  # type: ignore[no-untyped-def]
        body = super()._answer(method, args)
        view = args.get("view")
        title = ""
        if isinstance(view, dict):
            headers = [b["text"]["text"] for b in view.get("blocks", []) if b["type"] == "header"]
            title = " | ".join(headers)
        print(f"{method:<18} {title or args.get('channel', '')}", flush=True)
        return body

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/_last_view", self._last_view)
        app.router.add_get("/_messages", self._messages)

    async def _last_view(self, _: web.Request) -> web.Response:
        views = [c for c in self.calls if c.method.startswith("views.")]
        return web.json_response(
            {"count": len(views), "view": views[-1].args.get("view") if views else {}}
        )

    async def _messages(self, _: web.Request) -> web.Response:
        return web.json_response(self.messages)


async def main(port: int) -> None:
    await ShowingFake(locales={"UZH": "zh-CN"}).start(port)
    print(f"fake Slack Web API on http://127.0.0.1:{port}/api/  (Ctrl-C to stop)", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3999)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().port))
