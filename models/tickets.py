"""Creating, finding and listing tickets, and who may see or act on one."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlmodel import Session, col, select

from models import texts
from models.person import Person, Role, roles_of
from models.place import Place, PlaceKind, add_place
from models.ticket import OPEN_STATES, Attachment, Ticket, TicketRequest, TicketState
from models.workflow import record_event

ATTACH_WINDOW = timedelta(minutes=10)


def group_place(
    session: Session, village: Place, number: int, create: bool = False
) -> Place | None:
    """The 组 numbered `number` under a village (searched through 片 too)."""
    stmt = select(Place).where(
        Place.kind == PlaceKind.group.value,
        Place.number == number,
        col(Place.path).startswith(village.path),
    )
    found = session.exec(stmt).first()
    if found is None and create:
        found = add_place(
            session, texts.GROUP_NAME.format(number=number), PlaceKind.group, village, number=number
        )
    return found


def locate(session: Session, ticket: Ticket, village: Place | None, group: int | None) -> None:
    """Set a ticket's village, group and most specific place (and its path for subtree counts)."""
    ticket.village_id = village.id if village else None
    ticket.group_number = group
    place = village
    if village is not None and group is not None:
        place = group_place(session, village, group) or village
    ticket.place_id = place.id if place else None
    ticket.place_path = place.path if place else "/"


def new_ticket(
    session: Session,
    *,
    reporter: Person,
    channel: str,
    sender: str,
    text: str,
    now: datetime,
    state: TicketState = TicketState.submitted,
) -> Ticket:
    """Insert a ticket and its first timeline line."""
    ticket = Ticket(
        state=state.value,
        channel=channel,
        sender=sender,
        reporter_id=reporter.id,
        text=text,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    record_event(session, ticket, "created", now=now, actor_id=reporter.id, to_state=state.value)
    return ticket


def recent_ticket_of(session: Session, reporter_id: int, now: datetime) -> Ticket | None:
    """The reporter's ticket created within the attachment window, if any."""
    stmt = (
        select(Ticket)
        .where(
            Ticket.reporter_id == reporter_id,
            col(Ticket.created_at) >= now - ATTACH_WINDOW,
            col(Ticket.state).notin_([TicketState.invalid.value, TicketState.duplicate.value]),
        )
        .order_by(col(Ticket.created_at).desc(), col(Ticket.id).desc())
    )
    return session.exec(stmt).first()


def open_draft_of(session: Session, reporter_id: int) -> Ticket | None:
    """The reporter's latest draft (a photo or voice note still waiting for words)."""
    stmt = (
        select(Ticket)
        .where(Ticket.reporter_id == reporter_id, Ticket.state == TicketState.draft.value)
        .order_by(col(Ticket.id).desc())
    )
    return session.exec(stmt).first()


def add_attachment(
    session: Session,
    ticket: Ticket,
    attachment: Attachment,
    now: datetime,
    *,
    actor_id: int | None = None,
) -> None:
    """Link a photo, voice note or location to the ticket and note it in the timeline, under
    `actor_id` (who added it: a cadre's photo of the fix) or else the ticket's reporter."""
    link_attachment(session, ticket, attachment, now)
    record_event(
        session,
        ticket,
        "attachment",
        now=now,
        actor_id=ticket.reporter_id if actor_id is None else actor_id,
        note=attachment.kind,
    )


def link_attachment(
    session: Session, ticket: Ticket, attachment: Attachment, now: datetime
) -> None:
    """Link a photo, voice note or location to the ticket (the caller records the event)."""
    assert ticket.id is not None
    attachment.ticket_id = ticket.id
    attachment.created_at = now
    if attachment.media_id:
        attachment.next_download_at = now
    session.add(attachment)


def attachments_of(session: Session, ticket_id: int) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
    return list(session.exec(stmt))


def stale_drafts(session: Session, older_than: datetime, limit: int = 200) -> list[Ticket]:
    """Drafts nobody completed since `older_than`: they go to the dispatcher, not the bin."""
    stmt = (
        select(Ticket)
        .where(Ticket.state == TicketState.draft.value, col(Ticket.created_at) < older_than)
        .order_by(col(Ticket.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def followers(session: Session, ticket: Ticket) -> list[int]:
    """Reporters to tell about a ticket: its own, and those of duplicates merged into it."""
    ids = [ticket.reporter_id] if ticket.reporter_id else []
    stmt = select(Ticket.reporter_id).where(Ticket.duplicate_of_id == ticket.id)
    ids += [rid for rid in session.exec(stmt) if rid is not None]
    return list(dict.fromkeys(ids))


def is_above(session: Session, person: Person, ticket: Ticket) -> bool:
    """Whether the person's own place contains the ticket's place."""
    place = session.get(Place, person.place_id)
    return place is not None and ticket.place_path.startswith(place.path)


def may_handle(session: Session, person: Person, ticket: Ticket) -> bool:
    """The assignee, or a dispatcher/leader/admin whose place is above the ticket's."""
    if ticket.assignee_id == person.id:
        return True
    return may_dispatch(session, person, ticket)


def may_dispatch(session: Session, person: Person, ticket: Ticket) -> bool:
    """A dispatcher, leader or admin above the ticket's place."""
    assert person.id is not None
    roles = roles_of(session, person.id)
    if not roles & {Role.dispatcher, Role.leader, Role.admin}:
        return False
    return is_above(session, person, ticket)


def may_view_as_reporter(session: Session, person: Person, ticket: Ticket) -> bool:
    """The ticket's reporter, or the reporter of a duplicate merged into it."""
    return person.id in followers(session, ticket)


def tickets_of_reporter(
    session: Session, reporter_id: int, limit: int = 10, states: Collection[str] | None = None
) -> list[Ticket]:
    """The reporter's tickets (not drafts), newest first; only those in `states` if given."""
    stmt = (
        select(Ticket)
        .where(Ticket.reporter_id == reporter_id, Ticket.state != TicketState.draft.value)
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    if states is not None:
        stmt = stmt.where(col(Ticket.state).in_(list(states)))
    return list(session.exec(stmt))


def awaiting_rating(session: Session, reporter_id: int) -> list[Ticket]:
    """The reporter's resolved tickets not yet rated."""
    stmt = (
        select(Ticket)
        .where(
            Ticket.reporter_id == reporter_id,
            Ticket.state == TicketState.resolved.value,
            col(Ticket.rating).is_(None),
        )
        .order_by(col(Ticket.id))
    )
    return list(session.exec(stmt))


def open_tickets_of(
    session: Session, assignee_id: int, now: datetime, limit: int = 20
) -> list[Ticket]:
    """An assignee's open tickets, overdue first, then by deadline."""
    overdue = case((col(Ticket.resolve_due_at) < now, 0), else_=1)
    stmt = (
        select(Ticket)
        .where(
            Ticket.assignee_id == assignee_id,
            col(Ticket.state).in_([s.value for s in OPEN_STATES]),
        )
        .order_by(overdue, col(Ticket.resolve_due_at), col(Ticket.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def dispatch_queue(session: Session, under: Place | None, limit: int = 20) -> list[Ticket]:
    """What waits for a dispatcher: returned tickets, unassigned ones and stale drafts."""
    states: Sequence[str] = [TicketState.returned.value, TicketState.submitted.value]
    stmt = select(Ticket).where(col(Ticket.state).in_(states))
    if under is not None:
        stmt = stmt.where(col(Ticket.place_path).startswith(under.path))
    return list(session.exec(stmt.order_by(col(Ticket.id)).limit(limit)))


def cancel_pending_requests(session: Session, ticket: Ticket, now: datetime, note: str) -> None:
    """Close a ticket's undecided 退回/延期 requests when the ticket is closed another way."""
    stmt = select(TicketRequest).where(
        TicketRequest.ticket_id == ticket.id, TicketRequest.status == "pending"
    )
    for request in session.exec(stmt):
        request.status, request.decided_at, request.decision_note = "cancelled", now, note
        session.add(request)
