"""Importing the town's sheet as a clerk writes it: all or nothing, idempotent, updates in place."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from demo.town import DemoTown
from models.db import make_engine, read_session, unit_of_work
from models.person import Coverage, Person, PersonRole, Role, Unit
from models.place import Place
from models.roster import (
    HEADERS,
    ImportResult,
    export_roster,
    find_town,
    import_roster,
    parse_group_number,
    read_sheet,
    write_template,
)
from tests.demo.test_town import dump

pytest_plugins = ["tests.demo"]  # the demo_town fixture

HEADER = list(HEADERS.values())  # the template's headers; the variants have their own test


def table(text: str) -> list[list[Any]]:
    """Rows written one a line, cells separated by |, as a clerk would fill the sheet."""
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


# A small town as a clerk would fill it: several role spellings, unit names with and without 镇,
# group numbers written three ways, a phone with spaces, a supervisor given by phone.
# 姓名|手机号|角色|职务|片区|村(社区)|组|单位|负责村|上级|企业微信账号
GOOD = table("""
王强|13900000001|党委书记|党委书记|||||||wang-qiang
李明|13900000002|镇长|镇长||||||王强|
赵刚|139 0000 0003|分管领导|副镇长||||||李明|
孙丽|13900000004|调度员|||||||赵刚|sun-li
周平|13900000005|站长|||||镇水利站||赵刚|
吴敏|13900000006|站所成员|||||水利站||周平|
郑华|13900000007|包村干部||||||青山村、白石村|赵刚|zheng-hua
冯军|13900000008|村支书||东片|青山村||||郑华|
陈云|13900000009|村主任||东片|白石村||||郑华|
褚红|13900000010|片长|||青山村||||冯军|
卫东|13900000011|组长|||青山村|1|||褚红|
蒋兰|13900000012|邻长|||青山村|1组|||卫东|
沈梅|13900000013|邻长|||白石村|第二组|||陈云|
韩桂|13900000014|邻长|||青山村|三组|||13900000011|
""")
TOWN = {"town_name": "清溪镇", "county_name": "桃江县"}


def write_xlsx(
    path: Path, rows: list[list[Any]], header: list[str] = HEADER, title: str = ""
) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_csv(
    path: Path, rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8-sig"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_import(engine: Engine, path: Path, **town: str) -> ImportResult:
    with unit_of_work(engine) as session:
        return import_roster(session, path, **town)


def people(engine: Engine) -> dict[str, Person]:
    with Session(engine) as session:
        return {p.phone: p for p in session.exec(select(Person))}


@pytest.fixture(params=["xlsx", "csv"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def sheet(tmp_path: Path, fmt: str, rows: list[list[Any]], name: str = "roster") -> Path:
    path = tmp_path / f"{name}.{fmt}"
    return write_xlsx(path, rows) if fmt == "xlsx" else write_csv(path, rows)


def test_good_sheet_builds_the_town(engine: Engine, tmp_path: Path, fmt: str) -> None:
    result = run_import(engine, sheet(tmp_path, fmt, GOOD), **TOWN)
    assert result.errors == []
    assert (result.added, result.updated, result.deactivated) == (14, 0, 0)
    # county, town, 东片, 青山村, 白石村, 青山村 1组 and 3组, 白石村 2组
    assert result.places_added == 8 and result.units_added == 1
    with Session(engine) as session:
        by_phone = {p.phone: p for p in session.exec(select(Person))}
        ids = {p.id: p for p in by_phone.values()}
        han = by_phone["13900000014"]
        group = session.get(Place, han.place_id)
        assert group is not None and (group.name, group.number) == ("3组", 3)
        assert ids[han.supervisor_id].name == "卫东"  # supervisor given by phone
        assert by_phone["13900000003"].name == "赵刚"  # spaces in the phone are tolerated
        unit = session.exec(select(Unit)).one()
        assert unit.name == "水利站"  # 镇水利站 and 水利站 are one unit
        assert by_phone["13900000005"].unit_id == by_phone["13900000006"].unit_id == unit.id
        roles = {(ids[r.person_id].name, r.role) for r in session.exec(select(PersonRole))}
        assert ("王强", Role.leader) in roles and ("周平", Role.unit_head) in roles
        assert ("冯军", Role.village_cadre) in roles and ("陈云", Role.village_cadre) in roles
        covers = {
            (ids[c.person_id].name, session.get(Place, c.place_id).name, c.role)  # type: ignore[union-attr]
            for c in session.exec(select(Coverage))
        }
        assert covers == {
            ("郑华", "青山村", Role.liaison),
            ("郑华", "白石村", Role.liaison),
            ("冯军", "青山村", Role.village_cadre),  # a village cadre covers their own village
            ("陈云", "白石村", Role.village_cadre),
        }
        assert by_phone["13900000007"].wecom_userid == "zheng-hua"


def test_reimport_changes_nothing(engine: Engine, tmp_path: Path, fmt: str) -> None:
    path = sheet(tmp_path, fmt, GOOD)
    run_import(engine, path, **TOWN)
    before = dump(engine)
    again = run_import(engine, path)  # the only town now: no --town needed
    assert again.errors == []
    assert (again.added, again.updated, again.deactivated, again.unchanged) == (0, 0, 0, 14)
    assert (again.places_added, again.units_added) == (0, 0)
    assert dump(engine) == before


def test_edited_sheet_updates_in_place(engine: Engine, tmp_path: Path, fmt: str) -> None:
    run_import(engine, sheet(tmp_path, fmt, GOOD), **TOWN)
    ids_before = {phone: p.id for phone, p in people(engine).items()}
    edited = [list(row) for row in GOOD]
    edited[11][0], edited[11][6] = "蒋兰英", "3"  # renamed and moved to group 3
    edited[6][8] = "青山村"  # 郑华 keeps one village only
    edited[6][10], edited[7][10] = "zheng-hua-2", "zheng-hua"  # a userid passes to 冯军
    result = run_import(engine, sheet(tmp_path, fmt, edited, "edited"))
    assert result.errors == []
    assert (result.added, result.updated, result.unchanged) == (0, 3, 11)
    after = people(engine)
    assert {phone: p.id for phone, p in after.items()} == ids_before  # no duplicates, same ids
    assert after["13900000012"].name == "蒋兰英"
    assert after["13900000008"].wecom_userid == "zheng-hua"
    with Session(engine) as session:
        place = session.get(Place, after["13900000012"].place_id)
        assert place is not None and place.number == 3
        liaison_villages = session.exec(
            select(Coverage).where(Coverage.person_id == after["13900000007"].id)
        ).all()
        assert len(liaison_villages) == 1


def test_dropped_people_are_deactivated_not_deleted(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    run_import(engine, sheet(tmp_path, fmt, GOOD), **TOWN)
    with unit_of_work(engine) as session:
        han = session.exec(select(Person).where(Person.phone == "13900000014")).one()
        han.wechat_openid = "openid-han"
        session.add(han)
    result = run_import(engine, sheet(tmp_path, fmt, GOOD[:-1], "dropped"))
    assert result.errors == []
    assert (result.deactivated, result.unchanged) == (1, 13)
    han = people(engine)["13900000014"]
    assert han.active is False and han.wechat_openid is None  # kept, but no longer bound
    back = run_import(engine, sheet(tmp_path, fmt, GOOD, "back"))
    assert (back.added, back.updated, back.unchanged) == (0, 1, 13)
    assert people(engine)["13900000014"].active is True


# Sheet rows 3–10 (after the header and one good row), each with exactly one problem, and the
# column the problem must name.
# 姓名|手机号|角色|职务|片区|村(社区)|组|单位|负责村|上级|the column named (not 企业微信账号)
BAD = table("""
|13900000002|镇长|||||||王强|姓名
赵刚|1390000003|分管领导|||||||王强|手机号
孙丽|13900000004|村长助理|||||||王强|角色
冯军|13900000008|村支书|||红旗村||||王强|村(社区)
陈云|13900000009|村主任||东片|白石村||||马六|上级
蒋兰|13900000001|邻长|||白石村|2|||陈云|手机号
沈梅|13900000013|邻长|||白石村|甲组|||陈云|组
郑华|13900000007|包村干部||||||黑山村|王强|负责村
""")
BAD_ROWS = {number: ([*row[:-1], ""], row[-1]) for number, row in enumerate(BAD, 3)}


def test_bad_sheet_changes_nothing_and_names_every_bad_row(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    run_import(engine, sheet(tmp_path, fmt, GOOD), **TOWN)
    before = dump(engine)
    # The first row is fine; every other row has exactly one problem.
    rows = [GOOD[0]] + [row for row, _column in BAD_ROWS.values()]
    result = run_import(engine, sheet(tmp_path, fmt, rows, "bad"))
    assert not result.ok and result.added == result.updated == result.deactivated == 0
    named = {(p.row, p.column) for p in result.errors}
    for number, (_row, column) in BAD_ROWS.items():
        assert (number, column) in named, (number, column, [str(p) for p in result.errors])
    assert all(p.row in BAD_ROWS for p in result.errors)
    messages = [str(p) for p in result.errors]
    assert any(m.startswith("第4行“手机号”") and "1390000003" in m for m in messages)
    assert any("第2行" in m for m in messages if m.startswith("第8行"))  # the duplicate phone
    assert "名册未做任何改动" in result.summary()
    assert dump(engine) == before  # nobody dropped, nothing added


def test_a_bad_row_does_not_drag_its_dependants_down(engine: Engine, tmp_path: Path) -> None:
    rows = [list(row) for row in GOOD]
    rows[6][1] = "1390000000"  # 郑华's phone is short; 冯军 and 陈云 name him as their 上级
    rows[7][2] = "村长助理"  # 冯军's role is unknown; his row alone names 青山村's 片区
    result = run_import(engine, write_xlsx(tmp_path / "b.xlsx", rows), **TOWN)
    assert [(p.row, p.column) for p in result.errors] == [(8, "手机号"), (9, "角色")]


def test_supervisor_cycles_and_ambiguous_names_are_problems(engine: Engine, tmp_path: Path) -> None:
    rows = [
        ["甲", "13900000001", "领导", "", "", "", "", "", "", "乙", ""],
        ["乙", "13900000002", "领导", "", "", "", "", "", "", "甲", ""],
        ["丙", "13900000003", "调度员", "", "", "", "", "", "", "丙", ""],
        ["丁", "13900000004", "调度员", "", "", "", "", "", "", "", ""],
        ["丁", "13900000005", "调度员", "", "", "", "", "", "", "", ""],
        ["戊", "13900000006", "调度员", "", "", "", "", "", "", "丁", ""],
    ]
    result = run_import(engine, write_xlsx(tmp_path / "c.xlsx", rows), **TOWN)
    messages = [str(p) for p in result.errors]
    assert any("循环" in m and m.startswith("第2行") for m in messages)
    assert any("本人" in m and m.startswith("第4行") for m in messages)
    assert any("2人叫“丁”" in m and m.startswith("第7行") for m in messages)
    with read_session(engine) as session:
        assert session.exec(select(Place)).first() is None  # not even the town was made


def test_clerk_header_variants_title_row_and_gbk_csv(engine: Engine, tmp_path: Path) -> None:
    header = ["序号", "姓名", "联系电话", "身份", "片区", "村/社区", "村民小组", "备注"]
    rows = [
        [1, "冯军", 13900000008, "村支书", "东片", "青山村", None, "一肩挑"],
        [2, "蒋兰", 13900000012, "邻长", None, "青山", 1.0, None],  # 青山 finds 青山村
    ]
    xlsx = write_xlsx(tmp_path / "v.xlsx", rows, header, title="清溪镇三长制人员名册")
    result = run_import(engine, xlsx, **TOWN)
    assert result.errors == [] and result.added == 2
    gbk_rows = [[str(v) if v is not None else "" for v in r] for r in rows]
    gbk_rows[1][6] = "1"
    gbk = write_csv(tmp_path / "v.csv", gbk_rows, header, encoding="gbk")
    again = run_import(engine, gbk)
    assert again.errors == [] and again.unchanged == 2
    with read_session(engine) as session:
        villages = session.exec(select(Place.name).where(Place.kind == "village")).all()
        assert villages == ["青山村"]


def test_empty_sheet_and_template_alone_are_refused(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, write_xlsx(tmp_path / "g.xlsx", GOOD), **TOWN)
    template = tmp_path / "template.xlsx"
    write_template(template)
    read = read_sheet(template)
    assert [c for c in read.columns] == [
        "name", "phone", "roles", "title", "zone", "village", "group", "unit", "covers",
        "supervisor", "wecom",
    ]  # fmt: skip
    assert len(read.rows) == 1  # the example row
    result = run_import(engine, template)
    assert result.skipped_example and not result.ok  # would otherwise drop everybody
    assert all(p.active for p in people(engine).values())
    missing = run_import(engine, write_csv(tmp_path / "m.csv", [["x"]], ["姓名", "备注"]))
    assert any("手机号" in str(p) for p in missing.errors)


def test_group_numbers_as_written() -> None:
    cases = {"3": 3, "03": 3, "3组": 3, "第3组": 3, "三组": 3, "第十二组": 12, "二十": 20, "3队": 3}
    assert {text: parse_group_number(text) for text in cases} == cases
    assert parse_group_number("甲组") is None and parse_group_number("十十") is None


def test_export_round_trips_through_import(
    engine: Engine, tmp_path: Path, fmt: str, sqlite_template: Path
) -> None:
    run_import(engine, sheet(tmp_path, fmt, GOOD), **TOWN)
    exported = tmp_path / f"export.{fmt}"
    with read_session(engine) as session:
        town = find_town(session)
        assert town is not None
        assert export_roster(session, exported, town) == 14
    before = dump(engine)
    result = run_import(engine, exported)
    assert result.errors == [] and result.unchanged == 14
    assert dump(engine) == before
    # Into an empty database the export rebuilds the same roster.
    other_path = tmp_path / "other.sqlite3"
    shutil.copyfile(sqlite_template, other_path)
    other = make_engine(f"sqlite:///{other_path}")
    try:
        rebuilt = run_import(other, exported, **TOWN)
        assert rebuilt.errors == [] and rebuilt.added == 14
        assert dump(other) == before
    finally:
        other.dispose()


def test_demo_town_export_round_trips(
    engine: Engine,
    demo_town: DemoTown,
    tmp_path: Path,
    fmt: str,
) -> None:
    exported = tmp_path / f"demo.{fmt}"
    with read_session(engine) as session:
        assert export_roster(session, exported, demo_town.town) == len(demo_town.people)
    before = dump(engine)
    result = run_import(engine, exported)
    assert result.errors == [] and result.unchanged == len(demo_town.people)
    assert dump(engine) == before
    with read_session(engine) as session:
        roles = session.exec(
            select(PersonRole.role).where(col(PersonRole.person_id) == demo_town.mayor.id)
        ).all()
        assert roles == [Role.leader.value]
