"""The reflection answer's checks, shared by Slack and Teams (bot/reflection/service.py
`parse_submission`), seen through the real Slack server: what is missing is marked on its own
question, a forged session id is refused and audited, and nothing is stored until complete.
(The Teams side, the questions again with what is missing, is in test_teams_reflection.py.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from bot.adapters.slack import reflection_blocks as RB
from tests.fakes.slack_api import FakeSlack
from tests.harness import start_bot
from tests.test_reflection import answer_submission, reflection_rows


async def test_an_unfinished_or_forged_answer_is_sent_back_and_nothing_is_stored(
    fake: FakeSlack, sqlite_url: str
) -> None:
    """The modal's checks, in the order the person meets them: "would you do the same" not
    chosen, then "how did it turn out" not chosen (or an option the modal never offered), each
    marked on its own question; a malformed session id is refused and audited."""
    bot = await start_bot(sqlite_url, fake)
    modal = {"callback_id": RB.VIEW, "private_metadata": "0" * 8 + "-0000-4000-8000-" + "0" * 12}
    try:

        async def submit(view: dict[str, Any], turned_out: str, same: str) -> Any:
            r = await bot.post(answer_submission(view, "U1", turned_out, same, "a lesson"))
            assert r.status == 200
            return r.json()

        pick = "Please choose one."
        nothing = await submit(modal, "", "")
        assert nothing == {"response_action": "errors", "errors": {RB.SAME_BLOCK: pick}}
        half = await submit(modal, "", "yes")
        assert half == {"response_action": "errors", "errors": {RB.TURNED_OUT_BLOCK: pick}}
        odd = await submit(modal, "splendid", "no")
        assert odd == {"response_action": "errors", "errors": {RB.TURNED_OUT_BLOCK: pick}}
        forged = await submit({**modal, "private_metadata": "../../etc"}, "better", "yes")
        assert forged == {"response_action": "errors", "errors": {RB.TURNED_OUT_BLOCK: "—"}}
        with bot.services.db.read() as s:
            refused = s.execute(
                text("SELECT count(*) FROM audit_log WHERE result = 'refused'")
            ).scalar()
        assert refused == 1
        assert reflection_rows(bot.services) == []
    finally:
        await bot.stop()
