"""`grievance-bot demo scenario`: a short season through the webhook, checked in the database."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from config.settings import Settings
from demo.clock import Clock
from demo.phones import Webhook
from demo.town import DemoTown
from demo.witness import Witness
from handlers import texts
from models.base import utcnow
from models.figures import Scope, compute_report, headline
from models.inbound import InboundMessage
from models.person import Person
from models.ticket import Ticket, TicketEvent, TicketState

# One month (from 5 January 2026) with a seed whose month has every turn a ticket can take:
# returns, transfers, an extension, duplicates, reopened and unrated tickets.
SEASON = ("demo", "scenario", "--seed", "2", "--months", "1")
FIRST = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 1 January, Asia/Shanghai
END = datetime(2026, 1, 31, 16, 0, tzinfo=UTC)  # 1 February
NOT_COLLECTED = {TicketState.draft.value, TicketState.invalid.value, TicketState.duplicate.value}


def outcome(engine: Engine) -> tuple[dict[str, Any], Counter[tuple[Any, ...]]]:
    """The season's figures and every ticket's (state, category, rating, reopened, urgent)."""
    with Session(engine) as session:
        report = compute_report(session, Scope(start=FIRST, end=END, as_of=END))
        tickets = Counter(
            (t.state, t.category, t.rating, t.reopen_count, t.urgent)
            for t in session.exec(select(Ticket))
        )
    return report.overall.as_dict(), tickets


def test_a_season_is_played_through_messages_and_again_the_same(run_cli, engine: Engine) -> None:
    result = run_cli(*SEASON)
    assert result.exit_code == 0, result.output

    with Session(engine) as session:
        tickets = list(session.exec(select(Ticket)))
        events = list(session.exec(select(TicketEvent)))
        people = {p.id: p for p in session.exec(select(Person))}
        inbound = list(session.exec(select(InboundMessage)))
        report = compute_report(session, Scope(start=FIRST, end=END, as_of=END))
    assert len(tickets) > 60

    # Every ticket began with its reporter's message, and every step a person took (reporting,
    # 签收, 办结, rating, 退回, 同意, 合并…) arrived as a message from that person's WeChat at
    # that very moment: nothing was written behind the webhook's back.
    received = {(m.sender, m.received_at) for m in inbound}
    created = {e.ticket_id: e for e in events if e.kind == "created"}
    assert set(created) == {t.id for t in tickets}
    for ticket in tickets:
        assert created[ticket.id].actor_id == ticket.reporter_id
    acted = [e for e in events if e.actor_id is not None]
    assert len(acted) > 4 * len(tickets)
    for event in acted:
        person = people[event.actor_id]
        senders = {person.wechat_openid, person.wecom_userid} - {None}
        assert any((sender, event.at) in received for sender in senders), (event.kind, event.id)
    kinds = Counter(e.kind for e in events)
    for kind in (
        "accepted",
        "progress",
        "resolved",
        "rated",
        "returned",
        "transferred",
        "extension_approved",
        "corrected",
        "merged",
    ):
        assert kinds[kind] > 0, kind

    # Greetings and thanks were answered and made no ticket.
    openids = {p.wechat_openid: p.id for p in people.values() if p.wechat_openid}
    friendly = [
        m
        for m in inbound
        if m.reply and (texts.THANKS_REPLY in m.reply or texts.GREETING_REPLY in m.reply)
    ]
    assert friendly
    made = {(openids.get(t.sender), t.created_at) for t in tickets}
    assert not [m for m in friendly if (openids.get(m.sender), m.received_at) in made]

    # The figures agree with an independent count of the tickets.
    figures = report.overall
    collected = [t for t in tickets if t.state not in NOT_COLLECTED]
    resolved = [t for t in collected if t.state in ("resolved", "closed")]
    assert figures.collected == len(collected)
    assert figures.resolved == len(resolved)
    assert 0 < figures.resolved <= figures.collected
    assert any(t.state == "closed" and t.rating == "unrated" for t in tickets)
    assert any(t.reopen_count > 0 for t in tickets)
    assert any(t.state == "duplicate" for t in tickets)
    assert figures.reporters is not None and figures.reporters > 40
    assert headline(report) in result.output

    # A second season on top of the first is refused; with --reset it is the same season.
    first = outcome(engine)
    refused = run_cli(*SEASON)
    assert refused.exit_code != 0
    assert "--reset" in refused.output
    assert outcome(engine) == first
    again = run_cli(*SEASON, "--reset")
    assert again.exit_code == 0, again.output
    assert outcome(engine) == first


def test_refuses_to_play_in_production(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("GRIEVANCE_ENV", "production")
    get_settings.cache_clear()
    result = run_cli("demo", "scenario", "--months", "1")
    assert result.exit_code != 0
    assert "production" in result.output


def test_the_witness_reads_what_each_message_did(
    client: FlaskClient, settings: Settings, engine: Engine, demo_town: DemoTown
) -> None:
    webhook = Webhook(client, settings, Clock(utcnow()), Witness(engine))
    head = demo_town.neighbour_head("大栗港村", 3)
    bind = webhook.text("o-witness", f"绑定 {head.name} {head.phone}", quiet=True)
    assert bind.changed_nothing and bind.new_ticket() is None
    assert webhook.witness.bound_to("o-witness") == head.id

    answer = webhook.text("o-witness", "我们组的路灯坏了好几盏，晚上黑漆漆的")
    number = answer.new_ticket()
    assert number is not None
    assert answer.did(number, "created") and answer.did(number, "assigned")
    assert not answer.did(number, "resolved") and not answer.did(number + 1, "created")
    with Session(engine) as session:
        ticket = session.get(Ticket, number)
        assert ticket is not None and ticket.reporter_id == head.id
    facts = webhook.witness.ticket(number)
    assert facts is not None
    assert (facts.category, facts.urgent, facts.village) == (ticket.category, False, "大栗港村")
    assert ticket.category == "road"

    greeting = webhook.text("o-witness", "你好", quiet=True)
    assert greeting.changed_nothing and greeting.reply
    photo = webhook.send("o-witness", "image", PicUrl="http://mmbiz.qpic.cn/x.jpg", MediaId="m1")
    assert photo.did(number, "attachment") and photo.new_ticket() is None
    assert webhook.sent == {"wechat": 4}
    assert webhook.witness.ticket(number + 100) is None
