"""Binding as people do it: signed WeChat messages in, replies and roster changes out."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.phone import Phone, message_xml
from handlers import texts
from handlers.binding import parse_bind
from models.binding import MAX_FAILED_ATTEMPTS, create_invite
from models.db import unit_of_work
from models.demo_town import DemoTown
from models.inbound import InboundMessage
from models.person import BindingAttempt, InviteCode, Person
from tests.builders import say, send_xml
from tests.demo import bind_openid

pytest_plugins = ["tests.demo"]  # the demo_town fixture


class Clock:
    """The inbox's clock, moved by the test (rate limits and code expiry depend on it)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: Flask, now: datetime) -> Clock:
    clock = Clock(now)
    app.extensions["grievance"]["inbox"].clock = clock
    return clock


def stored(engine: Engine, person: Person) -> Person:
    with Session(engine) as session:
        found = session.get(Person, person.id)
        assert found is not None
        return found


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


def no_match(left: int) -> str:
    return texts.BIND_NO_MATCH + texts.BIND_TRIES_LEFT.format(left=left)


def event(sender: str, name: str) -> str:
    return message_xml(
        {
            "ToUserName": "gh_town",
            "FromUserName": sender,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": name,
        }
    )


def test_neighbour_head_binds_by_name_and_phone(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("大栗港村", 3)
    reply = say(client, phone, "openid-a", f"绑定 {head.name} {head.phone}")
    assert reply.startswith("绑定成功") and head.name in reply
    assert "大栗港镇大栗港村3组" in reply and "邻长" in reply
    bound = stored(engine, head)
    assert bound.wechat_openid == "openid-a" and bound.bound_at == clock.now
    who = say(client, phone, "openid-a", "我是谁")
    assert head.name in who and f"{head.phone[:3]}****{head.phone[-4:]}" in who
    assert head.phone not in who  # the full number is not echoed
    assert say(client, phone, "openid-a", f"绑定 {head.name} {head.phone}") == (
        texts.BIND_ALREADY.format(name=head.name)
    )


def test_full_width_digits_and_spaces_are_tolerated(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("九湖村", 2)
    spaced = f"{head.phone[:3]} {head.phone[3:7]} {head.phone[7:]}"
    name = " ".join(head.name)  # "刘 建国"
    reply = say(client, phone, "openid-b", f"绑定：{name}，{full_width(spaced)}")
    assert reply.startswith("绑定成功"), reply
    assert stored(engine, head).wechat_openid == "openid-b"
    assert parse_bind("绑定 １２３ ４５６") == "123456"
    assert parse_bind("绑定张三13800000000") == ("张三", "13800000000")
    assert parse_bind("绑定 张三 +86 138 0000 0000") == ("张三", "13800000000")


def test_refusals_all_read_the_same(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("朱家村", 1)
    other = demo_town.neighbour_head("朱家村", 2)
    cadre = demo_town.village_cadres["朱家村"]
    bind_openid(engine, other, "openid-other")
    attempts = [
        f"绑定 {head.name} 13812345678",  # right name, unknown phone
        f"绑定 不存在的人 {head.phone}",  # a phone on the roster, wrong name
        f"绑定 {cadre.name} {cadre.phone}",  # a cadre: must use an invite code
        f"绑定 {other.name} {other.phone}",  # an entry someone else is bound to
    ]
    replies = [say(client, phone, "openid-c", text) for text in attempts]
    assert replies == [no_match(MAX_FAILED_ATTEMPTS - n) for n in range(1, 5)]
    assert stored(engine, cadre).wechat_openid is None
    assert stored(engine, other).wechat_openid == "openid-other"
    assert say(client, phone, "openid-c", "绑定 张三") == texts.BIND_USAGE  # no phone: no try
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(BindingAttempt)).one()
        assert count == 4


def test_five_failures_a_day_then_wait_until_tomorrow(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("金牛村", 4)
    for n in range(MAX_FAILED_ATTEMPTS):
        reply = say(client, phone, "openid-d", f"绑定 {head.name} 1390000000{n}")
        assert reply.startswith(texts.BIND_NO_MATCH)
    assert reply.endswith(texts.BIND_RATE_LIMITED)  # the fifth says the day is used up
    # Even the right answer is not checked now.
    right = f"绑定 {head.name} {head.phone}"
    assert say(client, phone, "openid-d", right) == texts.BIND_RATE_LIMITED
    assert stored(engine, head).wechat_openid is None
    # Another WeChat user is not limited by this one's failures.
    assert say(client, phone, "openid-e", "绑定 某某 13900000000") == no_match(4)
    # 10:00 Shanghai today → 00:05 tomorrow: a new day, new tries.
    clock.now += timedelta(hours=14, minutes=5)
    assert say(client, phone, "openid-d", right).startswith("绑定成功")


def test_same_names_are_told_apart_by_phone(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    first = demo_town.neighbour_head("双合村", 1)
    second = demo_town.neighbour_head("双合村", 5)
    with unit_of_work(engine) as session:
        twin = session.get(Person, second.id)
        assert twin is not None
        twin.name = first.name
        session.add(twin)
    assert say(client, phone, "openid-f", f"绑定 {first.name} {second.phone}").startswith(
        "绑定成功"
    )
    assert stored(engine, second).wechat_openid == "openid-f"
    assert stored(engine, first).wechat_openid is None
    # Once bound, binding as somebody else asks to unbind first.
    assert say(client, phone, "openid-f", f"绑定 {first.name} {first.phone}") == (
        texts.BIND_SENDER_ELSEWHERE.format(name=first.name)
    )
    assert stored(engine, first).wechat_openid is None


def invite(engine: Engine, person: Person, at: datetime) -> str:
    with unit_of_work(engine) as session:
        stored_person = session.get(Person, person.id)
        assert stored_person is not None
        code, _expires = create_invite(session, stored_person, at)
    return code


def test_invite_code_binds_once(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    liaison = demo_town.liaisons["童子山村"]
    code = invite(engine, liaison, clock.now)
    assert len(code) == 6 and code.isdigit()
    with Session(engine) as session:
        (saved,) = session.exec(select(InviteCode.code_hash)).all()
        assert code not in saved  # only a hash is kept
    reply = say(client, phone, "openid-g", f"绑定 {full_width(code)}")
    assert reply == texts.BIND_OK_HANDLER.format(name=liaison.name, roles="包村干部")
    assert stored(engine, liaison).wechat_openid == "openid-g"
    who = say(client, phone, "openid-g", "我是谁")
    assert "负责村：" in who and "童子山村" in who
    # A code works once.
    assert say(client, phone, "openid-h", f"绑定 {code}") == (
        texts.BIND_BAD_CODE + texts.BIND_TRIES_LEFT.format(left=4)
    )
    assert stored(engine, liaison).wechat_openid == "openid-g"


def test_invite_code_expires_after_seven_days_and_new_ones_replace_old(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.unit_heads["水利站"]
    old = invite(engine, head, clock.now)
    code = invite(engine, head, clock.now)
    assert say(client, phone, "openid-i", f"绑定 {old}").startswith(texts.BIND_BAD_CODE)
    clock.now += timedelta(days=7, minutes=1)
    assert say(client, phone, "openid-i", f"绑定 {code}").startswith(texts.BIND_BAD_CODE)
    fresh = invite(engine, head, clock.now)
    clock.now += timedelta(days=6, hours=23)
    assert say(client, phone, "openid-i", f"绑定 {fresh}").startswith("绑定成功")
    assert stored(engine, head).wechat_openid == "openid-i"


def test_wecom_users_are_known_by_userid_without_binding(
    client: FlaskClient, wecom_phone: Phone, demo_town: DemoTown, clock: Clock
) -> None:
    dispatcher = demo_town.dispatcher
    assert dispatcher.wecom_userid is not None
    who = say(client, wecom_phone, dispatcher.wecom_userid, "我是谁")
    assert dispatcher.name in who and "调度员" in who and dispatcher.wecom_userid in who
    assert say(client, wecom_phone, dispatcher.wecom_userid, "绑定 123456") == (
        texts.WECOM_ALREADY.format(name=dispatcher.name)
    )
    assert say(client, wecom_phone, dispatcher.wecom_userid, "解绑") == texts.WECOM_NO_UNBIND
    assert say(client, wecom_phone, "not-on-roster", "3组路灯坏了") == texts.WECOM_UNKNOWN


def test_unbind_and_unbound_senders_are_told_how_to_bind(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("安宁村", 2)
    bind_openid(engine, head, "openid-j")
    assert say(client, phone, "openid-j", "帮助") == texts.HELP
    assert say(client, phone, "openid-j", "解绑") == texts.UNBIND_OK.format(name=head.name)
    assert stored(engine, head).wechat_openid is None
    assert say(client, phone, "openid-j", "解绑") == texts.UNBIND_NONE
    assert say(client, phone, "openid-j", "我是谁") == texts.BIND_HOW
    assert say(client, phone, "openid-j", "安宁村2组的路塌了") == texts.BIND_HOW
    picture = {"MsgType": "image", "PicUrl": "http://example.invalid/p.jpg", "MediaId": "m1"}
    assert say(client, phone, "openid-j", "", **picture) == texts.BIND_HOW
    assert say(client, phone, "openid-j", "帮助") == texts.HELP  # help still comes first


def test_bound_people_pass_by_the_binding_handlers(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("毛羊坪村", 6)
    bind_openid(engine, head, "openid-k")
    reply = say(client, phone, "openid-k", "6组的路灯坏了一个星期了")
    assert reply not in (texts.BIND_HOW, "")


def test_subscribe_explains_and_unsubscribe_forgets(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    _, welcome = send_xml(client, phone, event("openid-l", "subscribe"))
    assert "绑定 姓名 手机号" in welcome
    head = demo_town.neighbour_head("松木桥村", 1)
    say(client, phone, "openid-l", "绑定 错的人 13900000000")
    assert say(client, phone, "openid-l", f"绑定 {head.name} {head.phone}").startswith("绑定成功")
    response, _ = send_xml(client, phone, event("openid-l", "unsubscribe"))
    assert response.get_data(as_text=True) == "success"
    assert stored(engine, head).wechat_openid is None and stored(engine, head).active
    with Session(engine) as session:
        attempts = session.exec(
            select(func.count()).where(BindingAttempt.sender == "openid-l")
        ).one()
        # The failed try is kept for the day: unfollowing must not reset the limit on guessing.
        assert attempts == 1
        replies = session.exec(
            select(InboundMessage.reply).where(InboundMessage.sender == "openid-l")
        ).all()
        assert all(head.name not in (reply or "") for reply in replies)
