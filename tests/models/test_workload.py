"""Open work by person and by place (models/workload.py), as the weekly digest reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models.person import Person, PersonRole, Role
from models.place import Place, PlaceKind, add_place
from models.ticket import Ticket, TicketState
from models.workload import (
    busiest_categories,
    busiest_villages,
    open_count,
    open_counts,
    overdue_in,
    people_with_roles,
)

NOW = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)


def test_open_work_is_counted_by_person_and_by_place(session: Session) -> None:
    town = add_place(session, "杏林镇", PlaceKind.town)
    north = add_place(session, "张家村", PlaceKind.village, town)
    south = add_place(session, "李家村", PlaceKind.village, town)
    other_town = add_place(session, "桃源镇", PlaceKind.town)
    elsewhere = add_place(session, "王家村", PlaceKind.village, other_town)
    cadre = Person(name="张干部", phone="13900000001", place_id=north.id)
    clerk = Person(name="李调度", phone="13900000002", place_id=town.id)
    gone = Person(name="王离职", phone="13900000003", place_id=town.id, active=False)
    session.add_all([cadre, clerk, gone])
    session.flush()
    session.add_all(
        [
            PersonRole(person_id=clerk.id, role=Role.dispatcher.value),
            PersonRole(person_id=gone.id, role=Role.dispatcher.value),
            PersonRole(person_id=cadre.id, role=Role.village_cadre.value),
        ]
    )

    def ticket(village: Place, state: TicketState, due_in_days: int, category: str) -> Ticket:
        made = Ticket(
            channel="wechat",
            sender="o-test",
            state=state.value,
            village_id=village.id,
            place_path=village.path,
            category=category,
            assignee_id=cadre.id,
            resolve_due_at=NOW + timedelta(days=due_in_days),
            created_at=NOW - timedelta(days=10),
            updated_at=NOW,
        )
        session.add(made)
        return made

    late_first = ticket(north, TicketState.accepted, -3, "water")
    late_second = ticket(south, TicketState.assigned, -1, "road")
    ticket(north, TicketState.in_progress, 2, "water")
    ticket(north, TicketState.closed, -5, "water")  # closed: no longer open work
    ticket(elsewhere, TicketState.assigned, -9, "road")  # another town
    session.flush()

    assert open_count(session, cadre.id) == 4  # type: ignore[arg-type]
    assert open_count(session, cadre.id, overdue_at=NOW) == 3  # type: ignore[arg-type]
    assert open_count(session, clerk.id) == 0  # type: ignore[arg-type]
    assert list(open_counts(session, NOW)) == [cadre.id]  # who holds open tickets

    late, total = overdue_in(session, town, NOW, limit=1)
    assert total == 2  # the limit cuts the list, not the count
    assert [(t.id, p.name if p else None) for t, p in late] == [(late_first.id, "张干部")]
    late, total = overdue_in(session, town, NOW, limit=10)
    assert [t.id for t, _ in late] == [late_first.id, late_second.id]  # earliest deadline first

    assert busiest_villages(session, town, limit=3) == [("张家村", 2), ("李家村", 1)]
    assert busiest_villages(session, town, limit=1) == [("张家村", 2)]
    assert busiest_categories(session, town, limit=3) == [("water", 2), ("road", 1)]
    assert busiest_categories(session, other_town, limit=3) == [("road", 1)]

    assert [p.name for p in people_with_roles(session, {Role.dispatcher, Role.leader})] == [
        "李调度"
    ]
