"""The roster and demo commands as the township office runs them, through click's CliRunner."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import Engine, func
from sqlmodel import Session, select

import models.db
from bot.phone import Phone
from config.settings import get_settings
from handlers import texts
from models.person import Person
from models.place import Place
from models.roster import HEADERS
from tests.builders import say
from tests.models.test_roster import GOOD

RunCli = Callable[..., Result]


def person_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Person)).one())


def fill_template(path: Path, rows: list[list[Any]]) -> None:
    """What a clerk does: open the template, overwrite the example row, add the rest, save."""
    workbook = load_workbook(path)
    sheet = workbook["名册"]
    for offset, row in enumerate(rows):
        for column, value in enumerate(row, 1):
            sheet.cell(row=2 + offset, column=column, value=value)
    workbook.save(path)


def test_template_fill_import_export_round_trip(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    template = tmp_path / "名册.xlsx"
    result = run_cli("roster", "template", str(template))
    assert result.exit_code == 0, result.output
    headers = [c.value for c in next(load_workbook(template)["名册"].iter_rows(max_row=1))]
    assert headers[:3] == ["姓名", "手机号", "角色"]
    fill_template(template, GOOD)

    result = run_cli("roster", "import", str(template), "--town", "清溪镇", "--county", "桃江县")
    assert result.exit_code == 0, result.output
    assert "新增 14 人" in result.output and person_count(engine) == 14

    for name in ("导出.xlsx", "导出.csv"):
        exported = tmp_path / name
        result = run_cli("roster", "export", str(exported))
        assert result.exit_code == 0, result.output
        assert "14 人" in result.output
        again = run_cli("roster", "import", str(exported))
        assert again.exit_code == 0, again.output
        assert "新增 0 人，更新 0 人，停用 0 人，未变 14 人" in again.output
    assert person_count(engine) == 14


def test_a_bad_file_exits_non_zero_and_lists_its_rows(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    good = tmp_path / "good.xlsx"
    run_cli("roster", "template", str(good))
    fill_template(good, GOOD)
    assert run_cli("roster", "import", str(good), "--town", "清溪镇").exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "姓名,手机号,角色\n王强,13900000001,领导\n,13900000002,镇长\n李四,123,神仙\n",
        encoding="utf-8",
    )
    result = run_cli("roster", "import", str(bad))
    assert result.exit_code == 1
    assert "第3行“姓名”" in result.output and "第4行“手机号”" in result.output
    assert "第4行“角色”" in result.output and "名册未做任何改动" in result.output
    with Session(engine) as session:
        assert all(p.active for p in session.exec(select(Person)))


def test_invite_prints_a_code_that_then_binds(
    run_cli: RunCli, engine: Engine, tmp_path: Path, client: FlaskClient, phone: Phone
) -> None:
    sheet = tmp_path / "roster.xlsx"
    run_cli("roster", "template", str(sheet))
    fill_template(sheet, GOOD)
    assert run_cli("roster", "import", str(sheet), "--town", "清溪镇").exit_code == 0

    result = run_cli("roster", "invite", "郑华")
    assert result.exit_code == 0, result.output
    match = re.search(r"邀请码：(\d{6})", result.output)
    assert match is not None, result.output
    code = match.group(1)
    assert "有效期至" in result.output and "只能用一次" in result.output
    reply = say(client, phone, "openid-zheng", f"绑定 {code}")
    assert reply == texts.BIND_OK_HANDLER.format(name="郑华", roles="包村干部")
    with Session(engine) as session:
        zheng = session.exec(select(Person).where(Person.name == "郑华")).one()
        assert zheng.wechat_openid == "openid-zheng"
    assert say(client, phone, "openid-other", f"绑定 {code}").startswith(texts.BIND_BAD_CODE)

    by_phone = run_cli("roster", "invite", "139 0000 0001")
    assert by_phone.exit_code == 0 and "王强" in by_phone.output
    assert run_cli("roster", "invite", "不存在").exit_code == 1


def test_invite_asks_for_a_phone_when_names_repeat(run_cli: RunCli, tmp_path: Path) -> None:
    rows = [list(row) for row in GOOD]
    rows[13][0] = "蒋兰"  # two 蒋兰 now
    sheet = tmp_path / "roster.xlsx"
    run_cli("roster", "template", str(sheet))
    fill_template(sheet, rows)
    assert run_cli("roster", "import", str(sheet), "--town", "清溪镇").exit_code == 0
    result = run_cli("roster", "invite", "蒋兰")
    assert result.exit_code == 1
    assert "13900000012" in result.output and "13900000014" in result.output


def test_demo_seed_once_and_only_into_an_empty_database(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    result = run_cli("demo", "seed")
    assert result.exit_code == 0, result.output
    assert "1038 名邻长" in result.output
    count = person_count(engine)
    again = run_cli("demo", "seed")
    assert again.exit_code == 0 and "已经在数据库里" in again.output
    assert person_count(engine) == count


def test_demo_seed_refuses_a_database_with_another_roster(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    sheet = tmp_path / "roster.xlsx"
    run_cli("roster", "template", str(sheet))
    fill_template(sheet, GOOD)
    assert run_cli("roster", "import", str(sheet), "--town", "清溪镇").exit_code == 0
    result = run_cli("demo", "seed")
    assert result.exit_code == 1 and person_count(engine) == 14


@pytest.fixture
def quiet_serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """`serve` up to the point it would listen: no socket, no worker thread, no signal handler."""
    served: list[str] = []
    engines: list[Engine] = []

    def make_engine(url: str, **kwargs: Any) -> Engine:
        engines.append(models.db.make_engine(url, **kwargs))
        return engines[-1]

    monkeypatch.setattr("waitress.serve", lambda app, **kw: served.append(kw["host"]))
    monkeypatch.setattr("bot.cli.run_worker", lambda *args, **kw: None)
    monkeypatch.setattr("bot.cli.make_engine", make_engine)
    monkeypatch.setattr("signal.signal", lambda *args: None)
    yield served
    for engine in engines:  # serve keeps its engine for the life of the process; a test may not
        engine.dispose()


def test_first_development_start_seeds_the_demo_town(
    run_cli: RunCli, engine: Engine, quiet_serve: list[str]
) -> None:
    result = run_cli("serve", "--port", "0")
    assert result.exit_code == 0, result.output
    assert quiet_serve == ["127.0.0.1"]
    assert "大栗港镇" in result.output
    with Session(engine) as session:
        town = session.exec(select(Place).where(Place.kind == "town")).one()
        assert town.name == "大栗港镇"
    count = person_count(engine)
    # The second start finds people and leaves them alone.
    second = run_cli("serve", "--port", "0")
    assert second.exit_code == 0 and "大栗港镇" not in second.output
    assert person_count(engine) == count


def test_production_start_never_seeds(
    run_cli: RunCli, engine: Engine, quiet_serve: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIEVANCE_ENV", "production")
    monkeypatch.setenv("GRIEVANCE_WECHAT_TOKEN", "prod-token-9f3a")
    monkeypatch.setenv("GRIEVANCE_WECHAT_APPID", "wxprod000000001")
    monkeypatch.setenv("GRIEVANCE_WECHAT_AES_KEY", "k" * 43)
    monkeypatch.setenv("GRIEVANCE_WECHAT_SECRET", "prod-secret-77aa")
    get_settings.cache_clear()
    result = run_cli("serve", "--port", "0")
    assert result.exit_code == 0, result.output
    assert quiet_serve == ["127.0.0.1"]
    assert person_count(engine) == 0


def write_csv_sheet(path: Path, rows: list[list[Any]]) -> Path:
    """A .csv as a clerk saves it from Excel: text as typed, no formulas (CSV has none)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(HEADERS.values()))
        writer.writerows(rows)
    return path


FORMULA = '=HYPERLINK("http://evil","点我")'


def test_names_that_start_like_formulas_are_refused_by_row_and_column(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    rows = [list(row) for row in GOOD]
    # Rows nobody names as 上级 (sheet rows 5, 7, 13, 14, 15), so only the names are wrong.
    bad_names = {3: FORMULA, 5: "+张三", 11: "-李四", 12: "@王五", 13: "＝赵六"}
    for index, name in bad_names.items():
        rows[index][0] = name
    sheet = write_csv_sheet(tmp_path / "名册.csv", rows)
    result = run_cli("roster", "import", str(sheet), "--town", "清溪镇")
    assert result.exit_code == 1
    for index in bad_names:
        assert f"第{index + 2}行“姓名”" in result.output, result.output
    assert "不能以 = + - @ 开头" in result.output and person_count(engine) == 0


def test_export_writes_typed_text_as_text_and_imports_back_unchanged(
    run_cli: RunCli, engine: Engine, tmp_path: Path
) -> None:
    rows = [list(row) for row in GOOD]
    typed = {0: FORMULA, 1: "-", 2: "+1", 3: "@调度", 4: "＠站长", 5: "\t=1+1"}
    for index, title in typed.items():
        rows[index][3] = title  # 职务, as typed; kept as typed
    rows[3][10] = "@sun-li"  # a 企业微信账号 may start with @ or -
    sheet = write_csv_sheet(tmp_path / "名册.csv", rows)
    result = run_cli("roster", "import", str(sheet), "--town", "清溪镇")
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        titles = {p.name: p.title for p in session.exec(select(Person))}
    # Stored as read (outer whitespace and full-width forms folded as for every cell).
    assert titles["王强"] == FORMULA and titles["李明"] == "-" and titles["周平"] == "@站长"

    exported = tmp_path / "导出.xlsx"
    assert run_cli("roster", "export", str(exported)).exit_code == 0
    workbook = load_workbook(exported)
    cells = [cell for ws in workbook for row in ws.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    by_name = {row[0].value: row for row in workbook["名册"].iter_rows(min_row=2)}
    assert by_name["王强"][3].value == FORMULA and by_name["王强"][3].quotePrefix
    assert by_name["孙丽"][10].value == "@sun-li" and by_name["孙丽"][10].data_type == "s"
    assert by_name["吴敏"][3].value == "=1+1"

    exported_csv = tmp_path / "导出.csv"
    assert run_cli("roster", "export", str(exported_csv)).exit_code == 0
    with exported_csv.open(encoding="utf-8-sig", newline="") as handle:
        fields = [field for line in csv.reader(handle) for field in line]
    assert not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + FORMULA in fields and "'-" in fields and "'@sun-li" in fields

    for path in (exported, exported_csv):
        again = run_cli("roster", "import", str(path))
        assert again.exit_code == 0, again.output
        assert "新增 0 人，更新 0 人，停用 0 人，未变 14 人" in again.output


def test_template_cells_are_text(run_cli: RunCli, tmp_path: Path) -> None:
    template = tmp_path / "模板.xlsx"
    assert run_cli("roster", "template", str(template)).exit_code == 0
    workbook = load_workbook(template)
    example = [cell for cell in workbook["名册"][2]]
    assert [c.value for c in example[:3]] == ["张三", "13800000000", "邻长"]
    assert all(c.data_type == "s" and c.number_format == "@" for c in example if c.value)
