"""The bank's policies as typed data: clauses outcomes cite, and the escalation rules.

Escalation is decided here and nowhere else: a tree's outcome sets the floor, the rules in
`policies/escalation.yaml` may only raise it (severity and flags collected on the walk).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.model import Escalation, Severity, Text, Title

_ENV = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def expand_env(data: Any, environ: Mapping[str, str]) -> Any:
    """Replace `${NAME}` in every string with environ[NAME] (empty when unset)."""
    if isinstance(data, str):
        return _ENV.sub(lambda m: environ.get(m.group(1), ""), data)
    if isinstance(data, list):
        return [expand_env(v, environ) for v in data]
    if isinstance(data, dict):
        return {k: expand_env(v, environ) for k, v in data.items()}
    return data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retention(_Strict):
    """How long records are kept (policies/retention.yaml), as ISO 8601 durations."""

    unfinished_consultations: timedelta = timedelta(days=30)
    finished_consultations: timedelta = timedelta(days=180)
    closed_cases: timedelta = timedelta(days=1825)
    exercise_answers: timedelta = timedelta(days=365)


class Clause(_Strict):
    topic: str
    title: Title
    text: Text
    source: str = Field(min_length=3)
    basis: Literal["law", "regulation", "industry_code", "bank_policy", "training"]
    verification: Literal["verified", "secondary", "paraphrase", "unconfirmed", "internal"]


class CodeOfConduct(_Strict):
    clauses: dict[str, Clause]


class Rule(_Strict):
    """Raise escalation to `escalation` when any listed severity or flag is present."""

    severity: list[Severity] = Field(default_factory=list)
    flags_any: list[str] = Field(default_factory=list)
    escalation: Escalation
    why: str = ""


class Clock(_Strict):
    acknowledge_default: timedelta = timedelta(days=7)
    acknowledge_by_severity: dict[Severity, timedelta] = Field(default_factory=dict)
    feedback_months: int = Field(default=3, ge=1, le=12)
    remind_at: list[float] = Field(default_factory=lambda: [0.5, 0.9])


class EscalationPolicy(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    routing: dict[str, str] = Field(default_factory=dict)
    clocks: Clock = Field(default_factory=Clock)
    reports_per_user_per_hour: int = Field(default=5, ge=1)

    def decide(self, floor: Escalation, severity: Severity, flags: Iterable[str]) -> Escalation:
        """The effective escalation: the highest of the tree's floor and every matching rule."""
        have = set(flags)
        best = floor
        for rule in self.rules:
            hit = severity in rule.severity or bool(have.intersection(rule.flags_any))
            if hit and rule.escalation.rank > best.rank:
                best = rule.escalation
        return best

    def destination(self, topic: str) -> str:
        return self.routing.get(topic) or self.routing.get("default", "")
