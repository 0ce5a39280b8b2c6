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
from bot.channels import Channels, Sending, SendResult, build_channels
from bot.cli import main
from bot.worker import DeliveryCounts, Worker
from config.settings import Settings, get_settings
from handlers import texts
from models.base import utcnow
from models.db import make_engine, unit_of_work
from models.inbound import InboundMessage
from models.outbox import AccessToken, OutboxMessage
from models.person import Person
from tests.conftest import BACKENDS
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

        def send(
            self, person: Person, message: OutboxMessage, *, now: datetime, sending: Sending
        ) -> SendResult:
            sending.about_to_call(self.name)
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
    # The fourth was being sent (marked just before its call); the rest were never handed over.
    assert [rows[i].status for i in ids] == ["sent"] * 3 + ["sending"] + ["pending"] * 6
    assert all(rows[i].lease_until is not None for i in ids[3:])

    successor = worker_for(engine, wsettings)
    assert successor.deliver_due(utcnow()).claimed == 0  # still leased to the dead worker
    counts = successor.deliver_due(utcnow() + timedelta(seconds=61))
    assert (counts.claimed, counts.sent) == (7, 7)
    assert fake.delivered_counts() == {text: 1 for text in texts}
    assert all_sent(engine)


# ------------------------------------------------------- killed after WeChat took the call

TEMPLATES = """
[default]
template_id = "TPL-default"
[default.fields]
thing2 = "{text}"
"""


def _killed_mid_call(
    fake: FakeWeChat, wsettings: Settings, tmp_path: Path, texts: list[str], marker: str
) -> str:
    """Run `grievance-bot worker` until WeChat has taken `marker`'s message, then SIGKILL it."""
    templates = tmp_path / "templates.toml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    fake.hang_after_delivering(marker)
    env = _worker_env(
        wsettings,
        GRIEVANCE_DELIVERY="wechat",
        GRIEVANCE_WECHAT_APPID="wxtestappid000001",
        GRIEVANCE_WECHAT_SECRET="wechat-secret",
        GRIEVANCE_WECHAT_API_BASE=fake.wechat_base,
        GRIEVANCE_WECOM_CORP_ID="wwtestcorp000001",
        GRIEVANCE_WECOM_AGENT_ID="1000002",
        GRIEVANCE_WECOM_SECRET="wecom-secret",
        GRIEVANCE_WECOM_API_BASE=fake.wecom_base,
        GRIEVANCE_TEMPLATES_FILE=str(templates),
    )
    process = subprocess.Popen(
        [str(BIN), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert fake.blocked.wait(timeout=30), "the worker never reached the send"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0].decode(errors="replace")
    fake.unblock()
    assert process.returncode == -signal.SIGKILL, output
    # It reached the phone before the kill.
    assert sum(1 for call in fake.sends() if marker in (call.content or "")) == 1
    return output


@pytest.mark.parametrize(
    ("how", "database_url"),
    [("wecom", backend) for backend in BACKENDS] + [("wechat_template", "sqlite")],
    indirect=["database_url"],
)
def test_a_worker_killed_after_wechat_took_a_message_does_not_deliver_it_twice(
    how: str,
    engine: Engine,
    wsettings: Settings,
    fake: FakeWeChat,
    tmp_path: Path,
    cli_env: None,
) -> None:
    people = add_people(engine, 5, wecom=how == "wecom", openid=how != "wecom", prefix="p")
    texts = [f"msg-{i}" for i in range(6)]
    ids = enqueue_texts(engine, people, texts, utcnow() - timedelta(minutes=1))
    _killed_mid_call(fake, wsettings, tmp_path, texts, "msg-3")
    assert outbox_rows(engine)[ids[3]].status == "sending"
    assert f"发送中（{how}" in CliRunner().invoke(main, ["outbox", "list"]).output

    templates = tmp_path / "templates.toml"
    successor = worker_for(
        engine, wsettings.model_copy(update={"templates_file": templates}), name="successor"
    )
    counts = successor.deliver_due(utcnow() + timedelta(seconds=61))
    assert counts.sent == 3 and counts.dead == 0
    # The repeat was made, with what lets WeChat drop it, and WeChat dropped it.
    repeats = [c for c in fake.calls if c.deduped]
    assert len(repeats) == 1 and "msg-3" in (repeats[0].content or "")
    assert fake.delivered_counts() == {
        (json.dumps({"thing2": {"value": t}}, ensure_ascii=False) if how != "wecom" else t): 1
        for t in texts
    }
    rows = outbox_rows(engine)
    assert {rows[i].status for i in ids} == {"sent"}
    assert rows[ids[3]].channel == how


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_customer_service_message_found_sending_is_held_for_the_office(
    engine: Engine,
    wsettings: Settings,
    fake: FakeWeChat,
    tmp_path: Path,
    cli_env: None,
) -> None:
    people = add_people(engine, 3, wecom=False, openid=True, prefix="r")
    with unit_of_work(engine) as session:  # they wrote an hour ago: the window is open
        for i in range(3):
            session.add(
                InboundMessage(
                    channel="wechat",
                    sender=f"r-openid-{i}",
                    dedup_key=f"msg:{i}",
                    msg_type="text",
                    received_at=utcnow() - timedelta(hours=1),
                )
            )
    texts_sent = [f"进度-{i}" for i in range(3)]
    ids = enqueue_texts(engine, people, texts_sent, utcnow() - timedelta(minutes=1))
    _killed_mid_call(fake, wsettings, tmp_path, texts_sent, "进度-1")

    successor = worker_for(engine, wsettings, name="successor")
    counts = successor.deliver_due(utcnow() + timedelta(seconds=61))
    assert (counts.sent, counts.dead, counts.uncertain) == (1, 1, 1)
    assert fake.delivered_counts() == {t: 1 for t in texts_sent}  # not a second time
    held = outbox_rows(engine)[ids[1]]
    assert (held.status, held.channel, held.last_error) == (
        "dead",
        "wechat_cs",
        texts.OUTBOX_UNCERTAIN,
    )
    listed = CliRunner().invoke(main, ["outbox", "list", "--dead"]).output
    assert "结果不明" in listed and "outbox retry" in listed


def test_a_repeat_is_not_made_once_wechats_dedup_window_is_over(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, tmp_path: Path
) -> None:
    templates = tmp_path / "templates.toml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    tsettings = wsettings.model_copy(update={"templates_file": templates})
    [reporter] = add_people(engine, 1, wecom=False, openid=True, prefix="t")
    start = utcnow()
    [message_id] = enqueue_texts(engine, [reporter], ["模板-1"], start)
    fake.hang_after_delivering("模板-1")
    first = worker_for(engine, tsettings, name="first")
    hung = threading.Thread(target=first.deliver_due, args=(start,))
    hung.start()
    assert fake.blocked.wait(timeout=10)
    # Nobody looks again for eleven minutes: WeChat's ten for client_msg_id are over.
    fake.advance(11 * 60)
    counts = worker_for(engine, tsettings, name="late").deliver_due(start + timedelta(minutes=11))
    fake.unblock()
    hung.join(timeout=10)
    assert (counts.dead, counts.uncertain) == (1, 1)
    assert len(fake.calls_to("message/template/send")) == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.last_error) == ("dead", texts.OUTBOX_UNCERTAIN)  # the late answer
    # of the first worker does not overwrite it (fenced by the attempt number)


def test_a_call_that_timed_out_after_leaving_is_repeated_only_as_a_deduplicated_call(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.access_token

    monkeypatch.setattr(bot.access_token, "HTTP_TIMEOUT_SECONDS", 0.5)
    [cadre] = add_people(engine, 1, prefix="c")
    start = utcnow()
    [message_id] = enqueue_texts(engine, [cadre], ["超时的消息"], start)
    worker = worker_for(engine, wsettings)
    fake.hang_after_delivering("超时的消息")
    try:
        counts = worker.deliver_due(start)  # WeChat took it; the answer never came
    finally:
        fake.unblock()
    assert counts.retried == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.channel) == ("sending", "wecom")
    assert "ReadTimeout" in (row.last_error or "")

    counts = worker.deliver_due(start + timedelta(minutes=2))
    assert counts.sent == 1
    assert fake.delivered_counts() == {"超时的消息": 1}
    assert [c.deduped for c in fake.calls_to("message/send")] == [False, True]


def test_a_refused_connection_sent_nothing_and_is_retried_as_new(
    engine: Engine, wsettings: Settings, now: datetime
) -> None:
    from tests.bot.test_cli import free_port

    closed = f"http://127.0.0.1:{free_port()}/wecom/cgi-bin/"
    settings = wsettings.model_copy(update={"wecom_api_base": closed})
    [cadre] = add_people(engine, 1, prefix="c")
    [message_id] = enqueue_texts(engine, [cadre], ["连不上"], now)
    with unit_of_work(engine) as session:  # a token in store: the send itself is refused
        session.add(
            AccessToken(
                app="wecom:wwtestcorp000001:1000002",
                token="t",
                expires_at=now + timedelta(hours=1),
            )
        )
    assert worker_for(engine, settings).deliver_due(now).retried == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.sent_at) == ("pending", None)


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
