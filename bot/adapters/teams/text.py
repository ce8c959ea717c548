"""The product's neutral texts as Teams shows them.

bot/messages.py writes neutral markup (`**bold**`, `` `code` ``), which Teams' card markdown
renders as is; this module picks the Teams variants and slots (`help.teams`,
`reach_me.teams`, `privacy_note.teams` …), so no Teams card tells anyone to type `/ethics`.
"""

from __future__ import annotations

from bot.messages import msg as neutral

PLATFORM = "teams"


def msg(key: str, lang: str, **kwargs: str) -> str:
    """`bot.messages.msg` for Teams."""
    return neutral(key, lang, PLATFORM, **kwargs)
