"""Pydantic models of the content trainers write: dilemma trees, their nodes and outcomes.

The limits below are the tightest of what Slack (Block Kit) and Teams (Adaptive Cards) accept,
so a tree that validates renders on every platform without truncation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.core.method import Step

MAX_TITLE: Final = 150  # Slack header block / modal title limits
MAX_LABEL: Final = 75  # Slack button text
MAX_TEXT: Final = 2500  # Slack section text is 3,000; leave room for markup
MAX_ADVICE: Final = 2900
MAX_OPTIONS: Final = 8  # more than this is no longer a readable choice on a phone
MAX_INPUT: Final = 3000  # Slack plain_text_input max_length
MAX_NODES: Final = 200
MAX_REFLECT: Final = 6

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
ClauseId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]*-[0-9A-Za-z]+$")]
Flag = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _bounded(max_len: int) -> object:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_len)


TextStr = Annotated[str, _bounded(MAX_TEXT)]
TitleStr = Annotated[str, _bounded(MAX_TITLE)]
LabelStr = Annotated[str, _bounded(MAX_LABEL)]
AdviceStr = Annotated[str, _bounded(MAX_ADVICE)]


class BiText(Strict):
    """A text in both supported languages; both are required and non-blank."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


class Text(BiText):
    en: TextStr
    zh: TextStr


class Title(BiText):
    en: TitleStr
    zh: TitleStr


class Label(BiText):
    en: LabelStr
    zh: LabelStr


class Advice(BiText):
    en: AdviceStr
    zh: AdviceStr


class Severity(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Escalation(StrEnum):
    none = "none"
    offered = "offered"
    required = "required"

    @property
    def rank(self) -> int:
        return list(Escalation).index(self)


class Option(Strict):
    label: Label
    next: Id
    flags: list[Flag] = Field(default_factory=list, max_length=10)


class Input(Strict):
    """A free-text question; the answer is a fact for the decision record, never for routing."""

    key: Id
    prompt: Text
    optional: bool = False
    max_length: int = Field(default=1500, ge=10, le=MAX_INPUT)


class Plus(Strict):
    """Step 3's explicit weighing through the PLUS filters."""

    policies: Text
    legal: Text
    universal: Text
    self: Text


class Outcome(Strict):
    severity: Severity
    escalation: Escalation = Escalation.none
    headline: Title
    advice: Advice
    cites: list[ClauseId] = Field(default_factory=list, max_length=10)
    reflect: list[Text] = Field(min_length=1, max_length=MAX_REFLECT)
    handoff: Id | None = None  # triage: the tree this outcome suggests walking next


class Node(Strict):
    """One screen of the walk. Exactly one of options, input+next, next, outcome leads on."""

    step: Step
    text: Text
    plus: Plus | None = None
    options: list[Option] | None = Field(default=None, min_length=1, max_length=MAX_OPTIONS)
    input: Input | None = None
    next: Id | None = None
    outcome: Outcome | None = None
    flags: list[Flag] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _one_way_on(self) -> Node:
        kinds = [
            name
            for name, present in (
                ("options", self.options is not None),
                ("next", self.next is not None),
                ("outcome", self.outcome is not None),
            )
            if present
        ]
        if len(kinds) > 1:
            raise ValueError(f"a node has exactly one way on, this one has {' and '.join(kinds)}")
        if self.input is not None and self.next is None:
            raise ValueError("an input node needs 'next' (where to go after the answer)")
        if self.outcome is not None and self.step is not Step.decide:
            raise ValueError("an outcome belongs to step 'decide'")
        return self

    @property
    def kind(self) -> Literal["options", "input", "next", "outcome", "dead_end"]:
        if self.outcome is not None:
            return "outcome"
        if self.options is not None:
            return "options"
        if self.input is not None:
            return "input"
        if self.next is not None:
            return "next"
        return "dead_end"

    def successors(self) -> list[str]:
        if self.options is not None:
            return [o.next for o in self.options]
        return [self.next] if self.next is not None else []


Topic = Literal[
    "confidentiality", "fair_treatment", "honesty", "conflict_of_interest", "speaking_up", "triage"
]


class Dilemma(Strict):
    """A dilemma tree: content only, immutable once loaded; sessions pin (id, version)."""

    schema_version: Literal[1]
    id: Id
    version: int = Field(ge=1)
    topic: Topic
    title: Title
    summary: Text
    keywords: list[str] = Field(default_factory=list, max_length=20)
    cites: list[ClauseId] = Field(default_factory=list)
    start: Id
    nodes: dict[Id, Node] = Field(min_length=1, max_length=MAX_NODES)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def outcomes(self) -> list[str]:
        return [nid for nid, n in self.nodes.items() if n.outcome is not None]


class ExerciseOption(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-e]$")]
    label: Label
    explanation: Advice
    cites: list[ClauseId] = Field(default_factory=list, max_length=6)


class Exercise(Strict):
    """A weekly dilemma: a short scenario, 2-5 answers, each explained, some recommended."""

    schema_version: Literal[1]
    id: Id
    version: int = Field(ge=1)
    topic: Topic
    title: Title
    scenario: Text
    options: list[ExerciseOption] = Field(min_length=2, max_length=5)
    recommended: list[Annotated[str, StringConstraints(pattern=r"^[a-e]$")]] = Field(min_length=1)
    explore_tree: Id | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Exercise:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        unknown = [r for r in self.recommended if r not in ids]
        if unknown:
            raise ValueError(f"recommended option(s) {', '.join(unknown)} do not exist")
        return self
