"""Send correctly signed Slack requests to a running `ethicsbot serve`, as Slack would.

    python scripts/slack_send.py command "mini"        # /ethics mini
    python scripts/slack_send.py show                  # the view the bot last showed
    python scripts/slack_send.py choose 2              # press option 2 of that view
    python scripts/slack_send.py answer "some text"    # submit a free-text answer
    python scripts/slack_send.py continue | back | record

Reads SLACK_SIGNING_SECRET from the environment, the bot at --bot (default
http://127.0.0.1:3000) and the fake Slack started by scripts/fake_slack.py at --fake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.signing import (
    block_action,
    command_body,
    interactive_body,
    signed_headers,
    view_submission,
)


def _post(bot: str, body: str, secret: str) -> tuple[int, str]:
    req = urllib.request.Request(
        bot + "/slack/events",
        data=body.encode(),
        headers=signed_headers(body, secret=secret),
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


STATE = Path.home() / ".ethicsbot-slack-send.json"


def _view(fake: str) -> dict[str, Any]:
    """The view the user would see now: the fake's last one, unless an ack replaced it since."""
    with urllib.request.urlopen(fake + "/_last_view", timeout=10) as r:
        latest = json.loads(r.read())
    if STATE.exists():
        saved = json.loads(STATE.read_text())
        if saved.get("count") == latest["count"]:
            return dict(saved["view"])
    return dict(latest["view"])


def _remember(fake: str, view: dict[str, Any]) -> None:
    with urllib.request.urlopen(fake + "/_last_view", timeout=10) as r:
        count = json.loads(r.read())["count"]
    STATE.write_text(json.dumps({"count": count, "view": view}))


def _buttons(view: dict[str, Any]) -> dict[str, str]:
    out = {}
    for b in view.get("blocks", []):
        for e in [b.get("accessory") or {}, *(b.get("elements") or [])]:
            if e.get("type") == "button":
                out[e["action_id"]] = e.get("value", "")
    return out


def _show(view: dict[str, Any]) -> None:
    for b in view.get("blocks", []):
        t = b.get("text") or b.get("label") or {}
        if isinstance(t, dict) and t.get("text"):
            print(t["text"])
        for e in b.get("elements") or []:
            if isinstance(e.get("text"), dict):
                print(
                    f"  [{e['action_id']}] {e['text']['text']}"
                    if e.get("action_id")
                    else e["text"]["text"]
                )
        if b.get("accessory"):
            a = b["accessory"]
            print(f"  [{a['action_id']}] {a['text']['text']}")
    if view.get("submit"):
        print('  (free-text question: answer "…")')


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "what", choices=["command", "show", "choose", "answer", "continue", "back", "record"]
    )
    p.add_argument("arg", nargs="?", default="")
    p.add_argument("--bot", default="http://127.0.0.1:3000")
    p.add_argument("--fake", default="http://127.0.0.1:3999")
    p.add_argument("--user", default="U1")
    a = p.parse_args()
    secret = os.environ.get("SLACK_SIGNING_SECRET", "")
    if not secret:
        print("set SLACK_SIGNING_SECRET to the value the bot uses", file=sys.stderr)
        return 2
    if a.what == "command":
        status, text = _post(a.bot, command_body(a.arg, user=a.user), secret)
        print(status, text[:500])
        return 0 if status == 200 else 1
    view = _view(a.fake)
    if a.what == "show":
        _show(view)
        return 0
    buttons = _buttons(view)
    if a.what == "answer":
        body = interactive_body(
            view_submission(view.get("private_metadata", ""), a.arg, user=a.user)
        )
        status, text = _post(a.bot, body, secret)
        print(status)
        reply = json.loads(text) if text.startswith("{") else {}
        if reply.get("response_action") == "update":
            _remember(a.fake, reply["view"])
            _show(reply["view"])
        elif reply:
            print(reply)
        return 0 if status == 200 else 1
    action_id = {
        "choose": f"eb.choose:{int(a.arg or 1) - 1}",
        "continue": "eb.continue",
        "back": "eb.back",
        "record": "eb.record_dm",
    }[a.what]
    if action_id not in buttons:
        print(f"no '{a.what}' button in the last view; try `show`", file=sys.stderr)
        return 1
    body = interactive_body(
        block_action(
            action_id,
            buttons[action_id],
            user=a.user,
            private_metadata=view.get("private_metadata", ""),
        )
    )
    status, _ = _post(a.bot, body, secret)
    print(status, "(the bot updates the view; run `show`)")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
