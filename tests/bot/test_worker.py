"""The outbox worker: outages, dead letters, `outbox retry`, concurrent and killed workers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import Engine

import bot.worker
from bot.channels import Channels, SendResult, build_channels
from bot.cli import main
from bot.worker import DeliveryCounts, Worker
from config.settings import Settings, get_settings
from models.base import utcnow
from models.db import make_engine
from models.outbox import OutboxMessage
from models.person import Person
from tests.fake_wechat import (
    FakeWeChat,
    add_people,
    enqueue_texts,
    outbox_rows,
    running_fake,
    wechat_settings,
)

BIN = Path(sys.executable).parent / "grievance-bot"


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with running_fake() as fake:
        yield fake


@pytest.fixture
def wsettings(settings: Settings, fake: FakeWeChat) -> Settings:
    return wechat_settings(settings, fake)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`grievance-bot` commands run by CliRunner see the test's database."""
    for name in list(os.environ):
        if name.startswith("GRIEVANCE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("GRIEVANCE_INSTANCE_PATH", str(settings.instance_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def worker_for(
    engine: Engine, settings: Settings, *, rng: random.Random | None = None, name: str = "worker"
) -> Worker:
    return Worker(engine, settings, build_channels(engine, settings), rng=rng, name=name)


def all_sent(engine: Engine) -> bool:
    return all(row.status == "sent" for row in outbox_rows(engine).values())


def test_the_api_down_for_a_while_then_every_message_delivered_once(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    people = add_people(engine, 5, prefix="cadre")
    texts = [f"msg-{i}" for i in range(30)]
    enqueue_texts(engine, people, texts, now)
    worker = worker_for(engine, wsettings, rng=random.Random(7))
    fake.go_down(calls=4)

    clock, passes = now, 0
    while not all_sent(engine) and passes < 40:
        worker.deliver_due(clock)
        clock += timedelta(minutes=2)
        passes += 1

    assert fake.delivered_counts() == {text: 1 for text in texts}
    # While it was down each pass made one call; the rest of the batch waited.
    assert len([c for c in fake.calls if c.errcode is None]) == 4
    assert len(fake.calls_to("message/send")) == 30
    assert clock - now < timedelta(minutes=30)
    rows = outbox_rows(engine).values()
    assert max(row.attempts for row in rows) == 5  # the one that probed: 4 failures, 1 send
    assert sum(row.attempts for row in rows) == 30 + 4


def test_backoff_grows_exponentially_with_jitter(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["派单"], now)
    fake.recipient_errors["cadre-user-0"] = (-1, "system busy")
    worker = worker_for(engine, wsettings, rng=random.Random(3))
    clock = now
    for attempt in range(1, 7):
        assert worker.deliver_due(clock).retried == 1
        row = outbox_rows(engine)[message_id]
        delay = (row.next_attempt_at - clock).total_seconds()
        full = min(3600, 30 * 2 ** (attempt - 1))
        assert 0.5 * full <= delay <= full
        assert row.attempts == attempt and row.last_error == "errcode -1: system busy"
        assert worker.deliver_due(row.next_attempt_at - timedelta(seconds=1)).claimed == 0
        clock = row.next_attempt_at


def test_a_permanent_error_is_a_dead_letter_that_outbox_retry_revives(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime, cli_env: None
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["工单 #9 请签收"], now)
    fake.recipient_errors["cadre-user-0"] = (60111, "userid not found")
    worker = worker_for(engine, wsettings)

    assert worker.deliver_due(now).dead == 1
    listed = CliRunner().invoke(main, ["outbox", "list", "--dead", "--json"])
    assert listed.exit_code == 0, listed.output
    [dead] = json.loads(listed.output)
    assert dead["id"] == message_id and dead["person"] == "cadre0"
    assert "60111" in dead["last_error"] and dead["status"] == "dead"
    assert "工单 #9 请签收" in CliRunner().invoke(main, ["outbox", "list", "--dead"]).output

    # The office fixes the roster entry in 企业微信, then re-queues the message.
    del fake.recipient_errors["cadre-user-0"]
    revived = CliRunner().invoke(main, ["outbox", "retry", str(message_id)])
    assert revived.exit_code == 0, revived.output
    assert "1 message(s) queued" in revived.output
    assert worker.deliver_due(utcnow() + timedelta(seconds=1)).sent == 1
    assert fake.delivered_counts() == {"工单 #9 请签收": 1}
    assert CliRunner().invoke(main, ["outbox", "list", "--dead"]).output.strip() == (
        "no dead letters"
    )
    again = CliRunner().invoke(main, ["outbox", "retry", str(message_id)])
    assert again.exit_code != 0 and "already sent" in again.output


def test_too_many_attempts_make_a_dead_letter_and_all_dead_revives_them(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime, cli_env: None
) -> None:
    people = add_people(engine, 2, prefix="cadre")
    ids = enqueue_texts(engine, people, ["一", "二"], now)
    for person in range(2):
        fake.recipient_errors[f"cadre-user-{person}"] = (45009, "api freq out of limit")
    settings = wsettings.model_copy(update={"worker_max_attempts": 3})
    worker = worker_for(engine, settings)
    clock = now
    for _ in range(12):
        worker.deliver_due(clock)
        clock += timedelta(hours=1)
    rows = outbox_rows(engine)
    assert [rows[i].status for i in ids] == ["dead", "dead"]
    assert [rows[i].attempts for i in ids] == [3, 3]
    assert (rows[ids[0]].last_error or "").startswith("gave up after 3 attempts: errcode 45009")

    fake.recipient_errors.clear()
    result = CliRunner().invoke(main, ["outbox", "retry", "--all-dead"])
    assert result.exit_code == 0 and "2 message(s) queued" in result.output
    assert worker.deliver_due(utcnow() + timedelta(seconds=1)).sent == 2
    usage = CliRunner().invoke(main, ["outbox", "retry"])
    assert usage.exit_code == 2


def test_outbox_list_shows_sent_messages_by_ticket(
    engine: Engine, settings: Settings, now: datetime, cli_env: None
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    enqueue_texts(engine, [cadre], ["请签收"], now)
    worker_for(engine, settings).deliver_due(now)  # console delivery

    output = CliRunner().invoke(main, ["outbox", "list"]).output
    assert "sent" in output and "via console" in output and "请签收" in output
    rows = json.loads(CliRunner().invoke(main, ["outbox", "list", "--json"]).output)
    assert [(r["status"], r["channel"]) for r in rows] == [("sent", "console")]
    by_ticket = CliRunner().invoke(main, ["outbox", "list", "--ticket", "99"]).output
    assert by_ticket.strip() == "no messages"


def test_an_expired_lease_is_reclaimed_and_a_late_outcome_does_not_overwrite(
    engine: Engine, settings: Settings, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["派单"], now)
    slow, other = worker_for(engine, settings), worker_for(engine, settings)

    [claimed] = slow.claim(now)
    assert other.deliver_due(now + timedelta(seconds=59)).claimed == 0
    assert other.deliver_due(now + timedelta(seconds=61)).sent == 1
    # The first worker wakes up late with a failure: the re-claimed message keeps its outcome.
    slow._record(claimed, SendResult.retry("wecom", "timeout"), now, DeliveryCounts())
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_a_batch_stops_sending_before_its_lease_runs_out(
    engine: Engine, settings: Settings, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = add_people(engine, 5, prefix="cadre")
    ids = enqueue_texts(engine, people, [f"m{i}" for i in range(5)], now)
    clock = [1000.0]
    monkeypatch.setattr(bot.worker.time, "monotonic", lambda: clock[0])

    class SlowChannel:
        name = "slow"

        def send(self, person: Person, message: OutboxMessage, *, now: datetime) -> SendResult:
            clock[0] += 10  # each call takes ten seconds
            return SendResult.sent(self.name)

    channels = Channels(console=SlowChannel())  # type: ignore[arg-type]
    counts = Worker(engine, settings.model_copy(update={"worker_lease_seconds": 30}), channels)
    result = counts.deliver_due(now)
    assert (result.sent, result.released) == (2, 3)
    rows = outbox_rows(engine)
    assert [rows[i].status for i in ids] == ["sent"] * 2 + ["pending"] * 3
    assert [rows[i].attempts for i in ids[2:]] == [0, 0, 0]
    assert all(rows[i].next_attempt_at == now for i in ids[2:])


def test_two_workers_over_the_same_1000_messages_send_each_once(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    people = add_people(engine, 20, prefix="cadre")
    texts = [f"msg-{i:04d}" for i in range(1000)]
    enqueue_texts(engine, people, texts, now)
    claimed: dict[str, int] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        own_engine = make_engine(wsettings.resolved_database_url)
        try:
            worker = worker_for(own_engine, wsettings, name=name)
            total = 0
            while (n := worker.deliver_due(now).claimed) > 0:
                total += n
            claimed[name] = total
        except BaseException as exc:
            errors.append(exc)
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert errors == []
    assert fake.delivered_counts() == {text: 1 for text in texts}
    assert len(fake.calls_to("message/send")) == 1000
    assert claimed["w1"] > 0 and claimed["w2"] > 0
    assert claimed["w1"] + claimed["w2"] == 1000
    assert fake.token_fetches() == 1
    assert all_sent(engine)


def _worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(
        GRIEVANCE_DATABASE_URL=settings.resolved_database_url,
        GRIEVANCE_INSTANCE_PATH=str(settings.instance_path),
        GRIEVANCE_LOG_LEVEL="INFO",
        GRIEVANCE_WORKER_POLL_SECONDS="0.2",
        **extra,
    )
    return env


def test_a_worker_killed_mid_batch_leaves_its_messages_to_the_next_worker(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    people = add_people(engine, 10, prefix="cadre")
    texts = [f"msg-{i}" for i in range(10)]
    ids = enqueue_texts(engine, people, texts, utcnow() - timedelta(minutes=1))
    fake.block_sends_containing("msg-3")  # the fourth send hangs: the worker is mid-batch
    env = _worker_env(
        wsettings,
        GRIEVANCE_DELIVERY="wechat",
        GRIEVANCE_WECOM_CORP_ID="wwtestcorp000001",
        GRIEVANCE_WECOM_TOKEN="wecom-token",
        GRIEVANCE_WECOM_AGENT_ID="1000002",
        GRIEVANCE_WECOM_SECRET="wecom-secret",
        GRIEVANCE_WECOM_API_BASE=fake.wecom_base,
        GRIEVANCE_WORKER_LEASE_SECONDS="60",
    )
    process = subprocess.Popen(
        [str(BIN), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert fake.blocked.wait(timeout=30), "the worker never reached the hanging send"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0].decode(errors="replace")
    fake.unblock()
    assert process.returncode == -signal.SIGKILL, output

    rows = outbox_rows(engine)
    assert [rows[i].status for i in ids] == ["sent"] * 3 + ["pending"] * 7
    assert all(rows[i].lease_until is not None for i in ids[3:])

    successor = worker_for(engine, wsettings)
    assert successor.deliver_due(utcnow()).claimed == 0  # still leased to the dead worker
    counts = successor.deliver_due(utcnow() + timedelta(seconds=61))
    assert (counts.claimed, counts.sent) == (7, 7)
    assert fake.delivered_counts() == {text: 1 for text in texts}
    assert all_sent(engine)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_worker_command_delivers_and_stops_on_sigterm(
    engine: Engine, settings: Settings, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["控制台消息"], utcnow())
    process = subprocess.Popen(
        [str(BIN), "worker"],
        env=_worker_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while outbox_rows(engine)[message_id].status != "sent" and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=15)[0].decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert outbox_rows(engine)[message_id].channel == "console"
    assert "控制台消息" in output and "worker stopped" in output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_runs_a_worker_and_stops_it_on_sigterm(tmp_path: Path, database_url: str) -> None:
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
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        engine = make_engine(f"sqlite:///{instance / 'grievance.sqlite3'}")
        [cadre] = add_people(engine, 1, prefix="cadre")
        [message_id] = enqueue_texts(engine, [cadre], ["serve 里的消息"], utcnow())
        while outbox_rows(engine)[message_id].status != "sent" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert outbox_rows(engine)[message_id].channel == "console"
        engine.dispose()
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=15)[0].decode(errors="replace")
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert "worker stopped" in output
