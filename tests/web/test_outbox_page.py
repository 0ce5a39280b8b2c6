"""The office's outbox page: dead letters with their last error, retry one or all (logged)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session

from models.base import utcnow
from models.db import unit_of_work
from models.outbox import OutboxMessage, OutboxStatus, enqueue
from tests.town import SmallTown
from tests.web.conftest import LiveServer, shoot, submit
from web.links import sign_in_url


def dead_letter(engine: Engine, person_id: int | None, text: str, error: str) -> int:
    now = utcnow()
    with unit_of_work(engine) as session:
        message = enqueue(session, person_id=person_id, kind="assigned", text=text, now=now)
        assert message is not None and message.id is not None
        message.status = OutboxStatus.dead.value
        message.attempts = 8
        message.last_error = error
        session.add(message)
        return message.id


def status(engine: Engine, message_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message.status, message.attempts


def test_a_dispatcher_retries_one_dead_letter_then_all(
    live: LiveServer,
    engine: Engine,
    town: SmallTown,
    desktop_page: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cadre, leader = town.people["cadre:张家村"], town.people["leader"]
    first = dead_letter(engine, cadre.id, "工单 #9 请签收", "errcode 60111: userid not found")
    second = dead_letter(engine, leader.id, "本周民情汇总", "gave up after 8 attempts: timeout")
    settings = live.app.extensions["grievance"]["settings"]
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    page = desktop_page
    page.goto(sign_in_url(settings, dispatcher.id, "/", utcnow()))
    page.click("nav >> text=消息")
    page.wait_for_url(live.url + "/office/outbox")
    first_card = page.locator(f"#letter-{first}")
    assert "errcode 60111: userid not found" in first_card.inner_text()
    assert "工单 #9 请签收" in first_card.inner_text() and "已试 8 次" in first_card.inner_text()
    assert "全部重新发送（2 条）" in page.locator("#retry-all").inner_text()
    shoot(page, "outbox-desktop")

    caplog.set_level(logging.INFO, logger="models.outbox")
    submit(page, f"#letter-{first} button[type=submit]")
    assert "已重新排队 1 条消息" in page.locator(".flash.ok").inner_text()
    assert status(engine, first) == ("pending", 0)
    assert status(engine, second) == ("dead", 8)
    assert page.locator(f"#letter-{first}").count() == 0
    logged = [r.getMessage() for r in caplog.records if "outbox retry" in r.getMessage()]
    assert len(logged) == 1 and f"#{first}" in logged[0] and "赵调度" in logged[0]

    submit(page, "#retry-all")
    assert status(engine, second) == ("pending", 0)
    assert "没有发送失败的消息" in page.locator("#no-dead").inner_text()
    shoot(page, "outbox-empty-desktop")


def test_the_outbox_on_a_phone_and_who_may_not_see_it(
    live: LiveServer, engine: Engine, town: SmallTown, phone_page: Any
) -> None:
    dead_letter(engine, town.people["reporter"].id, "请评价 #3 的办理结果", "errcode 43004: 未关注")
    settings = live.app.extensions["grievance"]["settings"]
    admin = town.people["dispatcher"]
    assert admin.id is not None
    page = phone_page
    page.goto(sign_in_url(settings, admin.id, "/office/outbox", utcnow()))
    assert "errcode 43004" in page.locator(".letter").inner_text()
    shoot(page, "outbox-phone")

    cadre = town.people["cadre:张家村"]
    assert cadre.id is not None
    response = page.goto(sign_in_url(settings, cadre.id, "/office/outbox", utcnow()))
    assert response is not None and response.status == 403


def test_retry_needs_the_token_the_role_and_refuses_a_sent_message(
    live: LiveServer, engine: Engine, town: SmallTown
) -> None:
    settings = live.app.extensions["grievance"]["settings"]
    message_id = dead_letter(engine, town.people["cadre:张家村"].id, "请签收", "errcode 60111")
    client: FlaskClient = live.app.test_client()
    cadre, dispatcher = town.people["cadre:张家村"], town.people["dispatcher"]
    assert cadre.id is not None and dispatcher.id is not None
    client.get(sign_in_url(settings, cadre.id, "/", utcnow()).removeprefix(live.url))
    with client.session_transaction() as cookie:
        token = cookie["csrf_token"]
    refused = client.post(f"/office/outbox/{message_id}/retry", data={"csrf_token": token})
    assert refused.status_code == 403

    client.get(sign_in_url(settings, dispatcher.id, "/", utcnow()).removeprefix(live.url))
    with client.session_transaction() as cookie:
        token = cookie["csrf_token"]
    assert client.post(f"/office/outbox/{message_id}/retry").status_code == 400
    assert status(engine, message_id) == ("dead", 8)
    with unit_of_work(engine) as session:
        sent = session.get(OutboxMessage, message_id)
        assert sent is not None
        sent.status = OutboxStatus.sent.value
        session.add(sent)
    answer = client.post(
        f"/office/outbox/{message_id}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert f"消息 #{message_id} 已经发出" in answer.get_data(as_text=True)
    assert status(engine, message_id) == ("sent", 8)
