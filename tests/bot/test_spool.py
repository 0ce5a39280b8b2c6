"""Messages that arrive while the database is down: spooled, answered, and ingested once later."""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

import bot.inbox
import models.db
from bot.app import create_app
from bot.inbox import database_unavailable, dedup_key_of, parse_wechat_xml
from bot.ingest import SpoolIngest, run_ingest
from bot.phone import Phone, message_xml, next_msg_id, reply_text, text_fields
from bot.spool import Spool
from bot.worker import Worker
from config.settings import Settings
from handlers import texts
from models.base import utcnow
from models.db import make_engine
from models.inbound import InboundMessage
from models.outbox import OutboxMessage
from models.ticket import Ticket
from tests.builders import say
from tests.conftest import BACKENDS
from tests.db_outage import Outage, PostgresGone, SqliteUnopenable, SqliteWriterHeld
from tests.town import SmallTown, build_small_town

BIN = Path(sys.executable).parent / "grievance-bot"

REPORTS = [
    ("o-liu", "3组的路灯坏了一个月了"),
    ("o-chen", "1组自来水停了两天"),
    ("o-sun", "村口的桥栏杆断了，很危险"),
    ("o-liu", "3组垃圾好多天没人收"),
    ("o-chen", "1组有户人家低保一直没批下来"),
    ("o-sun", "1组两家为宅基地吵架，快打起来了"),
    ("o-liu", "3组水渠堵了，田里放不进水"),
    ("o-chen", "1组的变压器老是跳闸停电"),
    ("o-sun", "1组山塘的坝漏水了"),
    ("o-liu", "3组的路被大车压坏了，坑很深"),
    ("o-chen", "1组小孩上学的校车不来了"),
    ("o-sun", "1组有只狗天天咬人"),
    ("o-liu", "3组有人在河里电鱼"),
    ("o-chen", "1组卫生室的医生好久不来了"),
    ("o-sun", "1组的自来水管爆了，到处是水"),
    ("o-liu", "3组的老人没人照顾，生病了"),
    ("o-chen", "1组的河堤塌了一段"),
    ("o-sun", "1组通村公路的路灯都不亮"),
]
STRANGER = "o-stranger-not-bound"


def spool_of(settings: Settings) -> Spool:
    return Spool(settings.spool_path, limit=settings.spool_max_messages)


def tickets(engine: Engine) -> list[Ticket]:
    with Session(engine) as session:
        return list(session.exec(select(Ticket).order_by(col(Ticket.id))))


def replies(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "reply")
        return list(session.exec(stmt.order_by(col(OutboxMessage.id))))


def inbound_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(InboundMessage)).one())


@pytest.fixture
def fast_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook's writer deadline shortened, so a held writer costs tenths of a second."""
    monkeypatch.setattr(bot.inbox, "WRITER_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(models.db, "MIN_SQLITE_BUSY_SECONDS", 0.1)


# Each way the database goes away, on the backend it belongs to.
OUTAGES = [
    pytest.param("sqlite", "sqlite-unopenable", id="sqlite-unopenable"),
    pytest.param("sqlite", "sqlite-writer-held", id="sqlite-writer-held"),
] + (
    [pytest.param("postgresql", "postgresql-stopped", id="postgresql-stopped")]
    if "postgresql" in BACKENDS
    else []
)
with_outages = pytest.mark.parametrize(
    ("database_url", "style"), OUTAGES, indirect=["database_url"]
)


@pytest.fixture
def outage(style: str, settings: Settings, tmp_path: Path, fast_deadline: None) -> Iterator[Outage]:
    """The test's database, ready to be taken away (`cut`) and given back (`restore`)."""
    cut: Outage
    if style == "sqlite-unopenable":
        cut = SqliteUnopenable(settings.resolved_database_url, tmp_path / "outage")
    elif style == "sqlite-writer-held":
        cut = SqliteWriterHeld(settings.resolved_database_url)
    else:
        cut = PostgresGone(settings.resolved_database_url)
    yield cut
    cut.close()


@pytest.fixture
def down_app(settings: Settings, outage: Outage) -> Iterator[tuple[Flask, Engine, SmallTown]]:
    """The web app on a database that the test can take away and give back."""
    app_settings = settings.model_copy(update={"database_url": outage.url})
    engine = make_engine(outage.url)
    town = build_small_town(engine)
    yield create_app(app_settings, engine=engine), engine, town
    engine.dispose()


@with_outages
def test_messages_taken_while_the_database_is_down_become_tickets_once_in_order(
    down_app: tuple[Flask, Engine, SmallTown], outage: Outage, settings: Settings
) -> None:
    app, engine, _town = down_app
    client = app.test_client()
    phone = Phone(settings)
    outage.cut(engine)

    msg_ids = [next_msg_id() for _ in REPORTS]
    answers = [
        say(client, phone, sender, text, MsgId=msg_id)
        for (sender, text), msg_id in zip(REPORTS, msg_ids, strict=True)
    ]
    answers.append(say(client, phone, STRANGER, "帮助"))
    # WeChat retries three of them (it did not hear back in time): the same MsgId again.
    for index in (0, 7, 17):
        sender, text = REPORTS[index]
        answers.append(say(client, phone, sender, text, MsgId=msg_ids[index]))

    assert answers == [texts.SPOOLED] * (len(REPORTS) + 4)
    spool = spool_of(settings)
    assert spool.waiting() == len(REPORTS) + 1  # the retries were not kept twice

    outage.restore()
    inbox = app.extensions["grievance"]["inbox"]
    counts = SpoolIngest(inbox, spool).run_once()
    assert (counts.ingested, counts.repeats, counts.database_down) == (len(REPORTS) + 1, 0, False)
    assert spool.waiting() == 0

    made = tickets(engine)
    assert [(t.sender, t.text) for t in made] == REPORTS  # once each, in the order sent
    told = replies(engine)
    assert [m.recipient for m in told] == [sender for sender, _ in REPORTS] + [STRANGER]
    assert all(m.recipient_channel == "wechat" for m in told)
    for ticket, message in zip(made, told, strict=False):
        assert f"工单号 #{ticket.id}" in message.text, message.text
        assert ticket.text[:6] in message.text  # says which message it answers
    assert told[-1].person_id is None and "帮助" in told[-1].text

    # Ingesting again (a crash before the spool moved on, a lost cursor) changes nothing.
    spool.cursor.unlink(missing_ok=True)
    with spool.data.open("rb") as handle:
        assert sum(1 for _ in handle) == 1  # fully ingested: swapped for an empty file
    again = SpoolIngest(inbox, spool).run_once()
    assert again.handled == 0
    assert len(tickets(engine)) == len(REPORTS) and len(replies(engine)) == len(REPORTS) + 1

    # A late WeChat retry now gets the ticket number straight away, and nothing new.
    sender, text = REPORTS[0]
    late = say(client, phone, sender, text, MsgId=msg_ids[0])
    assert f"工单号 #{made[0].id}" in late
    assert len(tickets(engine)) == len(REPORTS)

    # The worker delivers the late answers to the phones they came from.
    delivered = Worker(engine, settings.model_copy(update={"delivery": "console"}))
    delivered.deliver_due(utcnow() + timedelta(seconds=1))
    assert {m.status for m in replies(engine)} == {"sent"}


@with_outages
def test_a_second_ingest_of_the_same_entries_causes_nothing_twice(
    down_app: tuple[Flask, Engine, SmallTown],
    outage: Outage,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, engine, _town = down_app
    client = app.test_client()
    phone = Phone(settings)
    outage.cut(engine)
    for sender, text in REPORTS[:6]:
        assert say(client, phone, sender, text) == texts.SPOOLED
    outage.restore()
    spool = spool_of(settings)
    inbox = app.extensions["grievance"]["inbox"]

    # The ingester dies after its third commit, before it could note its progress.
    advance = Spool.advance
    calls = []

    def crash_on_the_third(self: Spool, entry) -> None:  # type: ignore[no-untyped-def]
        calls.append(entry.offset)
        if len(calls) == 3:
            raise SystemExit("killed")
        advance(self, entry)

    monkeypatch.setattr(Spool, "advance", crash_on_the_third)
    with pytest.raises(SystemExit):
        SpoolIngest(inbox, spool).run_once()
    monkeypatch.setattr(Spool, "advance", advance)
    assert len(tickets(engine)) == 3 and spool.waiting() == 4

    counts = SpoolIngest(inbox, spool).run_once()
    assert (counts.ingested, counts.repeats) == (3, 1)
    assert [(t.sender, t.text) for t in tickets(engine)] == REPORTS[:6]
    assert len(replies(engine)) == 6


@with_outages
def test_the_ingest_loop_backs_off_while_the_database_stays_down(
    down_app: tuple[Flask, Engine, SmallTown],
    outage: Outage,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bot.ingest

    app, engine, _town = down_app
    client = app.test_client()
    phone = Phone(settings)
    outage.cut(engine)
    for sender, text in REPORTS[:2]:
        say(client, phone, sender, text)
    monkeypatch.setattr(bot.ingest, "BACKOFF_FIRST_SECONDS", 0.1)
    monkeypatch.setattr(bot.ingest, "BACKOFF_MAX_SECONDS", 0.4)
    monkeypatch.setattr(models.db, "SQLITE_BUSY_TIMEOUT_MS", 20)  # a held writer fails fast
    passes: list[tuple[float, bool, int]] = []
    stop = threading.Event()

    def record(counts: bot.ingest.IngestCounts) -> None:
        passes.append((time.monotonic(), counts.database_down, counts.ingested))

    ingest = SpoolIngest(app.extensions["grievance"]["inbox"], spool_of(settings))
    thread = threading.Thread(
        target=run_ingest, args=(ingest, stop), kwargs={"poll_seconds": 0.05, "on_pass": record}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while sum(1 for _, down, _ in passes if down) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        outage.restore()
        while sum(n for _, _, n in passes) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=10)
    down = [at for at, was_down, _ in passes if was_down]
    gaps = [b - a for a, b in itertools.pairwise(down)]
    assert gaps[0] < gaps[1] < gaps[2] and gaps[2] > 2 * gaps[0]  # 0.1, 0.2, 0.4 s …
    assert [(t.sender, t.text) for t in tickets(engine)] == REPORTS[:2]


# ------------------------------------------------------------------- the spool file itself


@with_outages
def test_a_full_spool_refuses_with_a_clear_answer_and_logs_it(
    down_app: tuple[Flask, Engine, SmallTown],
    outage: Outage,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, engine, _town = down_app
    inbox = app.extensions["grievance"]["inbox"]
    inbox.spool = Spool(settings.spool_path, limit=3)
    client = app.test_client()
    phone = Phone(settings)
    outage.cut(engine)
    with caplog.at_level(logging.WARNING):
        answers = [say(client, phone, sender, text) for sender, text in REPORTS[:4]]
    assert answers == [texts.SPOOLED] * 3 + [texts.SPOOL_FULL]
    assert "spool full" in caplog.text and "(2 of at most 3 waiting)" in caplog.text
    assert inbox.spool.waiting() == 3


def test_appends_from_processes_and_threads_are_whole_ordered_and_once(tmp_path: Path) -> None:
    from tests.spool_child import append_many

    folder = tmp_path / "spool"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [
        ctx.Process(target=append_many, args=(str(folder), f"proc{i}", 60, barrier))
        for i in range(3)
    ]
    for proc in procs:
        proc.start()
    local = threading.Barrier(3)
    threads = [
        threading.Thread(target=append_many, args=(str(folder), f"thread{i}", 60, local))
        for i in range(3)
    ]
    barrier.wait()  # the fourth party: this process, whose three threads start together
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0

    entries = list(Spool(folder, limit=10_000).pending())
    assert all(e.damaged is None for e in entries)
    keys = [(e.sender, e.key) for e in entries]
    assert len(keys) == len(set(keys)) == 6 * 60 + 60  # each once; the shared retries once
    for name in [f"proc{i}" for i in range(3)] + [f"thread{i}" for i in range(3)]:
        own = [int(e.key.split(":")[1]) for e in entries if e.sender == name]
        assert own == list(range(60)), name


def test_an_unfinished_line_left_by_a_crash_is_dropped_before_the_next_append(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool", limit=100)
    now = utcnow()
    spool.add(channel="wechat", sender="a", key="msg:1", xml="<xml/>", received_at=now, reason="t")
    with spool.data.open("ab") as handle:
        handle.write(b'{"channel": "wechat", "sender": "b", "ke')  # killed mid-append
    assert [e.key for e in spool.pending()] == ["msg:1"]
    spool.add(channel="wechat", sender="c", key="msg:3", xml="<xml/>", received_at=now, reason="t")
    entries = list(spool.pending())
    assert [(e.sender, e.key) for e in entries] == [("a", "msg:1"), ("c", "msg:3")]
    assert all(e.damaged is None for e in entries)


def test_an_entry_that_cannot_be_handled_is_set_aside_and_its_sender_asked_again(
    app: Flask, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_small_town(engine)
    spool = spool_of(settings)
    for sender, text in REPORTS[:3]:
        xml = message_xml(text_fields(sender, text))
        raw, message = parse_wechat_xml(xml, "wechat")
        spool.add(
            channel="wechat",
            sender=sender,
            key=dedup_key_of(raw, message),
            xml=xml,
            received_at=utcnow(),
            reason="test",
        )
    inbox = app.extensions["grievance"]["inbox"]
    original = inbox.router.dispatch

    def broken_for_chen(message, ctx):  # type: ignore[no-untyped-def]
        if message.sender == "o-chen":
            raise KeyError("a bug")
        return original(message, ctx)

    monkeypatch.setattr(inbox.router, "dispatch", broken_for_chen)
    counts = SpoolIngest(inbox, spool).run_once()
    assert (counts.ingested, counts.rejected) == (2, 1)
    assert [t.sender for t in tickets(engine)] == ["o-liu", "o-sun"]  # the rest went on
    told = {m.recipient: m.text for m in replies(engine)}
    assert "没能处理成功，请再发一次" in told["o-chen"] and "1组自来水停了" in told["o-chen"]
    [rejected] = spool.rejected.read_text(encoding="utf-8").splitlines()
    assert json.loads(rejected)["sender"] == "o-chen" and "a bug" in json.loads(rejected)["error"]
    assert spool.status().rejected == 1 and spool.waiting() == 0


def test_a_bug_is_not_spooled(app: Flask, client: FlaskClient, phone: Phone, settings: Settings):  # type: ignore[no-untyped-def]
    def broken(message, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    app.extensions["grievance"]["inbox"].router.routes.insert(
        0, __import__("handlers").router.Route("text", broken)
    )
    assert say(client, phone, "o-x", "帮助") == texts.INTERNAL_ERROR
    assert spool_of(settings).waiting() == 0  # replaying it would only fail again


# ------------------------------------------------------------- the processes that ingest


def _spool_reports(settings: Settings, reports: list[tuple[str, str]]) -> None:
    spool = spool_of(settings)
    for sender, text in reports:
        xml = message_xml(text_fields(sender, text))
        raw, message = parse_wechat_xml(xml, "wechat")
        added, _ = spool.add(
            channel="wechat",
            sender=sender,
            key=dedup_key_of(raw, message),
            xml=xml,
            received_at=utcnow(),
            reason="test",
        )
        assert added


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(
        GRIEVANCE_DATABASE_URL=settings.resolved_database_url,
        GRIEVANCE_INSTANCE_PATH=str(settings.instance_path),
        GRIEVANCE_WORKER_POLL_SECONDS="0.1",
        **extra,
    )
    return env


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_worker_command_ingests_the_spool_and_a_kill_9_loses_and_doubles_nothing(
    engine: Engine, settings: Settings
) -> None:
    build_small_town(engine)
    # Enough entries that the kill lands mid-ingest even when this process is slow to look.
    many = [(sender, f"{text}（第{i}次）") for i in range(8) for sender, text in REPORTS]
    _spool_reports(settings, many)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN), "worker"],
            env=_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    process = start()
    try:
        deadline = time.monotonic() + 60
        while len(tickets(engine)) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    killed_at = len(tickets(engine))
    assert 10 <= killed_at < len(many), "the worker was not killed mid-ingest"

    process = start()
    try:
        deadline = time.monotonic() + 60
        while spool_of(settings).waiting() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert [(t.sender, t.text) for t in tickets(engine)] == many
    told = replies(engine)
    assert len(told) == len(many)
    assert [m.recipient for m in told] == [sender for sender, _ in many]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_answers_at_once_while_the_writer_is_held_and_ingests_after(
    tmp_path: Path, database_url: str
) -> None:
    from tests.bot.test_cli import clean_env, free_port

    port = free_port()
    instance = tmp_path / "serve-instance"
    env = clean_env(instance, GRIEVANCE_WORKER_POLL_SECONDS="0.2")
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        held = SqliteWriterHeld(f"sqlite:///{instance / 'grievance.sqlite3'}")
        held.cut(None)  # type: ignore[arg-type]  # e.g. a roster import in another process
        dev = Settings(_env_file=None, instance_path=instance).with_development_credentials()  # type: ignore[call-arg]
        phone = Phone(dev)
        signed = phone.sign(message_xml(text_fields("demo-openid", "帮助")))
        started = time.monotonic()
        response = requests.post(
            url + phone.path, params=signed.query, data=signed.body, timeout=10
        )
        answered_in = time.monotonic() - started
        held.restore()
        assert response.status_code == 200
        assert reply_text(phone.open_reply(signed, response.text)) == texts.SPOOLED
        assert answered_in < 4.5  # within WeChat's five seconds
        engine = make_engine(f"sqlite:///{instance / 'grievance.sqlite3'}")
        while not replies(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        [told] = replies(engine)
        assert told.recipient == "demo-openid" and "帮助" in told.text
        assert re.search("邻长", told.text)
        engine.dispose()
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=15)[0].decode(errors="replace")
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, output
    assert "kept in the spool" in output and "spool: 1 ingested" in output


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("unable to open database file"), True),
        (sqlite3.OperationalError("attempt to write a readonly database"), True),
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError('near "SELEC": syntax error'), False),  # a bug: not kept
        (sqlite3.OperationalError("no such column: ticket.nope"), False),
    ],
)
def test_which_sqlite_errors_mean_the_database_is_unavailable(
    error: Exception, unavailable: bool
) -> None:
    from sqlalchemy.exc import OperationalError

    assert database_unavailable(OperationalError("statement", {}, error)) is unavailable
