"""Through signed webhook messages: a ticket the parser is unsure of gets one numbered question,
and the answer sets the field as a correction would (and so becomes a labelled example)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone
from config.taxonomy import load_taxonomy
from handlers import texts
from models.labels import CORRECTED, labelled_tickets
from models.ticket import Ticket, TicketEvent
from tests.builders import say
from tests.town import SmallTown, build_small_town


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


def only_ticket(engine: Engine) -> Ticket:
    with Session(engine) as session:
        [ticket] = session.exec(select(Ticket)).all()
        return ticket


def last_line(reply: str) -> str:
    return reply.splitlines()[-1]


def test_an_unsure_category_is_asked_and_the_answer_2_sets_it(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    reply = say(client, phone, openid, "学校门口的路坑坑洼洼")
    ticket = only_ticket(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert last_line(reply) == texts.ASK_CATEGORY.format(choices="1 教育文体，2 道路交通")
    assert "改 类别" not in reply  # the question replaces the correction hint, not both
    assert ticket.category == "education"

    assert say(client, phone, openid, "5") == texts.QUESTION_PICK_ONE.format(count=2)
    reply = say(client, phone, openid, "2")
    assert reply.startswith(f"已更正 #{ticket.id}：类别改为道路交通")
    ticket = only_ticket(engine)
    assert ticket.category == "road"
    head = town.unit_heads["交通管理站"]
    assert ticket.assignee_id == head.id  # re-routed to the unit of the category answered
    # The answer is the town's correction: `learn` reads it as a labelled example.
    with Session(engine) as session:
        [example] = labelled_tickets(session, load_taxonomy())
    assert example.category == "road" and example.source == CORRECTED
    # Answered, the question is gone: a later "1" is no answer.
    assert say(client, phone, openid, "1") != texts.QUESTION_PICK_ONE.format(count=2)
    assert only_ticket(engine).category == "road"


def test_an_unsure_village_is_asked_with_the_villages_named(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    reply = say(client, phone, openid, "张家村和李家村交界的地方有人往沟里倒垃圾")
    assert last_line(reply) == texts.ASK_VILLAGE.format(choices="1 张家村，2 李家村")
    assert only_ticket(engine).village_id == town.villages["张家村"]
    reply = say(client, phone, openid, "2")
    assert "地点改为李家村" in reply
    ticket = only_ticket(engine)
    assert ticket.village_id == town.villages["李家村"] and ticket.category == "environment"
    with Session(engine) as session:
        notes = [
            e.note for e in session.exec(select(TicketEvent).where(TicketEvent.kind == "corrected"))
        ]
    assert notes == ["地点改为李家村"]  # not the sender's group 3: that is in 张家村
    assert ticket.group_number is None


def test_picking_the_senders_own_village_keeps_their_group(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "李家村和张家村交界的地方有人往沟里倒垃圾")
    assert "地点改为张家村3组" in say(client, phone, openid, "2")
    ticket = only_ticket(engine)
    assert ticket.village_id == town.villages["张家村"] and ticket.group_number == 3


def test_a_sure_ticket_asks_nothing_and_other_text_drops_a_question(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    reply = say(client, phone, openid, "我们组停水两天了，十几户没水吃")
    assert "回复数字" not in reply
    reply = say(client, phone, openid, "学校门口的路坑坑洼洼")
    assert "回复数字" in last_line(reply)
    # Anything but a number goes on as normal and the question is dropped.
    say(client, phone, openid, "谢谢")
    say(client, phone, openid, "2")
    with Session(engine) as session:
        categories = [t.category for t in session.exec(select(Ticket).order_by(Ticket.id))]
    assert categories == ["water", "education"]
