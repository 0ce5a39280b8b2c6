"""Intake through signed webhook requests: a 邻长's words, photos and corrections become tickets."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.phone import Phone, message_xml, next_msg_id, reply_text, text_fields
from handlers import texts
from models.outbox import OutboxMessage
from models.ticket import Attachment, Ticket, TicketEvent, TicketState
from tests.builders import post, say, send_xml
from tests.town import SmallTown, build_small_town


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def media_xml(sender: str, kind: str, **fields: object) -> str:
    base = {
        "ToUserName": "gh_town",
        "FromUserName": sender,
        "CreateTime": int(time.time()),
        "MsgType": kind,
    }
    base.update(fields)
    base.setdefault("MsgId", next_msg_id())
    return message_xml(base)


def test_a_grievance_becomes_a_ticket_routed_and_answered(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reply = say(
        client, phone, town.openid("reporter"), "我们组停水两天了，十几户没水吃，赶紧来看看"
    )
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert "饮水供水" in reply and "张家村3组" in reply and "紧急" in reply
    assert ticket.category == "water" and ticket.urgent and ticket.households == 10
    assert ticket.state == TicketState.assigned.value
    head = town.unit_heads["水利站"]
    assert ticket.assignee_id == head.id and ticket.route == "unit_head:水利站"
    assert ticket.ack_due_at is not None and ticket.resolve_due_at is not None
    [note] = outbox(engine)
    assert note.person_id == head.id and note.kind == "assigned" and f"#{ticket.id}" in note.text


def test_greetings_and_thanks_create_nothing(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    assert say(client, phone, town.openid("reporter"), "谢谢书记") == texts.THANKS_REPLY
    assert say(client, phone, town.openid("reporter"), "好的收到") == texts.ACK_REPLY
    assert tickets(engine) == [] and outbox(engine) == []


def test_a_village_named_in_the_text_wins_over_the_reporters_own(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    say(client, phone, town.openid("reporter"), "李家村2组的路塌了一大块，车子过不去")
    [ticket] = tickets(engine)
    assert ticket.village_id == town.villages["李家村"] and ticket.group_number == 2
    assert ticket.category == "road"


def test_photo_then_text_opens_a_draft_then_completes_it(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    _, plaintext = send_xml(
        client, phone, media_xml(openid, "image", PicUrl="http://x/p.jpg", MediaId="m1")
    )
    assert "收到照片" in reply_text(plaintext)
    [draft] = tickets(engine)
    assert draft.state == TicketState.draft.value and outbox(engine) == []
    reply = say(client, phone, openid, "这个电线杆被车撞歪了，电线垂到路边，很危险")
    [ticket] = tickets(engine)
    assert ticket.id == draft.id and ticket.state == TicketState.assigned.value
    assert ticket.category == "power" and reply.startswith(f"已受理，工单号 #{ticket.id}")
    with Session(engine) as session:
        [photo] = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))
    assert photo.kind == "image" and photo.media_id == "m1"


def test_photo_voice_and_location_after_the_text_attach_to_the_ticket(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "村口的垃圾好多天没人收了，臭得很")
    [ticket] = tickets(engine)
    for xml in (
        media_xml(openid, "image", PicUrl="http://x/1.jpg", MediaId="p1"),
        media_xml(openid, "voice", MediaId="v1", Format="amr"),
        media_xml(
            openid, "location", Location_X="28.5", Location_Y="112.1", Scale="15", Label="村口"
        ),
    ):
        _, plaintext = send_xml(client, phone, xml)
        assert f"#{ticket.id}" in reply_text(plaintext)
    with Session(engine) as session:
        kinds = [
            a.kind
            for a in session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))
        ]
        location = session.exec(select(Attachment).where(Attachment.kind == "location")).one()
    assert kinds == ["image", "voice", "location"]
    assert location.latitude == 28.5 and location.label == "村口"
    assert len(tickets(engine)) == 1


def test_voice_with_recognition_is_taken_as_text(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    xml = media_xml(
        town.openid("reporter"),
        "voice",
        MediaId="v9",
        Format="amr",
        Recognition="我家屋顶漏雨了房子开裂",
    )
    _, plaintext = send_xml(client, phone, xml)
    [ticket] = tickets(engine)
    assert reply_text(plaintext).startswith(f"已受理，工单号 #{ticket.id}")
    assert ticket.category == "housing" and ticket.households == 1


def test_a_retry_of_the_same_message_makes_one_ticket(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    xml = message_xml(text_fields(town.openid("reporter"), "3组的路灯坏了一个月了"))
    replies = {
        reply_text(phone.open_reply(s, post(client, phone, s).get_data(as_text=True)))
        for s in (phone.sign(xml), phone.sign(xml), phone.sign(xml))
    }
    assert len(replies) == 1 and len(tickets(engine)) == 1 and len(outbox(engine)) == 1


def test_corrections_before_acknowledgement_are_recorded(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组有户人家的狗咬人")
    reply = say(client, phone, openid, "改 类别 治安")
    assert "类别改为治安安全" in reply
    reply = say(client, phone, openid, "改 村 李家村 2组")
    assert "李家村2组" in reply
    assert "紧急" in say(client, phone, openid, "改 紧急")
    [ticket] = tickets(engine)
    assert ticket.category == "safety" and ticket.village_id == town.villages["李家村"]
    assert ticket.group_number == 2 and ticket.urgent
    with Session(engine) as session:
        notes = [
            e.note for e in session.exec(select(TicketEvent).where(TicketEvent.kind == "corrected"))
        ]
    assert notes == ["类别改为治安安全", "地点改为李家村2组", "改为紧急"]
    assert "类别可写" in say(client, phone, openid, "改 类别 火星")


def test_moving_a_village_level_ticket_reroutes_it(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组两家人为了宅基地边界吵起来了")
    [ticket] = tickets(engine)
    assert ticket.assignee_id == town.people["cadre:张家村"].id
    say(client, phone, openid, "改 村 李家 1组")
    [ticket] = tickets(engine)
    assert ticket.assignee_id == town.people["cadre:李家村"].id
    kinds = [m.kind for m in outbox(engine)]
    assert kinds == ["assigned", "assigned", "taken_off"]


def test_withdrawal_and_its_refusals(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "2组那个水渠塌了，田里放不进水")
    [ticket] = tickets(engine)
    assert say(
        client, phone, town.openid("reporter2"), f"撤回 #{ticket.id}"
    ) == texts.NOT_FOUND.format(id=ticket.id)
    assert say(client, phone, openid, f"撤回 #{ticket.id}") == texts.WITHDRAWN.format(id=ticket.id)
    [ticket] = tickets(engine)
    assert ticket.state == TicketState.invalid.value
    assert say(client, phone, openid, "改 紧急") == texts.NOTHING_TO_CORRECT


def test_corrections_after_acknowledgement_are_refused(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组的路灯不亮了")
    [ticket] = tickets(engine)
    assignee = next(p for p in town.people.values() if p.id == ticket.assignee_id)
    assert assignee.wecom_userid
    assert say(client, wecom_phone, assignee.wecom_userid, f"签收 {ticket.id}").startswith("已签收")
    assert say(client, phone, openid, f"改 #{ticket.id} 紧急") == texts.CORRECTION_TOO_LATE.format(
        id=ticket.id
    )


def test_a_draft_nobody_completes_goes_to_the_dispatcher(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, settings
) -> None:
    from datetime import UTC, datetime

    from config.office import load_office
    from handlers.intake import release_stale_drafts
    from handlers.router import Context

    send_xml(
        client,
        phone,
        media_xml(town.openid("reporter"), "image", PicUrl="http://x/2.jpg", MediaId="m2"),
    )
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    office = load_office(settings)
    with Session(engine) as session:
        early = Context(session, settings, later - timedelta(hours=2), office)
        assert release_stale_drafts(early) == 0
        assert release_stale_drafts(Context(session, settings, later, office)) == 1
        session.commit()
    [ticket] = tickets(engine)
    assert ticket.state == TicketState.assigned.value
    assert ticket.assignee_id == town.people["dispatcher"].id


def test_unbound_senders_create_nothing(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    say(client, phone, "o-stranger-unbound", "我们组停电了")
    assert tickets(engine) == []
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Ticket)).one() == 0


@pytest.mark.parametrize(
    "text",
    [
        "派人来看看，3组水管爆了，到处是水",
        "同意你们说的，村里那条路又塌了一截",
        "取消了我家低保，家里实在困难",
    ],
)
def test_problems_that_start_like_a_command_still_become_tickets(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, text: str
) -> None:
    reply = say(client, phone, town.openid("reporter"), text)
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")


def test_commands_typed_loosely_are_still_understood(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组的路灯坏了")
    [ticket] = tickets(engine)
    assert "改为紧急" in say(client, phone, openid, "改紧急")
    assert "状态：" in say(client, phone, openid, f"进度 {ticket.id}")
    assignee = next(p for p in town.people.values() if p.id == ticket.assignee_id)
    assert assignee.wecom_userid
    assert say(client, wecom_phone, assignee.wecom_userid, f"签收＃{ticket.id}").startswith(
        "已签收"
    )
    say(client, wecom_phone, assignee.wecom_userid, f"办结 工单{ticket.id} 换了新灯")
    assert say(client, phone, openid, "满意。") == texts.RATING_THANKS.format(id=ticket.id)


def test_a_group_number_is_not_read_as_a_ticket_number(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组的路灯坏了")
    reply = say(client, phone, openid, "改 村 李家村 2組")
    [ticket] = tickets(engine)
    assert "李家村2组" in reply and ticket.group_number == 2


def test_cadres_free_text_does_not_become_a_ticket(
    client: FlaskClient, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    cadre = town.people["cadre:张家村"].wecom_userid
    assert cadre
    assert say(client, wecom_phone, cadre, "已办结 1 路灯换好了") == texts.NOT_A_REPORTER
    assert tickets(engine) == []
