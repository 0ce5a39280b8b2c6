"""Property: every validly signed body gets 200 or 400, never 500, and a 400 stores nothing.

Bodies are built the way WeChat would sign them (safe mode on /wechat, always encrypted on /wecom),
from plausible messages whose fields are then changed: odd values (huge, negative or non-numeric
times and ids, NaN, odd unicode, long text), duplicated, dropped, nested or left unescaped. The
examples are bounded and derandomized so the suite stays fast and repeatable.
"""

from __future__ import annotations

import logging
import time

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel

from bot.phone import Phone, next_msg_id, reply_text
from handlers import texts
from tests.builders import post
from tests.town import SmallTown, build_small_town

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIELDS = [
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "MediaId",
    "PicUrl",
    "Format",
    "Recognition",
    "ThumbMediaId",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "Title",
    "Description",
    "Url",
    "Event",
    "EventKey",
    "Ticket",
    "Latitude",
    "Longitude",
    "Precision",
    "AgentID",
    "MsgID",
    "Status",
]
MSG_TYPES = ["text", "image", "voice", "video", "shortvideo", "location", "link", "file", "event"]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "LOCATION", "CLICK", "VIEW", "enter_agent"]
ODD_NUMBERS = [
    "999999999999999999",
    str(10**19),
    str(-(10**19)),
    "-1",
    "0",
    "",
    " ",
    "1e999",
    "nan",
    "inf",
    "12.5",
    "１２３",
    "²",
    "0x10",
    "9" * 400,
]


def xml_char(c: str) -> bool:
    """Characters XML 1.0 allows (WeChat never sends others; a body with them is a 400)."""
    code = ord(c)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code > 0xFFFF
    )


odd_text = st.text(
    st.characters(blacklist_categories=("Cs",)).filter(xml_char), max_size=40
) | st.sampled_from(
    [
        "撤回 #1",
        "帮助",
        "查询 1",
        "我们组停水两天了，十几户没水吃",
        "改 紧急",
        "签收 1",
        "办结 1 修好了",
        "派 1 张支书",
        "待办",
        "\u202e",
        "😀" * 3,
    ]
)
values = st.one_of(
    odd_text,
    st.sampled_from(ODD_NUMBERS),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(st.sampled_from("路灯坏了水a ]]>&<"), min_size=100, max_size=3000),  # sizes
    st.just("<a><b>nested</b></a>"),  # markup as a value: elements where text was expected
)


@st.composite
def change(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """One edit of a field: set it, add a duplicate tag, drop it or write it unescaped."""
    how = draw(st.sampled_from(["set", "set", "duplicate", "drop", "raw"]))
    name = draw(st.sampled_from(FIELDS) | st.text(st.sampled_from("AbcXyz_"), min_size=1))
    return how, name, None if how == "drop" else draw(values)


@st.composite
def callback(draw: st.DrawFn, wecom: bool) -> str:
    """The plaintext XML of one callback: a plausible message, then a few edits."""
    msg_type = draw(st.sampled_from(MSG_TYPES))
    known = ["cadre-4", "zhao-dispatch", "wang-leader"] if wecom else ["o-liu", "o-chen", "o-sun"]
    sender = draw(st.sampled_from(known) if draw(st.integers(0, 3)) else odd_text)
    fields: list[tuple[str, str, bool]] = [
        ("ToUserName", "wwtestcorp000001" if wecom else "gh_town", False),
        ("FromUserName", sender, False),
        ("CreateTime", str(int(time.time())), False),
        ("MsgType", msg_type, False),
    ]
    if msg_type == "event":
        fields += [("Event", draw(st.sampled_from(EVENTS)), False), ("EventKey", "k", False)]
    else:
        fields += [("Content", draw(odd_text), False), ("MsgId", str(next_msg_id()), False)]
    if wecom:
        fields.append(("AgentID", "1000002", False))
    for how, name, value in draw(st.lists(change(), max_size=5)):
        if how == "drop":
            fields = [f for f in fields if f[0] != name]
        elif how == "duplicate" or all(f[0] != name for f in fields):
            fields.append((name, value or "", how == "raw"))
        else:
            fields = [
                (n, value or "", how == "raw") if n == name else (n, v, r) for n, v, r in fields
            ]
    parts = ["<xml>"]
    for name, value, raw in fields:
        if raw:
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>")
    parts.append("</xml>")
    return "".join(parts)


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in SQLModel.metadata.sorted_tables
        }


def check(
    client: FlaskClient, phone: Phone, engine: Engine, caplog: pytest.LogCaptureFixture, xml: str
) -> None:
    caplog.clear()
    before = row_counts(engine)
    signed = phone.sign(xml)
    response = post(client, phone, signed)
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 400), (response.status_code, xml)
    print(
        "STAT",
        phone.path,
        response.status_code,
        body[:0] or response.get_data(as_text=True)[:0],
        __import__("json").dumps(
            reply_text(phone.open_reply(signed, body)) if response.status_code == 200 else ""
        )[:60],
    )
    if response.status_code == 400:
        assert row_counts(engine) == before, xml  # refused: nothing partial stored
    else:
        assert reply_text(phone.open_reply(signed, body)) != texts.INTERNAL_ERROR, xml
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, (failures[0].getMessage(), xml)


@pytest.fixture
def town(engine: Engine) -> SmallTown:
    return build_small_town(engine)


def wechat_message(create_time: str, **fields: str) -> str:
    body = {
        "ToUserName": "gh_town",
        "FromUserName": "o-liu",
        "CreateTime": create_time,
        "MsgType": "text",
        "Content": "帮助",
        "MsgId": "1",
        **fields,
    }
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in body.items()) + "</xml>"


@pytest.mark.parametrize(
    "create_time", ["999999999999999999", str(10**19), str(-(10**19)), "soon", "1e9", "-5"]
)
def test_out_of_range_create_time_is_a_400(
    client: FlaskClient, phone: Phone, engine: Engine, create_time: str
) -> None:
    signed = phone.sign(wechat_message(create_time))
    assert post(client, phone, signed).status_code == 400
    assert row_counts(engine)["inbound_message"] == 0


@FUZZ
@given(xml=callback(wecom=False))
@example(xml=wechat_message("999999999999999999"))
@example(xml=wechat_message(str(-(10**19)), MsgType="event", Event="subscribe"))
def test_signed_wechat_bodies_get_200_or_400(
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
    town: SmallTown,
    caplog: pytest.LogCaptureFixture,
    xml: str,
) -> None:
    check(client, phone, engine, caplog, xml)


@FUZZ
@given(xml=callback(wecom=True))
@example(
    xml=wechat_message(str(10**19), ToUserName="wwtestcorp000001", AgentID="1000002").replace(
        "o-liu", "zhangsan"
    )
)
def test_signed_wecom_bodies_get_200_or_400(
    client: FlaskClient,
    wecom_phone: Phone,
    engine: Engine,
    town: SmallTown,
    caplog: pytest.LogCaptureFixture,
    xml: str,
) -> None:
    check(client, wecom_phone, engine, caplog, xml)
