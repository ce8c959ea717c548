"""The walk modal is built as plain dicts on the hot path; slack_sdk's models stay the reference.

Every node of every shipped tree (so every node kind: step headers, says, weighing, choices,
free-text questions, continue, outcomes with and without escalation and hand-offs), in English
and Chinese, with and without a notice, is rendered by both kits: the dicts must be the very
view the models produce, and must pass the models' own validation when parsed back.
"""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.adapters.slack import blocks as B
from bot.core.engine import Engine
from bot.core.method import Step
from bot.core.replies import Ask, AskText, Continue, OutcomeReply, Say, StepHeader, Weigh
from bot.core.session import SessionState
from tests.golden import shipped

SID = "00000000-0000-0000-0000-000000000000"


def _walks() -> list[tuple[str, str, str, tuple[Any, ...]]]:
    content = shipped()
    engine = Engine(content.escalation, content.clauses.clauses if content.clauses else {})
    out = []
    for tree in content.trees.values():
        for node in tree.nodes:
            for lang in ("en", "zh"):
                state = SessionState(
                    id=SID,
                    tree_id=tree.id,
                    tree_version=tree.version,
                    lang=lang,
                    node=node,
                    history=(),
                    status="finished" if tree.nodes[node].outcome else "active",
                )
                out.append((tree.id, node, lang, tuple(engine.view(tree, state).replies)))
    return out


WALKS = _walks()


def _mrkdwn(node: Any) -> list[str]:
    """Every mrkdwn text in a view (what Slack would parse for mentions and links)."""
    if isinstance(node, list):
        return [t for x in node for t in _mrkdwn(x)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") == "mrkdwn" else []
    return own + [t for v in node.values() for t in _mrkdwn(v)]


def test_the_walks_cover_every_node_kind() -> None:
    """The comparison below means something only if every kind of reply is in it."""
    kinds = {type(r) for *_, replies in WALKS for r in replies}
    assert {StepHeader, Say, Weigh, Ask, AskText, Continue, OutcomeReply} <= kinds
    outcomes = [r for *_, replies in WALKS for r in replies if isinstance(r, OutcomeReply)]
    assert {o.escalation for o in outcomes} >= {"none", "offered", "required"}
    assert any(o.handoff for o in outcomes) and any(o.cites for o in outcomes)
    assert {lang for _, _, lang, _ in WALKS} == {"en", "zh"}


@pytest.mark.parametrize("notice", ["", "This step changed <!channel> & moved on"])
def test_dict_walk_view_is_what_the_models_build(notice: str) -> None:
    for tree_id, node, lang, replies in WALKS:
        fast = B.walk_view(replies, SID, lang, handoff_title="Next <b>", notice=notice)
        reference = B.walk_view(
            replies, SID, lang, handoff_title="Next <b>", notice=notice, kit=B.MODELS
        )
        assert fast == reference, (tree_id, node, lang)
        assert View(**fast).to_dict() == fast, (tree_id, node, lang)  # the models accept it


def test_long_and_hostile_text_is_clipped_and_escaped_like_the_models_do() -> None:
    """Text over Slack's limits is cut at the same place, mrkdwn stays escaped."""
    long = "<!here> " + "x" * 4000
    replies = (
        StepHeader(step=Step.gather, title=long, guidance=long),
        Say(text=long),
        Weigh(lenses=((long[:50], long),)),
        Ask(node="n1", version=3, options=((0, long), (1, "ok")), can_back=True),
        AskText(node="n1", version=3, prompt=long, optional=True, max_length=500, can_back=False),
    )
    for lang in ("en", "zh"):
        fast = B.walk_view(replies, SID, lang, notice=long)
        assert fast == B.walk_view(replies, SID, lang, notice=long, kit=B.MODELS)
        marked = _mrkdwn(fast)
        assert marked and all("<!here>" not in t for t in marked)  # plain_text is never parsed
        assert all(len(t) <= 3000 for t in marked)
        assert View(**fast).to_dict() == fast


def test_the_dict_kit_refuses_what_slack_would_refuse() -> None:
    """An over-long action id fails in both kits; an empty text, which the models would send
    as a section Slack rejects, fails here before any call."""
    for kit in (B.DICTS, B.MODELS):
        with pytest.raises(Exception, match="action_id"):
            B._dicts([kit.actions([kit.button("Go", "x" * 256)])], 10)
    with pytest.raises(ValueError):
        B.walk_view((Say(text=""),), SID, "en")
