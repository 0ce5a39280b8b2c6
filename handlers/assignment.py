"""Assigning a ticket and telling the people it concerns (intake, cadres, dispatchers)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlmodel import Session

from config.calendar import TIMEZONE
from config.office import OfficeConfig
from handlers import texts
from handlers.router import Context
from models.deadlines import set_deadlines
from models.outbox import enqueue
from models.person import ROLE_NAMES, Person, Unit, roles_of
from models.place import Place
from models.routing import RouteChoice, choose_assignee
from models.ticket import Ticket, TicketState
from models.tickets import followers
from models.workflow import change_state

LOCAL = TIMEZONE


def category_name(office: OfficeConfig, code: str | None) -> str:
    """A category's Chinese name in the office's taxonomy, for people (chat, digest, CLI)."""
    return office.category_name(code)


def place_label(session: Session, ticket: Ticket) -> str:
    """ "张家村3组" — where the problem is."""
    village = session.get(Place, ticket.village_id) if ticket.village_id else None
    label = village.name if village else "未知地点"
    if ticket.group_number is not None:
        label += f"{ticket.group_number}组"
    return label


def person_label(session: Session, person: Person | None) -> str:
    """ "李四（村干部）" — a person as others see them."""
    if person is None:
        return "待定"
    assert person.id is not None
    roles = roles_of(session, person.id)
    unit = session.get(Unit, person.unit_id) if person.unit_id else None
    handler_roles = [
        texts.UNIT_ROLE_NAMES[r].format(unit=unit.name)
        if unit is not None and r in texts.UNIT_ROLE_NAMES
        else ROLE_NAMES[r]
        for r in sorted(roles)
        if r in ROLE_NAMES
    ]
    return f"{person.name}（{'、'.join(handler_roles[:2])}）" if handler_roles else person.name


def local_time(moment: datetime | None) -> str:
    """A time as people in the town read it: 12月7日 17:30."""
    if moment is None:
        return "—"
    local = moment.astimezone(LOCAL)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def ticket_fields(ctx: Context, ticket: Ticket) -> dict[str, object]:
    """The values the ticket texts refer to."""
    session = ctx.session
    assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    reporter = session.get(Person, ticket.reporter_id) if ticket.reporter_id else None
    return {
        "id": ticket.id,
        "category": category_name(ctx.office, ticket.category),
        "place": place_label(session, ticket),
        "urgency": texts.URGENT_MARK if ticket.urgent else "",
        "summary": ticket.summary or ticket.text[:30],
        "assignee": person_label(session, assignee),
        "contact": (
            texts.CONTACT.format(assignee=person_label(session, assignee), phone=assignee.phone)
            if assignee is not None
            else person_label(session, None)
        ),
        "reporter": f"{reporter.name}（{reporter.phone}）" if reporter else "—",
    }


def notify(ctx: Context, person_id: int | None, kind: str, text: str, ticket: Ticket) -> None:
    """Write one message to the outbox, in this message's transaction."""
    if person_id is None:
        return
    enqueue(
        ctx.session, person_id=person_id, kind=kind, text=text, now=ctx.now, ticket_id=ticket.id
    )


def notify_reporters(ctx: Context, ticket: Ticket, kind: str, text: str) -> None:
    """Tell the ticket's reporter, and the reporters of duplicates merged into it."""
    for person_id in followers(ctx.session, ticket):
        notify(ctx, person_id, kind, text, ticket)


def tell_reporters_reassigned(ctx: Context, ticket: Ticket) -> None:
    """Tell the reporters who handles their ticket now."""
    fields = ticket_fields(ctx, ticket)
    notify_reporters(
        ctx, ticket, "reassigned", texts.NOTIFY_REASSIGNED_TO_REPORTER.format(**fields)
    )


def route(ctx: Context, ticket: Ticket, exclude: Collection[int] = ()) -> RouteChoice | None:
    """Where the routing rules send this ticket."""
    return choose_assignee(ctx.session, ticket, ctx.taxonomy, ctx.office.routing, exclude)


def assign(
    ctx: Context,
    ticket: Ticket,
    choice: RouteChoice,
    *,
    actor_id: int | None,
    kind: str = "assigned",
    note: str = "",
) -> None:
    """Give the ticket to `choice.person`, set its deadlines and tell the new assignee."""
    ticket.assignee_id = choice.person.id
    ticket.route = choice.route[:255]
    label = f"{choice.person.name}｜{choice.route}"
    change_state(
        ctx.session,
        ticket,
        TicketState.assigned,
        kind=kind,
        now=ctx.now,
        actor_id=actor_id,
        note=f"{note} → {label}" if note else label,
    )
    set_deadlines(ctx.session, ticket, ctx.now, sla=ctx.sla, calendar=ctx.calendar)
    fields = ticket_fields(ctx, ticket)
    notify(ctx, choice.person.id, "assigned", texts.NOTIFY_ASSIGNED.format(**fields), ticket)
