"""Platform-neutral outputs of the engine; renderers turn them into text, Block Kit or cards.

Texts are already in the session's language. Anything a user typed stays in `UserText`
fields so every renderer knows it must escape it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.method import Step


@dataclass(frozen=True)
class StepHeader:
    step: Step
    title: str  # "Step n of 4 · name"
    guidance: str


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Weigh:
    """Step 3's PLUS lenses: (lens name, what it says here)."""

    lenses: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Ask:
    """A choice; `version` and `node` go into every button so stale clicks can be refused."""

    node: str
    version: int
    options: tuple[tuple[int, str], ...]
    can_back: bool


@dataclass(frozen=True)
class AskText:
    node: str
    version: int
    prompt: str
    optional: bool
    max_length: int
    can_back: bool


@dataclass(frozen=True)
class Continue:
    node: str
    version: int
    can_back: bool


@dataclass(frozen=True)
class Citation:
    id: str
    title: str
    source: str


@dataclass(frozen=True)
class OutcomeReply:
    severity: str
    escalation: str  # effective, after policies
    headline: str
    advice: str
    cites: tuple[Citation, ...]
    reflect: tuple[str, ...]
    handoff: str | None = None


@dataclass(frozen=True)
class RecordEntry:
    """One line of the decision record: the question asked and what the user chose or typed."""

    question: str
    answer: str
    typed: bool = False  # True when the answer is the user's own text (escape before display)


@dataclass(frozen=True)
class RecordStep:
    step: Step
    title: str
    entries: tuple[RecordEntry, ...]
    weighing: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DecisionRecord:
    """What the user keeps: their path organised by the four steps, and the outcome."""

    tree_id: str
    tree_version: int
    title: str
    steps: tuple[RecordStep, ...]
    outcome: OutcomeReply
    flags: tuple[str, ...] = field(default=())
    lang: str = "en"  # the language the record is written in (the session's)


Reply = StepHeader | Say | Weigh | Ask | AskText | Continue | OutcomeReply | DecisionRecord
