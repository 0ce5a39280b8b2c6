"""The figures page: the numbers of `report --json` for the same period and place, as charts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone
from config.calendar import TIMEZONE
from config.settings import Settings
from models.base import utcnow
from models.db import unit_of_work
from models.ticket import Ticket
from tests.builders import say
from tests.town import SmallTown
from tests.web.conftest import LiveServer, shoot
from web.figures import ECHARTS
from web.links import sign_in_token, sign_in_url


def busy_town(live: LiveServer, engine: Engine, town: SmallTown) -> None:
    """Four reports; one accepted and resolved, one rated 满意."""
    settings = live.app.extensions["grievance"]["settings"]
    client = live.app.test_client()
    phone, wecom = Phone(settings), Phone(settings, wecom=True)
    for key, text in (
        ("reporter", "我们3组的路灯坏了一个多月，晚上黑漆漆的"),
        ("reporter2", "1组的水渠堵了，田里灌不上水"),
        ("stranger", "村口的路塌了一个大坑，车子过不去"),
        ("reporter", "3组有户人家的低保停发了，老人没钱看病"),
    ):
        say(client, phone, town.openid(key), text)
    with Session(engine) as session:
        first = session.exec(select(Ticket).order_by(Ticket.id)).first()  # type: ignore[arg-type]
        assert first is not None
        assignee = next(p for p in town.people.values() if p.id == first.assignee_id)
    userid = assignee.wecom_userid
    assert userid
    say(client, wecom, userid, f"签收 {first.id}")
    say(client, wecom, userid, f"办结 {first.id} 已换了新灯泡")
    say(client, phone, town.openid("reporter"), f"满意 {first.id}")


def page_data(page: Any) -> dict[str, Any]:
    return json.loads(page.locator("#figures-data").text_content())["data"]


def without_clock(data: dict[str, Any]) -> dict[str, Any]:
    # `as_of` is "now" for a period that runs to today: the page and the CLI ran seconds apart.
    return {**data, "period": {k: v for k, v in data["period"].items() if k != "as_of"}}


def test_a_leader_sees_the_report_numbers_as_charts(
    live: LiveServer, engine: Engine, town: SmallTown, desktop_page: Any, run_cli
) -> None:  # type: ignore[no-untyped-def]
    if not ECHARTS.exists():
        pytest.skip("charts need ECharts: npm ci in web/ (scripts/test.sh does it)")
    busy_town(live, engine, town)
    settings = live.app.extensions["grievance"]["settings"]
    leader = town.people["leader"]
    assert leader.id is not None
    today = utcnow().astimezone(TIMEZONE).date().isoformat()
    page = desktop_page
    page.goto(sign_in_url(settings, leader.id, f"/figures?from={today}&to={today}", utcnow()))
    page.wait_for_selector("body[data-charts='drawn']")
    assert page.locator("#chart-counts svg").count() == 1  # drawn by ECharts, served by the app
    assert page.locator("#chart-rates svg").count() == 1
    assert page.locator("#chart-trend svg").count() == 1
    assert "没有超期" in page.locator("#chart-overdue").inner_text()
    shoot(page, "figures-desktop")

    cli = run_cli("report", "--json", "--from", today, "--to", today, "--place", "桃花镇")
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output)
    shown = page_data(page)
    assert without_clock(shown) == without_clock(expected)
    trend = json.loads(page.locator("#figures-data").text_content())["trend"]
    assert sum(w["collected"] for w in trend) == expected["overall"]["collected"]
    assert sum(w["resolved"] for w in trend) == expected["overall"]["resolved"]
    assert expected["overall"]["collected"] == 4 and expected["overall"]["resolved"] == 1
    assert page.locator("#headline").inner_text() == expected["headline"]
    cells = page.locator("#breakdown tbody tr").first.locator("td").all_inner_texts()
    first = expected["breakdown"][0]
    assert cells[0] == first["name"] and cells[1] == str(first["collected"])

    # By category, and for one village: still the report's numbers.
    village = town.villages["李家村"]
    page.goto(f"{live.url}/figures?from={today}&to={today}&place={village}&by=category")
    cli = run_cli(
        "report", "--json", "--from", today, "--to", today, "--place", "李家村", "--by", "category"
    )
    assert without_clock(page_data(page)) == without_clock(json.loads(cli.output))
    assert page.request.get(f"{live.url}/figures/ledger.xlsx?from={today}&to={today}").status == 200


def test_figures_are_for_the_office_only(
    live: LiveServer, town: SmallTown, phone_page: Any
) -> None:
    settings = live.app.extensions["grievance"]["settings"]
    cadre = town.people["cadre:李家村"]
    assert cadre.id is not None
    response = phone_page.goto(sign_in_url(settings, cadre.id, "/figures", utcnow()))
    assert response.status == 403
    assert "数据" not in phone_page.locator("header").inner_text()


def test_figures_on_a_phone(
    live: LiveServer, engine: Engine, town: SmallTown, phone_page: Any
) -> None:
    if not ECHARTS.exists():
        pytest.skip("charts need ECharts: npm ci in web/ (scripts/test.sh does it)")
    busy_town(live, engine, town)
    with unit_of_work(engine) as session:  # one open ticket past its deadline
        late = session.exec(select(Ticket).where(Ticket.state == "assigned")).first()
        assert late is not None
        late.resolve_due_at = utcnow() - timedelta(hours=2)
        session.add(late)
    settings = live.app.extensions["grievance"]["settings"]
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    phone_page.goto(sign_in_url(settings, dispatcher.id, "/figures", utcnow()))
    phone_page.wait_for_selector("body[data-charts='drawn']")
    assert phone_page.locator("#chart-overdue svg").count() == 1
    assert phone_page.locator(".figure").nth(8).inner_text().startswith("1")  # 超期未办结
    shoot(phone_page, "figures-phone")
    # A place outside the dispatcher's town is refused.
    assert phone_page.request.get(f"{live.url}/figures?place=999999").status == 403


def test_a_name_cannot_break_out_of_the_chart_data(
    web_settings: Settings, engine: Engine, town: SmallTown
) -> None:
    from bot.app import create_app
    from models.place import Place

    with unit_of_work(engine) as session:
        village = session.get(Place, town.villages["张家村"])
        assert village is not None
        village.name = "张家村</script><script>alert(1)</script>"
        session.add(village)
    client = create_app(web_settings, engine=engine).test_client()
    leader = town.people["leader"]
    assert leader.id is not None
    client.get(f"/l/{sign_in_token(web_settings, leader.id, '/', utcnow())}")
    page = client.get("/figures").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    data = page.split('id="figures-data">', 1)[1].split("</script>", 1)[0]
    names = [row["name"] for row in json.loads(data)["data"]["breakdown"]]
    assert "张家村</script><script>alert(1)</script>" in names
