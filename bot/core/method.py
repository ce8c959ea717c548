"""The four-step ethical decision method: the single source of its order, names and guidance.

Chapter 6 of the bank's training material: 1 识别伦理问题, 2 收集相关信息, 3 评估各种选择,
4 做出决策并反思. Step 3 uses the ECI "PLUS" filters (Policies, Legal, Universal values, Self).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Step(StrEnum):
    """A step of the method; the enum order is the order a walk must follow."""

    identify = "identify"
    gather = "gather"
    evaluate = "evaluate"
    decide = "decide"

    @property
    def number(self) -> int:
        return STEPS.index(self) + 1


STEPS: Final[tuple[Step, ...]] = (Step.identify, Step.gather, Step.evaluate, Step.decide)

STEP_NAMES: Final[dict[Step, dict[str, str]]] = {
    Step.identify: {"en": "Identify the ethical issue", "zh": "识别伦理问题"},
    Step.gather: {"en": "Gather the relevant facts", "zh": "收集相关信息"},
    Step.evaluate: {"en": "Evaluate the options", "zh": "评估各种选择"},
    Step.decide: {"en": "Decide, act and reflect", "zh": "做出决策并反思"},
}

STEP_GUIDANCE: Final[dict[Step, dict[str, str]]] = {
    Step.identify: {
        "en": "Does this call for an ethical decision? Which principles and values are at stake?",
        "zh": "当前情况是否涉及伦理决策？涉及哪些道德原则和价值观？",
    },
    Step.gather: {
        "en": "Get the facts, the possible courses of action and their consequences.",
        "zh": "了解所有相关事实，考虑各种可能的行动方案及其后果。",
    },
    Step.evaluate: {
        "en": "Weigh each option against the bank's values, the codes and the law.",
        "zh": "根据银行价值观、职业准则和法律法规，评估各方案的道德合理性。",
    },
    Step.decide: {
        "en": "Choose the most ethical option, act on it, then reflect and learn.",
        "zh": "选择最符合道德标准的方案，执行后进行反思，总结经验教训。",
    },
}

PLUS_LENSES: Final[dict[str, dict[str, str]]] = {
    "policies": {"en": "Policies", "zh": "政策制度"},
    "legal": {"en": "Legal", "zh": "法律法规"},
    "universal": {"en": "Universal values", "zh": "普遍价值"},
    "self": {"en": "Self", "zh": "自我"},
}


def step_header(step: Step, lang: str) -> str:
    """ "Step n of 4 · name", the header every platform shows above a node."""
    if lang == "zh":
        return f"第 {step.number} 步（共 4 步）· {STEP_NAMES[step]['zh']}"
    return f"Step {step.number} of 4 · {STEP_NAMES[step]['en']}"
