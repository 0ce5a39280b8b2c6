"""Binding as people do it: signed WeChat messages in, replies and roster changes out."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.phone import Phone, message_xml
from demo.town import DemoTown
from handlers import texts
from handlers.binding import parse_bind
from models.base import utcnow
from models.binding import (
    CHINA,
    MAX_FAILED_ATTEMPTS,
    MAX_FAILURES_PER_DAY,
    MAX_FAILURES_PER_HOUR,
    MAX_TARGET_FAILURES,
    create_invite,
)
from models.db import unit_of_work
from models.inbound import InboundMessage
from models.outbox import OutboxMessage
from models.person import BindingAttempt, InviteCode, Person
from tests.builders import say, send_xml
from tests.demo import bind_openid

pytest_plugins = ["tests.demo"]  # the demo_town fixture

RunCli = Callable[..., Result]
# Names an attacker would try: 40 surnames × 5 given names, none of them on the demo roster's
# 邻长 of the groups used below.
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏"
GIVEN = "甲乙丙丁戊"


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


# ------------------------------------------------------------------ guessing from many WeChats


def attempts(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(BindingAttempt)).one())


def test_forty_fresh_openids_guessing_one_phone_are_stopped_after_five(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    head = demo_town.neighbour_head("大栗港村", 2)
    clock.now = utcnow()  # the office's CLI below runs on the real clock
    # Someone who knows a 邻长's phone tries names, 5 from each of 40 fresh WeChats: 200 tries.
    replies = [
        say(client, phone, f"oGuess{n:02d}", f"绑定 {SURNAMES[n]}{GIVEN[k]} {head.phone}")
        for n in range(40)
        for k in range(MAX_FAILED_ATTEMPTS)
    ]
    assert replies[:4] == [no_match(left) for left in (4, 3, 2, 1)]
    assert replies[4] == texts.BIND_NO_MATCH + texts.BIND_RATE_LIMITED
    assert set(replies[MAX_TARGET_FAILURES:]) == {texts.BIND_TARGET_LOCKED}
    assert attempts(engine) == MAX_TARGET_FAILURES  # five checked, not two hundred
    # Knowing the name as well no longer helps: nothing naming that phone is checked today.
    assert say(client, phone, "oGuess99", f"绑定 {head.name} {head.phone}") == (
        texts.BIND_TARGET_LOCKED
    )
    assert stored(engine, head).wechat_openid is None

    # The real 邻长 calls the office, which lifts the lock.
    result = run_cli("roster", "unlock", head.name)
    assert result.exit_code == 0, result.output
    assert "清除最近一天的绑定失败 5 次" in result.output, result.output
    reply = say(client, phone, "oRealHead", f"绑定 {head.name} {head.phone}")
    assert reply.startswith("绑定成功"), reply
    assert "不用解锁" in run_cli("roster", "unlock", head.phone).output


def test_random_guesses_from_many_openids_pause_binding_for_everybody(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    # 40 fresh WeChats, 5 different name+phone pairs each: nothing repeats a target.
    replies = [
        say(client, phone, f"oRand{n:02d}", f"绑定 {SURNAMES[n]}{GIVEN[k]} 1390{n:02d}{k:05d}")
        for n in range(40)
        for k in range(MAX_FAILED_ATTEMPTS)
    ]
    paused = texts.BIND_PAUSED.format(until="今天11:00")  # an hour after the first failure
    assert paused not in replies[:MAX_FAILURES_PER_HOUR]
    assert set(replies[MAX_FAILURES_PER_HOUR:]) == {paused}
    assert attempts(engine) == MAX_FAILURES_PER_HOUR
    # While paused, nobody is checked, the real 邻长 neither; an hour later binding is back.
    head = demo_town.neighbour_head("九湖村", 3)
    assert say(client, phone, "oHead", f"绑定 {head.name} {head.phone}") == paused
    clock.now += timedelta(hours=1)
    assert say(client, phone, "oHead", f"绑定 {head.name} {head.phone}").startswith("绑定成功")


def test_sixty_openids_guessing_invite_codes_are_stopped_at_the_hourly_limit(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    liaison = demo_town.liaisons["童子山村"]
    code = invite(engine, liaison, clock.now)
    guesses = [f"{(int(code) + 1 + n) % 10**6:06d}" for n in range(300)]
    replies = [
        say(client, phone, f"oCode{n // 5:02d}", f"绑定 {guess}") for n, guess in enumerate(guesses)
    ]
    paused = texts.BIND_PAUSED.format(until="今天11:00")
    assert set(replies[MAX_FAILURES_PER_HOUR:]) == {paused}
    assert attempts(engine) == MAX_FAILURES_PER_HOUR
    # The real code waits too, and works once the hour is over.
    assert say(client, phone, "oLiaison", f"绑定 {code}") == paused
    clock.now += timedelta(hours=1)
    assert say(client, phone, "oLiaison", f"绑定 {code}").startswith("绑定成功")


def test_the_daily_limit_pauses_until_midnight_and_the_office_can_lift_it(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    clock.now = utcnow()
    local = clock.now.astimezone(CHINA)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    with unit_of_work(engine) as session:
        for n in range(MAX_FAILURES_PER_DAY):  # a day's worth of failures
            at = max(clock.now - timedelta(seconds=n), day_start)
            session.add(BindingAttempt(channel="wechat", sender=f"o{n}", at=at, kind="code"))
    head = demo_town.neighbour_head("九湖村", 4)
    reply = say(client, phone, "oHead", f"绑定 {head.name} {head.phone}")
    tomorrow = day_start.astimezone(CHINA) + timedelta(days=1)
    assert reply.startswith(texts.BIND_PAUSED.split("{until}")[0]), reply
    assert f"暂停到{tomorrow.month}月{tomorrow.day}日" in reply, reply
    result = run_cli("roster", "unlock", "--all")
    assert (
        result.exit_code == 0
        and f"清除最近一天的绑定失败 {MAX_FAILURES_PER_DAY} 次" in result.output
    )
    assert say(client, phone, "oHead", f"绑定 {head.name} {head.phone}").startswith("绑定成功")


def test_a_sender_lock_is_lifted_with_sender(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    clock.now = utcnow()
    head = demo_town.neighbour_head("金牛村", 2)
    for n in range(MAX_FAILED_ATTEMPTS):
        say(client, phone, "oClumsy", f"绑定 {GIVEN[n]}{head.name} {head.phone}")
    assert say(client, phone, "oClumsy", f"绑定 {head.name} {head.phone}") == (
        texts.BIND_RATE_LIMITED
    )
    result = run_cli("roster", "unlock", "--sender", "oClumsy")
    assert result.exit_code == 0 and "清除最近一天的绑定失败 5 次" in result.output, result.output
    assert say(client, phone, "oClumsy", f"绑定 {head.name} {head.phone}").startswith("绑定成功")


def test_a_bound_sender_cannot_tell_a_valid_code_from_an_invalid_one(
    client: FlaskClient, phone: Phone, engine: Engine, demo_town: DemoTown, clock: Clock
) -> None:
    head = demo_town.neighbour_head("安宁村", 1)
    bind_openid(engine, head, "oBound")
    liaison = demo_town.liaisons["童子山村"]
    code = invite(engine, liaison, clock.now)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    valid = say(client, phone, "oBound", f"绑定 {code}")
    invalid = say(client, phone, "oBound", f"绑定 {wrong}")
    assert valid == invalid == texts.BIND_SENDER_ELSEWHERE.format(name=head.name)
    assert attempts(engine) == 0  # and no counter to watch either
    # The code was not spent: its owner still binds with it.
    assert say(client, phone, "oLiaison", f"绑定 {code}").startswith("绑定成功")


# ------------------------------------------------------------------ moving and removing bindings


def notices(engine: Engine, kind: str) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def code_in(output: str) -> str:
    match = re.search(r"邀请码：(\d{6})", output)
    assert match is not None, output
    return match.group(1)


def local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def test_an_invite_moves_a_cadre_to_a_new_wechat_and_tells_the_old_one(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    liaison = demo_town.liaisons["童子山村"]
    bind_openid(engine, liaison, "oOldPhone")
    result = run_cli("roster", "invite", liaison.phone)
    assert result.exit_code == 0, result.output
    assert texts.ROSTER_INVITE_MOVES.format(name=liaison.name) in result.output
    reply = say(client, phone, "oNewPhone", f"绑定 {code_in(result.output)}")
    assert reply == (
        texts.BIND_OK_HANDLER.format(name=liaison.name, roles="包村干部") + texts.BIND_MOVED_NOTE
    )
    assert stored(engine, liaison).wechat_openid == "oNewPhone"
    [notice] = notices(engine, "binding_moved")
    assert (notice.recipient_channel, notice.recipient) == ("wechat", "oOldPhone")
    assert notice.person_id == liaison.id
    assert notice.text == texts.BIND_MOVED_NOTICE.format(name=liaison.name, time=local(clock.now))
    assert say(client, phone, "oOldPhone", "我是谁") == texts.BIND_HOW


def test_an_invite_for_a_neighbour_head_needs_move_and_then_tells_the_old_wechat(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    head = demo_town.neighbour_head("松木桥村", 2)
    bind_openid(engine, head, "oHeadOld")
    refused = run_cli("roster", "invite", head.phone)
    assert refused.exit_code == 1 and "--move" in refused.output
    assert "邀请码：" not in refused.output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(InviteCode)).one() == 0

    moved = run_cli("roster", "invite", head.phone, "--move")
    assert moved.exit_code == 0, moved.output
    reply = say(client, phone, "oHeadNew", f"绑定 {code_in(moved.output)}")
    assert reply.startswith("绑定成功") and reply.endswith(texts.BIND_MOVED_NOTE)
    assert stored(engine, head).wechat_openid == "oHeadNew"
    [notice] = notices(engine, "binding_moved")
    assert notice.recipient == "oHeadOld" and head.name in notice.text


def test_the_office_unbinds_someone_and_that_wechat_is_told(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    demo_town: DemoTown,
    clock: Clock,
    run_cli: RunCli,
) -> None:
    head = demo_town.neighbour_head("安宁村", 3)
    bind_openid(engine, head, "oLost")
    result = run_cli("roster", "unbind", head.phone)
    assert result.exit_code == 0, result.output
    assert texts.ROSTER_UNBOUND.format(name=head.name, phone=head.phone) in result.output
    assert stored(engine, head).wechat_openid is None
    [notice] = notices(engine, "binding_removed")
    assert (notice.recipient_channel, notice.recipient) == ("wechat", "oLost")
    assert head.name in notice.text
    assert say(client, phone, "oLost", "我是谁") == texts.BIND_HOW
    # The 邻长 binds again from a new phone, with name and phone.
    assert say(client, phone, "oFound", f"绑定 {head.name} {head.phone}").startswith("绑定成功")
    again = run_cli("roster", "unbind", demo_town.neighbour_head("安宁村", 4).phone)
    assert again.exit_code == 0 and "没有绑定公众号微信" in again.output
