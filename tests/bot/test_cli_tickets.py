"""`grievance-bot ticket show`: one zone for every time, urgency, attachments and location."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.app import create_app
from bot.phone import Phone
from config.settings import Settings
from handlers import texts
from models.ticket import Attachment, Ticket
from tests.builders import say, send_xml
from tests.handlers.test_intake import media_xml
from tests.town import build_small_town

MONDAY_10 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def test_ticket_show_prints_shanghai_times_urgency_attachments_and_location(
    settings: Settings, engine: Engine, phone: Phone, run_cli
) -> None:  # type: ignore[no-untyped-def]
    town = build_small_town(engine)
    app = create_app(
        settings.model_copy(update={"wechat_max_clock_skew": 0}),
        engine=engine,
        clock=lambda: MONDAY_10,
    )
    client: FlaskClient = app.test_client()
    reporter = town.openid("reporter")
    say(client, phone, reporter, "我们组停水两天了，十几户没水吃，赶紧来看看")
    send_xml(client, phone, media_xml(reporter, "image", PicUrl="http://x/1.jpg", MediaId="p1"))
    send_xml(client, phone, media_xml(reporter, "voice", MediaId="v1", Format="amr"))
    location = media_xml(
        reporter, "location", Location_X="28.5", Location_Y="112.1", Scale="15", Label="村口"
    )
    send_xml(client, phone, location)
    with Session(engine) as session:
        ticket = session.exec(select(Ticket)).one()
        photo = session.exec(select(Attachment).where(Attachment.kind == "image")).one()
        photo.downloaded_at, photo.file_path = MONDAY_10, f"media/{ticket.id}/p1.jpg"
        session.add(photo)
        session.commit()
        number = ticket.id

    shown = run_cli("ticket", "show", str(number))
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "受理 2026-11-30 10:00" in out and "签收期限 2026-11-30 12:00" in out
    assert "  2026-11-30 10:00  刘邻长  受理" in out  # the timeline too, not UTC
    assert "02:00" not in out and "+00:00" not in out
    assert not re.search(r"\d{4}-\d\d-\d\dT", out)  # no ISO moments, which were UTC
    assert "紧急程度：紧急" in out
    assert f"照片　已下载：media/{number}/p1.jpg" in out
    assert "语音　未下载" in out
    assert "位置　28.5, 112.1 村口" in out
    assert "派单路径：水利站负责人" in out and "unit_head" not in out
    assert "补充附件  照片" in out and "image" not in out

    record = json.loads(run_cli("ticket", "show", str(number), "--json").output)
    assert datetime.fromisoformat(record["created_at"]) == MONDAY_10
    for moment in (record["created_at"], record["ack_due_at"], record["timeline"][0]["at"]):
        assert datetime.fromisoformat(moment).utcoffset() is not None
    assert record["urgent"] is True and record["route"] == "unit_head:水利站"
    kinds = {a["kind"]: a for a in record["attachments"]}
    assert kinds["image"]["downloaded"] is True and kinds["voice"]["downloaded"] is False
    assert (kinds["location"]["latitude"], kinds["location"]["longitude"]) == (28.5, 112.1)


def test_ticket_show_of_a_missing_ticket_says_so_in_chinese(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("ticket", "show", "99")
    assert result.exit_code == 1
    assert result.output.strip() == texts.CLI_NO_TICKET.format(id=99)
