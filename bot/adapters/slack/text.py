"""The product's neutral texts as Slack shows them.

bot/messages.py writes `**bold**` for every platform; Slack's mrkdwn bolds with single
asterisks. Every Slack module takes its texts from here, so no Slack screen can show a Teams
instruction or a doubled asterisk.
"""

from __future__ import annotations

import re

from bot.messages import msg as neutral

PLATFORM = "slack"
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


def mrkdwn(text: str) -> str:
    """Neutral markup -> Slack mrkdwn."""
    return _BOLD.sub(r"*\1*", text)


def msg(key: str, lang: str, **kwargs: str) -> str:
    """`bot.messages.msg` for Slack: Slack's variants and slots, mrkdwn bold."""
    return mrkdwn(neutral(key, lang, PLATFORM, **kwargs))
