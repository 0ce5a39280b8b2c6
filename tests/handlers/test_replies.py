"""What a 邻长 or cadre gets back: no problem swallowed, questions answered by number, commands
in traditional script and English, notes kept as typed, and every line in Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.app import create_app
from bot.phone import Phone, reply_text
from config.settings import Settings
from handlers import texts
from models.conversation import ConversationState
from models.outbox import OutboxMessage
from models.ticket import Attachment, Ticket, TicketEvent, TicketState
from tests.builders import say, send_xml
from tests.handlers.test_intake import media_xml
from tests.town import SmallTown, build_small_town


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))  # type: ignore[arg-type]


def events(engine: Engine, ticket_id: int | None, kind: str) -> list[TicketEvent]:
    with Session(engine) as session:
        stmt = (
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
            .order_by(TicketEvent.id)  # type: ignore[arg-type]
        )
        return list(session.exec(stmt))


class Clock:
    """A clock the test moves; the app reads it for every message."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # Monday 10:00 in Asia/Shanghai


@pytest.fixture
def timed_client(settings: Settings, engine: Engine, clock: Clock) -> FlaskClient:
    settings = settings.model_copy(update={"wechat_max_clock_skew": 0})
    return create_app(settings, engine=engine, clock=clock).test_client()


# ---------------------------------------------------------------- problems are never swallowed


@pytest.mark.parametrize(
    "text",
    [
        "王家门口水管破了，到处是水，快来修",
        "李家门口水管破了",
        "我家门口水管爆了三天了没人修",
    ],
)
def test_a_burst_pipe_by_someones_door_is_a_water_ticket(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, text: str
) -> None:
    # "家门口" and "水管" are two words, but "口水" (a word kept only to shield 水) straddled
    # them and ate the 水 of 水管: nothing was left to say what the problem was.
    reply = say(client, phone, town.openid("reporter"), text)
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert ticket.category == "water" and "饮水供水" in reply


def test_something_broken_with_no_topic_word_is_still_a_ticket(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reply = say(client, phone, town.openid("reporter"), "晒场边上那个铁架子倒了，快来修")
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}") and ticket.category == "other"


def test_an_unclear_message_is_asked_about_and_1_makes_the_ticket(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    text = "祠堂门前那块石板翘起来了"
    assert say(client, phone, openid, text) == texts.ASK_IS_PROBLEM
    assert tickets(engine) == []
    reply = say(client, phone, openid, "1")
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert ticket.text == text and ticket.state == TicketState.assigned.value
    assert ticket.assignee_id is not None
    # The question is answered: a second "1" is not another ticket.
    assert not say(client, phone, openid, "1").startswith("已受理")
    assert len(tickets(engine)) == 1


def test_a_voice_note_asked_about_keeps_its_recording(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    xml = media_xml(
        openid, "voice", MediaId="v7", Format="amr", Recognition="那个铁皮棚子被风吹跑了"
    )
    _, plaintext = send_xml(client, phone, xml)
    assert reply_text(plaintext) == texts.ASK_IS_PROBLEM
    assert say(client, phone, openid, "1").startswith("已受理")
    [ticket] = tickets(engine)
    with Session(engine) as session:
        [voice] = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id))
    assert voice.kind == "voice" and voice.media_id == "v7"


def test_words_after_a_photo_complete_its_draft_without_a_question(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    send_xml(client, phone, media_xml(openid, "image", PicUrl="http://x/p.jpg", MediaId="m1"))
    reply = say(client, phone, openid, "那个铁皮棚子被风吹跑了")
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}")
    assert ticket.state == TicketState.assigned.value


def test_2_drops_the_kept_text_politely(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    assert say(client, phone, openid, "那个铁皮棚子被风吹跑了") == texts.ASK_IS_PROBLEM
    assert say(client, phone, openid, "２") == texts.ASK_DECLINED
    assert tickets(engine) == []
    with Session(engine) as session:
        assert session.exec(select(ConversationState)).all() == []


def test_anything_else_after_the_question_goes_on_as_normal(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    assert say(client, phone, openid, "那个铁皮棚子被风吹跑了") == texts.ASK_IS_PROBLEM
    reply = say(client, phone, openid, "3组路灯坏了")
    [ticket] = tickets(engine)
    assert reply.startswith(f"已受理，工单号 #{ticket.id}") and ticket.category == "road"
    assert "路灯" in ticket.text  # the new words, not the kept ones
    assert not say(client, phone, openid, "1").startswith("已受理")  # the question is gone
    assert len(tickets(engine)) == 1


def test_a_number_out_of_range_asks_again(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "那个铁皮棚子被风吹跑了")
    assert say(client, phone, openid, "3") == texts.QUESTION_PICK_ONE.format(count=2)
    assert say(client, phone, openid, "1").startswith("已受理")


def test_the_question_expires(
    timed_client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, clock: Clock
) -> None:
    openid = town.openid("reporter")
    assert say(timed_client, phone, openid, "那个铁皮棚子被风吹跑了") == texts.ASK_IS_PROBLEM
    clock.at += timedelta(hours=2)
    assert say(timed_client, phone, openid, "1") == texts.NOT_UNDERSTOOD
    assert tickets(engine) == []


def test_the_question_is_kept_per_sender(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    say(client, phone, town.openid("reporter"), "那个铁皮棚子被风吹跑了")
    assert say(client, phone, town.openid("reporter2"), "1") == texts.NOT_UNDERSTOOD
    assert tickets(engine) == []


def test_greetings_thanks_and_acknowledgements_alone_get_a_short_answer(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    assert say(client, phone, openid, "好的收到") == texts.ACK_REPLY
    assert say(client, phone, openid, "hello") == texts.GREETING_REPLY
    assert say(client, phone, openid, "明天几点开会") == texts.LOGISTICS_REPLY
    assert say(client, phone, openid, "3组") == texts.NOT_UNDERSTOOD
    assert tickets(engine) == []


# ---------------------------------------------------------------- commands however they are typed


def test_traditional_script_commands(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我們組的路燈壞了一個多月")
    [ticket] = tickets(engine)
    assert ticket.category == "road"  # read in simplified script, stored as typed
    assert ticket.text == "我們組的路燈壞了一個多月"
    status = say(client, phone, openid, f"查詢 {ticket.id}")
    assert status.startswith(f"#{ticket.id}【道路交通】")
    assert say(client, phone, openid, "幫助") == texts.HELP
    assert say(client, phone, openid, "我的工單").startswith(texts.MY_TICKETS_HEADER)


def test_english_commands(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组的路灯坏了")
    [ticket] = tickets(engine)
    assert say(client, phone, openid, "help") == texts.HELP
    assert say(client, phone, openid, f"Status {ticket.id}").startswith(f"#{ticket.id}【道路交通】")
    assert say(client, phone, openid, "my tickets").startswith(texts.MY_TICKETS_HEADER)
    assert say(client, phone, openid, "please fix it") == texts.NOT_UNDERSTOOD


def test_todo_from_a_neighbour_head_shows_what_they_wait_for(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    assert say(client, phone, openid, "待办") == texts.REPORTER_TODO_NONE
    say(client, phone, openid, "我们组的路灯坏了")
    [ticket] = tickets(engine)
    reply = say(client, phone, openid, "待办")
    assert reply.startswith(texts.REPORTER_TODO_HEADER.format(count=1))
    assert f"#{ticket.id} 张家村3组【道路交通】已派单" in reply
    assert tickets(engine) == [ticket]


# ---------------------------------------------------------------- notes are kept as typed


def as_person(town: SmallTown, person_id: int | None) -> str:
    person = next(p for p in town.people.values() if p.id == person_id)
    assert person.wecom_userid
    return person.wecom_userid


def test_notes_results_and_reasons_are_stored_as_typed(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reporter = town.openid("reporter")
    say(client, phone, reporter, "我们组的路灯坏了一个多月，晚上黑漆漆的")
    [ticket] = tickets(engine)
    cadre = as_person(town, ticket.assignee_id)
    say(client, wecom_phone, cadre, f"进度 {ticket.id} 已联系施工队，明天（周二）到：带灯泡！")
    say(client, wecom_phone, cadre, f"延期 {ticket.id} ３天，等灯泡到货，周五前装好")
    [extension] = events(engine, ticket.id, "extension_requested")
    assert extension.note == "3个工作日：等灯泡到货，周五前装好"
    say(client, wecom_phone, cadre, f"办结 {ticket.id} 换了灯泡，线路也查了；现在亮了。")
    say(client, phone, reporter, f"不满意 {ticket.id} 只亮了一晚，今天又不亮了！")
    [progress] = events(engine, ticket.id, "progress")
    [resolved] = events(engine, ticket.id, "resolved")
    [reopened] = events(engine, ticket.id, "reopened")
    assert progress.note == "已联系施工队，明天（周二）到：带灯泡！"
    assert resolved.note == "换了灯泡，线路也查了；现在亮了。"
    assert reopened.note == "只亮了一晚，今天又不亮了！"
    say(client, wecom_phone, cadre, f"退回 {ticket.id} 不归我们管，是村里的灯，请转村委会。")
    [returned] = events(engine, ticket.id, "returned")
    assert returned.note == "不归我们管，是村里的灯，请转村委会。"
    dispatcher = town.people["dispatcher"].wecom_userid
    assert dispatcher
    say(client, wecom_phone, dispatcher, f"驳回 {ticket.id} 路灯归交通站，请继续办，谢谢！")
    [rejected] = events(engine, ticket.id, "return_rejected")
    assert rejected.note == "路灯归交通站，请继续办，谢谢！"
    say(client, wecom_phone, dispatcher, f"无效 {ticket.id} 同一盏灯，已在别的工单办理。")
    [invalid] = events(engine, ticket.id, "invalid")
    assert invalid.note == "同一盏灯，已在别的工单办理。"
    with Session(engine) as session:
        assert session.get(Ticket, ticket.id).result == "换了灯泡，线路也查了；现在亮了。"  # type: ignore[union-attr]
        texts_sent = [m.text for m in session.exec(select(OutboxMessage))]
    assert any("已联系施工队，明天（周二）到：带灯泡！" in t for t in texts_sent)


# ---------------------------------------------------------------- what people read: no codes


def test_view_shows_routes_and_attachments_in_words(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reporter = town.openid("reporter")
    say(client, phone, reporter, "我们组停水两天了，十几户没水吃")
    [ticket] = tickets(engine)
    send_xml(client, phone, media_xml(reporter, "image", PicUrl="http://x/p.jpg", MediaId="m1"))
    dispatcher = town.people["dispatcher"].wecom_userid
    assert dispatcher
    say(client, wecom_phone, dispatcher, f"派 {ticket.id} 周干部")
    view = say(client, wecom_phone, dispatcher, f"查看 {ticket.id}")
    head = town.unit_heads["水利站"].name
    assert f"派单：{head}（水利站负责人）" in view
    assert "派单：周干部（调度员赵调度指派）" in view
    assert "补充附件：照片" in view
    for code in ("unit_head", "dispatcher:", "image", "｜"):
        assert code not in view
    with Session(engine) as session:  # the codes are kept as they were stored
        assert session.get(Ticket, ticket.id).route == "dispatcher:赵调度"  # type: ignore[union-attr]


# ---------------------------------------------------------------- the reply to a new ticket


def last_line(reply: str) -> str:
    return reply.splitlines()[-1]


def test_the_fix_it_line_offers_only_what_this_ticket_may_need(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    openid = town.openid("reporter")
    clear = say(client, phone, openid, "我们组停水两天了，十几户没水吃，赶紧来看看")
    assert last_line(clear) == texts.FIXIT.format(fixes="改 不急", id=tickets(engine)[-1].id)
    # The parser hesitated between water and housing: the other one is offered.
    mixed = say(client, phone, openid, "路边的水管漏了")
    assert last_line(mixed) == texts.FIXIT.format(
        fixes="改 类别 住房建房｜改 紧急", id=tickets(engine)[-1].id
    )
    # Another village was read from the text: the reporter's own is offered.
    elsewhere = say(client, phone, openid, "李家村2组的路塌了一大块，车子过不去")
    assert "改 村 张家村 3组" in last_line(elsewhere)
    for reply in (clear, mixed, elsewhere):
        assert "改 类别 饮水" not in reply and len(last_line(reply)) <= 40


def test_the_assignee_is_named_with_unit_and_phone(
    client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reply = say(client, phone, town.openid("reporter"), "我们组停水两天了，十几户没水吃")
    head = town.unit_heads["水利站"]
    assert f"承办：{head.name}（水利站负责人），电话 {head.phone}" in reply
    [ticket] = tickets(engine)
    status = say(client, phone, town.openid("reporter"), f"查询 {ticket.id}")
    assert f"承办：{head.name}（水利站负责人），电话 {head.phone}" in status


# ---------------------------------------------------------------- 查询 after 合并 and 不满意


def test_a_merged_ticket_tells_where_it_went_and_how_that_one_stands(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    say(client, phone, town.openid("reporter"), "我们组停水两天了，十几户没水吃")
    say(client, phone, town.openid("reporter2"), "张家村3组停水了，两天没水")
    first, second = tickets(engine)
    dispatcher = town.people["dispatcher"].wecom_userid
    assert dispatcher
    say(client, wecom_phone, dispatcher, f"合并 {second.id} {first.id}")
    say(client, wecom_phone, as_person(town, first.assignee_id), f"签收 {first.id}")
    status = say(client, phone, town.openid("reporter2"), f"查询 {second.id}")
    assert f"已并入 #{first.id}（同一问题），#{first.id} 已签收" in status
    head = town.unit_heads["水利站"]
    assert f"承办：{head.name}（水利站负责人）" in status


def test_after_unsatisfied_the_old_result_is_the_earlier_one(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reporter = town.openid("reporter")
    say(client, phone, reporter, "我们组的路灯坏了一个多月")
    [ticket] = tickets(engine)
    cadre = as_person(town, ticket.assignee_id)
    say(client, wecom_phone, cadre, f"办结 {ticket.id} 已换灯泡")
    assert "\n结果：已换灯泡" in say(client, phone, reporter, f"查询 {ticket.id}")
    say(client, phone, reporter, f"不满意 {ticket.id} 还是不亮")
    status = say(client, phone, reporter, f"查询 {ticket.id}")
    assert "\n结果：" not in status
    assert texts.STATUS_EARLIER_RESULT.format(result="已换灯泡") in status
    assert "上次办理结果" in say(client, wecom_phone, cadre, f"查看 {ticket.id}")
    say(client, wecom_phone, cadre, f"办结 {ticket.id} 线路换了，亮了")
    assert "\n结果：线路换了，亮了" in say(client, phone, reporter, f"查询 {ticket.id}")


def test_a_closed_ticket_is_called_what_the_rating_thanks_said(
    client: FlaskClient, phone: Phone, wecom_phone: Phone, engine: Engine, town: SmallTown
) -> None:
    reporter = town.openid("reporter")
    say(client, phone, reporter, "我们组的路灯坏了一个多月")
    [ticket] = tickets(engine)
    say(client, wecom_phone, as_person(town, ticket.assignee_id), f"办结 {ticket.id} 已换灯泡")
    assert "已结案" in say(client, phone, reporter, f"满意 {ticket.id}")
    assert "状态：已结案" in say(client, phone, reporter, f"查询 {ticket.id}")


# ---------------------------------------------------------------- deadlines


def test_a_ticket_assigned_at_night_is_due_at_the_end_of_a_day(
    timed_client: FlaskClient,
    phone: Phone,
    wecom_phone: Phone,
    engine: Engine,
    town: SmallTown,
    clock: Clock,
) -> None:
    # Monday 30 November 2026, 05:03 in Asia/Shanghai: 1 and 7 working days later at 05:03
    # nobody is at work, so the deadlines are the end of Tuesday 1 and Wednesday 9 December.
    clock.at = datetime(2026, 11, 29, 21, 3, tzinfo=UTC)
    say(timed_client, phone, town.openid("reporter"), "我们组的路灯坏了一个多月")
    [ticket] = tickets(engine)
    view = say(timed_client, wecom_phone, as_person(town, ticket.assignee_id), f"查看 {ticket.id}")
    assert "签收期限：12月1日 24:00　办结期限：12月9日 24:00" in view
    assert "05:03" not in view.split("—— 经过 ——")[0]
    # In office hours the deadline keeps its time of day.
    clock.at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00
    say(timed_client, phone, town.openid("reporter"), "李家村1组的路灯也坏了")
    later = tickets(engine)[-1]
    view = say(timed_client, wecom_phone, as_person(town, later.assignee_id), f"查看 {later.id}")
    assert "签收期限：12月1日 10:00　办结期限：12月9日 10:00" in view


def test_a_ticket_assigned_on_a_day_off_is_due_at_24_00_not_00_00(
    timed_client: FlaskClient, phone: Phone, engine: Engine, town: SmallTown, clock: Clock
) -> None:
    clock.at = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Saturday 10:00
    say(timed_client, phone, town.openid("reporter"), "我们组的路灯坏了一个多月")
    reply = say(timed_client, phone, town.openid("reporter"), "我的")
    assert "期限12月8日 24:00" in reply  # 30 Nov, 1, 2, 3, 4, 7 and 8 December
