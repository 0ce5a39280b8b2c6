"""回访: an unrated resolved ticket is asked again after 2 days, closed as unrated after 7."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.scheduler import FOLLOWUP_TEXTS
from config.sla import SlaConfig
from models.db import unit_of_work
from models.followup import FollowupResult, rating_followup
from models.ticket import Rating, Ticket, TicketState
from tests.deadline_town import add_ticket, build_ladder, cst, events, outbox, ticket

SLA = SlaConfig()


def followup(engine: Engine, now: datetime, limit: int | None = None) -> FollowupResult:
    with unit_of_work(engine) as session:
        return rating_followup(session, now, texts=FOLLOWUP_TEXTS, sla=SLA, limit=limit)


def resolve(engine: Engine, ticket_id: int, now: datetime, rating: str | None = None) -> None:
    """办结 as the cadre's command does it: the reporter is asked for a rating at `now`."""
    with unit_of_work(engine) as session:
        row = session.get(Ticket, ticket_id)
        assert row is not None
        row.state = TicketState.resolved.value
        row.resolved_at = row.rating_asked_at = row.updated_at = now
        row.rating_reminded_at = None
        row.rating = rating
        session.add(row)


def test_an_unrated_ticket_is_asked_again_then_closed_as_unrated(engine: Engine) -> None:
    ladder = build_ladder(engine)
    resolved = cst(2026, 11, 30, 16, 0)
    quiet = add_ticket(engine, ladder, cst(2026, 11, 30, 9, 0), summary="路灯不亮")
    rated = add_ticket(engine, ladder, cst(2026, 11, 30, 9, 0))
    resolve(engine, quiet, resolved)
    resolve(engine, rated, resolved, rating=Rating.satisfied.value)

    moment = resolved
    while moment <= resolved + timedelta(days=8):
        followup(engine, moment)
        moment += timedelta(minutes=30)

    messages = outbox(engine, quiet)
    assert [(m.kind, m.person_id, m.created_at) for m in messages] == [
        ("rating_reminder", ladder.reporter, resolved + timedelta(days=2)),
        ("rating_closed", ladder.reporter, resolved + timedelta(days=7)),
    ]
    assert "满意 " in messages[0].text and "路灯不亮" in messages[0].text
    assert "7天未收到评价" in messages[1].text

    closed = ticket(engine, quiet)
    assert closed.state == TicketState.closed.value
    assert closed.rating == Rating.unrated.value  # never counted as satisfied
    assert closed.rated_at is None
    assert closed.rating_reminded_at == resolved + timedelta(days=2)
    assert closed.closed_at == resolved + timedelta(days=7)
    last = events(engine, quiet)[-1]
    assert (last.kind, last.from_state, last.to_state) == ("closed", "resolved", "closed")
    assert "未评价" in last.note

    assert outbox(engine, rated) == []
    assert ticket(engine, rated).state == TicketState.resolved.value


def test_a_ticket_past_both_limits_is_closed_without_a_second_question(engine: Engine) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 1, 9, 0))
    resolve(engine, ticket_id, cst(2026, 11, 2, 9, 0))
    result = followup(engine, cst(2026, 11, 20, 9, 0))  # the worker was down all that time
    assert (result.asked_again, result.closed) == (0, 1)
    assert [m.kind for m in outbox(engine, ticket_id)] == ["rating_closed"]


def test_a_rerun_and_a_small_batch_change_nothing_twice(engine: Engine) -> None:
    ladder = build_ladder(engine)
    resolved = cst(2026, 11, 30, 16, 0)
    ids = [add_ticket(engine, ladder, cst(2026, 11, 30, 9, 0)) for _ in range(3)]
    for ticket_id in ids:
        resolve(engine, ticket_id, resolved)
    later = resolved + timedelta(days=3)
    first = followup(engine, later, limit=2)
    assert (first.asked_again, first.more) == (2, True)
    second = followup(engine, later, limit=2)
    assert (second.asked_again, second.more) == (1, False)
    assert followup(engine, later).asked_again == 0
    assert [len(outbox(engine, ticket_id)) for ticket_id in ids] == [1, 1, 1]


def test_a_re_resolved_ticket_is_followed_up_afresh(engine: Engine) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 30, 9, 0))
    resolve(engine, ticket_id, cst(2026, 11, 30, 16, 0))
    followup(engine, cst(2026, 12, 2, 17, 0))
    # 不满意 → 重办 → 办结 again: a new question, so a new reminder two days after it.
    resolve(engine, ticket_id, cst(2026, 12, 3, 10, 0))
    followup(engine, cst(2026, 12, 5, 11, 0))
    assert [m.kind for m in outbox(engine, ticket_id)] == ["rating_reminder", "rating_reminder"]
