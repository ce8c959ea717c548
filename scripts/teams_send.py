"""Talk to `ethicsbot serve` as a Teams user would, through the fake Bot Connector.

    python scripts/teams_send.py install              # add the app: the welcome card
    python scripts/teams_send.py say confidentiality  # type in the personal chat
    python scripts/teams_send.py click 3              # press button [3] of the last card
    python scripts/teams_send.py click 1 --input "what I would say"   # with a typed answer
    python scripts/teams_send.py click 1 --set mode=anonymous --set passphrase=...  # any input
    python scripts/teams_send.py --channel 19:desk@thread.tacv2 install   # add to a channel
    python scripts/teams_send.py --channel 19:desk@thread.tacv2 last      # its latest card
    python scripts/teams_send.py --channel 19:desk@thread.tacv2 --user officer-1 click 1

Prints each card as text with its buttons numbered; the last card is kept in
`.teams_last_card.json` (current directory) so `click` knows what was shown. Needs
`scripts/fake_teams.py` running and the bot in anonymous mode (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.teams_connector import actions, click, installed, message

STATE = Path(".teams_last_card.json")


def card_text(card: dict[str, Any]) -> str:
    """A card as plain lines: texts, facts, inputs, then the buttons numbered."""
    lines: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "TextBlock":
            lines.append(str(node.get("text", "")))
        elif kind == "RichTextBlock":
            lines.append("".join(str(r.get("text", "")) for r in node.get("inlines", [])))
        elif kind == "FactSet":
            lines.extend(f"  {f['title']}: {f['value']}" for f in node.get("facts", []))
        elif kind == "Input.Text":
            lines.append(
                f"  [--set {node.get('id')}=…] {node.get('label') or node.get('placeholder', '')}"
            )
        elif kind == "Input.ChoiceSet":
            choices = "|".join(str(c.get("value")) for c in node.get("choices", []))
            lines.append(f"  [--set {node.get('id')}={choices}] {node.get('label', '')}")
        elif kind == "Action.Execute":
            return
        for key in ("items", "columns", "body"):
            walk(node.get(key))

    walk(card.get("body", []))
    for n, a in enumerate(actions(card), start=1):
        lines.append(f"  [{n}] {a['title']}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    service_url = args.connector.rstrip("/") + "/"
    common: dict[str, Any] = {"aad": args.user, "locale": args.locale}
    if args.channel:
        common.update(conversation=args.channel, conversation_type="channel")
    async with aiohttp.ClientSession() as http:
        async with http.get(service_url + "_posted") as r:
            posted = await r.json()
            before = len(posted)
        if args.command == "last":  # the bot's latest card in that conversation (a desk card)
            where = args.channel or f"a:personal-{args.user}"
            cards = [
                p["body"]["attachments"][0]["content"]
                for p in posted
                if p.get("conversation") == where and (p.get("body") or {}).get("attachments")
            ]
            if not cards:
                print(f"(no card posted to {where} yet)")
                return 1
            STATE.write_text(json.dumps(cards[-1], ensure_ascii=False), "utf-8")
            print(card_text(cards[-1]))
            return 0
        if args.command == "install":
            body = installed(service_url, **common)
        elif args.command == "say":
            body = message(service_url, " ".join(args.words), **common)
        else:
            card = json.loads(STATE.read_text("utf-8")) if STATE.exists() else {}
            found = actions(card)
            n = int(args.words[0]) if args.words else 0
            if not 1 <= n <= len(found):
                print(f"no button [{n}] on the last card ({len(found)} buttons)")
                return 1
            inputs = {"answer": args.input, "describe": args.input} if args.input else {}
            for pair in args.set:
                key, _, value = pair.partition("=")
                inputs[key] = value
            body = click(service_url, found[n - 1], inputs, **common)
        body["id"] = f"local:{uuid.uuid4().hex}"
        async with http.post(args.bot.rstrip("/") + "/api/messages", json=body) as r:
            status, text = r.status, await r.text()
        if status >= 300:
            print(f"the bot answered HTTP {status}: {text[:200]}")
            return 1
        card = None
        if body["type"] == "invoke":
            card = (json.loads(text) or {}).get("value")
        else:
            for _ in range(50):  # the reply is posted to the connector just after
                async with http.get(service_url + "_posted") as r:
                    posted = await r.json()
                if len(posted) > before:
                    card = posted[-1]["body"]["attachments"][0]["content"]
                    break
                await asyncio.sleep(0.1)
        if not card:
            print("(no card came back)")
            return 1
        STATE.write_text(json.dumps(card, ensure_ascii=False), "utf-8")
        print(card_text(card))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["install", "say", "click", "last"])
    parser.add_argument("words", nargs="*")
    parser.add_argument("--input", default="", help="text typed into the card's box")
    parser.add_argument(
        "--set", action="append", default=[], metavar="ID=VALUE",
        help="fill the card's input ID (a text box or a choice), repeatable",
    )  # fmt: skip
    parser.add_argument("--bot", default="http://127.0.0.1:3000")
    parser.add_argument("--connector", default="http://127.0.0.1:3978")
    parser.add_argument("--user", default="aad-local-user")
    parser.add_argument("--channel", default="", help="a channel id (else the personal chat)")
    parser.add_argument("--locale", default="en-US")
    sys.exit(asyncio.run(run(parser.parse_args())))
