"""The shipped content meets the bar the product promises trainers and staff."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.catalog import REPO_ROOT, validate
from tests.golden import load_walks, shipped

CONTENT = shipped()
TREES = sorted(CONTENT.trees.values(), key=lambda t: t.id)
WALKS = load_walks()


def test_shipped_content_validates_cleanly() -> None:
    assert validate([REPO_ROOT / "dilemmas"], REPO_ROOT, environ={}) == []
    assert CONTENT.problems == []


def test_topics_are_covered() -> None:
    topics = Counter(t.topic for t in TREES)
    assert topics["confidentiality"] >= 2
    assert topics["fair_treatment"] >= 2
    assert topics["honesty"] >= 2
    assert topics["conflict_of_interest"] >= 1
    assert topics["triage"] == 1


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.id)
def test_tree_is_substantial(tree) -> None:  # type: ignore[no-untyped-def]
    assert len(tree.nodes) >= 10
    severities = {tree.nodes[o].outcome.severity for o in tree.outcomes()}
    assert len(tree.outcomes()) >= 3 and len(severities) >= 3
    assert any(n.input is not None for n in tree.nodes.values()), "no free-text question"
    assert any(n.plus is not None for n in tree.nodes.values())


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.id)
def test_every_outcome_has_a_golden_walk(tree) -> None:  # type: ignore[no-untyped-def]
    walked = {w.outcome for w in WALKS if w.tree == tree.id}
    assert set(tree.outcomes()) <= walked


def test_each_topic_has_a_path_to_a_required_escalation() -> None:
    required = {CONTENT.trees[w.tree].topic for w in WALKS if w.escalation == "required"}
    assert {"confidentiality", "fair_treatment", "honesty", "conflict_of_interest"} <= required


def test_every_cited_clause_names_its_source() -> None:
    assert CONTENT.clauses is not None
    for cid, clause in CONTENT.clauses.clauses.items():
        assert clause.source.strip(), cid
