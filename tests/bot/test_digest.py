"""The weekly status push: built from the tickets, sent once a week to each cadre and overseer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.app import create_app
from bot.digest import split_message
from bot.phone import Phone
from bot.scheduler import job_specs, run_job
from config.settings import Settings
from config.sla import load_sla
from demo.town import DemoTown
from models.outbox import OutboxMessage
from models.ticket import OPEN_STATES, Ticket
from tests.builders import say
from tests.demo import bind_openid

MONDAY = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # 08:30 in Asia/Shanghai
TUESDAY_BEFORE = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
REPORTS = [
    ("张家村", 1, "我们组的自来水停了两天了，麻烦赶紧派人来修"),
    ("张家村", 2, "组里的路灯坏了一个月"),
    ("金牛村", 3, "山塘的坝漏水了"),
    ("九湖村", 4, "隔壁两家为宅基地边界吵架"),
    ("九湖村", 5, "垃圾好多天没人收"),
]


def weekly_spec():  # type: ignore[no-untyped-def]
    return next(s for s in job_specs(load_sla()) if s.name == "weekly_digest")


def report_some(demo: DemoTown, engine: Engine, client: FlaskClient, phone: Phone) -> list[Ticket]:
    for index, (village, group, text) in enumerate(REPORTS):
        reporter = demo.neighbour_heads[(village, group)][0]
        bind_openid(engine, reporter, f"o-digest-{index}")
        say(client, phone, f"o-digest-{index}", text)
    with Session(engine) as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.id))))


def digests(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.kind == "digest")
            .order_by(col(OutboxMessage.id))
        )
        return list(session.exec(stmt))


def test_jobs_run_weekly_digest_prints_figures_that_match_the_tickets(
    demo_town: DemoTown,
    engine: Engine,
    settings: Settings,
    phone: Phone,
    wecom_phone: Phone,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    # The problems are reported on Tuesday 1 December, in the week the digest covers.
    client = create_app(settings, engine=engine, clock=lambda: TUESDAY_BEFORE).test_client()
    tickets = report_some(demo_town, engine, client, phone)
    # One ticket is resolved and rated, so resolved and satisfaction have something to show.
    first = tickets[1]
    assignee = next(p for p in demo_town.people.values() if p.id == first.assignee_id)
    say(client, wecom_phone, assignee.wecom_userid or "", f"签收 {first.id}")
    say(client, wecom_phone, assignee.wecom_userid or "", f"办结 {first.id} 已恢复供水")
    say(client, phone, "o-digest-1", "满意")

    # The office runs it that Monday morning (a --now in the future would be refused).
    monkeypatch.setattr("bot.cli_jobs.utcnow", lambda: MONDAY)
    result = run_cli("jobs", "run", "weekly_digest", "--now", "2026-12-07T08:30:00+08:00")
    assert result.exit_code == 0, result.output
    assert "weekly_digest slot 2026-12-07 08:30 (Asia/Shanghai): done" in result.output

    with Session(engine) as session:
        collected = session.exec(select(func.count()).select_from(Ticket)).one()
        open_now = list(
            session.exec(
                select(Ticket).where(col(Ticket.state).in_([s.value for s in OPEN_STATES]))
            )
        )
    overdue = sum(1 for t in open_now if t.resolve_due_at is not None and t.resolve_due_at < MONDAY)
    # Independent count: five reported, one closed satisfied; the dispatcher sees the whole town.
    assert (collected, len(open_now)) == (5, 4) and overdue >= 1
    dispatcher_part = result.output.split(f"to {demo_town.dispatcher.name} via")[1]
    # By 7 December every acknowledge-by time has passed and one ticket was acknowledged: 1/5.
    figures = "收集5件，已解决1件，解决率20%，响应率20%，满意率100%"
    assert f"本周：{figures}" in dispatcher_part and f"累计：{figures}" in dispatcher_part
    assert f"超期未办结{overdue}件" in dispatcher_part
    # Each cadre with open work gets their list, with the ticket numbers.
    open_assignees = {t.assignee_id for t in tickets if t.id != first.id}
    cadre_messages = [
        m for m in digests(engine) if m.person_id in open_assignees and "每周待办" in m.text
    ]
    assert {m.person_id for m in cadre_messages} == open_assignees
    for ticket in (t for t in tickets if t.id != first.id):
        assert any(f"#{ticket.id} " in m.text for m in cadre_messages)
    # Delivered through the console channel, and printed.
    assert all(m.status == "sent" and m.channel == "console" for m in digests(engine))
    assert "【每周通报】" in result.output and "【每周待办】" in result.output


def test_two_workers_on_the_same_monday_send_each_digest_once(
    demo_town: DemoTown, engine: Engine, client: FlaskClient, phone: Phone, settings: Settings
) -> None:
    report_some(demo_town, engine, client, phone)
    spec = weekly_spec()
    barrier = threading.Barrier(2)
    outcomes = []

    def worker(name: str) -> None:
        barrier.wait()
        outcomes.append(run_job(spec, engine, settings, MONDAY, worker=name).status)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["done", "taken"]
    sent = digests(engine)
    per_person = [m.person_id for m in sent if m.text.startswith(("【", "(1/"))]
    assert len(per_person) == len(set(per_person)) > 0
    leaders_and_dispatchers = {demo_town.dispatcher.id, demo_town.secretary.id, demo_town.mayor.id}
    assert leaders_and_dispatchers <= set(per_person)


def test_a_worker_down_on_monday_morning_catches_up_once_the_same_day(
    demo_town: DemoTown, engine: Engine, client: FlaskClient, phone: Phone, settings: Settings
) -> None:
    report_some(demo_town, engine, client, phone)
    spec = weekly_spec()
    tuesday = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    assert (
        run_job(spec, engine, settings, tuesday).status == "missed"
    )  # a late Monday slot is not sent on Tuesday
    assert digests(engine) == []
    back_at_eleven = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert run_job(spec, engine, settings, back_at_eleven).status == "done"
    count = len(digests(engine))
    assert count > 0
    assert run_job(spec, engine, settings, back_at_eleven).status == "taken"
    assert len(digests(engine)) == count


@pytest.mark.parametrize("lines", [3, 80])
def test_long_digests_are_split_at_line_ends(lines: int) -> None:
    text = "\n".join(f"#{i} 张家村3组【道路交通】期限12月7日 17:30【超期】" for i in range(lines))
    parts = split_message(text, limit=200)
    assert all(len(p) <= 200 for p in parts)
    assert "\n".join(parts) == text
