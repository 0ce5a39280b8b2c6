"""Channels, the shared token and media, through real wechatpy clients and a fake WeChat API."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from bot.access_token import (
    AccessTokens,
    DatabaseTokenStore,
    RedisTokenStore,
    StoredToken,
    TokenStore,
    WecomApiClient,
    build_clients,
)
from bot.channels import Channels, ConsoleChannel, build_channels, channel_for
from bot.media import MediaFetcher
from bot.phone import Phone
from bot.worker import Worker
from config.settings import Settings
from config.templates import load_templates
from models.base import utcnow
from models.db import make_engine, read_session, unit_of_work
from models.inbound import InboundMessage
from models.outbox import AccessToken, enqueue
from models.person import Person
from models.ticket import Attachment, Ticket
from tests.builders import say
from tests.fake_wechat import (
    FakeWeChat,
    add_people,
    enqueue_texts,
    outbox_rows,
    running_fake,
    wechat_settings,
)
from tests.town import build_small_town

REDIS_URL = os.environ.get("GRIEVANCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

TEMPLATES = """
[default]
template_id = "TPL-default"
[default.fields]
character_string1 = "{ticket_id}"
thing2 = "{text}"
time3 = "{time}"

[kinds.assigned]
template_id = "TPL-assigned"
[kinds.assigned.fields]
thing2 = "{summary}"
time3 = "{time}"

[kinds.digest]
template_id = "PLACEHOLDER-周报"
"""


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with running_fake() as fake:
        yield fake


@pytest.fixture
def wsettings(settings: Settings, fake: FakeWeChat, tmp_path: Path) -> Settings:
    templates = tmp_path / "templates.toml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    return wechat_settings(settings, fake, templates_file=templates)


def worker_for(engine: Engine, settings: Settings) -> Worker:
    return Worker(engine, settings, build_channels(engine, settings))


def record_inbound(engine: Engine, openid: str, at: datetime, msg_type: str = "text") -> None:
    with unit_of_work(engine) as session:
        session.add(
            InboundMessage(
                channel="wechat",
                sender=openid,
                dedup_key=f"msg:{uuid.uuid4().hex}",
                msg_type=msg_type,
                received_at=at,
            )
        )


# ------------------------------------------------------------------------------ channels


def test_wecom_message_reaches_the_cadre(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["工单 #7 已派给您：3组水渠堵了"], now)

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert (counts.sent, counts.retried, counts.dead) == (1, 0, 0)
    [send] = fake.sends("wecom")
    assert send.endpoint == "message/send"
    assert send.recipient == "cadre-user-0"
    assert send.content == "工单 #7 已派给您：3组水渠堵了"
    assert fake.token_fetches("wecom") == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.channel, row.sent_at, row.attempts) == ("sent", "wecom", now, 1)


def test_open_window_uses_customer_service_up_to_five_then_templates(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [reporter] = add_people(engine, 1, wecom=False, openid=True, prefix="ren")
    record_inbound(engine, "ren-openid-0", now - timedelta(hours=47))
    record_inbound(engine, "ren-openid-0", now - timedelta(minutes=5), msg_type="event")
    ids = enqueue_texts(engine, [reporter], [f"进度 {i}" for i in range(7)], now, kind="progress")

    worker_for(engine, wsettings).deliver_due(now)

    rows = outbox_rows(engine)
    assert [rows[i].channel for i in ids] == ["wechat_cs"] * 5 + ["wechat_template"] * 2
    assert len(fake.calls_to("message/custom/send")) == 5
    templates = fake.calls_to("message/template/send")
    assert [t.template_id for t in templates] == ["TPL-default", "TPL-default"]
    assert json.loads(templates[0].content or "")["thing2"] == {"value": "进度 5"}


def test_closed_window_sends_the_kinds_template_with_fields_cut_to_size(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [reporter] = add_people(engine, 1, wecom=False, openid=True, prefix="ren")
    record_inbound(engine, "ren-openid-0", now - timedelta(hours=49))
    summary = "村东头的水渠被垃圾堵死了，十几户人家的田放不进水，已经三天了"
    [message_id] = enqueue_texts(
        engine, [reporter], ["您反映的问题已派单"], now, data={"summary": summary}
    )

    worker_for(engine, wsettings).deliver_due(now)

    [send] = fake.sends()
    assert send.endpoint == "message/template/send"
    assert send.template_id == "TPL-assigned"
    data = json.loads(send.content or "")
    assert data["thing2"]["value"] == summary[:19] + "…"
    assert data["time3"]["value"] == "2026-11-30 10:00"  # Asia/Shanghai
    assert outbox_rows(engine)[message_id].channel == "wechat_template"


def test_45015_switches_to_the_template(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [reporter] = add_people(engine, 1, wecom=False, openid=True, prefix="ren")
    record_inbound(engine, "ren-openid-0", now - timedelta(hours=1))
    fake.out_of_window.add("ren-openid-0")  # WeChat disagrees with our count
    [message_id] = enqueue_texts(engine, [reporter], ["请评价"], now, kind="rate")

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert counts.sent == 1
    assert [c.errcode for c in fake.calls_to("message/custom/send")] == [45015]
    [send] = fake.sends()
    assert (send.endpoint, send.template_id) == ("message/template/send", "TPL-default")
    assert outbox_rows(engine)[message_id].channel == "wechat_template"


def test_a_kind_without_a_template_id_is_a_dead_letter_outside_the_window(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [reporter] = add_people(engine, 1, wecom=False, openid=True, prefix="ren")
    [message_id] = enqueue_texts(engine, [reporter], ["本周汇总"], now, kind="digest")

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert counts.dead == 1
    row = outbox_rows(engine)[message_id]
    assert row.status == "dead"
    assert "no template id for kind 'digest'" in (row.last_error or "")
    assert fake.sends() == []


def test_a_person_without_a_wechat_identity_is_a_dead_letter(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [nobody] = add_people(engine, 1, wecom=False, openid=False, prefix="nobody")
    [message_id] = enqueue_texts(engine, [nobody], ["派单"], now)

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert counts.dead == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.last_error, row.channel) == ("dead", "no WeChat identity", None)
    assert fake.calls == []


def test_a_userid_outside_the_apps_range_is_a_permanent_failure(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    fake.invalid_users.add("cadre-user-0")
    [message_id] = enqueue_texts(engine, [cadre], ["派单"], now)

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert counts.dead == 1
    assert "invaliduser" in (outbox_rows(engine)[message_id].last_error or "")


def test_a_message_addressed_to_an_identity_reaches_that_phone_not_the_bound_one(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    # A rebinding moved the person to a new WeChat: the notice goes to the old one; a reply to a
    # message from somebody the roster does not know goes to their openid, with no person.
    [person] = add_people(engine, 1, wecom=False, openid=True, prefix="moved")
    with unit_of_work(engine) as session:
        old = enqueue(
            session,
            person_id=person,
            kind="rebound",
            text="您的身份已绑定到另一个微信",
            now=now,
            recipient=("wechat", "old-openid"),
        )
        stranger = enqueue(
            session,
            person_id=None,
            kind="reply",
            text="已收到",
            now=now,
            recipient=("wecom", "someone-user"),
        )
        assert old is not None and stranger is not None
        ids = (old.id, stranger.id)
    record_inbound(engine, "old-openid", now - timedelta(minutes=5))

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert counts.sent == 2
    [cs] = fake.calls_to("message/custom/send")
    assert cs.recipient == "old-openid"
    [app_message] = fake.sends("wecom")
    assert app_message.recipient == "someone-user"
    rows = outbox_rows(engine)
    assert [rows[i].channel for i in ids] == ["wechat_cs", "wecom"]


def test_channel_for_decides_from_identities_in_one_place(
    engine: Engine, wsettings: Settings, settings: Settings
) -> None:
    both = Person(name="甲", phone="1", place_id=1, wecom_userid="u", wechat_openid="o")
    openid_only = Person(name="乙", phone="2", place_id=1, wechat_openid="o2")
    gone = Person(name="丙", phone="3", place_id=1, wecom_userid="u3", active=False)
    channels = build_channels(engine, wsettings)
    assert channel_for(both, channels) is channels.wecom
    assert channel_for(openid_only, channels) is channels.wechat
    assert channel_for(gone, channels) == "recipient is no longer on the roster"
    assert channel_for(None, channels) == "no recipient"
    wecom_only = Channels(wecom=channels.wecom)
    assert "no configured channel" in str(channel_for(openid_only, wecom_only))
    # No outbound secrets in the plain test settings: development prints instead.
    assert settings.resolved_delivery == "console"
    console = build_channels(engine, settings)
    assert isinstance(channel_for(both, console), ConsoleChannel)


def test_console_delivery_marks_the_row_and_logs_the_text(
    engine: Engine, settings: Settings, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    [message_id] = enqueue_texts(engine, [cadre], ["工单 #3 请签收"], now)

    with caplog.at_level(logging.INFO, logger="bot.channels"):
        counts = worker_for(engine, settings).deliver_due(now)

    assert counts.sent == 1
    row = outbox_rows(engine)[message_id]
    assert (row.status, row.channel) == ("sent", "console")
    assert "工单 #3 请签收" in caplog.text


def test_templates_file_loads_and_placeholders_count_as_missing() -> None:
    templates = load_templates()  # the shipped file: every id still a placeholder
    assert templates.kinds["assigned"].template_id.startswith("PLACEHOLDER")
    assert templates.for_kind("assigned") is None
    assert templates.for_kind("anything") is None


# -------------------------------------------------------------------------- access token


def test_a_token_expired_mid_run_causes_exactly_one_refresh(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    people = add_people(engine, 5, prefix="cadre")
    texts = [f"msg-{i}" for i in range(20)]
    enqueue_texts(engine, people, texts, now)
    # Two workers (as two processes would) share the token through the database.
    first = worker_for(engine, wsettings.model_copy(update={"worker_batch_size": 10}))
    second = worker_for(engine, wsettings.model_copy(update={"worker_batch_size": 5}))

    assert first.deliver_due(now).sent == 10
    fake.expire_tokens()
    assert second.deliver_due(now).sent == 5
    assert first.deliver_due(now).sent == 5

    assert fake.token_fetches("wecom") == 2  # the first token, and one refresh
    refused = [c for c in fake.calls_to("message/send") if c.errcode == 42001]
    assert len(refused) == 2  # each worker's first call with the old token
    assert fake.delivered_counts() == {text: 1 for text in texts}


def test_40001_once_means_one_refresh_and_one_retry(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    [cadre] = add_people(engine, 1, prefix="cadre")
    enqueue_texts(engine, [cadre], ["派单"], now)
    worker = worker_for(engine, wsettings)
    fake.fail_once(40001)

    assert worker.deliver_due(now).sent == 1
    assert fake.token_fetches() == 2
    assert [c.errcode for c in fake.calls_to("message/send")] == [40001, 0]


def test_a_token_refused_after_the_refresh_is_not_retried_in_a_loop(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    people = add_people(engine, 3, prefix="cadre")
    ids = enqueue_texts(engine, people, ["一", "二", "三"], now)
    fake.refuse_all_tokens = True

    counts = worker_for(engine, wsettings).deliver_due(now)

    assert (counts.retried, counts.released, counts.sent) == (1, 2, 0)
    assert fake.token_fetches() == 2  # the first token, one refresh, and no more
    assert len(fake.calls_to("message/send")) == 2  # one call, one retry
    rows = outbox_rows(engine)
    assert "token refused after a refresh" in (rows[ids[0]].last_error or "")
    assert [rows[i].attempts for i in ids] == [1, 0, 0]  # the others were put back


def _expiring_token(store: TokenStore, engine: Engine, app: str) -> None:
    """Store a token with a minute left: inside the refresh-ahead margin."""
    if isinstance(store, DatabaseTokenStore):
        with unit_of_work(engine) as session:
            session.add(
                AccessToken(app=app, token="old", expires_at=utcnow() + timedelta(minutes=1))
            )
    else:
        store.refresh(
            app, lambda _c: True, lambda: StoredToken("old", utcnow() + timedelta(minutes=1))
        )


def _race_for_token(
    make_store: object, engine: Engine, fake: FakeWeChat, settings: Settings
) -> None:
    """Eight 'processes' (own engine, store and client) ask for the token at once."""
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def one() -> None:
        own_engine = make_engine(settings.resolved_database_url)
        try:
            store = make_store(own_engine)  # type: ignore[operator]
            client = WecomApiClient("wwtestcorp000001", "s", "1000002", fake.wecom_base, store)
            start.wait()
            results.append(client.access_token)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own_engine.dispose()

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert fake.token_fetches() == 1
    assert len(set(results)) == 1 and results[0] != "old"


def test_the_database_token_is_refreshed_ahead_of_expiry_by_one_process(
    engine: Engine, settings: Settings, fake: FakeWeChat
) -> None:
    app = "wecom:wwtestcorp000001:1000002"
    _expiring_token(DatabaseTokenStore(engine), engine, app)
    _race_for_token(DatabaseTokenStore, engine, fake, settings)
    with read_session(engine) as session:
        row = session.get(AccessToken, app)
        assert row is not None and row.expires_at is not None
        assert row.token.startswith("wecom-token-")
        assert row.expires_at - utcnow() > timedelta(hours=1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_redis_token_is_refreshed_ahead_of_expiry_by_one_process(
    engine: Engine, settings: Settings, fake: FakeWeChat
) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"grievance-test-{uuid.uuid4().hex}"
    store = RedisTokenStore(REDIS_URL, prefix=prefix)
    try:
        _expiring_token(store, engine, "wecom:wwtestcorp000001:1000002")
        _race_for_token(
            lambda _e: RedisTokenStore(REDIS_URL, prefix=prefix), engine, fake, settings
        )
        assert store.read("wecom:wwtestcorp000001:1000002") is not None
    finally:
        for key in store.redis.scan_iter(f"{prefix}:*"):
            store.redis.delete(key)


def test_token_cache_reads_the_store_only_near_expiry(engine: Engine, fake: FakeWeChat) -> None:
    reads = 0
    store = DatabaseTokenStore(engine)
    original = store.read

    def counting_read(app: str) -> StoredToken | None:
        nonlocal reads
        reads += 1
        return original(app)

    store.read = counting_read  # type: ignore[method-assign]
    tokens = AccessTokens(
        store, "test-app", lambda: StoredToken("t1", utcnow() + timedelta(hours=2))
    )
    assert [tokens.get() for _ in range(5)] == ["t1"] * 5
    assert (reads, tokens.fetches) == (1, 1)


# --------------------------------------------------------------------------------- media


def _attachment(engine: Engine, now: datetime, *, kind: str, channel: str, media_id: str) -> int:
    with unit_of_work(engine) as session:
        ticket = Ticket(channel=channel, sender="ren-openid-0", created_at=now, updated_at=now)
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        attachment = Attachment(
            ticket_id=ticket.id, kind=kind, channel=channel, media_id=media_id, created_at=now
        )
        session.add(attachment)
        session.flush()
        assert attachment.id is not None
        return attachment.id


def _attachment_row(engine: Engine, attachment_id: int) -> Attachment:
    with read_session(engine) as session:
        row = session.get(Attachment, attachment_id)
        assert row is not None
        return row


def test_images_and_voice_notes_are_downloaded_into_the_instance_folder(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    photo = b"\xff\xd8\xff\xe0fake-jpeg"
    voice = b"#!AMR\nfake-voice"
    fake.media["PHOTO-1"] = (photo, "image/jpeg")
    fake.media["VOICE-1"] = (voice, "audio/amr")
    image_id = _attachment(engine, now, kind="image", channel="wechat", media_id="PHOTO-1")
    voice_id = _attachment(engine, now, kind="voice", channel="wecom", media_id="VOICE-1")
    fetcher = MediaFetcher(engine, wsettings, build_clients(engine, wsettings))

    counts = fetcher.download_due(now + timedelta(seconds=5))

    assert (counts.downloaded, counts.retried, counts.failed) == (2, 0, 0)
    image, voice_row = _attachment_row(engine, image_id), _attachment_row(engine, voice_id)
    assert image.file_path == f"media/{image.ticket_id}/{image_id}-image.jpg"
    assert voice_row.file_path == f"media/{voice_row.ticket_id}/{voice_id}-voice.amr"
    assert (wsettings.instance_path / image.file_path).read_bytes() == photo
    assert (wsettings.instance_path / voice_row.file_path).read_bytes() == voice
    assert image.downloaded_at == now + timedelta(seconds=5)
    assert {c.api for c in fake.calls_to("media/get")} == {"wechat", "wecom"}
    assert fetcher.download_due(now + timedelta(minutes=5)).claimed == 0


def test_a_failed_download_is_retried_with_backoff(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    fake.media["PHOTO-2"] = (b"\xff\xd8jpeg", "image/jpeg")
    attachment_id = _attachment(engine, now, kind="image", channel="wechat", media_id="PHOTO-2")
    fetcher = MediaFetcher(engine, wsettings, build_clients(engine, wsettings))
    fake.go_down(calls=1)  # the token fetch fails

    assert fetcher.download_due(now).retried == 1
    row = _attachment_row(engine, attachment_id)
    assert row.file_path is None and row.download_attempts == 1
    assert row.next_download_at is not None and "TokenUnavailable" in (row.download_error or "")
    assert timedelta(seconds=15) <= row.next_download_at - now <= timedelta(seconds=30)
    assert fetcher.download_due(now + timedelta(seconds=10)).claimed == 0  # not yet due

    assert fetcher.download_due(now + timedelta(seconds=31)).downloaded == 1
    row = _attachment_row(engine, attachment_id)
    assert row.download_attempts == 2 and row.download_error is None
    assert row.file_path is not None
    assert (wsettings.instance_path / row.file_path).read_bytes() == b"\xff\xd8jpeg"


def test_a_media_id_wechat_does_not_know_is_given_up(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    attachment_id = _attachment(engine, now, kind="voice", channel="wechat", media_id="GONE")
    fetcher = MediaFetcher(engine, wsettings, build_clients(engine, wsettings))

    assert fetcher.download_due(now).failed == 1
    row = _attachment_row(engine, attachment_id)
    assert row.file_path is None and row.next_download_at is None
    assert (row.download_error or "").startswith("gave up: errcode 40007")
    assert fetcher.download_due(now + timedelta(days=1)).claimed == 0


def test_the_worker_loop_downloads_media_too(
    engine: Engine, wsettings: Settings, fake: FakeWeChat, now: datetime
) -> None:
    from bot.worker import build_worker

    fake.media["PHOTO-3"] = (b"\xff\xd8x", "image/jpeg")
    attachment_id = _attachment(engine, now, kind="image", channel="wechat", media_id="PHOTO-3")
    turn = build_worker(engine, wsettings).run_once(now)
    assert turn.media.downloaded == 1 and turn.busy
    assert _attachment_row(engine, attachment_id).file_path is not None


def test_console_delivery_logs_phone_numbers_masked_and_keeps_them_in_the_message(
    engine: Engine,
    settings: Settings,
    client: FlaskClient,
    phone: Phone,
    caplog: pytest.LogCaptureFixture,
) -> None:
    town = build_small_town(engine)
    reporter = town.people["reporter"]
    say(client, phone, town.openid("reporter"), "我们组的路灯坏了一个多月，晚上黑漆漆的")
    [assigned] = [m for m in outbox_rows(engine).values() if m.kind == "assigned"]
    shown = f"{reporter.name}（{reporter.phone}）"
    assert shown in assigned.text  # the cadre needs the number to call back

    echoed: list[str] = []
    channels = Channels(console=ConsoleChannel(echo=echoed.append))
    with caplog.at_level(logging.INFO, logger="bot.channels"):
        Worker(engine, settings, channels).deliver_due(utcnow())

    masked = f"{reporter.name}（{reporter.phone[:3]}****{reporter.phone[-4:]}）"
    assert masked in caplog.text and reporter.phone not in caplog.text
    assert outbox_rows(engine)[assigned.id].text == assigned.text  # the outbox keeps it whole
    assert any(shown in text for text in echoed)  # and so does what the phone shows
