"""`grievance-bot report` as a clerk runs it: the table, --json and the 台账 workbook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cli_report import display_width, mask_phone
from bot.phone import Phone
from config.figures import load_figures_config
from handlers import texts
from models.figures import format_percent
from models.person import Person
from models.ticket import Ticket
from tests.builders import say
from tests.models.test_figures import (
    AS_OF,
    SHANGHAI,
    County,
    Spec,
    build_county,
    edge_cases,
    expected,
    in_period,
    in_town,
    random_tickets,
)
from tests.town import build_small_town

RunCli = Callable[..., Result]
PERIOD = ("--from", "2026-01-01", "--to", "2026-09-30")


@pytest.fixture
def county(engine: Engine) -> County:
    return build_county(engine, edge_cases() + random_tickets(seed=3, count=60))


def town_specs(county: County) -> list[Spec]:
    return [s for s in county.specs if in_town(county)(s)]


def test_table_shows_the_headline_rates_and_an_aligned_breakdown(
    run_cli: RunCli, county: County
) -> None:
    result = run_cli("report", *PERIOD, "--place", "桃花镇")
    assert result.exit_code == 0, result.output
    wanted = expected(town_specs(county), AS_OF, 8)
    lines = result.output.splitlines()
    assert lines[0] == (
        f"截至2026年9月30日，我镇{wanted.neighbour_heads}名邻长收集到群众“急难愁盼”民生问题"
        f"{wanted.collected}件，已解决{wanted.resolved}件，"
        f"解决率{format_percent((wanted.resolved, wanted.collected))}。"
    )
    assert f"超期未办结{wanted.overdue}件" in result.output
    assert f"满意率{format_percent((wanted.satisfied, wanted.rated))}" in result.output

    table = lines[lines.index("按村（社区）") + 1 :]
    assert table[0].split()[:3] == ["村（社区）", "收集", "已解决"]
    names = [line.split()[0] for line in table[1:]]
    assert names == ["张家村", "李家村", "王家村", "河口社区", "（未定村）", "合计"]
    # Right-aligned figures end in one column on every line, Chinese names counted double.
    assert len({display_width(line) for line in table}) == 1
    total = table[-1].split()
    assert total[1:3] == [str(wanted.collected), str(wanted.resolved)]


@pytest.mark.parametrize("by", ["zone", "category", "assignee"])
def test_other_breakdowns(run_cli: RunCli, county: County, by: str) -> None:
    result = run_cli("report", *PERIOD, "--place", "桃花镇", "--by", by)
    assert result.exit_code == 0, result.output
    title = {"zone": "按片区", "category": "按问题类别", "assignee": "按承办人"}[by]
    table = result.output.splitlines()
    table = table[table.index(title) + 1 :]
    rows = {line.split()[0]: line.split()[1] for line in table[1:]}
    specs = [
        s for s in town_specs(county) if s.state.value not in ("draft", "invalid", "duplicate")
    ]
    if by == "zone":
        wanted = {"东片": sum(1 for s in specs if county.zone_of.get(s.village or "") == "东片")}
    elif by == "category":
        road = load_figures_config().category_name("road")
        wanted = {road: sum(1 for s in specs if s.category == "road")}
    else:
        cadre = county.people["cadre:河口社区"].name
        wanted = {cadre: sum(1 for s in specs if s.assignee == "cadre:河口社区")}
    for name, count in wanted.items():
        assert rows[name] == str(count)
    assert rows["合计"] == str(len(specs))


def test_json_for_machines(run_cli: RunCli, county: County) -> None:
    result = run_cli("report", *PERIOD, "--place", "桃花镇", "--by", "village", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    wanted = expected(town_specs(county), AS_OF, 8)
    overall = data["overall"]
    for name in ("collected", "resolved", "overdue", "rated", "satisfied", "reporters"):
        assert overall[name] == getattr(wanted, name), name
    assert overall["neighbour_heads"] == 8
    assert overall["resolution_rate"] == round(wanted.resolved / wanted.collected, 4)
    assert overall["median_hours_to_resolve"] == pytest.approx(
        wanted.median_hours_to_resolve, abs=0.01
    )
    assert data["period"] == {
        "from": "2026-01-01",
        "to": "2026-09-30",
        "start": "2026-01-01T00:00:00+08:00",
        "end": "2026-10-01T00:00:00+08:00",
        "as_of": "2026-10-01T00:00:00+08:00",
    }
    assert data["headline"].startswith("截至2026年9月30日，我镇8名邻长")
    by_name = {row["name"]: row for row in data["breakdown"]}
    zhang = expected([s for s in town_specs(county) if s.village == "张家村"], AS_OF, 3)
    assert by_name["张家村"]["collected"] == zhang.collected
    assert by_name["张家村"]["reporters"] == zhang.reporters
    assert by_name["张家村"]["median_hours_to_resolve"] == pytest.approx(
        zhang.median_hours_to_resolve, abs=0.01
    )


def test_xlsx_ledger_has_one_row_per_ticket_masked_and_frozen(
    run_cli: RunCli, county: County, tmp_path: Path
) -> None:
    path = tmp_path / "台账.xlsx"
    result = run_cli("report", *PERIOD, "--place", "桃花镇", "--xlsx", str(path))
    assert result.exit_code == 0, result.output
    collected = [
        s for s in town_specs(county) if s.state.value not in ("draft", "invalid", "duplicate")
    ]
    assert f"台账表 {len(collected)} 件" in result.output

    workbook = load_workbook(path)
    assert workbook.sheetnames == ["汇总", "台账"]
    ledger = workbook["台账"]
    rows = list(ledger.iter_rows(values_only=True))
    headers, body = rows[0], rows[1:]
    assert headers[:4] == ("工单号", "受理时间", "派单时间", "签收时间")
    assert all(re.search(r"[\u4e00-\u9fff]", str(h)) for h in headers)
    assert sorted(row[0] for row in body) == sorted(s.id for s in collected)
    assert ledger.freeze_panes == "A2"
    assert ledger.column_dimensions["A"].width == 8
    assert ledger.column_dimensions["P"].width == 40  # 问题摘要

    column = {title: index for index, title in enumerate(headers)}
    phones = {p.phone for p in county.people.values()}
    for row in body:
        phone = row[column["反映人电话"]]
        assert re.fullmatch(r"\d{3}\*{4}\d{4}", phone), phone
        assert phone not in phones
    # Times are local (Asia/Shanghai): the first instant of the period is 2026-01-01 00:00.
    first = next(s for s in collected if s.note == "the first instant of the period")
    row = next(r for r in body if r[0] == first.id)
    assert row[column["受理时间"]] == "2026-01-01 00:00"
    assert row[column["群众评价"]] == "满意"
    assert row[column["村（社区）"]] == "张家村" and row[column["镇"]] == "桃花镇"
    unrated = next(s for s in collected if s.note == "auto-closed without a rating")
    assert next(r for r in body if r[0] == unrated.id)[column["群众评价"]] == "未评价（自动结案）"

    summary = workbook["汇总"]
    assert summary.freeze_panes == "B5"
    cells = list(summary.iter_rows(values_only=True))
    assert cells[0][0].startswith("截至2026年9月30日")
    assert cells[3][:3] == ("村（社区）", "收集", "已解决")
    total = next(r for r in cells if r[0] == "合计")
    assert total[1] == len(collected)


def test_place_names_that_repeat_need_their_town(run_cli: RunCli, county: County) -> None:
    result = run_cli("report", *PERIOD, "--place", "张家村")
    assert result.exit_code != 0
    assert "不止一个" in result.output and "杏林镇/张家村" in result.output
    result = run_cli("report", *PERIOD, "--place", "杏林镇/张家村", "--json")
    assert result.exit_code == 0, result.output
    mine = [s for s in county.specs if s.village == "杏林镇:张家村" and in_period(s)]
    assert json.loads(result.output)["overall"]["collected"] == expected(mine, AS_OF).collected
    result = run_cli("report", "--place", "没有这个村")
    assert result.exit_code != 0 and "没有叫“没有这个村”的地方" in result.output
    result = run_cli("report", "--from", "2026-09-30", "--to", "2026-01-01")
    assert result.exit_code != 0 and "统计期不对" in result.output


def test_default_period_is_this_year_up_to_now(run_cli: RunCli, county: County) -> None:
    result = run_cli("report", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    start = datetime(today.year, 1, 1, tzinfo=SHANGHAI)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    mine = [s for s in county.specs if start <= s.created < end]
    as_of = datetime.fromisoformat(data["period"]["as_of"])
    assert data["period"]["from"] == date(today.year, 1, 1).isoformat()
    assert data["overall"]["collected"] == expected(mine, as_of).collected
    assert data["place"] == "桃江县"  # two towns: the county speaks


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800000000", "138****0000"),
        ("15912345678", "159****5678"),
        (None, ""),
        ("12345", "*****"),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_xlsx_cells_typed_by_people_stay_text_never_formulas(
    run_cli: RunCli,
    engine: Engine,
    tmp_path: Path,
    client: FlaskClient,
    phone: Phone,
    wecom_phone: Phone,
) -> None:
    town = build_small_town(engine)
    attack = '=HYPERLINK("http://evil","点我")'
    say(client, phone, town.openid("reporter"), "+1 我们组的路灯坏了一个多月，+1")
    with Session(engine) as session:
        ticket = session.exec(select(Ticket)).one()
        cadre = session.get(Person, ticket.assignee_id)
    assert cadre is not None and cadre.wecom_userid
    assert say(client, wecom_phone, cadre.wecom_userid, f"签收 {ticket.id}")
    reply = say(client, wecom_phone, cadre.wecom_userid, f"办结 {ticket.id} {attack}")
    assert reply == texts.RESOLVED.format(id=ticket.id)

    path = tmp_path / "台账.xlsx"
    result = run_cli("report", "--xlsx", str(path))
    assert result.exit_code == 0, result.output
    workbook = load_workbook(path)
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    ledger = workbook["台账"]
    headers = [cell.value for cell in ledger[1]]
    row = ledger[2]
    result_cell = row[headers.index("办理结果")]
    assert result_cell.value == attack and result_cell.data_type == "s"
    assert result_cell.quotePrefix  # Excel keeps it text even when the clerk edits the cell
    summary = row[headers.index("问题摘要")]
    assert summary.value.startswith("+1") and summary.data_type == "s" and summary.quotePrefix
