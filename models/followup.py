"""回访 follow-up: a reporter who has not rated a resolved ticket is asked once more, then the
ticket is closed as unrated (never counted as satisfied).

A batch-limited sweep over `rating_asked_at` of resolved, unrated tickets. Rows are locked
(FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite runs one writer at a time) and re-checked, so two
runs never ask twice or close twice. The wording arrives as a `FollowupTexts` bundle from the job
layer, since models never import handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from config.sla import SlaConfig
from models.outbox import enqueue
from models.ticket import Rating, Ticket, TicketState
from models.workflow import change_state


@dataclass(frozen=True)
class FollowupTexts:
    """The follow-up's wording; templates may use {id} {summary} {days}."""

    reminder: str  # the second rating question, to the reporter
    closed: str  # the auto-close notice, to the reporter
    closed_note: str  # the timeline note of the auto-close


@dataclass
class FollowupResult:
    """What one follow-up run did; `more` says the batch limit stopped it before the end."""

    asked_again: int = 0
    closed: int = 0
    more: bool = False

    def __str__(self) -> str:
        more = " (more to do)" if self.more else ""
        return f"{self.asked_again} asked again, {self.closed} closed as unrated{more}"


def _awaiting_rating() -> list[ColumnElement[bool]]:
    return [
        col(Ticket.state) == TicketState.resolved.value,
        col(Ticket.rating).is_(None),
        col(Ticket.rating_asked_at).is_not(None),
    ]


def rating_followup(
    session: Session,
    now: datetime,
    *,
    texts: FollowupTexts,
    sla: SlaConfig,
    limit: int | None = None,
) -> FollowupResult:
    """Ask again after `followup.ask_again_after`; close as unrated after `followup.close_after`."""
    limit = limit if limit is not None else sla.schedule.batch_size
    result = FollowupResult()
    close_before = now - sla.close_after.clock
    ask_before = now - sla.ask_again_after.clock
    days = sla.close_after.clock.days

    # Closing first: a ticket past both limits (the worker was down) is closed, not asked again.
    to_close = (
        select(Ticket)
        .where(*_awaiting_rating(), col(Ticket.rating_asked_at) <= close_before)
        .order_by(col(Ticket.rating_asked_at), col(Ticket.id))
        .limit(limit + 1)
        .with_for_update(skip_locked=True)
    )
    tickets = list(session.exec(to_close))
    for ticket in tickets[:limit]:
        change_state(
            session,
            ticket,
            TicketState.closed,
            kind="closed",
            now=now,
            note=texts.closed_note.format(id=ticket.id, summary=ticket.summary, days=days),
        )
        ticket.rating = Rating.unrated.value
        _tell_reporter(session, ticket, "rating_closed", texts.closed, now, days)
        result.closed += 1
    if len(tickets) > limit:
        result.more = True
        session.flush()
        return result

    to_ask = (
        select(Ticket)
        .where(
            *_awaiting_rating(),
            col(Ticket.rating_reminded_at).is_(None),
            col(Ticket.rating_asked_at) <= ask_before,
            col(Ticket.rating_asked_at) > close_before,
        )
        .order_by(col(Ticket.rating_asked_at), col(Ticket.id))
        .limit(limit - result.closed + 1)
        .with_for_update(skip_locked=True)
    )
    tickets = list(session.exec(to_ask))
    for ticket in tickets[: limit - result.closed]:
        ticket.rating_reminded_at = now
        session.add(ticket)
        _tell_reporter(session, ticket, "rating_reminder", texts.reminder, now, days)
        result.asked_again += 1
    result.more = len(tickets) > limit - result.closed
    session.flush()
    return result


def _tell_reporter(
    session: Session, ticket: Ticket, kind: str, template: str, now: datetime, days: int
) -> None:
    if ticket.reporter_id is None:
        return
    asked = ticket.rating_asked_at.isoformat() if ticket.rating_asked_at else ""
    enqueue(
        session,
        person_id=ticket.reporter_id,
        kind=kind,
        text=template.format(id=ticket.id, summary=ticket.summary or ticket.text[:30], days=days),
        now=now,
        ticket_id=ticket.id,
        # Keyed by the question it follows: a reopened and re-resolved ticket is asked afresh.
        dedup_key=f"{kind}:{ticket.id}:{asked}",
        data={"ticket": ticket.id},
    )
