"""WeChat's retries: the same delivery three times at once causes one effect and one answer."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bot.app import create_app
from bot.phone import Phone, SignedRequest, message_xml, text_fields
from config.settings import Settings
from handlers.router import Context, Message, Route
from models.inbound import InboundMessage
from tests.builders import post


def slow_handler(message: Message, ctx: Context) -> str:
    """Takes its time, so that concurrent twins really overlap, and says who answered."""
    time.sleep(0.3)
    return f"handled by {os.getpid()}/{threading.get_ident()} at {time.time()}"


def with_slow_handler(app: Flask) -> Flask:
    app.extensions["grievance"]["inbox"].router.routes.insert(0, Route("text", slow_handler))
    return app


def stored(engine: Engine) -> list[InboundMessage]:
    with Session(engine) as session:
        return list(session.execute(select(InboundMessage)).scalars())


def test_three_concurrent_deliveries_in_threads(app: Flask, phone: Phone, engine: Engine) -> None:
    with_slow_handler(app)
    signed = phone.sign(message_xml(text_fields("openid-r", "路坏了")))
    barrier = threading.Barrier(3)
    bodies: list[str] = []

    def deliver() -> None:
        client = app.test_client()
        barrier.wait()
        response = post(client, phone, signed)
        assert response.status_code == 200
        bodies.append(phone.open_reply(signed, response.get_data(as_text=True)))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 3 and len(set(bodies)) == 1, bodies
    records = stored(engine)
    assert len(records) == 1 and records[0].reply == bodies[0]


def test_retry_after_the_first_answer_gets_the_same_reply(
    app: Flask, phone: Phone, engine: Engine
) -> None:
    client = with_slow_handler(app).test_client()
    xml = message_xml(text_fields("openid-r", "又停电了"))
    first = phone.sign(xml)
    replies = []
    for _ in range(3):
        # Each retry is signed afresh (new timestamp and nonce) but carries the same message.
        signed = phone.sign(xml) if replies else first
        replies.append(phone.open_reply(signed, post(client, phone, signed).get_data(as_text=True)))
    assert len(set(replies)) == 1
    assert len(stored(engine)) == 1


def test_same_msgid_from_two_users_are_two_messages(
    app: Flask, phone: Phone, engine: Engine
) -> None:
    client = app.test_client()
    for sender in ("openid-a", "openid-b"):
        post(client, phone, phone.sign(message_xml(text_fields(sender, "帮助", msg_id=777))))
    assert len(stored(engine)) == 2


def _deliver_in_process(settings_json: str, signed: dict[str, Any], barrier: Any, out: Any) -> None:
    settings = Settings.model_validate_json(settings_json)
    app = with_slow_handler(create_app(settings))
    request = SignedRequest(**signed)
    phone = Phone(settings)
    client = app.test_client()
    barrier.wait()
    response = post(client, phone, request)
    out.put((response.status_code, phone.open_reply(request, response.get_data(as_text=True))))


def test_three_concurrent_deliveries_in_separate_processes(
    settings: Settings, engine: Engine, phone: Phone
) -> None:
    signed = phone.sign(message_xml(text_fields("openid-p", "水管爆了")))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_deliver_in_process,
            args=(settings.model_dump_json(), signed.__dict__, barrier, out),
        )
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [status for status, _ in results] == [200, 200, 200]
    assert len({body for _, body in results}) == 1
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(InboundMessage)).scalar_one() == 1


def test_a_busy_database_is_answered_in_time_and_the_message_kept_for_later(
    app: Flask, phone: Phone, engine: Engine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import bot.inbox
    from bot.ingest import SpoolIngest
    from handlers import texts
    from models.db import unit_of_work
    from models.outbox import OutboxMessage

    if engine.dialect.name != "sqlite":
        pytest.skip("the in-process writer queue exists for SQLite only")
    monkeypatch.setattr(bot.inbox, "WRITER_WAIT_SECONDS", 0.2)
    client = app.test_client()
    xml = message_xml(text_fields("openid-busy", "帮助"))
    with unit_of_work(engine):  # another thread of this process holds the writer
        result: list[str] = []

        def deliver() -> None:
            signed = phone.sign(xml)
            result.append(
                phone.open_reply(signed, post(client, phone, signed).get_data(as_text=True))
            )

        t = threading.Thread(target=deliver)
        started = time.time()
        t.start()
        t.join(timeout=5)
        elapsed = time.time() - started
    # Answered in time, and not lost: WeChat does not send an answered message again.
    assert elapsed < 2 and texts.SPOOLED in result[0]
    assert stored(engine) == []
    inbox = app.extensions["grievance"]["inbox"]
    assert SpoolIngest(inbox, inbox.spool).run_once().ingested == 1
    assert len(stored(engine)) == 1
    with Session(engine) as session:
        [reply] = session.execute(select(OutboxMessage)).scalars()
    assert reply.recipient == "openid-busy" and "帮助" in reply.text
