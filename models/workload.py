"""Open work by person and by place: what the weekly digest tells cadres, dispatchers, leaders."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.person import Person, PersonRole, Role
from models.place import Place
from models.ticket import OPEN_STATES, Ticket

OPEN = [state.value for state in OPEN_STATES]


def open_count(session: Session, assignee_id: int, overdue_at: datetime | None = None) -> int:
    """An assignee's open tickets; with `overdue_at`, only those due to be resolved before it."""
    stmt = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.assignee_id == assignee_id, col(Ticket.state).in_(OPEN))
    )
    if overdue_at is not None:
        stmt = stmt.where(col(Ticket.resolve_due_at) < overdue_at)
    return session.exec(stmt).one()


def overdue_in(
    session: Session, place: Place, now: datetime, limit: int
) -> tuple[list[tuple[Ticket, Person | None]], int]:
    """The open tickets of a subtree past their resolve deadline, earliest first, and how many."""
    late = (
        col(Ticket.place_path).startswith(place.path),
        col(Ticket.state).in_(OPEN),
        col(Ticket.resolve_due_at) < now,
    )
    stmt = (
        select(Ticket, Person)
        .join(Person, col(Person.id) == Ticket.assignee_id, isouter=True)
        .where(*late)
        .order_by(col(Ticket.resolve_due_at))
    )
    rows: list[tuple[Ticket, Person | None]] = [
        (ticket, person) for ticket, person in session.exec(stmt.limit(limit))
    ]
    total = session.exec(select(func.count()).select_from(Ticket).where(*late)).one()
    return rows, total


def busiest_villages(session: Session, place: Place, limit: int) -> list[tuple[str, int]]:
    """The villages of a subtree with the most open tickets: (name, count), most first."""
    stmt = (
        select(Place.name, func.count())
        .select_from(Ticket)
        .join(Place, col(Place.id) == Ticket.village_id)
        .where(col(Ticket.place_path).startswith(place.path), col(Ticket.state).in_(OPEN))
        .group_by(Place.name)
        .order_by(func.count().desc(), Place.name)
        .limit(limit)
    )
    return [(name, count) for name, count in session.exec(stmt).all()]


def busiest_categories(session: Session, place: Place, limit: int) -> list[tuple[str | None, int]]:
    """The categories of a subtree with the most open tickets: (code, count), most first."""
    stmt = (
        select(Ticket.category, func.count())
        .where(col(Ticket.place_path).startswith(place.path), col(Ticket.state).in_(OPEN))
        .group_by(Ticket.category)
        .order_by(func.count().desc(), col(Ticket.category))
        .limit(limit)
    )
    return [(code, count) for code, count in session.exec(stmt).all()]


def open_assignee_ids(session: Session) -> list[int]:
    """Everyone who holds an open ticket, by id."""
    stmt = select(Ticket.assignee_id).where(col(Ticket.state).in_(OPEN)).distinct()
    return sorted(i for i in session.exec(stmt).all() if i is not None)


def people_with_roles(session: Session, roles: Collection[Role]) -> list[Person]:
    """The active people holding any of `roles`, by id."""
    stmt = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(col(PersonRole.role).in_([r.value for r in roles]), Person.active == True)  # noqa: E712
        .distinct()
        .order_by(col(Person.id))
    )
    return list(session.exec(stmt))
