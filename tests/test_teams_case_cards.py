"""Every card of the Teams desk, in both languages and at its largest, is Adaptive Card 1.5
and under Teams' 28 KB (cards the flows send are checked in test_teams_cases.py too)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.teams import case_cards as CC
from bot.cases.service import CaseView, ReporterView
from tests.fakes.teams_connector import texts
from tests.test_teams_golden import check_card

AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
CASE = CaseView(
    id="0b6c3f1e-8a1d-4c47-9b0e-4f4c1d2e3a4b",
    ref="ETH-2026-0042",
    mode="confidential",
    topic="honesty",
    severity="high",
    status="new",
    assignee=None,
    created_at=AT,
    ack_due=AT + timedelta(days=1),
    feedback_due=None,
    outcome=None,
)
OFFICERS = [(f"teams:aad-{i:02d}-officer", f"Teams user aad-{i:02d}…") for i in range(50)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_reporter_cards_validate_in_both_languages(lang: str) -> None:
    form = CC.report_form(lang, officers=OFFICERS, notice=CC.msg("passphrase_short", lang))
    check_card(form, f"report form {lang}")
    check_card(CC.report_form(lang, session_id=CASE.id), f"report form from an outcome {lang}")
    check_card(CC.receipt_card(lang, CASE.ref, CASE.ack_due, "R-ABCD-EFGH-JKLM"), "receipt")
    questions = tuple((AT, "q" * 3000, "a" * 3000) for _ in range(3))
    named = [
        ReporterView(f"ETH-2026-00{i}", "in progress", questions, f"{CASE.id}.1.{'0' * 32}")
        for i in range(5)
    ]
    check_card(CC.status_login_card(lang, named), f"status {lang}")
    check_card(CC.reporter_card(named[0], lang, anonymous=True), f"reporter {lang}")
    if lang == "zh":
        assert "实名" in texts(form) and "匿名" in texts(form)


def test_the_case_card_validates_in_every_state_and_offers_reopen_only_when_closed() -> None:
    for status, outcome, assignee in [
        ("new", None, None),
        ("acknowledged", None, None),
        ("investigating", None, "teams:aad-01-officer"),
        ("closed", "referred", "slack:U1"),
    ]:
        c = replace(CASE, status=status, outcome=outcome, assignee=assignee, feedback_due=AT)
        card = CC.case_card(c, notice="x", repeat=True)
        check_card(card, status)
        assert ("Reopen" in str(card)) == (status == "closed")


def test_the_details_card_of_a_long_case_is_shortened_not_lost() -> None:
    facts = {
        "tree": "t",
        "outcome": "o",
        "steps": [{"step": "s", "entries": [["q", "a" * 2000]] * 8}],
    }
    timeline = tuple((AT, "note", "teams:aad-01-officer", "n" * 3000) for _ in range(40))
    c = replace(CASE, narrative="z" * 20000, facts=facts, timeline=timeline, reporter="teams:aad-9")
    card = CC.details_card(c)
    check_card(card, "long details")
    assert "Shortened to fit a Teams card" in texts(card)
    small = CC.details_card(replace(CASE, narrative="short", timeline=timeline[:2]))
    assert "Shortened" not in texts(small) and "short" in texts(small)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_confidential_reporter_is_offered_consent_on_the_question_card(lang: str) -> None:
    plain = CC.question_card(CASE.ref, "Who else was there?", CASE.id, lang)
    offered = CC.question_card(CASE.ref, "Who else was there?", CASE.id, lang, confidential=True)
    check_card(offered, f"question card with consent {lang}")
    consent = [a for a in offered["actions"] if a["verb"] == CC.V_CONSENT]
    assert [a["data"] for a in consent] == [{"verb": CC.V_CONSENT, "c": CASE.id}]
    assert CC.msg("consent_button", lang) in consent[0]["title"]
    assert CC.msg("consent_offer", lang) in texts(offered)
    assert not [a for a in plain["actions"] if a["verb"] == CC.V_CONSENT]
    thanks = CC.consent_card(CASE.ref, lang)
    check_card(thanks, f"consent thanks {lang}")
    assert CC.msg("consent_thanks", lang) in texts(thanks)
    if lang == "zh":
        assert "我同意披露我的身份" in json.dumps(offered, ensure_ascii=False)
