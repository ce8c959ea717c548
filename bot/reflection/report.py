"""What trainers see of reflection answers: counts per tree and outcome, never a person.

A group (tree, outcome) shows its breakdown only when at least MIN_GROUP people answered;
below that every cell says "fewer than 5", so a single answer can never be picked out. The
one-line lessons are shown only on request, only for groups of at least MIN_GROUP answers,
sorted (not in answer order, which could be matched to dates), and reading them is audited.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from bot.service import Clock
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.tables import ReflectionRow

MIN_GROUP = 5
FEW = "fewer than 5"
COLUMNS = (
    "tree",
    "outcome",
    "asked",
    "answered",
    "better",
    "as_expected",
    "worse",
    "same_again_yes",
    "same_again_no",
)


def aggregates(
    db: Database, clock: Clock, *, with_learned: bool = False, actor: str = "cli"
) -> list[dict[str, Any]]:
    """One dict per (tree, outcome) that was ever asked about; None where k < MIN_GROUP."""
    with db.read() as s:
        rows = s.execute(
            select(
                ReflectionRow.tree_id,
                ReflectionRow.outcome,
                ReflectionRow.status,
                ReflectionRow.turned_out,
                ReflectionRow.same_again,
                ReflectionRow.learned,
            ).where(ReflectionRow.status.in_(("asked", "answered")))
        ).all()
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[(r.tree_id, r.outcome)].append(r)
    out = []
    for (tree, outcome), members in sorted(groups.items()):
        answered = [m for m in members if m.status == "answered"]
        enough = len(answered) >= MIN_GROUP
        item: dict[str, Any] = {
            "tree": tree,
            "outcome": outcome,
            "asked": len(members) if len(members) >= MIN_GROUP else None,
            "answered": len(answered) if enough else None,
        }
        for key in ("better", "as_expected", "worse"):
            item[key] = sum(m.turned_out == key for m in answered) if enough else None
        item["same_again_yes"] = sum(m.same_again is True for m in answered) if enough else None
        item["same_again_no"] = sum(m.same_again is False for m in answered) if enough else None
        if with_learned:
            item["learned"] = sorted(m.learned for m in answered if m.learned) if enough else None
        out.append(item)
    if with_learned:
        with db.tx() as s:
            audit.append(
                s,
                at=clock(),
                action="reflection.learned_read",
                subject="reflection:aggregates",
                payload={"actor": actor, "groups": sum(1 for i in out if i["learned"])},
            )
    return out


def to_csv(items: list[dict[str, Any]], *, with_learned: bool = False) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*COLUMNS, *(["learned"] if with_learned else [])])
    for item in items:
        cells = [FEW if item[c] is None else item[c] for c in COLUMNS]
        if with_learned:
            learned = item.get("learned")
            cells.append(FEW if learned is None else " | ".join(learned))
        w.writerow(cells)
    return buf.getvalue().encode()
