"""`grievance-bot report` as a clerk runs it: the table, --json and the 台账 workbook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.app import create_app
from bot.cli_report import display_width, mask_phone, score_explanation
from bot.phone import Phone
from config.figures import load_figures_config
from config.settings import Settings
from config.taxonomy import load_taxonomy
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
        road = load_taxonomy().get("road").name  # the office's taxonomy (here the default)
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
    merged = [s for s in town_specs(county) if s.state.value == "duplicate"]
    assert merged  # the 台账 lists them too, though they are not collected
    listed = collected + merged
    assert f"台账表 {len(listed)} 件（含并入其他工单的重复件 {len(merged)} 件" in result.output

    workbook = load_workbook(path)
    assert workbook.sheetnames == ["汇总", "台账"]
    ledger = workbook["台账"]
    rows = list(ledger.iter_rows(values_only=True))
    headers, body = rows[0], rows[1:]
    assert headers[:6] == (
        "工单号",
        "受理时间",
        "首次派单时间",
        "最近派单时间",
        "首次签收时间",
        "最近签收时间",
    )
    assert all(re.search(r"[\u4e00-\u9fff]", str(h)) for h in headers)
    assert sorted(row[0] for row in body) == sorted(s.id for s in listed)
    assert ledger.freeze_panes == "A2"
    assert ledger.column_dimensions["A"].width == 8
    assert ledger.column_dimensions["R"].width == 40  # 问题摘要

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


# ---------------------------------------------------------------- the 台账 of a worked season


class Clock:
    """The app's clock, moved on by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int = 0) -> datetime:
        """Move to this time of the same day (Asia/Shanghai)."""
        local = self.now.astimezone(SHANGHAI).replace(hour=hour, minute=minute)
        self.now = local.astimezone(UTC)
        return self.now


NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")


class Office:
    """Phones of the small town talking to one app whose clock the test moves."""

    def __init__(self, engine: Engine, settings: Settings, wecom: Phone, phone: Phone) -> None:
        self.engine, self.phone, self.wecom = engine, phone, wecom
        self.town = build_small_town(engine)
        self.clock = Clock(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai
        self.client = create_app(settings, engine=engine, clock=self.clock).test_client()

    def report(self, text: str, key: str = "reporter") -> int:
        """A 邻长 reports a problem; the new ticket's number."""
        say(self.client, self.phone, self.town.openid(key), text)
        with Session(self.engine) as session:
            newest = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
            assert newest is not None and newest.id is not None
            return newest.id

    def says(self, key: str, text: str) -> str:
        """A cadre, a dispatcher (企业微信) or a 邻长 (公众号) says something."""
        person = self.town.people[key]
        if person.wecom_userid:
            return say(self.client, self.wecom, person.wecom_userid, text)
        return say(self.client, self.phone, self.town.openid(key), text)

    def assignee(self, ticket_id: int) -> str:
        """The key of the ticket's assignee in the town."""
        with Session(self.engine) as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
        return next(k for k, p in self.town.people.items() if p.id == ticket.assignee_id)


@pytest.fixture
def office(engine: Engine, settings: Settings, wecom_phone: Phone, phone: Phone) -> Office:
    return Office(engine, settings, wecom_phone, phone)


def ledger_rows(run_cli: RunCli, path: Path) -> tuple[Result, dict[int, dict[str, Any]]]:
    """`report --xlsx` for November: the command's result and the 台账 rows by ticket number."""
    result = run_cli("report", *NOVEMBER, "--xlsx", str(path))
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(path)["台账"].iter_rows(values_only=True))
    headers = rows[0]
    return result, {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}


def test_ledger_keeps_the_first_and_the_latest_assignment_and_acknowledgement(
    office: Office, run_cli: RunCli, tmp_path: Path
) -> None:
    number = office.report("我们组的路灯坏了一个多月，晚上黑漆漆的")  # 派单 at 09:00
    first = office.assignee(number)
    office.clock.at(9, 30)
    office.says(first, f"签收 {number}")
    office.clock.at(10, 0)
    reply = office.says(first, f"转办 {number} 周干部")
    assert reply == texts.TRANSFERRED.format(id=number, name="周干部")
    office.clock.at(11, 0)
    office.says("colleague", f"签收 {number}")
    office.clock.at(12, 0)
    office.says("colleague", f"办结 {number} 已换灯泡")
    office.clock.at(13, 0)
    office.says("reporter", f"不满意 {number} 还是不亮")  # 重办: assigned again at 13:00
    office.clock.at(14, 0)
    office.says("colleague", f"签收 {number}")

    _, rows = ledger_rows(run_cli, tmp_path / "台账.xlsx")
    row = rows[number]
    assert row["首次派单时间"] == "2026-11-02 09:00"
    assert row["最近派单时间"] == "2026-11-02 13:00"
    assert row["首次签收时间"] == "2026-11-02 09:30"
    assert row["最近签收时间"] == "2026-11-02 14:00"
    assert row["承办人"] == "周干部" and row["重办次数"] == 1


def test_a_refused_return_is_no_return_in_the_rate_or_the_ledger(
    office: Office, run_cli: RunCli, tmp_path: Path
) -> None:
    refused = office.report("我们组两家为田边界吵架")
    office.says(office.assignee(refused), f"退回 {refused} 不归我管")
    office.says("dispatcher", f"驳回 {refused} 属于本村调解范围")
    approved = office.report("我们组两家为宅基地吵架", key="reporter2")
    office.says(office.assignee(approved), f"退回 {approved} 这是镇司法所的事")
    office.says("dispatcher", f"同意 {approved}")
    waiting = office.report("我们组的水渠堵了，田里放不了水")
    office.says(office.assignee(waiting), f"退回 {waiting} 不是村里的事")

    overall = json.loads(run_cli("report", *NOVEMBER, "--json").output)["overall"]
    # One 退单 the dispatcher agreed to, of three tickets assigned: the refused one and the one
    # still waiting for a decision are not 退单.
    assert (overall["returned"], overall["assigned"]) == (1, 3)
    assert overall["return_rate"] == round(1 / 3, 4)
    _, rows = ledger_rows(run_cli, tmp_path / "台账.xlsx")
    assert {n: rows[n]["退单次数"] for n in (refused, approved, waiting)} == {
        refused: 0,
        approved: 1,
        waiting: 0,
    }


def test_merged_tickets_are_in_the_ledger_but_not_collected(
    office: Office, run_cli: RunCli, tmp_path: Path
) -> None:
    kept = office.report("我们组的路灯坏了一个多月，晚上黑漆漆的")
    office.clock.at(10, 0)
    duplicate = office.report("张家村3组路灯坏了好久了", key="reporter2")
    assert office.says("dispatcher", f"合并 {duplicate} {kept}") == texts.MERGED.format(
        id=duplicate, target=kept
    )

    result, rows = ledger_rows(run_cli, tmp_path / "台账.xlsx")
    assert set(rows) == {kept, duplicate}
    assert "台账表 2 件（含并入其他工单的重复件 1 件" in result.output
    assert rows[duplicate]["状态"] == "重复" and rows[duplicate]["并入工单"] == f"#{kept}"
    assert rows[duplicate]["受理时间"] == "2026-11-02 10:00"
    assert rows[kept]["并入工单"] is None
    overall = json.loads(run_cli("report", *NOVEMBER, "--json").output)["overall"]
    assert overall["collected"] == 1  # DESIGN.md: 收集 excludes duplicates


def test_the_summary_sheet_and_the_readme_explain_the_figures(
    run_cli: RunCli, county: County, tmp_path: Path
) -> None:
    path = tmp_path / "台账.xlsx"
    assert run_cli("report", *PERIOD, "--place", "桃花镇", "--xlsx", str(path)).exit_code == 0
    lines = [row[0] for row in load_workbook(path)["汇总"].iter_rows(values_only=True) if row]
    config = load_figures_config(taxonomy=load_taxonomy())
    explanation = score_explanation(config)
    # The weights of config/figures.toml, each rate by its Chinese name; the lower-is-better
    # ones as (1 - rate).
    assert explanation[0] == (
        "综合得分 =（解决率×0.3 + 响应率×0.15 + 按时办结率×0.2 + 满意率×0.25 + "
        "（1 - 重办率）×0.05 + （1 - 退单率）×0.05）÷ 1（权重之和）× 100，满分100。"
    )
    assert [config.weights[name] for name in ("resolution_rate", "participation_rate")] == [
        0.3,
        0.0,
    ]
    for line in [*texts.REPORT_DEFINITIONS.values(), *explanation]:
        assert line in lines
    # The README says the same, word for word, so the office reads one definition everywhere.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for line in [*texts.REPORT_DEFINITIONS.values(), *explanation]:
        assert line in readme, line
