"""Routing in the demo town: each of the thirteen categories reaches the person responsible."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone
from config.taxonomy import load_taxonomy
from demo.town import DemoTown
from models.outbox import OutboxMessage
from models.person import Person
from models.routing import unit_names_in_label
from models.ticket import Ticket
from tests.builders import say
from tests.demo import bind_openid

# One message per category, written for this test, and the village it comes from.
MESSAGES = {
    "road": ("金牛村", "进组的水泥路烂了好多坑，车子颠得不行"),
    "water": ("张家村", "自来水停了三天，屋里冇得水吃"),
    "irrigation": ("双合村", "山塘的坝漏水了，下面的田灌不上水"),
    "power": ("九湖村", "我们组停电了一整天，冰箱里东西都坏了"),
    "environment": ("朱家村", "垃圾桶满了好几天没人来收，臭死了"),
    "social_security": ("安宁村", "我娘一个人住七十多了，低保申请交上去半年没消息"),
    "medical": ("刘家村", "医保报销的钱什么时候能到账"),
    "education": ("马鞭溪村", "孙子读书的助学金今年还没发下来"),
    "housing": ("德茂园村", "屋顶漏雨墙也开裂了，想申请危房改造"),
    "agriculture": ("松木桥村", "稻田里虫子好多，打药也不管用，请农技员来看看"),
    "dispute": ("黄道仑村", "隔壁为了宅基地边界跟我家吵了好几次"),
    "safety": ("童子山村", "后山有裂缝，一下雨就往下掉石头，怕滑坡"),
    "other": ("筑金坝村", "想咨询一下退役军人优待证怎么办理"),
}


def expected_assignee(demo: DemoTown, category: str, village: str) -> Person:
    rule = load_taxonomy().get(category)
    if rule.level == "village":
        return demo.village_cadres[village]
    for name in unit_names_in_label(rule.unit):
        if name in demo.unit_heads:
            return demo.unit_heads[name]
    raise AssertionError(f"the demo town has no unit for {rule.unit}")


@pytest.mark.parametrize("category", sorted(MESSAGES))
def test_each_category_reaches_the_responsible_person(
    category: str,
    demo_town: DemoTown,
    client: FlaskClient,
    phone: Phone,
    engine: Engine,
) -> None:
    village, text = MESSAGES[category]
    reporter = demo_town.neighbour_heads[(village, 2)][0]
    bind_openid(engine, reporter, f"o-{category}")
    reply = say(client, phone, f"o-{category}", text)
    with Session(engine) as session:
        ticket = session.exec(select(Ticket)).one()
        [note] = session.exec(select(OutboxMessage)).all()
    expected = expected_assignee(demo_town, category, village)
    assert ticket.category == category, reply
    assert ticket.village_id == demo_town.villages[village].id
    assert ticket.assignee_id == expected.id, ticket.route
    assert note.person_id == expected.id and note.kind == "assigned"
    assert expected.name in reply
