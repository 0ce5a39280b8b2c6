"""The ticket list: filters by state, village, category, assignee, overdue, period and words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone
from models.base import utcnow
from models.db import unit_of_work
from models.ticket import Ticket
from tests.builders import say
from tests.town import SmallTown
from tests.web.conftest import LiveServer, shoot, submit
from web.links import sign_in_url


def report(live: LiveServer, town: SmallTown, key: str, text: str) -> Ticket:
    settings = live.app.extensions["grievance"]["settings"]
    say(live.app.test_client(), Phone(settings), town.openid(key), text)
    engine = live.app.extensions["grievance"]["engine"]
    with Session(engine) as session:
        found = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]
        assert found is not None
        return found


def numbers(page: Any) -> set[int]:
    return {int(n.lstrip("#")) for n in page.locator(".tickets .num").all_inner_texts()}


def test_a_dispatcher_filters_the_list(
    live: LiveServer, engine: Engine, town: SmallTown, desktop_page: Any
) -> None:
    lamp = report(live, town, "reporter", "我们3组的路灯坏了一个多月，晚上黑漆漆的")
    ditch = report(live, town, "reporter2", "1组的水渠堵了，田里灌不上水")
    road = report(live, town, "stranger", "村口的路塌了一个大坑，车子过不去")
    with unit_of_work(engine) as session:  # the ditch is past its deadline
        row = session.get(Ticket, ditch.id)
        assert row is not None
        row.resolve_due_at = utcnow() - timedelta(hours=1)
        session.add(row)
    settings = live.app.extensions["grievance"]["settings"]
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    page = desktop_page
    page.goto(sign_in_url(settings, dispatcher.id, "/", utcnow()))
    assert numbers(page) == {lamp.id, ditch.id, road.id}
    shoot(page, "list-dispatcher-desktop")

    page.select_option("select[name=village]", label="李家村")
    submit(page)
    assert numbers(page) == {ditch.id, road.id}
    page.check("input[name=overdue]")
    submit(page)
    assert numbers(page) == {ditch.id}
    shoot(page, "list-filtered-desktop")

    page.goto(live.url + "/?q=路灯")
    assert numbers(page) == {lamp.id}
    page.goto(f"{live.url}/?q=%23{road.id}")
    assert numbers(page) == {road.id}
    every = (lamp, ditch, road)
    page.goto(f"{live.url}/?category={lamp.category}")
    assert numbers(page) == {t.id for t in every if t.category == lamp.category}
    page.goto(f"{live.url}/?assignee={ditch.assignee_id}")
    assert numbers(page) == {t.id for t in every if t.assignee_id == ditch.assignee_id}
    page.goto(f"{live.url}/?state=resolved")
    assert numbers(page) == set()
    page.goto(f"{live.url}/?state=open")
    assert numbers(page) == {lamp.id, ditch.id, road.id}
    tomorrow = (utcnow() + timedelta(days=2)).date().isoformat()
    page.goto(f"{live.url}/?from={tomorrow}")
    assert numbers(page) == set()
    assert "没有符合条件的工单" in page.locator("main").inner_text()


def test_a_village_cadre_lists_only_their_village(
    live: LiveServer, town: SmallTown, phone_page: Any
) -> None:
    report(live, town, "reporter", "我们3组的路灯坏了一个多月，晚上黑漆漆的")
    ditch = report(live, town, "reporter2", "1组的水渠堵了，田里灌不上水")
    settings = live.app.extensions["grievance"]["settings"]
    cadre = town.people["cadre:李家村"]
    assert cadre.id is not None
    phone_page.goto(sign_in_url(settings, cadre.id, "/", utcnow()))
    assert numbers(phone_page) == {ditch.id}
    shoot(phone_page, "list-cadre-phone")
