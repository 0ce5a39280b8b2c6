"""`grievance-bot learn`: labels from the town's corrections and from a past 台账; the model is
used only when it beat the rules on the same rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session

from bot import texts as bot_texts
from bot.phone import Phone
from config.settings import Settings
from config.taxonomy import load_taxonomy
from handlers.classifier import MODEL_FILE, LearnedModel, load_trusted
from handlers.parser import GrievanceParser
from models.labels import CORRECTED, LEDGER, labelled_tickets
from tests.builders import say
from tests.town import SmallTown, build_small_town

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# A town's own convention the rules cannot know: formal business they file under a category.
TOWN_WORDS = {
    "职称评定": "教育文体",
    "公积金提取": "社会保障",
    "光伏板安装": "电力通信",
    "电动车上牌": "道路交通",
}
OPENINGS = ("{v}{g}组村民反映", "{v}{g}组群众来电咨询", "{v}{g}组", "来访：{v}{g}组村民询问")
ENDINGS = ("的事情怎么办", "需要什么手续", "，请答复", "的问题一直没办好")
VILLAGES = ("张家村", "李家村", "九湖村")
# Messages the rules read right, each in words of its own: a model learning a category from the
# other rows' words cannot do as well as the rules on the row it has not seen.
PLAIN = {
    "饮水供水": (
        "停水两天了没水吃",
        "水管爆了到处是水",
        "自来水浑浊发黄",
        "水龙头拧开不出水",
        "水压太小楼上接不到水",
    ),
    "电力通信": (
        "变压器烧了全组停电",
        "电线掉下来挂在树上",
        "手机没有信号",
        "宽带装了还没通",
        "电压低得灯都不亮",
    ),
    "道路交通": (
        "路灯坏了一个月",
        "村道塌了一大块",
        "桥面开裂车子不敢过",
        "班车一天只有一趟",
        "路上全是坑骑摩托摔了",
    ),
    "环境卫生": (
        "垃圾好久没人拖了",
        "猪场的粪水流到河里",
        "公共厕所臭得要命",
        "有人在河边烧垃圾",
        "养殖场的臭味熏得睡不着",
    ),
}


def write_ledger(path: Path, rows: list[tuple[str, str]], *, title: str | None = None) -> Path:
    """An office's own Excel 台账: an optional title row, then 问题描述 and 类别 columns."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
    sheet.append(["序号", "日期", "问题描述", "类别", "办理结果"])
    for number, (text, category) in enumerate(rows, start=1):
        sheet.append([number, "2025-03-01", text, category, "已办结"])
    book.save(path)
    return path


def town_ledger() -> list[tuple[str, str]]:
    rows = []
    for i, (word, category) in enumerate(TOWN_WORDS.items()):
        for j, opening in enumerate(OPENINGS):
            for k, ending in enumerate(ENDINGS[:3]):
                village = VILLAGES[(i + j + k) % len(VILLAGES)]
                text = opening.format(v=village, g=(j + k) % 9 + 1) + word + ending
                rows.append((text, category))
    return rows


def plain_ledger() -> list[tuple[str, str]]:
    rows = []
    for category, messages in PLAIN.items():
        for j, text in enumerate(messages):
            rows.append(
                (OPENINGS[j % len(OPENINGS)].format(v=VILLAGES[j % 3], g=j + 1) + text, category)
            )
    return rows


def test_a_ledger_with_the_towns_own_words_teaches_a_model_that_beats_the_rules(
    run_cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ledger = write_ledger(tmp_path / "2025台账.xlsx", town_ledger(), title="2025年诉求台账")
    result = run_cli("learn", "--from-ledger", str(ledger))
    assert result.exit_code == 0, result.output
    assert "读到 48 行，可用 48 行" in result.output
    model = LearnedModel.load(settings.instance_path / MODEL_FILE)
    assert model.examples == 48 and model.sources == {LEDGER: 48}
    # The rules read nearly all of these as "other"; the model, never having seen the row, rarely.
    assert model.rules_accuracy <= 0.25
    assert model.cv_accuracy >= 0.9 and model.beats_rules
    assert bot_texts.LEARN_USED.format(path="")[:8] in result.output

    # Asked only where the rules are unsure, it must do no worse than the rules there either.
    worse_where_asked = replace(
        model, unsure_rows=10, unsure_cv_accuracy=0.3, unsure_rules_accuracy=0.5
    )
    assert not worse_where_asked.beats_rules

    trusted = load_trusted(settings.instance_path)
    assert trusted is not None
    villages = ("张家村", "李家村", "九湖村")
    rules = GrievanceParser(load_taxonomy(), villages)
    helped = GrievanceParser(load_taxonomy(), villages, second_opinion=trusted)
    text = "九湖村3组有人问光伏板安装要找哪个"
    alone = rules.parse(text, "九湖村", 3)
    assert "category" in alone.unsure_fields and alone.category == "other"
    second = helped.parse(text, "九湖村", 3)
    assert second.category == "power" and second.second_opinion
    # A message the rules are sure of is never put to the model.
    sure = helped.parse("九湖村3组停电两天了", "九湖村", 3)
    assert sure.category == "power" and not sure.second_opinion


def test_a_model_that_scores_below_the_rules_is_saved_but_not_used(
    run_cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ledger = write_ledger(tmp_path / "ledger.xlsx", plain_ledger())
    result = run_cli("learn", "--from-ledger", str(ledger))
    assert result.exit_code == 0, result.output
    model = LearnedModel.load(settings.instance_path / MODEL_FILE)
    assert model.rules_accuracy == 1.0 and not model.beats_rules
    assert bot_texts.LEARN_NOT_USED.format(path="")[:8] in result.output
    assert load_trusted(settings.instance_path) is None
    # Even handed to a parser by hand, an untrusted model changes nothing.
    parser = GrievanceParser(load_taxonomy(), ("九湖村",), second_opinion=model)
    unsure = parser.parse("九湖村3组有人问光伏板安装要找哪个", "九湖村", 3)
    assert unsure.category == "other" and not unsure.second_opinion


def test_a_ledger_without_the_columns_is_refused_by_name(
    run_cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "电话"])
    book.save(tmp_path / "people.xlsx")
    result = run_cli("learn", "--from-ledger", str(tmp_path / "people.xlsx"))
    assert result.exit_code != 0 and "people.xlsx" in result.output
    assert not (settings.instance_path / MODEL_FILE).exists()


def test_too_few_labelled_tickets_learn_nothing(
    run_cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ledger = write_ledger(tmp_path / "small.xlsx", plain_ledger()[:5])
    result = run_cli("learn", "--from-ledger", str(ledger))
    assert result.exit_code != 0 and "样本不够" in result.output
    assert not (settings.instance_path / MODEL_FILE).exists()


def test_our_own_report_xlsx_and_the_towns_corrections_are_labels(
    client: FlaskClient, phone: Phone, engine: Engine, run_cli, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    town: SmallTown = build_small_town(engine)
    openid = town.openid("reporter")
    say(client, phone, openid, "我们组有户人家的狗咬人")
    say(client, phone, openid, "改 类别 治安")  # 改 类别: a labelled example
    say(client, phone, openid, "路灯坏了好几天了")
    say(client, phone, openid, "改 紧急")  # the urgency alone: the category is no label
    taxonomy = load_taxonomy()
    with Session(engine) as session:
        [example] = labelled_tickets(session, taxonomy)
    assert example.category == "safety" and example.source == CORRECTED
    assert "狗咬人" in example.text

    # The 台账 our `report --xlsx` writes reads back as labelled rows (问题摘要, 问题类别).
    for messages in PLAIN.values():
        for text in messages:
            say(client, phone, openid, text)
    path = tmp_path / "report.xlsx"
    assert run_cli("report", "--xlsx", str(path)).exit_code == 0
    result = run_cli("learn", "--from-ledger", str(path))
    assert result.exit_code == 0, result.output
    model = LearnedModel.load(settings.instance_path / MODEL_FILE)
    assert model.sources[LEDGER] == 22 and model.sources[CORRECTED] == 1
