"""Buttons on the ticket page: the chat's actions from a phone or a desktop, in the timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.phone import Phone
from config.settings import Settings
from models.base import utcnow
from models.outbox import OutboxMessage
from models.ticket import Attachment, Ticket, TicketEvent
from tests.builders import say
from tests.fake_wechat import FakeWeChat
from tests.town import SmallTown
from tests.web.conftest import LiveServer, png, shoot, submit
from tests.web.test_ticket_page import link_sent_to, reported_with_photo
from web.links import sign_in_token, sign_in_url
from web.uploads import RESULT_LABEL


def events(engine: Engine, ticket_id: int | None) -> list[tuple[str, int | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        return [(e.kind, e.actor_id) for e in rows]


def test_a_cadre_accepts_and_resolves_with_a_photo_of_the_fix_on_a_phone(
    site: LiveServer,
    wired: Settings,
    engine: Engine,
    town: SmallTown,
    fake: FakeWeChat,
    phone_page: Any,
    tmp_path: Any,
) -> None:
    ticket = reported_with_photo(site, wired, engine, town, fake)
    cadre = next(p for p in town.people.values() if p.id == ticket.assignee_id)
    page = phone_page
    page.goto(link_sent_to(fake, cadre.wecom_userid or ""))
    assert page.locator(".photos img").first.evaluate("img => img.naturalWidth") == 320
    shoot(page, "ticket-actions-phone")

    submit(page, "#do-accept")
    assert "已签收" in page.locator(".flash").inner_text()
    assert "已签收" in page.locator(".badges").inner_text()

    fix = tmp_path / "fixed.png"
    fix.write_bytes(png(200, 150, (40, 160, 60)))
    page.click("#form-resolve summary")
    page.fill("#resolve-result", "已换了新的路灯，晚上亮了")
    page.set_input_files("#resolve-photos", str(fix))
    submit(page, "#do-resolve")
    assert "已办结" in page.locator(".flash").inner_text()
    result = page.locator(".photos.result img")
    assert result.count() == 1 and result.evaluate("img => img.naturalWidth") == 200
    assert "已换了新的路灯" in page.locator("main").inner_text()
    shoot(page, "ticket-resolved-phone")

    kinds = events(engine, ticket.id)
    assert ("accepted", cadre.id) in kinds and ("resolved", cadre.id) in kinds
    # The 邻长's photo is theirs in the timeline, the photo of the fix the cadre's.
    photos = [actor for kind, actor in kinds if kind == "attachment"]
    assert photos == [town.people["reporter"].id, cadre.id]
    with Session(engine) as session:
        stored = session.get(Ticket, ticket.id)
        assert stored is not None and stored.state == "resolved"
        photo = session.exec(
            select(Attachment).where(
                Attachment.ticket_id == ticket.id, Attachment.label == RESULT_LABEL
            )
        ).one()
        assert photo.file_path and (wired.instance_path / photo.file_path).exists()
        asked = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.ticket_id == ticket.id,
                OutboxMessage.person_id == town.people["reporter"].id,
                OutboxMessage.kind == "resolved",
            )
        ).one()
    assert "满意" in asked.text  # the reporter is asked to rate, as after a chat 办结
    # The reporter's own page shows the fix; the reporter has no buttons.
    reporter = town.people["reporter"]
    assert reporter.id is not None
    page.goto(sign_in_url(wired, reporter.id, f"/tickets/{ticket.id}", utcnow()))
    assert page.locator(".photos.result img").count() == 1
    assert page.locator("#actions").count() == 0


def test_a_dispatcher_assigns_and_merges_on_the_desktop(
    live: LiveServer, engine: Engine, town: SmallTown, desktop_page: Any
) -> None:
    settings = live.app.extensions["grievance"]["settings"]
    client, phone = live.app.test_client(), Phone(settings)
    say(client, phone, town.openid("reporter2"), "1组的水渠堵了，田里灌不上水")
    say(client, phone, town.openid("stranger"), "1组水渠堵死了，好几户的田灌不上水")
    with Session(engine) as session:
        first, second = session.exec(select(Ticket).order_by(col(Ticket.id))).all()
    dispatcher = town.people["dispatcher"]
    assert dispatcher.id is not None
    page = desktop_page
    page.goto(sign_in_url(settings, dispatcher.id, f"/tickets/{first.id}", utcnow()))
    shoot(page, "ticket-dispatcher-desktop")
    colleague = town.people["colleague"]
    page.click("#form-send_to summary")
    page.select_option("#send_to-to", label=colleague.name)
    submit(page, "#do-send_to")
    assert "已派单" in page.locator(".flash").inner_text()
    assert colleague.name in page.locator(".fields").inner_text()
    with Session(engine) as session:
        assigned = session.get(Ticket, first.id)
        assert assigned is not None and assigned.assignee_id == colleague.id
        told = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.person_id == colleague.id, OutboxMessage.kind == "assigned"
            )
        ).all()
        assert len(told) == 1

    page.goto(f"{live.url}/tickets/{second.id}")
    page.click("#form-merge summary")
    page.fill("#merge-into", str(first.id))
    submit(page, "#do-merge")
    assert "已合并" in page.locator(".flash").inner_text()
    assert f"#{first.id}" in page.locator(".fields").inner_text()
    with Session(engine) as session:
        merged = session.get(Ticket, second.id)
        assert (
            merged is not None
            and merged.state == "duplicate"
            and merged.duplicate_of_id == first.id
        )
    assert ("merged", dispatcher.id) in events(engine, second.id)
    shoot(page, "ticket-merged-desktop")

    # A refused step changes nothing and says why: merging into itself.
    page.goto(f"{live.url}/tickets/{first.id}")
    page.click("#form-merge summary")
    page.fill("#merge-into", str(first.id))
    submit(page, "#do-merge")
    assert "找不到" in page.locator(".flash.error").inner_text()


def test_actions_need_the_token_and_the_right_person(
    live: LiveServer, engine: Engine, town: SmallTown
) -> None:
    settings = live.app.extensions["grievance"]["settings"]
    client, phone = live.app.test_client(), Phone(settings)
    say(client, phone, town.openid("reporter"), "我们3组的路灯坏了一个多月，晚上黑漆漆的")
    with Session(engine) as session:
        ticket = session.exec(select(Ticket)).one()
    web = live.app.test_client()
    assignee = ticket.assignee_id
    assert assignee is not None
    web.get(f"/l/{sign_in_token(settings, assignee, '/', utcnow())}")
    assert web.post(f"/tickets/{ticket.id}/act/accept").status_code == 400  # no token
    page = web.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert (
        web.post(f"/tickets/{ticket.id}/act/accept", data={"csrf_token": token}).status_code == 302
    )
    assert events(engine, ticket.id)[-1] == ("accepted", assignee)
    # A 邻长 may not press an assignee's button, even with a good token.
    reporter = town.people["reporter"]
    assert reporter.id is not None
    other = live.app.test_client()
    other.get(f"/l/{sign_in_token(settings, reporter.id, '/', utcnow())}")
    page = other.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    refused = other.post(
        f"/tickets/{ticket.id}/act/resolve", data={"csrf_token": token, "result": "好了"}
    )
    assert refused.status_code == 403
    with Session(engine) as session:
        assert session.get(Ticket, ticket.id).state == "accepted"  # type: ignore[union-attr]
