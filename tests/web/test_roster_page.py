"""The office's roster page: check a sheet (nothing changes), apply it, invite, unlock."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from models.base import utcnow
from models.binding import bind_by_invite, hash_code
from models.db import unit_of_work
from models.person import BindingAttempt, InviteCode, Person
from tests.models.test_roster import GOOD, TOWN, run_import, write_csv, write_xlsx
from tests.web.conftest import LiveServer, shoot, submit
from web.links import sign_in_url

NEW_PERSON = ["杨帆", "13900000015", "邻长", "", "", "白石村", "2组", "", "", "陈云", ""]
BAD_ROWS = [
    *GOOD[:3],
    ["", "13900000021", "邻长", "", "", "青山村", "1组", "", "", "卫东", ""],
    ["马超", "1390000", "邻长", "", "", "青山村", "1组", "", "", "卫东", ""],
    *GOOD[3:],
]


@pytest.fixture
def town(engine: Engine, tmp_path: Path) -> dict[str, Person]:
    """清溪镇 from the roster tests' good sheet (孙丽 is its dispatcher)."""
    assert run_import(engine, write_xlsx(tmp_path / "first.xlsx", GOOD), **TOWN).ok
    with Session(engine) as session:
        return {p.name: p for p in session.exec(select(Person))}


def active_count(engine: Engine) -> int:
    with Session(engine) as session:
        stmt = select(func.count()).select_from(Person).where(Person.active == True)  # noqa: E712
        return int(session.exec(stmt).one())


def sign_in(page: Any, live: LiveServer, person: Person, target: str = "/office/roster") -> None:
    settings = live.app.extensions["grievance"]["settings"]
    assert person.id is not None
    page.goto(sign_in_url(settings, person.id, target, utcnow()))


def test_a_dispatcher_checks_a_bad_sheet_then_a_good_one_and_applies_it(
    live: LiveServer,
    engine: Engine,
    town: dict[str, Person],
    tmp_path: Path,
    desktop_page: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = desktop_page
    sign_in(page, live, town["孙丽"], "/")
    page.click("nav >> text=名册")
    page.wait_for_url(live.url + "/office/roster")
    shoot(page, "roster-desktop")

    bad = write_xlsx(tmp_path / "有错.xlsx", BAD_ROWS)
    page.set_input_files("#sheet", str(bad))
    submit(page, "#check")
    rows = page.locator("#problems tbody tr").all_inner_texts()
    assert len(rows) == 2, rows
    assert rows[0].split("\t")[:2] == ["5", "姓名"]
    assert rows[1].split("\t")[:2] == ["6", "手机号"]
    assert "共 2 处问题" in page.locator("#problems-summary").inner_text()
    assert page.locator("#apply").count() == 0
    shoot(page, "roster-problems-desktop")
    assert active_count(engine) == 14

    caplog.set_level(logging.INFO, logger="web.roster")
    good = write_csv(tmp_path / "新名册.csv", [*GOOD, NEW_PERSON])
    page.set_input_files("#sheet", str(good))
    submit(page, "#check")
    preview = page.locator("#preview-ok").inner_text()
    assert "检查通过，尚未改动名册" in preview and "新增 1 人" in preview, preview
    shoot(page, "roster-preview-desktop")
    assert active_count(engine) == 14  # the check changed nothing
    kept = list(
        (live.app.extensions["grievance"]["settings"].instance_path / "roster-uploads").iterdir()
    )
    assert len(kept) == 1 and re.fullmatch(r"[0-9a-f]{32}\.csv", kept[0].name)

    submit(page, "#apply")
    assert "导入成功：新增 1 人" in page.locator(".flash.ok").inner_text()
    assert active_count(engine) == 15
    assert not kept[0].exists()
    logged = [r.getMessage() for r in caplog.records]
    assert any("roster imported on the web by" in m and "孙丽" in m for m in logged), logged

    again = live.app.test_client()
    settings = live.app.extensions["grievance"]["settings"]
    again.get(sign_in_url(settings, town["孙丽"].id or 0, "/", utcnow()).removeprefix(live.url))
    with again.session_transaction() as cookie:
        token = cookie["csrf_token"]
    gone = again.post("/office/roster/apply", data={"csrf_token": token}, follow_redirects=True)
    assert "上传的文件已失效" in gone.get_data(as_text=True)


def test_invite_codes_and_unlocking_on_a_phone(
    live: LiveServer, engine: Engine, town: dict[str, Person], phone_page: Any
) -> None:
    now = utcnow()
    with unit_of_work(engine) as session:
        for n in range(5):
            session.add(
                BindingAttempt(
                    channel="wechat",
                    sender=f"o-guess-{n}",
                    at=now,
                    kind="name_phone",
                    target_name="蒋兰",
                    target_phone="13900000999",
                )
            )
    page = phone_page
    sign_in(page, live, town["孙丽"])
    failed = page.locator("#failed").inner_text()
    assert "蒋兰" in failed and "已锁定" in failed
    shoot(page, "roster-phone")

    page.fill("#invite-who", "郑华")
    submit(page, "#invite button[type=submit]")
    code = page.locator("#invite-result .code").inner_text()
    assert re.fullmatch(r"\d{6}", code)
    assert f"绑定 {code}" in page.locator("#invite-result").inner_text()
    shoot(page, "roster-invite-phone")
    with Session(engine) as session:
        (invite,) = session.exec(select(InviteCode).where(InviteCode.person_id == town["郑华"].id))
        assert invite.code_hash == hash_code(code)
    with unit_of_work(engine) as session:
        bound = bind_by_invite(session, "wechat", "o-zheng", code, utcnow())
        assert bound.person is not None and bound.person.name == "郑华"

    page.fill("#invite-who", "蒋兰")
    submit(page, "#invite button[type=submit]")
    assert "不需要邀请码" in page.locator(".flash.error").inner_text()

    submit(page, "#failed button[type=submit]")
    assert "清除最近一天的绑定失败 5 次" in page.locator(".flash.ok").inner_text()
    assert page.locator("#failed").count() == 0
    shoot(page, "roster-unlocked-phone")
    with Session(engine) as session:
        left = session.exec(select(BindingAttempt).where(BindingAttempt.cleared_at == None))  # noqa: E711
        assert list(left) == []


def test_the_roster_page_is_the_office_s_and_its_forms_need_the_token(
    live: LiveServer, engine: Engine, town: dict[str, Person], tmp_path: Path
) -> None:
    settings = live.app.extensions["grievance"]["settings"]
    client: FlaskClient = live.app.test_client()
    cadre = town["冯军"]  # 村支书
    client.get(sign_in_url(settings, cadre.id or 0, "/", utcnow()).removeprefix(live.url))
    assert client.get("/office/roster").status_code == 403
    with client.session_transaction() as cookie:
        token = cookie["csrf_token"]
    refused = client.post("/office/roster/unlock", data={"csrf_token": token, "who": "蒋兰"})
    assert refused.status_code == 403

    client.get(sign_in_url(settings, town["孙丽"].id or 0, "/", utcnow()).removeprefix(live.url))
    sheet = write_csv(tmp_path / "a.csv", [*GOOD, NEW_PERSON])
    with sheet.open("rb") as handle:
        no_token = client.post(
            "/office/roster/check",
            data={"sheet": (handle, "a.csv")},
            content_type="multipart/form-data",
        )
    assert no_token.status_code == 400
    assert active_count(engine) == 14
