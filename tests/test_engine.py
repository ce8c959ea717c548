"""The pure engine: transitions, refusals of stale actions, the decision record."""

from __future__ import annotations

import pytest

from bot.catalog import load_content
from bot.core.engine import Engine, InvalidAction, StaleAction, WrongTree
from bot.core.method import Step
from bot.core.replies import Ask, AskText, Continue, OutcomeReply, StepHeader
from bot.core.session import SessionState
from tests.conftest import FIXTURE_CONTENT

CONTENT = load_content(FIXTURE_CONTENT, environ={})
TREE = CONTENT.trees["mini"]
ENGINE = Engine(CONTENT.escalation, CONTENT.clauses.clauses if CONTENT.clauses else {})


def _walk(answers: list[object], lang: str = "en") -> SessionState:
    turn = ENGINE.start(TREE, "s1", lang)
    for a in answers:
        last = turn.replies[-1]
        if isinstance(last, Continue):
            turn = ENGINE.proceed(TREE, turn.state, node=last.node, version=last.version)
        if isinstance(a, int):
            ask = turn.replies[-1]
            assert isinstance(ask, Ask)
            turn = ENGINE.choose(TREE, turn.state, node=ask.node, version=ask.version, option=a)
        else:
            ask = turn.replies[-1]
            assert isinstance(ask, AskText)
            turn = ENGINE.answer(TREE, turn.state, node=ask.node, version=ask.version, text=str(a))
        last = turn.replies[-1]
        if isinstance(last, Continue):
            turn = ENGINE.proceed(TREE, turn.state, node=last.node, version=last.version)
    return turn.state


def test_start_shows_step_one_header_in_the_chosen_language() -> None:
    turn = ENGINE.start(TREE, "s1", "zh")
    header = turn.replies[0]
    assert isinstance(header, StepHeader)
    assert header.title == "第 1 步（共 4 步）· 识别伦理问题"
    ask = turn.replies[-1]
    assert isinstance(ask, Ask) and [label for _, label in ask.options] == ["客户本人", "其他人"]
    assert ask.can_back is False


def test_a_flag_on_the_path_raises_escalation_to_required() -> None:
    state = _walk([1, "balance", 1])
    assert state.status == "finished" and state.node == "leak"
    outcome = ENGINE.outcome(TREE, state)
    assert (outcome.severity, outcome.escalation) == ("medium", "required")
    assert set(ENGINE.flags(TREE, state)) == {"third_party", "data_leak"}


def test_the_safe_path_needs_no_escalation() -> None:
    state = _walk([0, "", 0])
    assert ENGINE.outcome(TREE, state).escalation == "none"


def test_a_stale_or_repeated_click_is_refused_and_changes_nothing() -> None:
    turn = ENGINE.start(TREE, "s1")
    after = ENGINE.choose(TREE, turn.state, node="who", version=1, option=0)
    with pytest.raises(StaleAction):
        ENGINE.choose(TREE, after.state, node="who", version=1, option=1)
    with pytest.raises(StaleAction):  # right version, node of another question
        ENGINE.choose(TREE, after.state, node="weigh", version=after.state.version, option=0)
    assert after.state.node == "facts" and after.state.version == 2


def test_unknown_option_and_overlong_text_are_invalid() -> None:
    turn = ENGINE.start(TREE, "s1")
    with pytest.raises(InvalidAction):
        ENGINE.choose(TREE, turn.state, node="who", version=1, option=7)
    turn = ENGINE.choose(TREE, turn.state, node="who", version=1, option=0)
    with pytest.raises(InvalidAction):
        ENGINE.answer(TREE, turn.state, node="facts", version=2, text="x" * 201)


def test_back_returns_to_the_previous_question_with_a_new_version() -> None:
    turn = ENGINE.start(TREE, "s1")
    turn = ENGINE.choose(TREE, turn.state, node="who", version=1, option=1)
    back = ENGINE.back(TREE, turn.state, version=turn.state.version)
    assert back.state.node == "who" and back.state.version == 3 and back.state.history == ()
    with pytest.raises(InvalidAction):
        ENGINE.back(TREE, back.state, version=back.state.version)


def test_session_resumes_from_json_and_is_pinned_to_its_tree_version() -> None:
    turn = ENGINE.start(TREE, "s1")
    turn = ENGINE.choose(TREE, turn.state, node="who", version=1, option=0)
    restored = SessionState.from_json(turn.state.to_json())
    assert ENGINE.view(TREE, restored).replies == turn.replies
    newer = TREE.model_copy(update={"version": 2})
    with pytest.raises(WrongTree):
        ENGINE.view(newer, restored)


def test_decision_record_follows_the_four_steps() -> None:
    state = _walk([1, "asked for the balance", 1])
    record = ENGINE.record(TREE, state)
    assert [s.step for s in record.steps] == [
        Step.identify,
        Step.gather,
        Step.evaluate,
        Step.decide,
    ]
    assert [(e.answer, e.typed) for e in record.steps[1].entries] == [
        ("asked for the balance", True)
    ]
    assert [name for name, _ in record.steps[2].weighing] == [
        "Policies",
        "Legal",
        "Universal values",
        "Self",
    ]
    assert isinstance(record.outcome, OutcomeReply)
    assert [c.id for c in record.outcome.cites] == ["T-1", "T-2"]
    assert record.outcome.cites[0].title == "Deposit secrecy"
