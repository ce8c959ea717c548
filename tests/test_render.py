"""`ethicsbot render`: Mermaid and Graphviz output of every shipped tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from bot.core.diagram import to_dot, to_mermaid
from tests.golden import shipped

TREES = sorted(shipped().trees.values(), key=lambda t: t.id)


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.id)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_mermaid_is_a_well_formed_flowchart(tree, lang: str) -> None:  # type: ignore[no-untyped-def]
    text = to_mermaid(tree, lang)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    declared = re.findall(r"^\s{4}(n_\w+)[\[\(\{]", text, re.M)
    assert sorted(declared) == sorted(f"n_{n.replace('-', '_')}" for n in tree.nodes)
    for src, dst in re.findall(r"^\s{2}(n_\w+) -->(?:\|\"[^\"]*\"\|)? (n_\w+)$", text, re.M):
        assert src in declared and dst in declared
    edges = sum(len(n.successors()) for n in tree.nodes.values())
    assert sum(1 for line in lines if " -->" in line) == edges
    assert text.count("subgraph ") == text.count("\n  end") == 4
    assert all(f"class n_{o.replace('-', '_')} sev_" in text for o in tree.outcomes())


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.id)
def test_graphviz_renders_the_dot_output(tree) -> None:  # type: ignore[no-untyped-def]
    svg = subprocess.run(
        ["dot", "-Tsvg"],
        input=to_dot(tree, "zh"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert svg.count('class="node"') == len(tree.nodes)


def test_render_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "render", "triage", "--format", "dot"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith('digraph "triage" {') and "cluster_evaluate" in out
    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "render", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "no valid tree 'nope'" in bad.stderr
