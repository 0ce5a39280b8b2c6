"""Open work by person and by place: what the weekly digest tells cadres, dispatchers, leaders."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from models.person import Person, PersonRole, Role
from models.place import Place, PlaceKind
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


def open_counts(session: Session, now: datetime) -> dict[int, tuple[int, int]]:
    """Everyone who holds an open ticket: assignee id → (open, past their resolve deadline)."""
    late = case((col(Ticket.resolve_due_at) < now, 1), else_=0)
    stmt = (
        select(Ticket.assignee_id, func.count(), func.sum(late))
        .where(col(Ticket.state).in_(OPEN), col(Ticket.assignee_id).is_not(None))
        .group_by(col(Ticket.assignee_id))
    )
    return {
        assignee: (int(total), int(overdue or 0))
        for assignee, total, overdue in session.exec(stmt)
        if assignee is not None
    }


def first_open_tickets(
    session: Session, assignee_ids: Collection[int], now: datetime, limit: int
) -> dict[int, list[Ticket]]:
    """Each assignee's first `limit` open tickets, overdue first, then by deadline: one query
    (a window numbering each assignee's tickets) for all of them."""
    if not assignee_ids:
        return {}
    late_first = case((col(Ticket.resolve_due_at) < now, 0), else_=1)
    number = (
        func.row_number()
        .over(
            partition_by=col(Ticket.assignee_id),
            order_by=(late_first, col(Ticket.resolve_due_at), col(Ticket.id)),
        )
        .label("n")
    )
    ranked = (
        select(col(Ticket.id).label("id"), number)
        .where(col(Ticket.state).in_(OPEN), col(Ticket.assignee_id).in_(assignee_ids))
        .subquery()
    )
    stmt = (
        select(Ticket)
        .join(ranked, ranked.c.id == Ticket.id)
        .where(ranked.c.n <= limit)
        .order_by(col(Ticket.assignee_id), ranked.c.n)
    )
    found: dict[int, list[Ticket]] = {}
    for ticket in session.exec(stmt):
        assert ticket.assignee_id is not None
        found.setdefault(ticket.assignee_id, []).append(ticket)
    return found


@dataclass(frozen=True)
class OpenByPlace:
    """Open tickets counted per (village, category), and per (place path, category) for those
    without a village: one grouped read, summed here for any subtree at or above a village."""

    villages: dict[int, tuple[str, str]]  # village id → (name, path)
    by_village: list[tuple[int, str | None, int]]  # (village id, category, count)
    by_path: list[tuple[str, str | None, int]]  # (place path, category, count), no village
    nulls_first: bool  # how the database sorts a missing category (SQLite first, PostgreSQL last)

    @classmethod
    def read(cls, session: Session) -> OpenByPlace:
        """Two grouped statements over the open tickets, and the villages they name."""
        open_ = col(Ticket.state).in_(OPEN)
        by_village = [
            (village, category, int(count))
            for village, category, count in session.exec(
                select(Ticket.village_id, Ticket.category, func.count())
                .where(open_, col(Ticket.village_id).is_not(None))
                .group_by(col(Ticket.village_id), col(Ticket.category))
            )
            if village is not None
        ]
        by_path = [
            (path, category, int(count))
            for path, category, count in session.exec(
                select(Ticket.place_path, Ticket.category, func.count())
                .where(open_, col(Ticket.village_id).is_(None))
                .group_by(col(Ticket.place_path), col(Ticket.category))
            )
        ]
        ids = {village for village, _, _ in by_village}
        villages = {
            place.id: (place.name, place.path)
            for place in session.exec(select(Place).where(col(Place.id).in_(ids)))
            if place.id is not None
        }
        nulls_first = session.get_bind().dialect.name == "sqlite"
        return cls(villages, by_village, by_path, nulls_first)

    def covers(self, place: Place) -> bool:
        """Whether the counts can be summed for `place`: it is a village or above one."""
        above = (PlaceKind.county, PlaceKind.town, PlaceKind.zone, PlaceKind.village)
        return place.kind in {kind.value for kind in above}

    def busiest_villages(self, place: Place, limit: int) -> list[tuple[str, int]]:
        """As `busiest_villages`, from the counts."""
        totals: dict[str, int] = {}
        for village, _, count in self.by_village:
            name, path = self.villages[village]
            if path.startswith(place.path):
                totals[name] = totals.get(name, 0) + count
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def busiest_categories(self, place: Place, limit: int) -> list[tuple[str | None, int]]:
        """As `busiest_categories`, from the counts."""
        totals: dict[str | None, int] = {}
        for village, category, count in self.by_village:
            if self.villages[village][1].startswith(place.path):
                totals[category] = totals.get(category, 0) + count
        for path, category, count in self.by_path:
            if path.startswith(place.path):
                totals[category] = totals.get(category, 0) + count
        missing = (0 if self.nulls_first else 2, "")

        def order(item: tuple[str | None, int]) -> tuple[int, tuple[int, str]]:
            return (-item[1], missing if item[0] is None else (1, item[0]))

        return sorted(totals.items(), key=order)[:limit]
