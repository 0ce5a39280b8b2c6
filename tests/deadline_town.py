"""A village with its supervisor ladder and tickets built row by row, for deadline and job tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config.calendar import TIMEZONE, WorkCalendar
from config.sla import SlaConfig
from models.deadlines import set_deadlines
from models.outbox import OutboxMessage
from models.person import Coverage, Person, PersonRole, Role
from models.place import PlaceKind, add_place
from models.ticket import Ticket, TicketEvent, TicketState


@dataclass(frozen=True)
class Ladder:
    """Ids of the village and of the people on its ladder: cadre → 包村干部 → 书记."""

    town: int
    village: int
    cadre: int
    liaison: int
    leader: int
    dispatcher: int
    reporter: int


def cst(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A moment given in Asia/Shanghai wall time, as aware UTC like the database returns it."""
    return datetime(year, month, day, hour, minute, second, tzinfo=TIMEZONE).astimezone(UTC)


def build_ladder(engine: Engine) -> Ladder:
    """桃花镇 / 张家村 with a 村干部 under a 包村干部 under the 书记, a dispatcher and a 邻长."""
    with Session(engine) as session:
        town = add_place(session, "桃花镇", PlaceKind.town)
        village = add_place(session, "张家村", PlaceKind.village, town)

        def person(
            name: str,
            phone: str,
            place_id: int | None,
            role: Role,
            supervisor_id: int | None = None,
        ) -> int:
            assert place_id is not None
            p = Person(name=name, phone=phone, place_id=place_id, supervisor_id=supervisor_id)
            session.add(p)
            session.flush()
            assert p.id is not None
            session.add(PersonRole(person_id=p.id, role=role.value))
            return p.id

        leader = person("王书记", "17000000001", town.id, Role.leader)
        dispatcher = person("赵调度", "17000000002", town.id, Role.dispatcher)
        liaison = person("钱包村", "17000000003", town.id, Role.liaison, supervisor_id=leader)
        cadre = person(
            "张支书", "17000000004", village.id, Role.village_cadre, supervisor_id=liaison
        )
        reporter = person("李邻长", "17000000005", village.id, Role.neighbour_head)
        assert village.id is not None and town.id is not None
        session.add(Coverage(person_id=liaison, place_id=village.id, role=Role.liaison.value))
        session.add(Coverage(person_id=cadre, place_id=village.id, role=Role.village_cadre.value))
        session.commit()
        return Ladder(town.id, village.id, cadre, liaison, leader, dispatcher, reporter)


def add_ticket(
    engine: Engine,
    ladder: Ladder,
    assigned_at: datetime,
    *,
    urgent: bool = False,
    category: str = "road",
    summary: str = "3组水渠堵了",
    sla: SlaConfig | None = None,
    calendar: WorkCalendar | None = None,
) -> int:
    """An assigned ticket of the village, with its deadlines set as the assignment code does."""
    with Session(engine) as session:
        village_path = f"/{ladder.town}/{ladder.village}/"
        ticket = Ticket(
            state=TicketState.assigned.value,
            channel="wechat",
            sender="openid-li",
            reporter_id=ladder.reporter,
            text=summary,
            summary=summary,
            category=category,
            village_id=ladder.village,
            place_id=ladder.village,
            place_path=village_path,
            urgent=urgent,
            assignee_id=ladder.cadre,
            created_at=assigned_at,
            assigned_at=assigned_at,
            updated_at=assigned_at,
        )
        session.add(ticket)
        session.flush()
        set_deadlines(
            session,
            ticket,
            assigned_at,
            sla=sla or SlaConfig(),
            calendar=calendar or WorkCalendar(),
        )
        session.commit()
        assert ticket.id is not None
        return ticket.id


def outbox(engine: Engine, ticket_id: int | None = None) -> list[OutboxMessage]:
    """Every outbox message (of one ticket), oldest first."""
    with Session(engine) as session:
        stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if ticket_id is not None:
            stmt = stmt.where(OutboxMessage.ticket_id == ticket_id)
        return list(session.exec(stmt))


def events(engine: Engine, ticket_id: int) -> list[TicketEvent]:
    """A ticket's timeline, oldest first."""
    with Session(engine) as session:
        stmt = (
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return list(session.exec(stmt))


def ticket(engine: Engine, ticket_id: int) -> Ticket:
    """The ticket as stored now."""
    with Session(engine) as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None
        return row
