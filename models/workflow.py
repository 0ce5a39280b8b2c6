"""The ticket state machine, in one place: allowed transitions and the append-only timeline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from models import texts
from models.ticket import Ticket, TicketEvent, TicketState

S = TicketState

# Which state may follow which. A transfer or a re-route keeps a ticket "assigned".
ALLOWED: dict[TicketState, frozenset[TicketState]] = {
    S.draft: frozenset({S.submitted, S.invalid}),
    S.submitted: frozenset({S.assigned, S.invalid, S.duplicate}),
    S.assigned: frozenset({S.assigned, S.accepted, S.resolved, S.returned, S.invalid, S.duplicate}),
    S.accepted: frozenset(
        {S.assigned, S.in_progress, S.resolved, S.returned, S.invalid, S.duplicate}
    ),
    S.in_progress: frozenset(
        {S.assigned, S.in_progress, S.resolved, S.returned, S.invalid, S.duplicate}
    ),
    S.returned: frozenset({S.assigned, S.invalid, S.duplicate}),
    S.resolved: frozenset({S.closed, S.reopened}),
    S.reopened: frozenset({S.assigned}),
    S.closed: frozenset(),
    S.invalid: frozenset(),
    S.duplicate: frozenset(),
}


class TransitionError(Exception):
    """A change the state machine does not allow; the message is fit to show a user."""


def can_transition(current: str, target: TicketState) -> bool:
    """Whether `target` may follow `current`."""
    return target in ALLOWED.get(TicketState(current), frozenset())


def record_event(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    now: datetime,
    actor_id: int | None = None,
    note: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
) -> TicketEvent:
    """Append one line to the ticket's timeline."""
    assert ticket.id is not None
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        actor_id=actor_id,
        kind=kind,
        from_state=from_state,
        to_state=to_state,
        note=note,
    )
    session.add(event)
    return event


def change_state(
    session: Session,
    ticket: Ticket,
    target: TicketState,
    *,
    kind: str,
    now: datetime,
    actor_id: int | None = None,
    note: str = "",
) -> TicketEvent:
    """Move the ticket to `target` if allowed, stamping the step's time and recording the event."""
    current = move(ticket, target, now)
    session.add(ticket)
    return record_event(
        session,
        ticket,
        kind,
        now=now,
        actor_id=actor_id,
        note=note,
        from_state=current,
        to_state=target.value,
    )


def move(ticket: Ticket, target: TicketState, now: datetime) -> str:
    """Move the ticket to `target` if allowed and stamp the step's time; the state it left.

    The caller records the event (change_state does; a new ticket, which has no id yet, records
    it once inserted: models/actions.py open_ticket).
    """
    current = ticket.state
    if not can_transition(current, target):
        raise TransitionError(texts.TRANSITION_REFUSED.format(id=ticket.id))
    ticket.state = target.value
    ticket.updated_at = now
    if target is S.assigned:
        ticket.assigned_at = now
        ticket.first_assigned_at = ticket.first_assigned_at or now
    elif target is S.accepted:
        ticket.accepted_at = ticket.accepted_at or now
        ticket.last_accepted_at = now
    elif target is S.resolved:
        ticket.resolved_at = now
        # Resolving without a 签收 first still answers the ticket (this assignment's, too).
        ticket.accepted_at = ticket.accepted_at or now
        if not _acknowledged_since_assigned(ticket):
            ticket.last_accepted_at = now
    elif target in (S.closed, S.invalid, S.duplicate):
        ticket.closed_at = now
    elif target is S.reopened:
        ticket.reopen_count += 1
    # A return (→ returned) is only a request: it counts as a 退单 when the dispatcher approves
    # it (approve_return), not when it is made.
    return current


def _acknowledged_since_assigned(ticket: Ticket) -> bool:
    last, assigned = ticket.last_accepted_at, ticket.assigned_at
    return last is not None and (assigned is None or last >= assigned)


def approve_return(ticket: Ticket) -> None:
    """The dispatcher agreed the ticket was misrouted: one more 退单 for the 退单率."""
    ticket.return_count += 1


def timeline(session: Session, ticket_id: int) -> list[TicketEvent]:
    """The ticket's events, oldest first."""
    stmt = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(col(TicketEvent.at), col(TicketEvent.id))
    )
    return list(session.exec(stmt))
