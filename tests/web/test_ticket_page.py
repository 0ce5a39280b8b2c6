"""The ticket page in a real browser: a cadre opens the link in their notice and sees the photo."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone, message_xml, next_msg_id
from bot.worker import build_worker
from config.settings import Settings
from models.base import utcnow
from models.ticket import Attachment, Ticket
from tests.builders import say, send_xml
from tests.fake_wechat import FakeWeChat
from tests.town import SmallTown
from tests.web.conftest import LiveServer, png, shoot
from web.links import sign_in_url

LINK = re.compile(r"查看详情：(\S+)")


def send_photo(client: FlaskClient, phone: Phone, sender: str, media_id: str) -> None:
    fields = {
        "ToUserName": "gh_town",
        "FromUserName": sender,
        "CreateTime": int(utcnow().timestamp()),
        "MsgType": "image",
        "PicUrl": "http://mmbiz.example/pic.jpg",
        "MediaId": media_id,
        "MsgId": next_msg_id(),
    }
    send_xml(client, phone, message_xml(fields))


def deliver(engine: Engine, settings: Settings) -> None:
    worker = build_worker(engine, settings)
    while worker.run_once(utcnow()).busy:
        pass


def link_sent_to(fake: FakeWeChat, recipient: str) -> str:
    for call in fake.sends():
        if call.recipient == recipient and call.content and LINK.search(call.content):
            return LINK.search(call.content).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no notice with a link to {recipient}: {fake.sends()}")


def reported_with_photo(
    site: LiveServer, wired: Settings, engine: Engine, town: SmallTown, fake: FakeWeChat
) -> Ticket:
    client = site.app.test_client()
    phone = Phone(wired)
    fake.media["photo-1"] = (png(320, 240, (200, 120, 40)), "image/png")
    say(client, phone, town.openid("reporter"), "我们3组的路灯坏了一个多月，晚上黑漆漆的")
    send_photo(client, phone, town.openid("reporter"), "photo-1")
    deliver(engine, wired)
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]
        assert ticket is not None
        photo = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)).one()
        assert photo.file_path, photo.download_error
        return ticket


def test_cadre_opens_the_notice_link_on_a_phone_and_sees_the_photo(
    site: LiveServer,
    wired: Settings,
    engine: Engine,
    town: SmallTown,
    fake: FakeWeChat,
    phone_page: Any,
) -> None:
    ticket = reported_with_photo(site, wired, engine, town, fake)
    cadre = next(p for p in town.people.values() if p.id == ticket.assignee_id)
    link = link_sent_to(fake, cadre.wecom_userid or "")
    assert link.startswith(site.url + "/l/")

    phone_page.goto(link)
    assert phone_page.url == f"{site.url}/tickets/{ticket.id}"
    heading = phone_page.locator("h1").inner_text()
    assert f"#{ticket.id}" in heading
    body = phone_page.locator("main").inner_text()
    assert "路灯" in body and "张家村3组" in body and "刘邻长" in body
    assert town.people["reporter"].phone in body  # the reporter's contact
    photo = phone_page.locator(".photos img")
    assert photo.count() == 1
    photo.scroll_into_view_if_needed()
    width = photo.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width == 320  # the 邻长's photo, as downloaded from WeChat, served by the app
    shoot(phone_page, "ticket-phone")


def test_ticket_page_at_desktop_size(
    site: LiveServer,
    wired: Settings,
    engine: Engine,
    town: SmallTown,
    fake: FakeWeChat,
    desktop_page: Any,
) -> None:
    ticket = reported_with_photo(site, wired, engine, town, fake)
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    desktop_page.goto(sign_in_url(wired, dispatcher.id, f"/tickets/{ticket.id}", utcnow()))
    assert desktop_page.locator(".photos img").evaluate("img => img.naturalWidth") == 320
    assert "办理经过" in desktop_page.locator("main").inner_text()
    shoot(desktop_page, "ticket-desktop")


def test_media_outside_scope_is_refused_and_a_stranger_sees_403(
    site: LiveServer,
    wired: Settings,
    engine: Engine,
    town: SmallTown,
    fake: FakeWeChat,
    phone_page: Any,
) -> None:
    ticket = reported_with_photo(site, wired, engine, town, fake)
    with Session(engine) as session:
        photo = session.exec(select(Attachment).where(Attachment.ticket_id == ticket.id)).one()
    for key in ("stranger", "cadre:李家村"):  # a 邻长 of another village, a cadre of another
        person = town.people[key]
        assert person.id is not None
        response = phone_page.goto(sign_in_url(wired, person.id, f"/tickets/{ticket.id}", utcnow()))
        assert response.status == 403, key
        assert "不在您的职责范围内" in phone_page.locator("main").inner_text()
        media = phone_page.request.get(f"{site.url}/media/{photo.id}")
        assert media.status == 403, key
    shoot(phone_page, "ticket-403-phone")
    # The reporter's own link opens it.
    reporter = town.people["reporter"]
    assert reporter.id is not None
    response = phone_page.goto(sign_in_url(wired, reporter.id, f"/tickets/{ticket.id}", utcnow()))
    assert response.status == 200
    assert phone_page.request.get(f"{site.url}/media/{photo.id}").status == 200
