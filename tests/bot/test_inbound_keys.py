"""What a delivery is recorded under, and what reaches a bounded column, on SQLite and PostgreSQL.

Messages without a MsgId are keyed by CreateTime and a hash of their content: a retry (the same
body) is answered from the store, another message is handled. Identifiers longer than the column
that keeps them are refused with 400 on both databases; over-long dedup keys are hashed; free text
(location labels, titles) is cut to fit.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.phone import Phone, message_xml, next_msg_id, reply_text, text_fields
from handlers import texts
from models.inbound import InboundMessage
from models.ticket import Attachment, Ticket
from tests.builders import post, say, send_xml
from tests.town import SmallTown, build_small_town


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


def inbound(engine: Engine) -> list[InboundMessage]:
    with Session(engine) as session:
        return list(session.execute(select(InboundMessage)).scalars())


def ticket_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def attachments(engine: Engine) -> list[Attachment]:
    with Session(engine) as session:
        return list(session.execute(select(Attachment)).scalars())


def without_msg_id(sender: str, text: str, create_time: int) -> str:
    fields = text_fields(sender, text)
    fields.update(MsgId=None, CreateTime=create_time)
    return message_xml(fields)


def media(sender: str, kind: str, **fields: Any) -> str:
    base: dict[str, Any] = {
        "ToUserName": "gh_town",
        "FromUserName": sender,
        "CreateTime": int(time.time()),
        "MsgType": kind,
        "MsgId": next_msg_id(),
    }
    return message_xml({**base, **fields})


# ---------------------------------------------------------------- messages without a MsgId


def test_messages_without_msgid_are_each_handled(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    now = int(time.time())
    first = reply_text(send_xml(client, phone, without_msg_id(openid, "帮助", now))[1])
    assert first == texts.HELP
    # Another message in the same second, then later ones: each is handled, none gets 帮助's reply.
    report = without_msg_id(openid, "村口的垃圾好多天没人收了，臭得很", now)
    reply = reply_text(send_xml(client, phone, report)[1])
    assert reply.startswith("已受理，工单号 #") and ticket_count(engine) == 1
    second_report = without_msg_id(openid, "2组那个水渠塌了，田里放不进水", now + 5)
    assert reply_text(send_xml(client, phone, second_report)[1]).startswith("已受理，工单号 #")
    assert ticket_count(engine) == 2
    # The same words again a minute later are a new message too (both answered 帮助).
    assert reply_text(send_xml(client, phone, without_msg_id(openid, "帮助", now + 60))[1]) == (
        texts.HELP
    )
    assert len(inbound(engine)) == 4


def test_a_retry_without_msgid_is_answered_from_the_store(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    report = without_msg_id(openid, "村口的垃圾好多天没人收了，臭得很", int(time.time()))
    replies = set()
    for _ in range(3):  # WeChat's retries: the same body, signed afresh each time
        replies.add(reply_text(send_xml(client, phone, report)[1]))
    assert len(replies) == 1 and replies.pop().startswith("已受理，工单号 #")
    assert ticket_count(engine) == 1 and len(inbound(engine)) == 1


def test_media_without_msgid_are_told_apart_by_their_content(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "村口的垃圾好多天没人收了，臭得很")
    now = int(time.time())
    for media_id in ("p1", "p2", "p1"):  # two photos in one second, then a retry of the first
        xml = media(
            openid, "image", MsgId=None, CreateTime=now, MediaId=media_id, PicUrl="http://x"
        )
        send_xml(client, phone, xml)
    assert sorted(a.media_id or "" for a in attachments(engine)) == ["p1", "p2"]


# ---------------------------------------------------------------- long fields, both databases


def test_an_over_long_sender_is_refused_on_every_database(
    client: FlaskClient, phone: Phone, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        signed = phone.sign(message_xml(text_fields("o" * 129, "帮助")))
        assert post(client, phone, signed).status_code == 400
    assert "FromUserName has 129 characters, more than the 128 stored" in caplog.text
    assert inbound(engine) == []
    # The longest the columns keep is still served, and stored as sent.
    assert say(client, phone, "o" * 128, "帮助") == texts.HELP
    assert [r.sender for r in inbound(engine)] == ["o" * 128]


def test_an_over_long_wecom_userid_is_refused(
    client: FlaskClient, wecom_phone: Phone, engine: Engine
) -> None:
    fields = text_fields("u" * 200, "帮助")
    fields.update(ToUserName="wwtestcorp000001", AgentID="1000002")
    signed = wecom_phone.sign(message_xml(fields))
    assert post(client, wecom_phone, signed).status_code == 400
    assert inbound(engine) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"MsgType": "event", "Event": "VIEW", "EventKey": "https://example.invalid/" + "a" * 600},
        {"MsgType": "event", "Event": "CLICK", "EventKey": "菜单" * 200},
        {"MsgType": "text", "Content": "帮助", "MsgId": "9" * 300},
    ],
    ids=["long-view-url", "long-event-key", "long-msgid"],
)
def test_over_long_dedup_keys_are_hashed_and_still_dedup(
    client: FlaskClient, phone: Phone, engine: Engine, fields: dict[str, str]
) -> None:
    xml = message_xml(
        {"ToUserName": "gh_town", "FromUserName": "openid-1", "CreateTime": int(time.time())}
        | fields
    )
    first = send_xml(client, phone, xml)[1]
    assert reply_text(first) != texts.INTERNAL_ERROR
    assert send_xml(client, phone, xml)[1] == first  # the retry gets the stored reply
    [record] = inbound(engine)
    assert len(record.dedup_key) <= 255 and ":sha256:" in record.dedup_key


def test_over_long_media_identifiers_are_refused(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    for fields in (
        {"MediaId": "m" * 256, "PicUrl": "http://x"},
        {"PicUrl": "http://" + "x" * 1100},
    ):
        signed = phone.sign(media(openid, "image", **fields))
        assert post(client, phone, signed).status_code == 400, fields
    assert inbound(engine) == [] and attachments(engine) == []
    # At the columns' limits they are kept.
    send_xml(client, phone, media(openid, "image", MediaId="m" * 255, PicUrl="http://x" * 128))
    [photo] = attachments(engine)
    assert photo.media_id == "m" * 255 and photo.url == "http://x" * 128


@pytest.mark.parametrize(
    "kind, fields",
    [
        ("location", {"Location_X": "28.5", "Location_Y": "112.1", "Scale": "15"}),
        ("link", {"Description": "d", "Url": "http://x"}),
    ],
)
def test_long_labels_are_kept_cut_to_fit(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, kind: str, fields: dict
) -> None:
    openid = town.openid("reporter")
    label = "湖南省益阳市桃江县大栗港镇张家村三组村口老槐树旁边" * 20
    name = "Label" if kind == "location" else "Title"
    reply = reply_text(send_xml(client, phone, media(openid, kind, **fields, **{name: label}))[1])
    assert reply != texts.INTERNAL_ERROR
    [attachment] = attachments(engine)
    assert attachment.label is not None and len(attachment.label) == 255
    assert attachment.label == label[:254] + "…"
