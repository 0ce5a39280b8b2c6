"""From a decrypted callback body to a stored reply: parse, deduplicate, dispatch, commit once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import wechatpy
import wechatpy.enterprise
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from wechatpy.replies import TextReply

from bot.wechat_crypto import MALFORMED_ERRORS, Malformed
from config.office import OfficeConfig
from config.settings import Settings
from handlers import texts
from handlers.router import Context, Message, Router
from models.base import utcnow
from models.db import read_session, unit_of_work
from models.inbound import InboundMessage, dedup_key_for, find_inbound

log = logging.getLogger(__name__)

SUCCESS = "success"
WRITER_WAIT_SECONDS = 3.0
MAX_REPLY_CHARS = 600  # WeChat cuts passive text replies at 2048 bytes; 600 CJK chars fit


def mask(identifier: str | None) -> str:
    """An openid or userid shortened for logs: enough to correlate, not to identify."""
    if not identifier:
        return "-"
    if len(identifier) <= 6:
        return identifier[:1] + "***"
    return f"{identifier[:3]}***{identifier[-3:]}"


def parse_wechat_xml(xml: str, channel: str) -> tuple[Any, Message]:
    """Parse a plaintext callback with wechatpy; Malformed when it is not a usable message."""
    parser = wechatpy.enterprise.parse_message if channel == "wecom" else wechatpy.parse_message
    try:
        raw = parser(xml)
    except MALFORMED_ERRORS as exc:
        raise Malformed(f"unparsable message: {type(exc).__name__}") from exc
    # Duplicate tags turn fields into lists; a message without a plain sender is not one.
    for name in ("source", "target", "type"):
        if not isinstance(getattr(raw, name, None), str) or not getattr(raw, name):
            raise Malformed(f"message has no usable {name}")
    try:
        return raw, to_message(raw, channel)
    except MALFORMED_ERRORS as exc:
        raise Malformed(f"unreadable field: {type(exc).__name__}") from exc


def to_message(raw: Any, channel: str) -> Message:
    """Translate a wechatpy message object into the handlers' Message."""
    msg_type = str(raw.type)
    create_time = raw.create_time if isinstance(raw.create_time, datetime) else utcnow()
    if create_time.tzinfo is None:
        create_time = create_time.replace(tzinfo=UTC)
    content = ""
    if msg_type == "text":
        content = _text(getattr(raw, "content", ""))
    elif msg_type == "voice":
        content = _text(getattr(raw, "recognition", ""))
    latitude = longitude = None
    label = None
    if msg_type == "location":
        latitude, longitude = _floats(getattr(raw, "location", (None, None)))
        label = _text(getattr(raw, "label", "")) or None
    elif msg_type == "event" and str(getattr(raw, "event", "")).lower() == "location":
        latitude = _float(getattr(raw, "latitude", None))
        longitude = _float(getattr(raw, "longitude", None))
    elif msg_type in ("link", "file"):
        label = _text(getattr(raw, "title", "")) or None
    event = str(raw.event).lower() if msg_type == "event" and getattr(raw, "event", None) else None
    event_key = getattr(raw, "key", None) if msg_type == "event" else None
    msg_id = getattr(raw, "id", None)
    return Message(
        channel=channel,
        sender=raw.source,
        type=msg_type,
        created_at=create_time.astimezone(UTC),
        content=content,
        event=event,
        event_key=event_key if isinstance(event_key, str) else None,
        media_id=_text(getattr(raw, "media_id", "")) or None,
        picture_url=_text(getattr(raw, "image", "")) or None,
        latitude=latitude,
        longitude=longitude,
        label=label,
        msg_id=str(msg_id) if msg_id not in (None, "") else None,
        raw=raw,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _floats(pair: Any) -> tuple[float | None, float | None]:
    if isinstance(pair, tuple | list) and len(pair) == 2:
        return _float(pair[0]), _float(pair[1])
    return None, None


def dedup_key_of(raw: Any, message: Message) -> str:
    """The key WeChat's retries of this message share."""
    create_time = raw._data.get("CreateTime") if hasattr(raw, "_data") else None
    return dedup_key_for(
        message.type,
        message.msg_id,
        create_time,
        message.event,
        message.event_key,
        raw._data.get("AgentID") if hasattr(raw, "_data") else None,
    )


def render_reply(text: str, raw: Any, now: datetime) -> str:
    """A passive text reply as WeChat's XML; `]]>` in the text would end the CDATA early."""
    safe = text.replace("]]>", "]] >")
    if len(safe) > MAX_REPLY_CHARS:
        safe = safe[: MAX_REPLY_CHARS - 1] + "…"
    reply = TextReply(source=raw.target, target=raw.source, content=safe, time=int(now.timestamp()))
    return str(reply.render())


class Inbox:
    """Turns each callback into exactly one recorded effect and one reply, however often sent."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        router: Router,
        office: OfficeConfig,
        services: dict[str, Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.router = router
        self.office = office
        self.services = services or {}
        self.clock = clock

    def receive(self, raw: Any, message: Message) -> str:
        """Record, dispatch and answer one parsed message; a repeat gets the first answer."""
        key = dedup_key_of(raw, message)
        for _attempt in range(5):
            try:
                return self._receive_once(raw, message, key)
            except IntegrityError:
                # Another process recorded the same delivery first: the next pass reads its
                # reply. Any other unique clash is a real error, not something to repeat.
                if not self._seen(message, key):
                    raise
                continue
            except OperationalError as exc:
                if "locked" not in str(exc).lower():
                    raise
                continue
        raise RuntimeError("could not record an inbound message after repeated conflicts")

    def _seen(self, message: Message, key: str) -> bool:
        with read_session(self.engine) as session:
            return find_inbound(session, message.channel, message.sender, key) is not None

    def _receive_once(self, raw: Any, message: Message, key: str) -> str:
        now = self.clock()
        # WeChat gives up after 5 seconds: rather answer "try again" in time than succeed late.
        with unit_of_work(self.engine, wait=WRITER_WAIT_SECONDS) as session:
            seen = find_inbound(session, message.channel, message.sender, key)
            if seen is not None:
                log.info(
                    "repeat delivery %s from %s answered from store", key, mask(message.sender)
                )
                return seen.reply or SUCCESS
            record = InboundMessage(
                channel=message.channel,
                sender=message.sender,
                dedup_key=key,
                msg_type=message.type,
                received_at=now,
            )
            session.add(record)
            session.flush()  # on PostgreSQL a concurrent twin blocks here until we commit
            ctx = Context(
                session=session,
                settings=self.settings,
                now=now,
                office=self.office,
                services=self.services,
            )
            text = self.router.dispatch(message, ctx)
            record.reply = render_reply(text, raw, now) if text else SUCCESS
            session.add(record)
        return record.reply

    def error_reply(self, raw: Any) -> str:
        """The answer when handling failed: nothing was stored, so WeChat's retry tries again."""
        return render_reply(texts.INTERNAL_ERROR, raw, self.clock())
