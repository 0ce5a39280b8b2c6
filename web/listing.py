"""The office's ticket list: filters from the query string, applied inside the person's scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import or_
from sqlmodel import Session, col, select

from config.calendar import TIMEZONE
from config.office import OfficeConfig
from handlers.views import local_due, state_name
from models.person import HANDLER_ROLES, Person, PersonRole, Role
from models.place import Place, PlaceKind
from models.scope import scope_clause
from models.ticket import OPEN_STATES, Ticket, TicketState
from web import texts
from web.views import local

PAGE_SIZE = 50
OPEN = "open"  # every state still being worked on
STATE_CHOICES = (OPEN, *(s.value for s in TicketState if s is not TicketState.draft))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field empty means the whole scope, newest first."""

    state: str | None = None
    village: int | None = None
    category: str | None = None
    assignee: int | None = None
    overdue: bool = False
    first: date | None = None  # created on or after this day (Asia/Shanghai)
    last: date | None = None  # created on or before this day
    search: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        state = args.get("state") or None
        return cls(
            state=state if state in STATE_CHOICES else None,
            village=_int(args.get("village")),
            category=args.get("category") or None,
            assignee=_int(args.get("assignee")),
            overdue=args.get("overdue") == "1",
            first=_day(args.get("from")),
            last=_day(args.get("to")),
            search=(args.get("q") or "").strip()[:64],
            page=max(1, _int(args.get("page")) or 1),
        )

    def query(self, **changes: Any) -> str:
        """This list's query string, with `changes` (for the pager)."""
        values = {
            "state": self.state,
            "village": self.village,
            "category": self.category,
            "assignee": self.assignee,
            "overdue": "1" if self.overdue else None,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "q": self.search or None,
            "page": self.page,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE)


def filtered(session: Session, person: Person, filters: Filters, now: datetime) -> Any:
    """`select(Ticket)` in the person's scope, narrowed by `filters`, newest first."""
    stmt = select(Ticket).where(scope_clause(session, person))
    stmt = stmt.where(Ticket.state != TicketState.draft.value)
    if filters.state == OPEN:
        stmt = stmt.where(col(Ticket.state).in_([s.value for s in OPEN_STATES]))
    elif filters.state:
        stmt = stmt.where(Ticket.state == filters.state)
    if filters.village is not None:
        stmt = stmt.where(Ticket.village_id == filters.village)
    if filters.category:
        stmt = stmt.where(Ticket.category == filters.category)
    if filters.assignee is not None:
        stmt = stmt.where(Ticket.assignee_id == filters.assignee)
    if filters.overdue:
        stmt = stmt.where(
            col(Ticket.state).in_([s.value for s in OPEN_STATES]),
            col(Ticket.resolve_due_at) < now,
        )
    if filters.first:
        stmt = stmt.where(col(Ticket.created_at) >= _start_of(filters.first))
    if filters.last:
        stmt = stmt.where(col(Ticket.created_at) < _start_of(filters.last + timedelta(days=1)))
    if filters.search:
        word = filters.search.lstrip("#")
        if word.isdigit():
            stmt = stmt.where(col(Ticket.id) == int(word))
        else:
            like = f"%{word.replace('%', '').replace('_', '')}%"
            stmt = stmt.where(or_(col(Ticket.text).like(like), col(Ticket.summary).like(like)))
    offset = (filters.page - 1) * PAGE_SIZE
    # One more than a page: whether there is a next one.
    return stmt.order_by(col(Ticket.id).desc()).offset(offset).limit(PAGE_SIZE + 1)


@dataclass(frozen=True)
class Choices:
    """What the filter form offers: villages under the person's place, assignees, categories."""

    villages: list[tuple[int, str]]
    assignees: list[tuple[int, str]]
    categories: list[tuple[str, str]]


def choices(session: Session, person: Person, categories: list[tuple[str, str]]) -> Choices:
    own = session.get(Place, person.place_id)
    prefix = own.path if own is not None else "/"
    villages = session.exec(
        select(Place.id, Place.name)
        .where(Place.kind == PlaceKind.village.value, col(Place.path).startswith(prefix))
        .order_by(col(Place.name))
    ).all()
    return Choices(
        villages=[(i, n) for i, n in villages if i is not None],
        # The roster's handlers, not the tickets' assignees: one short query on the roster
        # instead of a pass over every ticket in scope.
        assignees=handler_choices(session, person),
        categories=categories,
    )


def handler_choices(session: Session, person: Person) -> list[tuple[int, str]]:
    """Active handlers under the person's own place, by name: whom a form may pick."""
    own = session.get(Place, person.place_id)
    prefix = own.path if own is not None else "/"
    handlers = select(PersonRole.person_id).where(
        col(PersonRole.role).in_([r.value for r in HANDLER_ROLES - {Role.admin}])
    )
    found = session.exec(
        select(Person.id, Person.name)
        .join(Place, col(Place.id) == Person.place_id)
        .where(
            col(Person.id).in_(handlers),
            Person.active == True,  # noqa: E712
            col(Place.path).startswith(prefix),
        )
        .order_by(col(Person.name))
    ).all()
    return [(i, n) for i, n in found if i is not None]


@dataclass(frozen=True)
class Row:
    """One line of the list."""

    id: int
    summary: str
    state_name: str
    urgent: bool
    overdue: bool
    category: str
    place: str
    assignee: str
    created: str
    resolve_due: str


def rows(session: Session, office: OfficeConfig, tickets: list[Ticket], now: datetime) -> list[Row]:
    """The list's lines: names looked up once per page, not once per ticket."""
    place_ids = {t.village_id for t in tickets if t.village_id}
    people_ids = {t.assignee_id for t in tickets if t.assignee_id}
    places = dict(
        session.exec(select(Place.id, Place.name).where(col(Place.id).in_(place_ids))).all()
    )
    people = dict(
        session.exec(select(Person.id, Person.name).where(col(Person.id).in_(people_ids))).all()
    )
    lines = []
    for t in tickets:
        assert t.id is not None
        place = (
            places.get(t.village_id, texts.UNKNOWN_PLACE) if t.village_id else texts.UNKNOWN_PLACE
        )
        if t.group_number is not None:
            place += texts.GROUP_SUFFIX.format(number=t.group_number)
        is_open = TicketState(t.state) in OPEN_STATES
        lines.append(
            Row(
                id=t.id,
                summary=t.summary or t.text[:40],
                state_name=state_name(t),
                urgent=t.urgent,
                overdue=bool(is_open and t.resolve_due_at and t.resolve_due_at < now),
                category=office.category_name(t.category),
                place=place,
                assignee=people.get(t.assignee_id, texts.NOBODY) if t.assignee_id else texts.NOBODY,
                created=local(t.created_at),
                resolve_due=local_due(t.resolve_due_at),
            )
        )
    return lines
