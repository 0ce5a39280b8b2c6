"""A photo of the fix (办结 with photos) is recorded in the timeline under the person who acted."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.app import create_app
from bot.phone import Phone
from config.office import load_office
from config.settings import Settings
from handlers.notify import ChatNotifier
from models import actions
from models.actions import Actor, Desk
from models.base import utcnow
from models.db import unit_of_work
from models.person import Person
from models.ticket import Attachment, Ticket, TicketEvent
from tests.builders import say
from tests.town import build_small_town


def test_the_fix_photo_is_recorded_under_the_cadre_not_the_reporter(
    engine: Engine, settings: Settings
) -> None:
    town = build_small_town(engine)
    app = create_app(settings, engine=engine)
    say(app.test_client(), Phone(settings), town.openid("reporter"), "我们3组的路灯坏了一个多月")
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
        assert ticket is not None and ticket.id is not None and ticket.assignee_id is not None
        ticket_id, cadre_id = ticket.id, ticket.assignee_id
    office = load_office(settings)
    now = utcnow()
    with unit_of_work(engine) as session:
        cadre = session.get(Person, cadre_id)
        assert cadre is not None
        desk = Desk(session, now, office, ChatNotifier(session, now, office))
        photo = Attachment(ticket_id=ticket_id, kind="image", channel="web", created_at=now)
        actions.resolve(desk, Actor.of(session, cadre, via="web"), ticket_id, "已修好", [photo])
    with Session(engine) as session:
        rows = session.exec(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "attachment"
            )
        )
        actors = [event.actor_id for event in rows]
    assert actors == [cadre_id]
    assert cadre_id != town.people["reporter"].id
