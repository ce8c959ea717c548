"""Reports as files: one dict from `stats` feeds the PNG, the CSV and the JSON, so an
exported number is always the number drawn."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from bot.exercises.service import ExerciseService
from bot.reports import charts, stats
from bot.storage.db import Database

FEW = "fewer than 5"


def _cell(v: Any) -> Any:
    return FEW if v is None else v


def monthly(db: Database, month: stats.Month, now: datetime, fmt: str, lang: str = "en") -> bytes:
    report = stats.monthly(db, month, now)
    if fmt == "png":
        return charts.monthly_chart(report, lang).png
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False).encode()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["month", "section", "item", "value"])
    for section, item, value in stats.month_rows(report):
        w.writerow([report["month"], section, item, _cell(value)])
    return buf.getvalue().encode()


def exercises(service: ExerciseService, now: datetime, fmt: str, lang: str = "en") -> bytes:
    rows = stats.exercises(service, now)
    if fmt == "png":
        return charts.exercises_chart(rows, lang).png
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["exercise", "posted_for", "answers", "recommended_share"])
    for r in rows:
        w.writerow(
            [r["exercise"], r["posted_for"], _cell(r["answers"]), _cell(r["recommended_share"])]
        )
    return buf.getvalue().encode()
