"""Pure renderers: engine replies -> plain terminal text."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from bot.core.replies import (
    Ask,
    AskText,
    Continue,
    DecisionRecord,
    OutcomeReply,
    Reply,
    Say,
    StepHeader,
    Weigh,
)
from bot.messages import msg

WIDTH = 78


def _wrap(text: str, indent: str = "", hang: str | None = None) -> list[str]:
    """Wrap to the terminal width; `hang` indents continuation lines (a bullet's text lines up
    under its first word instead of repeating the bullet on every line)."""
    out: list[str] = []
    for para in text.splitlines() or [""]:
        out.extend(
            textwrap.wrap(
                para,
                WIDTH,
                initial_indent=indent,
                subsequent_indent=indent if hang is None else hang,
                break_long_words=True,
            )
            or [""]
        )
    return out


def outcome_lines(o: OutcomeReply, lang: str) -> list[str]:
    lines = [f"» {o.headline}  [{msg('severity', lang)}: {msg('sev_' + o.severity, lang)}]", ""]
    lines += [msg("advice", lang) + ":", *_wrap(o.advice, "  ")]
    if o.cites:
        lines += ["", msg("cites", lang) + ":"]
        lines += [f"  {c.id} {c.title} — {c.source}" for c in o.cites]
    lines += ["", msg("reflect", lang) + ":"]
    for r in o.reflect:
        lines += _wrap(r, "  • ", hang="    ")
    if o.escalation == "required":
        lines += ["", "!! " + msg("escalation_required", lang)]
    elif o.escalation == "offered":
        lines += ["", "→ " + msg("escalation_offered", lang)]
    return lines


def render(replies: Iterable[Reply], lang: str) -> str:
    """The screen for one turn; option numbers start at 1 as the user types them."""
    lines: list[str] = []
    for r in replies:
        if isinstance(r, StepHeader):
            lines += ["", f"━━ {r.title} ━━", *_wrap(r.guidance, "   ")]
        elif isinstance(r, Say):
            lines += ["", *_wrap(r.text)]
        elif isinstance(r, Weigh):
            lines += ["", msg("weigh", lang) + ":"]
            for name, text in r.lenses:
                lines += _wrap(f"{name}: {text}", "  ")
        elif isinstance(r, Ask):
            lines += [""] + [f"  {i + 1}. {label}" for i, label in r.options]
            lines.append(_controls(r.can_back, lang))
        elif isinstance(r, AskText):
            optional = f" ({msg('skip', lang)}: Enter)" if r.optional else ""
            lines += ["", *_wrap(r.prompt + optional), _controls(r.can_back, lang)]
        elif isinstance(r, Continue):
            lines.append(_controls(r.can_back, lang))
        elif isinstance(r, OutcomeReply):
            lines += ["", *outcome_lines(r, lang)]
        elif isinstance(r, DecisionRecord):
            lines += ["", *record_lines(r, lang)]
    return "\n".join(lines)


def _controls(can_back: bool, lang: str) -> str:
    parts = ([f"b. {msg('back', lang)}"] if can_back else []) + [f"s. {msg('save_exit', lang)}"]
    return "  " + "   ".join(parts)


def record_lines(rec: DecisionRecord, lang: str) -> list[str]:
    lines = [f"═══ {msg('record_title', lang)}: {rec.title} (v{rec.tree_version}) ═══"]
    for i, step in enumerate(rec.steps, start=1):
        lines.append(f"{i}. {step.title}")
        for e in step.entries:
            lines += _wrap(f"{e.question} → {e.answer}", "   - ")
        for name, text in step.weighing:
            lines += _wrap(f"{name}: {text}", "   · ")
    lines += ["", *outcome_lines(rec.outcome, lang)]
    return lines
