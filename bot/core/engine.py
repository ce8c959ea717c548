"""Pure transitions of a consultation: start, choose, answer, continue, back, view.

Nothing here performs I/O or knows a platform: each call takes a tree and a session state
and returns a `Turn` (the new state, what to show, what happened). A call whose `node` or
`version` is not the session's current one raises `StaleAction` and changes nothing, which
is what makes double clicks, replays and clicks on old cards harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.method import PLUS_LENSES, STEP_GUIDANCE, STEP_NAMES, STEPS, Step, step_header
from bot.core.model import Dilemma, Node
from bot.core.policy import Clause, EscalationPolicy
from bot.core.replies import (
    Ask,
    AskText,
    Citation,
    Continue,
    DecisionRecord,
    OutcomeReply,
    RecordEntry,
    RecordStep,
    Reply,
    Say,
    StepHeader,
    Weigh,
)
from bot.core.session import SessionState, Visit


class EngineError(Exception):
    """A request the engine refuses; the session is unchanged."""


class StaleAction(EngineError):
    """The action was made on a node or state version the session has moved past."""


class InvalidAction(EngineError):
    """The action does not fit the current node (unknown option, empty required text …)."""


class WrongTree(EngineError):
    """The tree given is not the one (id and version) the session is pinned to."""


@dataclass(frozen=True)
class OutcomeReached:
    tree_id: str
    node: str
    severity: str
    escalation: str


@dataclass(frozen=True)
class Turn:
    state: SessionState
    replies: tuple[Reply, ...]
    events: tuple[OutcomeReached, ...] = field(default=())


@dataclass(frozen=True)
class Engine:
    """Holds the policies every transition needs; trees and sessions come with each call."""

    escalation: EscalationPolicy
    clauses: Mapping[str, Clause]

    def start(self, tree: Dilemma, session_id: str, lang: str = "en") -> Turn:
        state = SessionState(
            id=session_id,
            tree_id=tree.id,
            tree_version=tree.version,
            lang="zh" if lang == "zh" else "en",
            node=tree.start,
        )
        return self._arrive(tree, state)

    def view(self, tree: Dilemma, state: SessionState) -> Turn:
        """Show the current node again (resume after a restart or a closed window)."""
        self._check_tree(tree, state)
        return Turn(state, self._render(tree, state))

    def choose(
        self, tree: Dilemma, state: SessionState, *, node: str, version: int, option: int
    ) -> Turn:
        current = self._current(tree, state, node, version)
        if current.options is None or not 0 <= option < len(current.options):
            raise InvalidAction(f"option {option} does not exist at '{node}'")
        visit = Visit(node=node, option=option)
        return self._move(tree, state, visit, current.options[option].next)

    def answer(
        self, tree: Dilemma, state: SessionState, *, node: str, version: int, text: str
    ) -> Turn:
        current = self._current(tree, state, node, version)
        if current.input is None or current.next is None:
            raise InvalidAction(f"'{node}' does not ask for text")
        text = text.strip()
        if not text and not current.input.optional:
            raise InvalidAction("an answer is required here")
        if len(text) > current.input.max_length:
            raise InvalidAction(f"the answer is longer than {current.input.max_length} characters")
        return self._move(tree, state, Visit(node=node, answer=text), current.next)

    def proceed(self, tree: Dilemma, state: SessionState, *, node: str, version: int) -> Turn:
        current = self._current(tree, state, node, version)
        if current.kind != "next" or current.next is None:
            raise InvalidAction(f"'{node}' has no plain continue")
        return self._move(tree, state, Visit(node=node), current.next)

    def back(self, tree: Dilemma, state: SessionState, *, version: int) -> Turn:
        self._current(tree, state, state.node, version)
        if not state.history:
            raise InvalidAction("already at the first question")
        previous = state.history[-1]
        new = state.model_copy(
            update={
                "node": previous.node,
                "history": state.history[:-1],
                "version": state.version + 1,
            }
        )
        return Turn(new, self._render(tree, new))

    def flags(self, tree: Dilemma, state: SessionState) -> tuple[str, ...]:
        """Flags collected on the path: those of the options chosen and of the nodes visited."""
        seen: dict[str, None] = {}
        for v in state.history:
            node = tree.nodes[v.node]
            seen.update(dict.fromkeys(node.flags))
            if v.option is not None and node.options is not None:
                seen.update(dict.fromkeys(node.options[v.option].flags))
        seen.update(dict.fromkeys(tree.nodes[state.node].flags))
        return tuple(seen)

    def outcome(self, tree: Dilemma, state: SessionState) -> OutcomeReply:
        node = tree.nodes[state.node]
        oc = node.outcome
        if oc is None:
            raise InvalidAction("the consultation has not reached an outcome")
        lang = state.lang
        effective = self.escalation.decide(oc.escalation, oc.severity, self.flags(tree, state))
        cites = tuple(
            Citation(cid, self.clauses[cid].title.get(lang), self.clauses[cid].source)
            if cid in self.clauses
            else Citation(cid, cid, "")
            for cid in oc.cites
        )
        return OutcomeReply(
            severity=oc.severity.value,
            escalation=effective.value,
            headline=oc.headline.get(lang),
            advice=oc.advice.get(lang),
            cites=cites,
            reflect=tuple(r.get(lang) for r in oc.reflect),
            handoff=oc.handoff,
        )

    def record(self, tree: Dilemma, state: SessionState) -> DecisionRecord:
        """The decision record: every answer given, grouped under the step it belongs to."""
        self._check_tree(tree, state)
        lang = state.lang
        by_step: dict[Step, list[RecordEntry]] = {s: [] for s in STEPS}
        weighing: dict[Step, tuple[tuple[str, str], ...]] = {}
        for v in state.history:
            node = tree.nodes[v.node]
            if node.plus is not None:
                weighing[node.step] = _lenses(node, lang)
            if v.option is not None and node.options is not None:
                by_step[node.step].append(
                    RecordEntry(node.text.get(lang), node.options[v.option].label.get(lang))
                )
            elif node.input is not None:
                skipped = "（未填写）" if lang == "zh" else "(not answered)"
                by_step[node.step].append(
                    RecordEntry(
                        node.input.prompt.get(lang), v.answer or skipped, typed=bool(v.answer)
                    )
                )
        outcome = self.outcome(tree, state)
        steps = tuple(
            RecordStep(s, STEP_NAMES[s][lang], tuple(by_step[s]), weighing.get(s, ()))
            for s in STEPS
        )
        return DecisionRecord(
            tree.id,
            tree.version,
            tree.title.get(lang),
            steps,
            outcome,
            self.flags(tree, state),
            lang,
        )

    # -- internals ---------------------------------------------------------------------------

    def _check_tree(self, tree: Dilemma, state: SessionState) -> None:
        if (tree.id, tree.version) != (state.tree_id, state.tree_version):
            raise WrongTree(
                f"session is on {state.tree_id} v{state.tree_version}, "
                f"not {tree.id} v{tree.version}"
            )

    def _current(self, tree: Dilemma, state: SessionState, node: str, version: int) -> Node:
        self._check_tree(tree, state)
        if state.status != "active":
            raise StaleAction("this consultation is already finished")
        if node != state.node or version != state.version:
            raise StaleAction("this question has already been answered")
        return tree.nodes[state.node]

    def _move(self, tree: Dilemma, state: SessionState, visit: Visit, target: str) -> Turn:
        new = state.model_copy(
            update={
                "node": target,
                "history": (*state.history, visit),
                "version": state.version + 1,
            }
        )
        return self._arrive(tree, new)

    def _arrive(self, tree: Dilemma, state: SessionState) -> Turn:
        node = tree.nodes[state.node]
        if node.outcome is None:
            return Turn(state, self._render(tree, state))
        state = state.model_copy(update={"status": "finished"})
        outcome = self.outcome(tree, state)
        event = OutcomeReached(tree.id, state.node, outcome.severity, outcome.escalation)
        return Turn(state, self._render(tree, state), (event,))

    def _render(self, tree: Dilemma, state: SessionState) -> tuple[Reply, ...]:
        node = tree.nodes[state.node]
        lang = state.lang
        out: list[Reply] = [
            StepHeader(node.step, step_header(node.step, lang), STEP_GUIDANCE[node.step][lang]),
            Say(node.text.get(lang)),
        ]
        if node.plus is not None:
            out.append(Weigh(_lenses(node, lang)))
        can_back = bool(state.history) and state.status == "active"
        if node.options is not None:
            out.append(
                Ask(
                    state.node,
                    state.version,
                    tuple((i, o.label.get(lang)) for i, o in enumerate(node.options)),
                    can_back,
                )
            )
        elif node.input is not None:
            inp = node.input
            out.append(
                AskText(
                    state.node,
                    state.version,
                    inp.prompt.get(lang),
                    inp.optional,
                    inp.max_length,
                    can_back,
                )
            )
        elif node.outcome is not None:
            out.append(self.outcome(tree, state))
        elif node.next is not None:
            out.append(Continue(state.node, state.version, can_back))
        return tuple(out)


def _lenses(node: Node, lang: str) -> tuple[tuple[str, str], ...]:
    assert node.plus is not None
    return tuple((PLUS_LENSES[key][lang], getattr(node.plus, key).get(lang)) for key in PLUS_LENSES)
