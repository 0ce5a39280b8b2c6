"""The 台账's data: one row per collected or merged ticket of a scope, streamed oldest first.

The command line words each row (bot/cli_report.py); here are only the statements and the
lookups of places and people they need, read once per 台账.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlmodel import Session

from models.figures.columns import PERSON, PLACE, TICKET
from models.figures.queries import ledger_filter
from models.figures.scope import Scope
from models.place import PlaceKind

LEDGER_BATCH = 2000
# The times of a ticket the 台账 lists, in its column order.
LEDGER_TIMES = (
    "created_at",
    "first_assigned_at",
    "assigned_at",
    "accepted_at",
    "last_accepted_at",
    "resolved_at",
    "closed_at",
    "ack_due_at",
    "resolve_due_at",
)
LEDGER_FIELDS = (
    "id",
    *LEDGER_TIMES,
    "reporter_id",
    "assignee_id",
    "village_id",
    "place_id",
    "group_number",
    "category",
    "urgent",
    "summary",
    "state",
    "duplicate_of_id",
    "result",
    "rating",
    "reopen_count",
    "return_count",
)


@dataclass(frozen=True)
class LedgerLookups:
    """Every place (name, kind, parent) and person (name, phone) by id: a few thousand rows."""

    places: dict[int, tuple[str, str, int | None]]
    people: dict[int, tuple[str, str]]

    @classmethod
    def load(cls, conn: Connection) -> LedgerLookups:
        """Read the places and the people once, for a whole 台账."""
        rows = conn.execute(select(PLACE.c.id, PLACE.c.name, PLACE.c.kind, PLACE.c.parent_id))
        places = {row.id: (row.name, row.kind, row.parent_id) for row in rows}
        people = conn.execute(select(PERSON.c.id, PERSON.c.name, PERSON.c.phone))
        return cls(places, {row.id: (row.name, row.phone) for row in people})

    def town_name(self, place_id: int | None) -> str | None:
        """The name of the town a place lies in, or None."""
        while place_id is not None and place_id in self.places:
            name, kind, parent = self.places[place_id]
            if kind == PlaceKind.town.value:
                return name
            place_id = parent
        return None


def ledger_tickets(session: Session, scope: Scope) -> Iterator[Row[Any]]:
    """The 台账's tickets (LEDGER_FIELDS), by creation time then id, fetched in batches."""
    conn = session.connection()
    t = TICKET.c
    stmt = (
        select(*(t[name] for name in LEDGER_FIELDS))
        .where(*ledger_filter(session, scope))
        .order_by(t.created_at, t.id)
    )
    yield from conn.execution_options(yield_per=LEDGER_BATCH).execute(stmt)
