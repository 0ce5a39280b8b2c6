"""The parser says how sure it is of each field, reads urgency from danger, time and people,
and reads long, formal text by its subject (issue 15)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from config.taxonomy import load_taxonomy
from handlers.parser import (
    SURE_CATEGORY,
    SURE_VILLAGE,
    VILLAGE_DEFAULT,
    VILLAGE_MISHEARD,
    VILLAGE_NAMED,
    GrievanceParser,
    ParseResult,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def parser() -> GrievanceParser:
    town = tomllib.loads((ROOT / "config" / "demo_town.toml").read_text(encoding="utf-8"))
    villages = [village["name"] for zone in town["zones"] for village in zone["villages"]]
    return GrievanceParser(load_taxonomy(), villages)


def parse(parser: GrievanceParser, text: str) -> ParseResult:
    return parser.parse(text, "九湖村", 3)


# ---------------------------------------------------------------------- confidence


def test_a_plain_problem_is_sure_of_every_field(parser: GrievanceParser) -> None:
    result = parse(parser, "我们组又停水了，两天了")
    assert result.category == "water" and result.confidence >= SURE_CATEGORY
    assert result.unsure_fields == ()
    assert result.category_choices[0] == "water"
    assert result.village == "九湖村" and result.village_confidence == VILLAGE_DEFAULT


@pytest.mark.parametrize(
    ("text", "first", "other"),
    [
        ("学校门口的路坑坑洼洼", "education", "road"),
        ("孩子在学校摔伤了 卫生院看不了", "medical", "education"),
    ],
)
def test_two_close_topics_make_the_category_unsure_with_both_as_choices(
    parser: GrievanceParser, text: str, first: str, other: str
) -> None:
    result = parse(parser, text)
    assert result.confidence < SURE_CATEGORY and "category" in result.unsure_fields
    assert result.category == first and result.choices("category")[:2] == (first, other)
    assert result.runner_up == other


def test_a_request_with_no_topic_word_is_other_and_unsure(parser: GrievanceParser) -> None:
    result = parse(parser, "想问一下光伏板安装要找哪个部门")
    assert result.is_grievance and result.category == "other"
    assert "category" in result.unsure_fields


def test_two_villages_named_make_the_village_unsure(parser: GrievanceParser) -> None:
    result = parse(parser, "金牛村和张家村交界的地方有人倒垃圾")
    assert result.category == "environment" and "category" not in result.unsure_fields
    assert result.village == "金牛村" and result.village_confidence < SURE_VILLAGE
    assert result.unsure_fields == ("village",)
    assert result.choices("village") == ("金牛村", "张家村")


def test_a_village_named_once_is_sure_and_a_misheard_one_less_so(parser: GrievanceParser) -> None:
    named = parse(parser, "马鞭溪村3组停电了")
    assert named.village == "马鞭溪村" and named.village_confidence == VILLAGE_NAMED
    misheard = parse(parser, "马边溪村3组停电了")
    assert misheard.village == "马鞭溪村" and misheard.village_confidence == VILLAGE_MISHEARD
    assert misheard.village_confidence < named.village_confidence
    assert misheard.choices("village") == ("马鞭溪村", "九湖村")


def test_not_a_problem_has_no_fields_to_ask_about(parser: GrievanceParser) -> None:
    result = parse(parser, "好的收到，谢谢书记")
    assert not result.is_grievance and result.unsure_fields == ()


# ---------------------------------------------------------------------- urgency


@pytest.mark.parametrize(
    "text",
    [
        "组里独居老人摔倒了 没人照顾",  # a vulnerable person without care now
        "我们组又停水了 两天了",  # out for days
        "后山裂了一条大缝 下面住了三户人",  # collapse threatening homes
        "电线断了掉在路上 还有电",  # a live wire
        "塘边没有栏杆 小孩子天天在那里玩",  # children by open water
    ],
)
def test_danger_time_and_vulnerable_people_are_urgent_without_the_word(
    parser: GrievanceParser, text: str
) -> None:
    assert parse(parser, text).urgent


@pytest.mark.parametrize(
    "text",
    [
        "我们组自来水管老化，每次停水一两天，请纳入改造",  # a recurring outage: a lasting fix
        "组里变压器容量小，用电高峰频繁跳闸，请增容",
        "村里的应急供水车什么时候来检修",  # 应急 names a service, it is not 急
        "老人想问问养老保险怎么交",  # an old person, no need right now
    ],
)
def test_recurring_outages_office_names_and_old_people_alone_are_not_urgent(
    parser: GrievanceParser, text: str
) -> None:
    assert not parse(parser, text).urgent


def test_an_outage_recurring_and_out_now_is_urgent(parser: GrievanceParser) -> None:
    assert parse(parser, "每次停水都是好几天，现在又停了，十几户没水吃").urgent


# ---------------------------------------------------------------------- long and formal text


def test_a_firms_name_is_not_its_topic(parser: GrievanceParser) -> None:
    result = parse(parser, "金牛电器厂拖欠工资三个月了")
    assert result.category == "dispute" and "power" not in result.category_choices
    # …unless the name is the topic: 水厂 and 自来水公司 are the water supply.
    assert parse(parser, "镇上水厂停水了").category == "water"
    assert parse(parser, "自来水公司的人一直不来修").category == "water"


def test_an_office_phone_call_is_not_power_restored(parser: GrievanceParser) -> None:
    result = parse(parser, "群众来电反映组里路灯坏了")
    assert result.is_grievance and result.category == "road"


def test_decorated_is_not_repaired(parser: GrievanceParser) -> None:
    result = parse(parser, "房子刚装修好了屋顶就漏雨")
    assert result.is_grievance and result.category == "housing"


@pytest.mark.parametrize(
    "text",
    [
        "今天走访了5组的几户困难户，情况都还稳定",
        "上次说的路灯已修复，群众表示满意",
        "已联系5组组长，下午一起过去",
    ],
)
def test_a_cadres_note_of_work_done_is_not_a_grievance(parser: GrievanceParser, text: str) -> None:
    assert not parse(parser, text).is_grievance


@pytest.mark.parametrize(
    "text",
    ["已上报多次了，村道还是烂的没人修", "电杆被撞断了，现场已安排人看守，请供电所马上来"],
)
def test_work_words_beside_a_clear_problem_leave_it_a_grievance(
    parser: GrievanceParser, text: str
) -> None:
    assert parse(parser, text).is_grievance


@pytest.mark.parametrize(
    "text",
    [
        "组里有户人家两个学生读书，男的又住院了，申请临时救助",
        "张家村一户村民两个孩子读初中，大人长期生病，要求办理低保",
        "有户人家房子漏雨，老人行动不便，申请住进敬老院",
    ],
)
def test_what_is_asked_for_outweighs_the_circumstances(parser: GrievanceParser, text: str) -> None:
    assert parse(parser, text).category == "social_security"
