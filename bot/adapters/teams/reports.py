"""Pictures in Teams: the monthly compliance report to the Teams desk, and the chart helpers
the exercise reveal uses.

Why a card and not a file: a bot cannot attach a file to a channel message. Files in Teams
channels live in the team's SharePoint library and are sent with Microsoft Graph, which
needs Graph permissions and a SharePoint site (our app has neither; a closed-network bank
may allow neither). So the picture travels inside the Adaptive Card as a `data:image/png`
URI, which Teams renders without fetching anything (never a public URL), and the numbers of
the CSV travel as FactSets in the same card, row for row what `ethicsbot report monthly
--format csv` writes.

Teams refuses cards over 28 KB, and base64 makes a PNG a third larger, so the chart is
drawn smaller for Teams (bot.reports.charts `COMPACT`, then `TINY`); if even that does not
fit, the card goes out with the numbers only and says how to get the picture. Exactly once:
the outbox row is the only sender; a connector 5xx is retried by the connector client and
then by the outbox, and nothing was posted when Teams answered with an error.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.adapters.teams.cards import Card, finish, message, text
from bot.adapters.teams.connector import ConnectorError
from bot.adapters.teams.text import msg
from bot.delivery.outbox import Job
from bot.delivery.worker import NotYet

if TYPE_CHECKING:
    from bot.adapters.teams.delivery import TeamsDeliverer
    from bot.reports.charts import Chart, Size
    from bot.reports.service import ReportFiles, ReportService

log = logging.getLogger(__name__)

ALT_MAX = 2000  # altText is read out by screen readers; keep it a paragraph, not a page


def image(png: bytes, alt: str) -> dict[str, Any]:
    """A picture inline in the card (no URL to fetch), with its alt text."""
    return {
        "type": "Image",
        "url": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "altText": alt[:ALT_MAX],
        "size": "Stretch",
    }


def chart_image(chart: Chart) -> dict[str, Any]:
    return image(chart.png, chart.alt)


def sizes() -> tuple[Size, ...]:
    """The chart sizes tried for a Teams card, in order (matplotlib loads only when a chart
    is drawn, not when the adapter is imported)."""
    from bot.reports.charts import COMPACT, TINY

    return (COMPACT, TINY)


def fitted(build: Callable[[Size | None], Card]) -> tuple[Card, Size | None]:
    """The first card `build` makes that is under Teams' limit, trying smaller charts, and
    finally none (`build(None)`). `finish` raises ValueError for an oversized card."""
    for size in sizes():
        try:
            return build(size), size
        except ValueError:
            log.info("teams card with a chart at %d dpi is over 28 KB; drawing smaller", size.dpi)
    return build(None), None


def facts(csv_bytes: bytes) -> list[dict[str, Any]]:
    """A long CSV's rows (period, section, item, value: the monthly report) as one FactSet
    per section: the same cells, in the same order."""
    rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8"))))
    sections: dict[str, list[dict[str, str]]] = {}
    for _month, section, item, value in rows[1:]:
        sections.setdefault(section, []).append({"title": item, "value": value})
    return _sections(sections)


def row_facts(csv_bytes: bytes) -> list[dict[str, Any]]:
    """A wide CSV (the exercise results: exercise, posted_for, then one column per figure)
    as one FactSet per row, headed by its first two cells, titled by the CSV's header."""
    header, *rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8"))))
    sections = {
        f"{row[0]} ({row[1][:10]})": [
            {"title": title, "value": value}
            for title, value in zip(header[2:], row[2:], strict=False)
        ]
        for row in rows
    }
    return _sections(sections)


def _sections(sections: dict[str, list[dict[str, str]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for section, found in sections.items():
        out.append(text(f"**{section}**", spacing="Small"))
        out.append({"type": "FactSet", "facts": found, "spacing": "None"})
    return out


def report_card(
    heading: str,
    files: ReportFiles | None,
    csv_bytes: bytes,
    lang: str,
    *,
    repeat: bool = False,
    missing: str = "report_no_chart",
    numbers: Callable[[bytes], list[dict[str, Any]]] = facts,
) -> Card:
    """One builder for every picture-and-numbers card (the monthly report, a trainer's
    exercise results): the heading, the chart (when given, else the `missing` note), the
    numbers of the CSV as FactSets (laid out by `numbers`)."""
    body: list[dict[str, Any]] = []
    if repeat:
        body.append(text(f"ℹ️ {msg('report_repeat', lang)}", isSubtle=True))
    body.append(text(heading))
    if files is not None:
        body.append(image(files.png, files.alt))
    else:
        body.append(text(msg(missing, lang), isSubtle=True))
    body.extend(numbers(csv_bytes))
    return finish(body)


def fitted_report(
    draw: Callable[[Size], ReportFiles | None], card: Callable[[ReportFiles | None, bytes], Card]
) -> Card | None:
    """Draw at the first Teams size, and smaller while the card is over 28 KB; the numbers
    come from the first drawing (they do not depend on the picture's size). None when
    `draw` has nothing to show."""
    first = sizes()[0]
    files = draw(first)
    if files is None:
        return None
    drawn: dict[Size, ReportFiles | None] = {first: files}
    numbers = files.csv

    def build(size: Size | None) -> Card:
        if size is not None and size not in drawn:
            drawn[size] = draw(size)
        return card(drawn[size] if size is not None else None, numbers)

    made, _ = fitted(build)
    return made


def monthly_card(
    files: ReportFiles | None, csv_bytes: bytes, month: str, lang: str, *, repeat: bool = False
) -> Card:
    """The monthly report card."""
    return report_card(msg("monthly_report", lang, month=month), files, csv_bytes, lang,
                       repeat=repeat)  # fmt: skip


def monthly_report_card(
    reports: ReportService, month: str, lang: str = "en", repeat: bool = False
) -> Card:
    """Blocking (draws with matplotlib): run it in a thread."""
    card = fitted_report(
        lambda size: reports.monthly_files(month, lang, size),
        lambda files, numbers: monthly_card(files, numbers, month, lang, repeat=repeat),
    )
    assert card is not None  # a month always has its numbers, zero or not
    return card


def exercise_results_card(reports: ReportService, trainer: str, lang: str = "en") -> Card | None:
    """A trainer's 12-week exercise results as one card (chart inline plus the numbers);
    None when nothing was posted in 12 weeks. Blocking: run it in a thread. Refuses
    (audited, `Refused`) a non-trainer, as Slack's command does."""

    first = reports.exercise_results(trainer, lang, sizes()[0])
    if first is None:
        return None
    period: ReportFiles = first  # the title and period do not depend on the size either

    def card(files: ReportFiles | None, csv_bytes: bytes) -> Card:
        heading = msg("exercise_results_caption", lang, title=period.title, period=period.month)
        return report_card(heading, files, csv_bytes, lang, numbers=row_facts)

    return fitted_report(
        lambda size: first if size == sizes()[0] else reports.exercise_results(trainer, lang, size),
        card,
    )


async def monthly_report(d: TeamsDeliverer, job: Job) -> dict[str, str]:
    """Kind.MONTHLY_REPORT for the Teams desk (COMPLIANCE_TEAMS_CONVERSATION)."""
    from bot.adapters.teams.desk_delivery import compliance_conversation

    conversation = await compliance_conversation(d)
    ref = await d.reference(conversation)
    month = str(job.payload["month"])
    # the previous claimant vanished mid-post (no error recorded): say so if it is repeated
    repeat = job.attempts > 1 and job.last_error is None
    card = await asyncio.to_thread(monthly_report_card, d.s.reports, month, "en", repeat)
    try:
        activity_id = await d.client.send(
            ref.service_url, ref.conversation_id, message(card, f"Compliance report {month}")
        )
    except ConnectorError as exc:
        raise NotYet(
            f"Teams refused the monthly report (HTTP {exc.status}): is EthicsBot still a "
            "member of the compliance channel?"
        ) from None
    return {"conversation": ref.conversation_id, "activity": activity_id}
