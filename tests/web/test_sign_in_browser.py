"""Browser: a dispatcher signs in with the code from WeChat; a form lacking its token fails."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.phone import Phone, message_xml, next_msg_id
from models.base import utcnow
from models.outbox import OutboxMessage
from models.ticket import Ticket
from tests.builders import say, send_xml
from tests.town import SmallTown
from tests.web.conftest import LiveServer, shoot, submit
from web.links import sign_in_url

CODE = re.compile(r"验证码：(\d{6})")


def test_a_dispatcher_signs_in_with_the_code_from_wechat(
    live: LiveServer, engine: Engine, town: SmallTown, desktop_page: Any
) -> None:
    page = desktop_page
    page.goto(live.url + "/")
    assert page.url.startswith(live.url + "/login")
    shoot(page, "login-desktop")
    page.fill("#phone", town.people["dispatcher"].phone)
    submit(page)
    assert "/login/code" in page.url
    shoot(page, "code-desktop")
    with Session(engine) as session:
        (message,) = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "sign_in_code"))
    assert message.person_id == town.people["dispatcher"].id
    page.fill("#code", CODE.search(message.text).group(1))  # type: ignore[union-attr]
    submit(page)
    assert page.url == live.url + "/"
    assert "赵调度（调度员）" in page.locator("header").inner_text()
    shoot(page, "list-desktop")


def test_a_form_without_its_token_is_refused_in_the_browser(
    live: LiveServer, engine: Engine, town: SmallTown, phone_page: Any
) -> None:
    page = phone_page
    page.goto(live.url + "/login")
    shoot(page, "login-phone")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("#phone", town.people["dispatcher"].phone)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit(page)
    assert posted.value.status == 400
    assert "表单已失效" in page.locator("main").inner_text()
    shoot(page, "csrf-refused-phone")
    with Session(engine) as session:
        assert not list(
            session.exec(select(OutboxMessage).where(OutboxMessage.kind == "sign_in_code"))
        )


def test_console_mode_says_the_photo_is_not_downloaded(
    live: LiveServer, engine: Engine, town: SmallTown, phone_page: Any
) -> None:
    client: FlaskClient = live.app.test_client()
    phone = Phone(live.app.extensions["grievance"]["settings"])
    say(client, phone, town.openid("reporter"), "3组水渠堵了，田里灌不上水，涉及8户")
    fields = {
        "ToUserName": "gh_town",
        "FromUserName": town.openid("reporter"),
        "CreateTime": int(utcnow().timestamp()),
        "MsgType": "image",
        "PicUrl": "http://mmbiz.example/pic.jpg",
        "MediaId": "photo-console",
        "MsgId": next_msg_id(),
    }
    send_xml(client, phone, message_xml(fields))
    fields = {
        "ToUserName": "gh_town",
        "FromUserName": town.openid("reporter"),
        "CreateTime": int(utcnow().timestamp()),
        "MsgType": "location",
        "Location_X": "28.1234",
        "Location_Y": "112.5678",
        "Scale": "15",
        "Label": "张家村3组水渠",
        "MsgId": next_msg_id(),
    }
    send_xml(client, phone, message_xml(fields))
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()  # type: ignore[union-attr]
        assert ticket is not None and ticket.id is not None
    reporter = town.people["reporter"]
    assert reporter.id is not None
    settings = live.app.extensions["grievance"]["settings"]
    page = phone_page
    page.goto(sign_in_url(settings, reporter.id, f"/tickets/{ticket.id}", utcnow()))
    text = page.locator("main").inner_text()
    assert "照片未下载" in text and "开发模式" in text
    assert page.locator(".photos img").count() == 0
    link = page.locator("a", has_text="在地图中打开")
    assert "position=112.5678,28.1234" in (link.get_attribute("href") or "")
    shoot(page, "ticket-console-phone")
    page.goto(live.url + "/")
    assert f"#{ticket.id}" in page.locator(".tickets").inner_text()
    shoot(page, "list-phone")
