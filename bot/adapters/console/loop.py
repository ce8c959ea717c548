"""The console adapter: a whole consultation in a terminal, over the same service as chat.

Reads one answer per line, so it works interactively and with piped stdin (the golden
walkthroughs are replayed that way). End of input saves the consultation for later.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO

from bot.adapters.console.text import render
from bot.core.engine import Turn
from bot.core.replies import Ask, AskText, Continue, OutcomeReply
from bot.messages import msg
from bot.service import Action, ConsultationService, Refused


class Console:
    def __init__(
        self,
        service: ConsultationService,
        *,
        stdin: TextIO,
        out: Callable[[str], None],
        owner: str | None = None,
        prompt: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.stdin = stdin
        self.out = out
        self.owner = owner or f"console:{getpass.getuser()}"
        self.prompt = prompt or out

    def _read(self, prompt: str = "> ") -> str | None:
        self.prompt(prompt)
        line = self.stdin.readline()
        return None if line == "" else line.rstrip("\n")

    def pick(self, lang: str, resume: bool) -> tuple[str, str] | None:
        """Ask which tree (or which unfinished consultation) to open: ('tree'|'session', id)."""
        unfinished = self.service.sessions(self.owner, "active") if resume else []
        trees = self.service.catalogue(lang)
        self.out(msg("pick_topic", lang))
        for i, s in enumerate(unfinished, start=1):
            self.out(f"  r{i}. {msg('resume', lang)}: {s.title} ({s.step}/4)")
        for i, t in enumerate(trees, start=1):
            self.out(f"  {i}. {t.title} — {t.summary}")
        while True:
            line = self._read()
            if line is None:
                return None
            line = line.strip().lower()
            if line.startswith("r") and line[1:].isdigit() and 0 < int(line[1:]) <= len(unfinished):
                return "session", unfinished[int(line[1:]) - 1].id
            if line.isdigit() and 0 < int(line) <= len(trees):
                return "tree", trees[int(line) - 1].id
            found = self.service.find_tree(line) if line else None
            if found:
                return "tree", found

    def run(self, *, tree_id: str | None, lang: str, resume: bool = True) -> int:
        if tree_id is None:
            picked = self.pick(lang, resume)
            if picked is None:
                return 0
            kind, ident = picked
            turn = (
                self.service.view(self.owner, ident)
                if kind == "session"
                else self.service.start(self.owner, ident, lang)
            )
        else:
            found = self.service.find_tree(tree_id)
            if found is None:
                self.out(msg("unknown_topic", lang, query=tree_id))
                return 2
            turn = self.service.start(self.owner, found, lang)
        return self.walk(turn)

    def walk(self, turn: Turn) -> int:
        lang = turn.state.lang
        while True:
            self.out(render(turn.replies, lang))
            last = turn.replies[-1]
            if isinstance(last, OutcomeReply):
                record = self.service.record(self.owner, turn.state.id)
                self.out(render([record], lang))
                return 0
            action = self._next_action(last, lang)
            if action is None:
                self.out(msg("saved", lang, "console"))
                return 0
            try:
                turn = self.service.act(self.owner, turn.state.id, action)
            except Refused as exc:
                self.out(msg(exc.key, lang) + (f" ({exc})" if exc.key == "invalid" else ""))
                turn = self.service.view(self.owner, turn.state.id)

    def _next_action(self, ask: object, lang: str) -> Action | None:
        if isinstance(ask, Continue):
            return Action("proceed", ask.node, ask.version)
        while True:
            line = self._read()
            if line is None or line.strip().lower() == "s":
                return None
            if line.strip().lower() == "b" and getattr(ask, "can_back", False):
                return Action("back", getattr(ask, "node", ""), getattr(ask, "version", 0))
            if isinstance(ask, Ask):
                if line.strip().isdigit() and 0 < int(line) <= len(ask.options):
                    return Action("choose", ask.node, ask.version, option=int(line) - 1)
                self.out(msg("invalid", lang))
            elif isinstance(ask, AskText):
                return Action("answer", ask.node, ask.version, text=line)
