"""How a ticket and the people it concerns read in chat: places, people, times, template fields."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from config.calendar import TIMEZONE
from config.office import OfficeConfig
from handlers import texts
from handlers.router import Context
from models.directory import PersonCard, directory_of
from models.outbox import enqueue
from models.person import ROLE_NAMES, Person
from models.ticket import Ticket

LOCAL = TIMEZONE


def category_name(office: OfficeConfig, code: str | None) -> str:
    """A category's Chinese name in the office's taxonomy, for people (chat, digest, CLI)."""
    return office.category_name(code)


def place_label(session: Session, ticket: Ticket) -> str:
    """ "张家村3组" — where the problem is."""
    places = directory_of(session).places.places
    village = places.get(ticket.village_id) if ticket.village_id else None
    label = village.name if village else texts.UNKNOWN_PLACE
    if ticket.group_number is not None:
        label += texts.GROUP.format(number=ticket.group_number)
    return label


def person_label(session: Session, person: Person | PersonCard | None) -> str:
    """ "李四（村干部）" — a person as others see them (roles and unit from the directory)."""
    if person is None:
        return texts.NOT_DECIDED
    assert person.id is not None
    view = directory_of(session)
    roles = view.roles(person.id)
    unit = view.unit_name(person.unit_id)
    handler_roles = [
        texts.UNIT_ROLE_NAMES[r].format(unit=unit)
        if unit is not None and r in texts.UNIT_ROLE_NAMES
        else ROLE_NAMES[r]
        for r in sorted(roles)
        if r in ROLE_NAMES
    ]
    if not handler_roles:
        return person.name
    return texts.PERSON_WITH_ROLES.format(
        name=person.name, roles=texts.LIST_SEPARATOR.join(handler_roles[:2])
    )


def local_time(moment: datetime | None) -> str:
    """A time as people in the town read it: 12月7日 17:30."""
    if moment is None:
        return texts.DASH
    local = moment.astimezone(LOCAL)
    return texts.LOCAL_TIME.format(month=local.month, day=local.day, time=f"{local:%H:%M}")


def ticket_fields(ctx: Context, ticket: Ticket) -> dict[str, object]:
    """The values the ticket texts refer to."""
    return fields_of(ctx.session, ctx.office, ticket)


def fields_of(session: Session, office: OfficeConfig, ticket: Ticket) -> dict[str, object]:
    """The values the ticket texts refer to, from a session and the office's taxonomy."""
    view = directory_of(session)
    assignee = view.card(ticket.assignee_id)
    reporter = view.card(ticket.reporter_id)
    return {
        "id": ticket.id,
        "category": category_name(office, ticket.category),
        "place": place_label(session, ticket),
        "urgency": texts.URGENT_MARK if ticket.urgent else "",
        "summary": ticket.summary or ticket.text[:30],
        "assignee": person_label(session, assignee),
        "contact": (
            texts.CONTACT.format(assignee=person_label(session, assignee), phone=assignee.phone)
            if assignee is not None
            else person_label(session, None)
        ),
        "reporter": texts.PERSON_WITH_PHONE.format(name=reporter.name, phone=reporter.phone)
        if reporter
        else texts.DASH,
    }


def notify(ctx: Context, person_id: int | None, kind: str, text: str, ticket: Ticket) -> None:
    """Write one message to the outbox, in this message's transaction."""
    if person_id is None:
        return
    enqueue(
        ctx.session, person_id=person_id, kind=kind, text=text, now=ctx.now, ticket_id=ticket.id
    )
