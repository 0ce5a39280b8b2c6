"""The SLA sweep: each reminder, escalation and 督办 once, at its moment, however often it runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from bot.scheduler import ALERT_TEXTS
from config.calendar import WorkCalendar
from config.sla import SlaConfig, parse_sla
from models.db import read_session, unit_of_work
from models.deadlines import extend_resolve_due
from models.person import Person
from models.sla import SweepResult, plan_sweep, sla_sweep
from models.ticket import RECHECK, Ticket, TicketAlert, TicketState
from tests.deadline_town import Ladder, add_ticket, build_ladder, cst, events, outbox, ticket

SLA = SlaConfig()
CALENDAR = WorkCalendar()


def sweep(
    engine: Engine, now: datetime, limit: int | None = None, sla: SlaConfig = SLA
) -> SweepResult:
    with unit_of_work(engine) as session:
        return sla_sweep(session, now, texts=ALERT_TEXTS, sla=sla, calendar=CALENDAR, limit=limit)


def accept(engine: Engine, ticket_id: int, now: datetime) -> None:
    """签收, as the cadre's command will do it."""
    with unit_of_work(engine) as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None
        row.state, row.accepted_at, row.updated_at = TicketState.accepted.value, now, now
        session.add(row)


def sent(engine: Engine, ticket_id: int) -> list[tuple[str, int | None, datetime]]:
    """(kind, person, moment) of each message about a ticket."""
    return [(m.kind, m.person_id, m.created_at) for m in outbox(engine, ticket_id)]


def test_each_step_is_sent_once_although_the_sweep_runs_every_minute(engine: Engine) -> None:
    # 督办 two hours after a deadline (default: one working day, tested below) keeps the
    # minute-by-minute window to a day and a half.
    sla = parse_sla({"escalation": {"leader_after": "2 hours"}})
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    urgent = add_ticket(engine, ladder, monday, urgent=True, summary="电线杆倒了", sla=sla)
    normal = add_ticket(engine, ladder, monday, summary="3组水渠堵了", sla=sla)
    end = cst(2026, 12, 1, 14, 0)  # Tuesday 14:00: past every step of the window

    moment = monday
    while moment <= end:
        if moment == cst(2026, 11, 30, 10, 45):
            accept(engine, urgent, moment)  # before its 签收 reminder (11:30) was due
        sweep(engine, moment, sla=sla)
        moment += timedelta(minutes=1)

    tuesday_4 = cst(2026, 12, 1, 4, 0)  # three quarters of 24 hours after Monday 10:00
    tuesday_10 = cst(2026, 12, 1, 10, 0)
    tuesday_12 = cst(2026, 12, 1, 12, 0)
    assert sent(engine, urgent) == [
        ("sla_remind_resolve", ladder.cadre, tuesday_4),
        ("sla_escalate_resolve", ladder.liaison, tuesday_10),
        ("sla_overdue_resolve", ladder.cadre, tuesday_10),
        ("sla_leader_resolve", ladder.leader, tuesday_12),
    ]
    # The normal ticket was never signed for: its 签收 deadline (1 working day) climbs the ladder;
    # its 办结 reminder is not due before Monday 7 December.
    assert sent(engine, normal) == [
        ("sla_remind_ack", ladder.cadre, tuesday_4),
        ("sla_escalate_ack", ladder.liaison, tuesday_10),
        ("sla_overdue_ack", ladder.cadre, tuesday_10),
        ("sla_leader_ack", ladder.leader, tuesday_12),
    ]
    assert [(e.kind, e.at) for e in events(engine, urgent)] == [
        ("reminded", tuesday_4),
        ("escalated", tuesday_10),
        ("escalated", tuesday_12),
    ]
    notes = [e.note for e in events(engine, normal)]
    assert notes == [
        "签收期限12月1日10:00将到，已提醒张支书",
        "签收期限12月1日10:00已过，已报告钱包村",
        "签收期限12月1日10:00已过，已报请王书记督办",
    ]
    texts = {m.kind: m.text for m in outbox(engine, normal)}
    assert texts["sla_remind_ack"].startswith("【时限提醒 #")
    assert "签收 " in texts["sla_remind_ack"]
    assert "张支书承办的工单签收期限12月1日10:00已过" in texts["sla_escalate_ack"]
    assert "张家村｜3组水渠堵了" in texts["sla_leader_ack"]


def test_leader_is_asked_one_working_day_after_a_friday_deadline(engine: Engine) -> None:
    ladder = build_ladder(engine)
    wednesday = cst(2026, 12, 2, 10, 0)
    ticket_id = add_ticket(engine, ladder, wednesday)
    accept(engine, ticket_id, wednesday + timedelta(minutes=5))
    friday = cst(2026, 12, 11, 10, 0)  # 7 working days: 3, 4, 7, 8, 9, 10, 11 December
    assert ticket(engine, ticket_id).resolve_due_at == friday

    moment = wednesday
    while moment <= cst(2026, 12, 15, 10, 0):
        sweep(engine, moment)
        moment += timedelta(minutes=30)

    steps = {kind: (person, at) for kind, person, at in sent(engine, ticket_id)}
    assert steps["sla_escalate_resolve"] == (ladder.liaison, friday)
    # Not on the weekend: the next working day, Monday 14 December, at the same time.
    assert steps["sla_leader_resolve"] == (ladder.leader, cst(2026, 12, 14, 10, 0))
    assert len(sent(engine, ticket_id)) == 4


def test_an_extension_is_a_new_deadline_with_its_own_steps(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ticket_id = add_ticket(engine, ladder, monday)
    accept(engine, ticket_id, monday)
    first_due = cst(2026, 12, 9, 10, 0)
    sweep(engine, first_due)
    sweep(engine, first_due + timedelta(hours=1))
    assert [k for k, _, _ in sent(engine, ticket_id)] == [
        "sla_escalate_resolve",
        "sla_overdue_resolve",
    ]

    with unit_of_work(engine) as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None and row.resolve_due_at is not None
        row.resolve_due_at = extend_resolve_due(row.resolve_due_at, 5, sla=SLA, calendar=CALENDAR)
        session.add(row)
    new_due = cst(2026, 12, 16, 10, 0)
    assert ticket(engine, ticket_id).resolve_due_at == new_due
    for moment in (new_due - timedelta(hours=1), new_due, new_due + timedelta(minutes=5)):
        sweep(engine, moment)
    kinds = [k for k, _, _ in sent(engine, ticket_id)]
    assert kinds == [
        "sla_escalate_resolve",
        "sla_overdue_resolve",
        "sla_remind_resolve",
        "sla_escalate_resolve",
        "sla_overdue_resolve",
    ]
    with Session(engine) as session:
        deadlines = session.exec(
            select(TicketAlert.deadline_at).where(TicketAlert.kind == "escalate_resolve")
        ).all()
    assert sorted(deadlines) == [first_due, new_due]


def test_a_late_sweep_sends_escalations_without_a_stale_reminder(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ticket_id = add_ticket(engine, ladder, monday, urgent=True)
    # The worker was down from Monday until Thursday: both escalations are due, no reminder.
    result = sweep(engine, cst(2026, 12, 3, 9, 0))
    assert (result.reminded, result.escalated, result.leader) == (0, 2, 2)  # ack and resolve
    kinds = sorted(k for k, _, _ in sent(engine, ticket_id))
    assert kinds == [
        "sla_escalate_ack",
        "sla_escalate_resolve",
        "sla_leader_ack",
        "sla_leader_resolve",
        "sla_overdue_ack",
        "sla_overdue_resolve",
    ]
    assert sweep(engine, cst(2026, 12, 3, 9, 5)).steps == 0


def test_the_batch_limit_leaves_the_rest_for_the_next_run(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ids = [add_ticket(engine, ladder, monday, urgent=True) for _ in range(5)]
    overdue = cst(2026, 11, 30, 12, 30)  # ack deadlines passed; the resolve ones not yet near
    first = sweep(engine, overdue, limit=2)
    assert (first.escalated, first.more) == (2, True)
    second = sweep(engine, overdue, limit=2)
    third = sweep(engine, overdue, limit=2)
    assert (second.escalated, third.escalated, third.more) == (2, 1, False)
    assert sweep(engine, overdue, limit=2).steps == 0
    for ticket_id in ids:
        assert [k for k, _, _ in sent(engine, ticket_id)] == ["sla_escalate_ack", "sla_overdue_ack"]


def test_without_a_supervisor_the_dispatcher_hears_of_it(engine: Engine) -> None:
    ladder: Ladder = build_ladder(engine)
    with unit_of_work(engine) as session:
        cadre = session.get(Person, ladder.cadre)
        liaison = session.get(Person, ladder.liaison)
        assert cadre is not None and liaison is not None
        cadre.supervisor_id = None
        liaison.active = False  # left the roster: the 包村干部 of the village is gone too
        session.add_all([cadre, liaison])
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0), urgent=True)
    sweep(engine, cst(2026, 11, 30, 12, 0))
    assert [(k, p) for k, p, _ in sent(engine, ticket_id)] == [
        ("sla_escalate_ack", ladder.dispatcher),
        ("sla_overdue_ack", ladder.cadre),
    ]
    sweep(engine, cst(2026, 12, 1, 12, 0))
    leader = [p for k, p, _ in sent(engine, ticket_id) if k == "sla_leader_ack"]
    assert leader == [ladder.leader]


def test_closed_and_returned_tickets_are_left_alone(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ids = [add_ticket(engine, ladder, monday, urgent=True) for _ in range(2)]
    with unit_of_work(engine) as session:
        for ticket_id, state in zip(ids, ("resolved", "returned"), strict=True):
            row = session.get(Ticket, ticket_id)
            assert row is not None
            row.state = state
            session.add(row)
    assert sweep(engine, cst(2026, 12, 3, 10, 0)).steps == 0
    with Session(engine) as session:
        assert session.exec(select(col(TicketAlert.id))).all() == []


@contextmanager
def ticket_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements that name the ticket table, run inside the block."""
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        flat = " ".join(statement.split()).lower()
        if re.search(r"\bticket\b", flat):
            statements.append(flat)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_sweep_with_nothing_due_reads_and_writes_no_ticket_row(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ids = [add_ticket(engine, ladder, monday, summary=f"{n}组水渠堵了") for n in range(1, 6)]
    first = ticket(engine, ids[0])
    # Assigned with its deadlines, each ticket already knows its first step: the 签收 reminder.
    assert first.next_alert_at is not None and first.ack_due_at is not None
    assert monday < first.next_alert_at < first.ack_due_at

    with ticket_statements(engine) as statements:
        result = sweep(engine, monday + timedelta(minutes=5))
    assert result.steps == 0 and not result.more
    # One read of the due range of next_alert_at, which is empty; nothing written.
    assert len(statements) == 1, statements
    assert "where ticket.next_alert_at <=" in statements[0]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM ticket WHERE next_alert_at <= '2026-11-30' "
                "ORDER BY next_alert_at, id LIMIT 500"
            ).all()
        assert "ix_ticket_next_alert_at" in " ".join(str(row) for row in plan)


def test_next_alert_follows_the_ticket_through_its_life(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ticket_id = add_ticket(engine, ladder, monday)
    reminder = ticket(engine, ticket_id).next_alert_at
    assert reminder is not None

    # The reminder goes out; then the sweep waits for the 签收 deadline itself.
    assert sweep(engine, reminder).reminded == 1
    assert ticket(engine, ticket_id).next_alert_at == ticket(engine, ticket_id).ack_due_at

    # 签收: the ack deadline stops counting. The ticket is still looked at when it would have
    # come (an early look is safe, a late one would not be); that look finds nothing to send and
    # moves on to the 办结 reminder's moment.
    accept(engine, ticket_id, reminder + timedelta(minutes=1))
    ack_due = ticket(engine, ticket_id).ack_due_at
    assert ack_due is not None
    assert sweep(engine, ack_due).steps == 0
    row = ticket(engine, ticket_id)
    assert row.resolve_due_at is not None and row.next_alert_at is not None
    assert row.ack_due_at is not None and row.ack_due_at < row.next_alert_at < row.resolve_due_at

    # Code that moves a deadline without knowing the SLA asks for a look at the next sweep.
    with unit_of_work(engine) as session:
        held = session.get(Ticket, ticket_id)
        assert held is not None and held.resolve_due_at is not None
        held.resolve_due_at = held.resolve_due_at - timedelta(days=3)
        session.add(held)
    assert ticket(engine, ticket_id).next_alert_at == RECHECK

    # Resolved: nothing left to watch, the sweep never reads it again.
    with unit_of_work(engine) as session:
        held = session.get(Ticket, ticket_id)
        assert held is not None
        held.state = TicketState.resolved.value
        session.add(held)
    assert ticket(engine, ticket_id).next_alert_at is None


def test_after_the_leader_step_a_deadline_has_nothing_left(engine: Engine) -> None:
    sla = parse_sla({"escalation": {"leader_after": "2 hours"}})
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    ticket_id = add_ticket(engine, ladder, monday, urgent=True, sla=sla)
    accept(engine, ticket_id, monday + timedelta(minutes=1))
    moment = monday
    looks = 0
    while (due := ticket(engine, ticket_id).next_alert_at) is not None and looks < 10:
        moment = max(moment, due)
        sweep(engine, moment, sla=sla)
        looks += 1
    # A look for the accept, then the reminder, the escalation and the 督办: then it is quiet.
    assert [kind for kind, _, _ in sent(engine, ticket_id)] == [
        "sla_remind_resolve",
        "sla_escalate_resolve",
        "sla_overdue_resolve",
        "sla_leader_resolve",
    ]
    assert looks <= 5


def test_a_ticket_signed_for_while_the_sweep_read_is_not_reminded(engine: Engine) -> None:
    ladder = build_ladder(engine)
    monday = cst(2026, 11, 30, 10, 0)
    signed, other = (
        add_ticket(engine, ladder, monday, summary=s) for s in ("路灯坏了", "水渠堵了")
    )
    reminder = ticket(engine, signed).next_alert_at
    assert reminder is not None and reminder == ticket(engine, other).next_alert_at

    # The job reads without the writer; the cadre's 签收 lands before the sweep writes.
    with read_session(engine) as session:
        plan = plan_sweep(session, reminder, texts=ALERT_TEXTS, sla=SLA, calendar=CALENDAR)
    accept(engine, signed, reminder)
    with unit_of_work(engine) as session:
        result = plan.write(session)

    assert result.reminded == 1 and result.more  # the other ticket's reminder; look again
    assert sent(engine, signed) == []
    assert [kind for kind, _, _ in sent(engine, other)] == ["sla_remind_ack"]
    # The next look reads the signed ticket as it is now: no 签收 reminder for it, ever.
    assert sweep(engine, reminder).steps == 0
    assert sent(engine, signed) == []
