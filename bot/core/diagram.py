"""Trees as diagrams for review: Mermaid flowcharts and Graphviz graphs, pure text out.

Steps are drawn as lanes (Mermaid subgraphs, Graphviz clusters); outcomes are coloured by
severity so a reviewer sees at a glance where the serious endings are.
"""

from __future__ import annotations

from bot.core.method import STEP_NAMES, STEPS
from bot.core.model import Dilemma, Node

SEVERITY_COLOURS = {
    "none": "#e8f5e9",
    "low": "#c8e6c9",
    "medium": "#fff59d",
    "high": "#ffb74d",
    "critical": "#e57373",
}
STEP_COLOURS = {
    "identify": "#e3f2fd",
    "gather": "#ede7f6",
    "evaluate": "#fff3e0",
    "decide": "#fafafa",
}


def _label(node: Node, lang: str, limit: int = 60) -> str:
    text = node.outcome.headline.get(lang) if node.outcome else node.text.get(lang)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if node.outcome:
        text += f" [{node.outcome.severity.value}/{node.outcome.escalation.value}]"
    return text


def _short(text: str, limit: int = 32) -> str:
    """Edge labels are cut: a diagram of full option texts is too wide to review."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mm(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mid(node_id: str) -> str:
    return "n_" + node_id.replace("-", "_")


def to_mermaid(tree: Dilemma, lang: str = "en") -> str:
    lines = ["flowchart TD"]
    for step in STEPS:
        members = [(nid, n) for nid, n in tree.nodes.items() if n.step is step]
        if not members:
            continue
        lines.append(f'  subgraph {step.value}["{step.number}. {_mm(STEP_NAMES[step][lang])}"]')
        for nid, n in members:
            shape = ('(["', '"])') if n.outcome else (('{{"', '"}}') if n.plus else ('["', '"]'))
            lines.append(f"    {_mid(nid)}{shape[0]}{_mm(_label(n, lang))}{shape[1]}")
        lines.append("  end")
    for nid, n in tree.nodes.items():
        if n.options:
            for o in n.options:
                label = _mm(_short(o.label.get(lang)))
                lines.append(f'  {_mid(nid)} -->|"{label}"| {_mid(o.next)}')
        elif n.next:
            lines.append(f"  {_mid(nid)} --> {_mid(n.next)}")
    for sev, colour in SEVERITY_COLOURS.items():
        lines.append(f"  classDef sev_{sev} fill:{colour},stroke:#333")
    for nid, n in tree.nodes.items():
        if n.outcome:
            lines.append(f"  class {_mid(nid)} sev_{n.outcome.severity.value}")
    return "\n".join(lines) + "\n"


def _dq(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(tree: Dilemma, lang: str = "en") -> str:
    lines = [
        f'digraph "{_dq(tree.id)}" {{',
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="sans-serif"];',
    ]
    for step in STEPS:
        lines.append(f"  subgraph cluster_{step.value} {{")
        lines.append(f'    label="{step.number}. {_dq(STEP_NAMES[step][lang])}";')
        lines.append(f'    style=filled; color="{STEP_COLOURS[step.value]}";')
        for nid, n in tree.nodes.items():
            if n.step is not step:
                continue
            fill = SEVERITY_COLOURS[n.outcome.severity.value] if n.outcome else "white"
            shape = "ellipse" if n.outcome else ("hexagon" if n.plus else "box")
            lines.append(
                f'    "{nid}" [label="{_dq(_label(n, lang))}", fillcolor="{fill}", shape={shape}];'
            )
        lines.append("  }")
    for nid, n in tree.nodes.items():
        if n.options:
            for o in n.options:
                label = _dq(_short(o.label.get(lang)))
                lines.append(f'  "{nid}" -> "{o.next}" [label="{label}"];')
        elif n.next:
            lines.append(f'  "{nid}" -> "{n.next}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
