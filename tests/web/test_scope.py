"""models/scope.py: who sees which ticket, the one rule behind every page and media file."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from models.base import utcnow
from models.db import unit_of_work
from models.person import Person, PersonRole, Role
from models.place import Place
from models.scope import may_see, visible_tickets
from models.ticket import Ticket
from models.tickets import locate, new_ticket
from tests.town import SmallTown


def make_ticket(
    engine: Engine, town: SmallTown, reporter: str, village: str, group: int, assignee: str | None
) -> int:
    with unit_of_work(engine) as session:
        person = session.get(Person, town.people[reporter].id)
        assert person is not None
        ticket = new_ticket(
            session, reporter=person, channel="wechat", sender="x", text="路灯坏了", now=utcnow()
        )
        locate(session, ticket, session.get(Place, town.villages[village]), group)
        ticket.assignee_id = town.people[assignee].id if assignee else None
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        return ticket.id


def seen_by(engine: Engine, town: SmallTown, key: str) -> set[int]:
    with Session(engine) as session:
        person = session.get(Person, town.people[key].id)
        assert person is not None
        listed = {t.id for t in session.exec(visible_tickets(session, person)) if t.id}
        every = session.exec(select(Ticket.id)).all()
        one_by_one = {i for i in every if i is not None and may_see(session, person, i)}
        assert listed == one_by_one  # the list and the single-ticket check are one rule
        return listed


def test_who_sees_what(engine: Engine, town: SmallTown) -> None:
    zhang = make_ticket(engine, town, "reporter", "张家村", 3, "cadre:张家村")
    li = make_ticket(engine, town, "reporter2", "李家村", 1, "unit:水利站")
    li_unassigned = make_ticket(engine, town, "stranger", "李家村", 1, None)
    assert seen_by(engine, town, "reporter") == {zhang}  # a 邻长: their own report
    assert seen_by(engine, town, "reporter2") == {li}
    assert seen_by(engine, town, "stranger") == {li_unassigned}
    # A village cadre: assigned to them, and everything in the village they cover.
    assert seen_by(engine, town, "cadre:张家村") == {zhang}
    assert seen_by(engine, town, "cadre:李家村") == {li, li_unassigned}
    assert seen_by(engine, town, "liaison") == {zhang, li, li_unassigned}  # covers both villages
    assert seen_by(engine, town, "unit:水利站") == {li}  # assigned to the unit's head
    assert seen_by(engine, town, "colleague") == set()  # a unit member with nothing assigned
    assert seen_by(engine, town, "dispatcher") == {zhang, li, li_unassigned}  # the town subtree
    assert seen_by(engine, town, "leader") == {zhang, li, li_unassigned}


def test_a_unit_head_sees_the_tickets_of_the_unit_members(engine: Engine, town: SmallTown) -> None:
    head = town.unit_heads["水利站"]
    with unit_of_work(engine) as session:
        colleague = session.get(Person, town.people["colleague"].id)
        assert colleague is not None
        colleague.unit_id = head.unit_id
        session.add(colleague)
    ticket = make_ticket(engine, town, "reporter", "张家村", 3, "colleague")
    assert ticket in seen_by(engine, town, "colleague")
    assert ticket in seen_by(engine, town, "unit:水利站")
    assert ticket not in seen_by(engine, town, "cadre:李家村")


def test_a_merged_report_follows_its_reporter(engine: Engine, town: SmallTown) -> None:
    target = make_ticket(engine, town, "reporter", "张家村", 3, "cadre:张家村")
    duplicate = make_ticket(engine, town, "stranger", "张家村", 3, None)
    with unit_of_work(engine) as session:
        row = session.get(Ticket, duplicate)
        assert row is not None
        row.duplicate_of_id, row.state = target, "duplicate"
        session.add(row)
    assert seen_by(engine, town, "stranger") == {target, duplicate}


def test_admin_sees_all_and_an_inactive_person_nothing(engine: Engine, town: SmallTown) -> None:
    first = make_ticket(engine, town, "reporter", "张家村", 3, "cadre:张家村")
    second = make_ticket(engine, town, "reporter2", "李家村", 1, None)
    with unit_of_work(engine) as session:
        session.add(PersonRole(person_id=town.people["colleague"].id, role=Role.admin.value))  # type: ignore[arg-type]
        cadre = session.get(Person, town.people["cadre:张家村"].id)
        assert cadre is not None
        cadre.active = False
        session.add(cadre)
    assert seen_by(engine, town, "colleague") == {first, second}
    assert seen_by(engine, town, "cadre:张家村") == set()


def test_a_dispatcher_of_another_town_sees_none_of_this_one(
    engine: Engine, town: SmallTown
) -> None:
    ticket = make_ticket(engine, town, "reporter", "张家村", 3, "cadre:张家村")
    with unit_of_work(engine) as session:
        county = session.exec(select(Place).where(Place.kind == "county")).one()
        from models.place import PlaceKind, add_place

        other = add_place(session, "梨花镇", PlaceKind.town, county)
        person = Person(name="外镇调度", phone="17100000001", place_id=other.id)  # type: ignore[arg-type]
        session.add(person)
        session.flush()
        session.add(PersonRole(person_id=person.id, role=Role.dispatcher.value))  # type: ignore[arg-type]
        town.people["other-dispatcher"] = person
    assert ticket not in seen_by(engine, town, "other-dispatcher")
    with Session(engine) as session:
        assert session.exec(select(Ticket).where(col(Ticket.id) == ticket)).one().place_path != "/"
