"""Labelled examples for the category classifier, read from what the town already records.

No table of its own: a ticket's timeline says when a person stood behind its category.

- ``corrected``: the reporter corrected the category (改 类别) — the event's note names the new
  category, so a correction of the place or the urgency alone does not count;
- ``rerouted``: a dispatcher (or a correction) moved the ticket to another handler;
- ``dispatched``: a dispatcher sent it by hand (派), reading it first;
- ``resolved``: its handler resolved it without returning it (退单) — a wrong category comes
  back, one that stood was right enough to act on. The weakest of the four: the category is
  often still the parser's own, so `labelled_tickets` leaves it out unless asked.

The label is the ticket's category as it stands now, the text what the reporter wrote. Withdrawn,
invalid and merged tickets teach nothing and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from config.taxonomy import CATEGORY_CODES, Taxonomy
from models.ticket import Ticket, TicketEvent, TicketState

CORRECTED, REROUTED, DISPATCHED, RESOLVED, LEDGER = (
    "corrected",
    "rerouted",
    "dispatched",
    "resolved",
    "ledger",
)
# The strongest source first: a ticket counts once, under the first of these it has.
SOURCES = (CORRECTED, REROUTED, DISPATCHED, RESOLVED)
_SKIPPED_STATES = frozenset({TicketState.invalid.value, TicketState.duplicate.value})
_SKIPPED_EVENTS = frozenset({"withdrawn", "invalid", "merged"})
BATCH = 500


@dataclass(frozen=True)
class LabelledExample:
    """One message and the category a person confirmed for it, and how we know."""

    text: str
    category: str
    source: str


def ticket_source(ticket: Ticket, events: Iterable[TicketEvent], taxonomy: Taxonomy) -> str | None:
    """Why this ticket's category is a label (one of SOURCES), or None when nobody confirmed it."""
    name = taxonomy.get(ticket.category).name if ticket.category in CATEGORY_CODES else None
    found: set[str] = set()
    returned = False
    for event in events:
        if event.kind in _SKIPPED_EVENTS:
            return None
        if event.kind == "corrected" and name and name in event.note:
            found.add(CORRECTED)
        elif event.kind == "rerouted" and event.actor_id is not None:
            found.add(REROUTED)
        elif event.kind == "assigned" and event.actor_id is not None:
            found.add(DISPATCHED)
        elif event.kind == "returned":
            returned = True
        elif event.kind == "resolved":
            found.add(RESOLVED)
    if returned and not found & {CORRECTED, REROUTED, DISPATCHED}:
        found.discard(RESOLVED)
    return next((source for source in SOURCES if source in found), None)


def labelled_tickets(
    session: Session, taxonomy: Taxonomy, *, include_resolved: bool = False
) -> list[LabelledExample]:
    """Every ticket whose category a person confirmed, oldest first, as a labelled example."""
    examples: list[LabelledExample] = []
    last_id = 0
    while True:
        tickets = session.exec(
            select(Ticket)
            .where(col(Ticket.id) > last_id, col(Ticket.category).is_not(None))
            .order_by(col(Ticket.id))
            .limit(BATCH)
        ).all()
        if not tickets:
            return examples
        last_id = tickets[-1].id or last_id
        ids = [t.id for t in tickets]
        timeline: dict[int, list[TicketEvent]] = {}
        for event in session.exec(
            select(TicketEvent)
            .where(col(TicketEvent.ticket_id).in_(ids))
            .order_by(col(TicketEvent.ticket_id), col(TicketEvent.id))
        ):
            timeline.setdefault(event.ticket_id, []).append(event)
        for ticket in tickets:
            if ticket.state in _SKIPPED_STATES or not ticket.text.strip():
                continue
            assert ticket.id is not None
            source = ticket_source(ticket, timeline.get(ticket.id, ()), taxonomy)
            if source is None or (source == RESOLVED and not include_resolved):
                continue
            assert ticket.category is not None
            examples.append(LabelledExample(ticket.text, ticket.category, source))
