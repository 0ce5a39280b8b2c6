"""The roster as each process keeps it in memory: places, units, roles and who handles what.

A report needs the reporter's roles, the village names the parser knows, the place's ancestors,
the unit and the people routing may choose, and the assignee's roles and unit for the labels.
All of it changes only when the roster does, so each process keeps one `Directory` per database
(per engine pool) and reads, once per transaction, the two stamps of `directory_version`
(migration 0010): triggers give a stamp a new random value in the same transaction as any write
to its tables (`places`: place, unit; `people`: person, person_role, coverage — a person's
WeChat binding excepted). When a stamp differs from the one a book was built at, that book is
built again from the database.

Staleness: none. The stamps are read at the start of every transaction that uses the directory,
so a roster change committed by any process (import, invite, bind code, the web, psql) is seen
by the next message. Reading the stamps before the rows means a book can only be newer than its
stamp (PostgreSQL reads each statement at its own moment), which costs a rebuild, never a stale
answer. A stamp is random, never a count, so a rolled-back change leaves no book that could
match again. Within one transaction, an ORM flush or statement that writes the roster's tables
makes that transaction read the directory into books of its own (shared by no other), so it
sees what it wrote and nobody else sees it before the commit.

Books are shared by a process's threads and never changed after building, except for the
lazily filled cards of people no handler role brings into the book at build time (reporters):
each entry is read in a transaction that saw the book's stamp.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel

from models.person import HANDLER_ROLES, Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind

# Not on SQLModel.metadata: migration 0010 makes it, with the triggers that stamp it.
DIRECTORY_VERSION = Table(
    "directory_version",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("places", String(32), nullable=False),
    Column("people", String(32), nullable=False),
)
ROSTER_TABLES = frozenset({"place", "unit", "person", "person_role", "coverage"})
ROSTER_CLASSES = (Place, Unit, Person, PersonRole, Coverage)


@dataclass(frozen=True, slots=True)
class PlaceCard:
    """A place as the directory keeps it (the columns of `Place`)."""

    id: int
    name: str
    kind: str
    parent_id: int | None
    path: str
    depth: int
    number: int | None


@dataclass(frozen=True, slots=True)
class PersonCard:
    """A person as the directory keeps it: the roster columns and the roles held."""

    id: int
    name: str
    phone: str
    title: str | None
    place_id: int
    unit_id: int | None
    supervisor_id: int | None
    active: bool
    roles: frozenset[Role]


PERSON_COLUMNS = ("id", "name", "phone", "title", "place_id", "unit_id", "supervisor_id", "active")


def _card(values: Sequence[Any], roles: frozenset[Role]) -> PersonCard:
    return PersonCard(**dict(zip(PERSON_COLUMNS, values, strict=True)), roles=roles)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel class, for statements the ORM need not build."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


class PlaceBook:
    """Every place and unit, with the indexes intake and routing ask."""

    def __init__(self, places: Iterable[PlaceCard], units: Iterable[tuple[int, str, int]]) -> None:
        self.places = {p.id: p for p in places}
        villages = sorted(
            (p for p in self.places.values() if p.kind == PlaceKind.village.value),
            key=lambda p: p.id,
        )
        self.village_names = tuple(sorted({v.name for v in villages}))
        self.villages_named: dict[str, list[PlaceCard]] = {}
        for village in villages:
            self.villages_named.setdefault(village.name, []).append(village)
        # A group by its village and number, searched through the village's 片 too.
        self.groups: dict[tuple[int, int], PlaceCard] = {}
        for place in sorted(self.places.values(), key=lambda p: p.id):
            if place.kind != PlaceKind.group.value or place.number is None:
                continue
            for above in self.ancestors(place)[1:]:
                self.groups.setdefault((above.id, place.number), place)
        self.units = {(town_id, name): unit_id for unit_id, name, town_id in units}
        self.unit_names = {unit_id: name for unit_id, name, _town in units}

    def ancestors(self, place: PlaceCard | Place) -> list[PlaceCard]:
        """The place and every place above it, nearest first (models/place.py's `ancestors`)."""
        ids = [int(part) for part in place.path.strip("/").split("/") if part]
        return [self.places[i] for i in reversed(ids) if i in self.places]

    def find_village(self, name: str, near: PlaceCard | Place | None) -> PlaceCard | None:
        """A village by name, preferring one in the same town as `near`."""
        candidates = self.villages_named.get(name, [])
        if near is not None and len(candidates) > 1:
            town_path = "/".join(near.path.split("/")[:-3]) + "/"
            same_town = [c for c in candidates if c.path.startswith(town_path)]
            candidates = same_town or candidates
        return candidates[0] if candidates else None

    def group_in(self, village: PlaceCard | Place, number: int) -> PlaceCard | None:
        """The 组 numbered `number` under a village (through its 片 too)."""
        assert village.id is not None
        return self.groups.get((village.id, number))

    def village_of(self, place: PlaceCard | Place) -> PlaceCard | None:
        """The village a place lies in, or the place itself when it is one."""
        return next((p for p in self.ancestors(place) if p.kind == PlaceKind.village.value), None)


class PeopleBook:
    """Everyone's roles; everyone with a handler role (with coverage and unit headship) as a
    card, eagerly; other people's cards as they are asked for."""

    def __init__(
        self,
        cards: Iterable[PersonCard],
        coverage: Iterable[tuple[int, int, str]],
        roles: dict[int, frozenset[Role]],
    ) -> None:
        self.roles = roles  # everyone's
        self.cards: dict[int, PersonCard | None] = {}
        self.by_role: dict[Role, list[int]] = {}
        self.unit_heads: dict[int, list[int]] = {}
        self.phones: dict[str, int | None] = {}
        for card in sorted(cards, key=lambda c: c.id):
            self.cards[card.id] = card
            self.phones[card.phone] = card.id
            for role in card.roles:
                self.by_role.setdefault(role, []).append(card.id)
            if Role.unit_head in card.roles and card.unit_id is not None:
                self.unit_heads.setdefault(card.unit_id, []).append(card.id)
        self.covering: dict[tuple[int, str], list[int]] = {}
        for person_id, place_id, covered_as in sorted(coverage):
            self.covering.setdefault((place_id, covered_as), []).append(person_id)


@dataclass
class _Books:
    lock: threading.Lock = field(default_factory=threading.Lock)
    places: tuple[str, PlaceBook] | None = None
    people: tuple[str, PeopleBook] | None = None


# One set of books per database a process talks to: keyed by the engine's pool, which the
# engine's option copies (models/db.py unit_of_work) share and engine.dispose() replaces.
_BOOKS: weakref.WeakKeyDictionary[Any, _Books] = weakref.WeakKeyDictionary()
_BOOKS_GUARD = threading.Lock()
_VIEW_KEY = "directory_view"
_WROTE_KEY = "directory_wrote_roster"


class View:
    """The directory as one transaction sees it."""

    def __init__(self, session: Session, places: PlaceBook, people: PeopleBook) -> None:
        self.session, self.places, self.people = session, places, people

    # ------------------------------------------------------------------------------ people

    def card(self, person_id: int | None) -> PersonCard | None:
        """A person's roster columns and roles (inactive people too)."""
        if person_id is None:
            return None
        cards = self.people.cards
        if person_id in cards:
            return cards[person_id]
        roles = self.roles(person_id)
        # A person this session holds already (the sender) needs no query, and is not kept:
        # the session may hold them from an earlier transaction.
        loaded = self.session.identity_map.get(self.session.identity_key(Person, person_id))
        if isinstance(loaded, Person):
            values = [getattr(loaded, name) for name in PERSON_COLUMNS]
            return _card(values, roles)
        person = table_of(Person).c
        row = self.session.execute(
            select(*(person[name] for name in PERSON_COLUMNS)).where(person.id == person_id)
        ).first()
        cards[person_id] = _card(row, roles) if row is not None else None
        return cards[person_id]

    def active_cards(self, ids: Iterable[int]) -> list[PersonCard]:
        """The cards of these people who are active, in the order given."""
        found = (self.card(i) for i in ids)
        return [c for c in found if c is not None and c.active]

    def roles(self, person_id: int) -> frozenset[Role]:
        """Every role a person holds."""
        return self.people.roles.get(person_id, frozenset())

    def by_phone(self, phone: str) -> PersonCard | None:
        phones = self.people.phones
        if phone not in phones:
            found = self.session.execute(
                select(table_of(Person).c.id).where(table_of(Person).c.phone == phone)
            ).scalar()
            phones[phone] = found
        return self.card(phones[phone])

    def person(self, card: PersonCard) -> Person:
        """The card as this session's `Person`, without a query when the session has none yet."""
        found = self.session.identity_map.get(self.session.identity_key(Person, card.id))
        if isinstance(found, Person):
            return found
        values = {name: getattr(card, name) for name in PERSON_COLUMNS}
        person = Person(**values)
        make_transient_to_detached(person)  # as if loaded: adding it writes nothing
        self.session.add(person)
        # The directory does not keep a person's WeChat binding: read it when it is asked for.
        self.session.expire(person, ["wechat_openid", "wecom_userid", "bound_at"])
        return person

    def unit_name(self, unit_id: int | None) -> str | None:
        return self.places.unit_names.get(unit_id) if unit_id is not None else None


def _load_places(session: Session) -> PlaceBook:
    place, unit = table_of(Place).c, table_of(Unit).c
    rows = session.execute(
        select(
            place.id, place.name, place.kind, place.parent_id, place.path, place.depth, place.number
        )
    )
    units = session.execute(select(unit.id, unit.name, unit.town_id))
    return PlaceBook((PlaceCard(*r) for r in rows), [tuple(u) for u in units])


def _load_people(session: Session) -> PeopleBook:
    person, role = table_of(Person).c, table_of(PersonRole).c
    held: dict[int, set[Role]] = {}
    for person_id, value in session.execute(select(role.person_id, role.role)):
        held.setdefault(person_id, set()).add(Role(value))
    # One frozenset per combination of roles: a county's 邻长 share a handful.
    shared: dict[frozenset[Role], frozenset[Role]] = {}
    roles = {i: shared.setdefault(frozenset(r), frozenset(r)) for i, r in held.items()}
    handler_ids = select(role.person_id).where(role.role.in_([r.value for r in HANDLER_ROLES]))
    rows = session.execute(
        select(*(person[name] for name in PERSON_COLUMNS)).where(person.id.in_(handler_ids))
    )
    cards = [_card(row, roles.get(row[0], frozenset())) for row in rows]
    cover = table_of(Coverage).c
    coverage = session.execute(select(cover.person_id, cover.place_id, cover.role))
    return PeopleBook(cards, [tuple(c) for c in coverage], roles)


def directory_of(session: Session) -> View:
    """The directory as this session's transaction sees it: the stamps are read once per
    transaction, and a book is rebuilt when its stamp changed. A transaction that wrote the
    roster's tables itself reads them into books of its own, which no other one shares."""
    transaction = session.get_transaction()
    held = session.info.get(_VIEW_KEY)
    if held is not None and transaction is not None and held[0] is transaction:
        view: View = held[1]
        return view
    if session.info.get(_WROTE_KEY):
        view = View(session, _load_places(session), _load_people(session))
        session.info[_VIEW_KEY] = (session.get_transaction(), view)
        return view
    stamps = session.execute(
        select(DIRECTORY_VERSION.c.places, DIRECTORY_VERSION.c.people).where(
            DIRECTORY_VERSION.c.id == 1
        )
    ).first()
    places_stamp, people_stamp = (stamps[0], stamps[1]) if stamps else ("", "")
    books = _books_for(session)
    with books.lock:
        places, people = books.places, books.people
    if places is None or places[0] != places_stamp:
        places = (places_stamp, _load_places(session))
    if people is None or people[0] != people_stamp:
        people = (people_stamp, _load_people(session))
    with books.lock:
        books.places, books.people = places, people
    view = View(session, places[1], people[1])
    session.info[_VIEW_KEY] = (session.get_transaction(), view)
    return view


def _books_for(session: Session) -> _Books:
    pool = session.get_bind().pool  # type: ignore[union-attr]
    with _BOOKS_GUARD:
        books = _BOOKS.get(pool)
        if books is None:
            books = _BOOKS[pool] = _Books()
        return books


def forget_view(session: OrmSession) -> None:
    """Make the session's next directory use read the stamps again."""
    session.info.pop(_VIEW_KEY, None)


def _wrote_roster(session: OrmSession) -> None:
    """This transaction changed the roster: from now on it reads the directory for itself
    (on PostgreSQL its stamp changes once per transaction, so the stamp cannot tell)."""
    session.info[_WROTE_KEY] = True
    forget_view(session)


def _changes_roster(obj: object) -> bool:
    if isinstance(obj, Person):
        # A binding (wechat_openid, wecom_userid, bound_at) is not in the directory.
        attrs = inspect(obj).attrs
        return any(attrs[name].history.has_changes() for name in PERSON_COLUMNS)
    return isinstance(obj, ROSTER_CLASSES)


@event.listens_for(Session, "before_flush")
def _roster_flushed(session: Session, _context: object, _instances: object) -> None:
    """A flush that writes the roster's tables."""
    if any(isinstance(obj, ROSTER_CLASSES) for obj in (*session.new, *session.deleted)) or any(
        _changes_roster(obj) for obj in session.dirty
    ):
        _wrote_roster(session)


@event.listens_for(Session, "do_orm_execute")
def _roster_statement(state: ORMExecuteState) -> None:
    """An INSERT, UPDATE or DELETE statement on one of them (or SQL text, which may be one)."""
    if state.is_select:
        return
    tables = {getattr(t, "name", None) for t in getattr(state.statement, "_all_tables", ())}
    table = getattr(state.statement, "table", None)
    if table is None or getattr(table, "name", None) in ROSTER_TABLES or tables & ROSTER_TABLES:
        _wrote_roster(state.session)


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        forget_view(session)
        session.info.pop(_WROTE_KEY, None)


event.listen(Session, "after_transaction_end", _transaction_ended)
