"""From a decrypted callback body to a stored reply: parse, deduplicate, dispatch, commit once."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

import wechatpy
import wechatpy.enterprise
import xmltodict
from sqlalchemy import Engine, bindparam, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from wechatpy.replies import TextReply

from bot.spool import Spool, SpoolEntry, SpoolFull
from bot.wechat_crypto import MALFORMED_ERRORS, Malformed
from config.calendar import TIMEZONE
from config.office import OfficeConfig
from config.settings import Settings
from handlers import texts
from handlers.classifier import load_trusted
from handlers.parsers import ParserCache
from handlers.router import Context, Message, Router
from models.base import utcnow
from models.conversation import ConversationState
from models.db import WriteBusy, read_session, unit_of_work
from models.directory import table_of
from models.inbound import InboundMessage, column_chars, dedup_key_for, find_inbound
from models.outbox import enqueue
from models.person import BindingAttempt, Person, person_for_sender
from models.ticket import Attachment, Ticket

log = logging.getLogger(__name__)

SUCCESS = "success"
WRITER_WAIT_SECONDS = 3.0
MAX_REPLY_CHARS = 600  # WeChat cuts passive text replies at 2048 bytes; 600 CJK chars fit
MAX_CREATE_TIME = 2**32 - 1  # WeChat's CreateTime is 32-bit Unix seconds
MAX_NESTING = 8  # levels of elements, <xml> included; WeChat's deepest events have 4

# Identifiers WeChat generates, and the narrowest column each one is stored in. Real values are far
# shorter (openids 28 characters, userids at most 64, MediaIds 64): a longer one is refused (400).
ID_FIELD_CHARS = {
    "FromUserName": min(
        column_chars(column)
        for column in (
            InboundMessage.sender,
            Ticket.sender,
            ConversationState.sender,
            BindingAttempt.sender,
            Person.wechat_openid,
            Person.wecom_userid,
        )
    ),
    "MediaId": column_chars(Attachment.media_id),
    "PicUrl": column_chars(Attachment.url),
}
LABEL_CHARS = column_chars(Attachment.label)  # free text (location label, title): cut to fit
WHAT_MAX_CHARS = 12  # of a message quoted in a late answer
SQLITE_UNAVAILABLE = (
    "unable to open",
    "database is locked",
    "readonly database",
    "disk i/o error",
    "database or disk is full",
    "file is not a database",
    "database disk image is malformed",
)


def mask(identifier: str | None) -> str:
    """An openid or userid shortened for logs: enough to correlate, not to identify."""
    if not identifier:
        return "-"
    if len(identifier) <= 6:
        return identifier[:1] + "***"
    return f"{identifier[:3]}***{identifier[-3:]}"


def parse_wechat_xml(xml: str, channel: str) -> tuple[Any, Message]:
    """Parse a plaintext callback with wechatpy; Malformed when it is not a usable message.

    Whatever reaches a bounded column is checked here, so that SQLite and PostgreSQL behave alike:
    identifiers WeChat generates (FromUserName, MediaId, PicUrl) longer than their column are
    refused, free text (labels) is cut to fit, over-long dedup keys are hashed (models/inbound.py).
    """
    parser = wechatpy.enterprise.parse_message if channel == "wecom" else wechatpy.parse_message
    try:
        raw = parser(xml)
    except MALFORMED_ERRORS as exc:
        raise Malformed(f"unparsable message: {type(exc).__name__}") from exc
    # Duplicate tags turn fields into lists; a message without a plain sender is not one.
    for name in ("source", "target", "type"):
        if not isinstance(getattr(raw, name, None), str) or not getattr(raw, name):
            raise Malformed(f"message has no usable {name}")
    data = raw._data
    # WeChat nests a few levels at most; deeper bodies would only exhaust the recursion limit.
    if _nesting(data) > MAX_NESTING:
        raise Malformed(f"fields nested deeper than {MAX_NESTING} levels")
    for name, limit in ID_FIELD_CHARS.items():
        value = data.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise Malformed(f"{name} has {len(value)} characters, more than the {limit} stored")
    try:
        return raw, to_message(raw, channel)
    except MALFORMED_ERRORS as exc:
        raise Malformed(f"unreadable field: {type(exc).__name__}") from exc


def to_message(raw: Any, channel: str) -> Message:
    """Translate a wechatpy message object into the handlers' Message."""
    msg_type = str(raw.type)
    # Not raw.create_time: wechatpy's conversion raises OverflowError/OSError on huge values.
    create_time = _create_time(raw._data.get("CreateTime")) or utcnow()
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
    if label is not None and len(label) > LABEL_CHARS:
        label = label[: LABEL_CHARS - 1] + "…"
    event = str(raw.event).lower() if msg_type == "event" and getattr(raw, "event", None) else None
    # From the body itself: wechatpy names it differently per event (VIEW's is `url`).
    event_key = raw._data.get("EventKey") if msg_type == "event" else None
    return Message(
        channel=channel,
        sender=raw.source,
        type=msg_type,
        created_at=create_time,
        content=content,
        event=event,
        event_key=event_key if isinstance(event_key, str) else None,
        media_id=_text(getattr(raw, "media_id", "")) or None,
        picture_url=_text(getattr(raw, "image", "")) or None,
        latitude=latitude,
        longitude=longitude,
        label=label,
        msg_id=_msg_id(raw._data.get("MsgId")),
        raw=raw,
    )


def _create_time(value: Any) -> datetime | None:
    """CreateTime as an aware datetime; None when absent, Malformed when not a sane Unix time."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdecimal()):
        raise Malformed("CreateTime is not a number")
    if len(text) > 10 or int(text) > MAX_CREATE_TIME:
        raise Malformed("CreateTime out of range")
    return datetime.fromtimestamp(int(text), tz=UTC)


def _msg_id(value: Any) -> str | None:
    """MsgId as WeChat's decimal digits; None when absent (or 0), Malformed when not a number."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    if text and not (text.isascii() and text.isdecimal()):
        raise Malformed("MsgId is not a number")
    return text.lstrip("0") or None


def _nesting(data: Any) -> int:
    """How many levels of elements a parsed body has (iteratively: it may be deep)."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth) for item in value)
    return deepest


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # PostgreSQL keeps NaN, SQLite does not


def _floats(pair: Any) -> tuple[float | None, float | None]:
    if isinstance(pair, tuple | list) and len(pair) == 2:
        return _float(pair[0]), _float(pair[1])
    return None, None


def dedup_key_of(raw: Any, message: Message) -> str:
    """The key WeChat's retries of this message share."""
    data = raw._data if hasattr(raw, "_data") else {}
    return dedup_key_for(
        message.type,
        message.msg_id,
        data.get("CreateTime"),
        message.event,
        message.event_key,
        data.get("AgentID"),
        content_digest=content_digest(data),
    )


def content_digest(data: dict[str, Any]) -> str:
    """A hash of a message's type and payload fields: the same for a retry, not for another message.

    Sender, recipient and time are left out (the key holds them); so are the values wechatpy
    fills in itself when a field is read (None, 0): only what the body carried counts.
    """
    payload = {
        name: value
        for name, value in data.items()
        if name not in ("ToUserName", "FromUserName", "CreateTime", "MsgId")
        and isinstance(value, str | dict | list)
        and value != ""
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def render_reply(text: str, raw: Any, now: datetime) -> str:
    """A passive text reply as WeChat's XML; `]]>` in the text would end the CDATA early."""
    safe = text.replace("]]>", "]] >")
    if len(safe) > MAX_REPLY_CHARS:
        safe = safe[: MAX_REPLY_CHARS - 1] + "…"
    reply = TextReply(source=raw.target, target=raw.source, content=safe, time=int(now.timestamp()))
    return str(reply.render())


class Inbox:
    """Turns each callback into exactly one recorded effect and one reply, however often sent.

    When the database cannot take a callback, it goes to the spool (when one is given) and is
    handled later by `ingest`, through the same dispatch and under the same dedup key.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        router: Router,
        office: OfficeConfig,
        services: dict[str, Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
        spool: Spool | None = None,
        parsers: ParserCache | None = None,
    ) -> None:
        self.engine = engine
        # The app's, or this inbox's own (worker, CLI).
        self.parsers = parsers or ParserCache(load_trusted(settings.instance_path))
        self.settings = settings
        self.router = router
        self.office = office
        self.services = services or {}
        self.clock = clock
        self.spool = spool

    def receive(self, raw: Any, message: Message, xml: str | None = None) -> str:
        """Record, dispatch and answer one parsed message; a repeat gets the first answer.

        `xml` is the decrypted callback: with it, a message the database cannot take now is
        spooled and answered "已收到", and so is any message of a sender whose earlier ones
        still wait in the spool (their order is kept).
        """
        key = dedup_key_of(raw, message)
        spool = self.spool if xml is not None else None
        if spool is not None and self._waiting_in_spool(spool, message):
            assert xml is not None
            return self._spool(spool, raw, message, key, xml, "earlier messages wait")
        try:
            return self._receive_recorded(raw, message, key)
        except Exception as exc:
            if spool is None or not database_unavailable(exc):
                raise
            assert xml is not None
            log.warning(
                "database unavailable for %s %s from %s: %s",
                message.channel,
                message.type,
                mask(message.sender),
                describe_failure(exc),
            )
            return self._spool(spool, raw, message, key, xml, describe_failure(exc))

    def _receive_recorded(self, raw: Any, message: Message, key: str) -> str:
        for _attempt in range(5):
            try:
                return self._receive_once(raw, message, key)
            except IntegrityError:
                # Another process recorded the same delivery first: the next pass reads its
                # reply. Any other unique clash is a real error, not something to repeat.
                if not self._seen(message, key):
                    raise
                continue
        raise RuntimeError("could not record an inbound message after repeated conflicts")

    def _seen(self, message: Message, key: str) -> bool:
        with read_session(self.engine) as session:
            return find_inbound(session, message.channel, message.sender, key) is not None

    def _receive_once(self, raw: Any, message: Message, key: str) -> str:
        now = self.clock()
        # WeChat gives up after 5 seconds: rather spool (or answer "try again") in time than
        # succeed late.
        with unit_of_work(self.engine, wait=WRITER_WAIT_SECONDS) as session:
            record_id = record_delivery(session, message, key, now)
            if record_id is None:
                seen = find_inbound(session, message.channel, message.sender, key)
                log.info(
                    "repeat delivery %s from %s answered from store", key, mask(message.sender)
                )
                return (seen.reply if seen else None) or SUCCESS
            reply, _text = self._dispatch(session, raw, message, record_id, now)
        return reply

    def _dispatch(
        self, session: Session, raw: Any, message: Message, record_id: int, now: datetime
    ) -> tuple[str, str | None]:
        """Run the handler of a recorded delivery in the caller's transaction and store its
        reply; the rendered reply and its text."""
        ctx = Context(
            session=session,
            settings=self.settings,
            now=now,
            office=self.office,
            services=self.services,
            parsers=self.parsers,
        )
        text = self.router.dispatch(message, ctx)
        reply = render_reply(text, raw, now) if text else SUCCESS
        inbound = table_of(InboundMessage)
        session.execute(update(inbound).where(inbound.c.id == record_id).values(reply=reply))
        return reply, text

    def error_reply(self, raw: Any) -> str:
        """The answer when handling failed: nothing was stored, so WeChat's retry tries again."""
        return render_reply(texts.INTERNAL_ERROR, raw, self.clock())

    # ------------------------------------------------------------------------- the spool

    def _waiting_in_spool(self, spool: Spool, message: Message) -> bool:
        try:
            return spool.holds(message.channel, message.sender)
        except OSError:
            log.exception("cannot read the spool in %s", spool.folder)
            return False

    def _spool(
        self, spool: Spool, raw: Any, message: Message, key: str, xml: str, reason: str
    ) -> str:
        """Keep the callback for later and answer at once."""
        now = self.clock()
        if message.type == "event" and message.event == "location":
            return SUCCESS  # sent every few seconds and ignored anyway: the next one will do
        try:
            added, waiting = spool.add(
                channel=message.channel,
                sender=message.sender,
                key=key,
                xml=xml,
                received_at=now,
                reason=reason,
            )
        except SpoolFull:
            log.error(
                "spool full (%d waiting in %s): %s from %s refused, the sender is asked to "
                "send it again later",
                spool.limit,
                spool.folder,
                message.type,
                mask(message.sender),
            )
            return render_reply(texts.SPOOL_FULL, raw, now)
        except OSError:
            log.exception("cannot write the spool in %s", spool.folder)
            return self.error_reply(raw)
        if added:
            level = logging.ERROR if waiting * 2 >= spool.limit else logging.WARNING
            log.log(
                level,
                "%s %s from %s kept in the spool (%d of at most %d waiting): %s",
                message.channel,
                key,
                mask(message.sender),
                waiting,
                spool.limit,
                reason,
            )
        else:
            log.info("repeat of spooled %s from %s", key, mask(message.sender))
        if message.type == "event":
            return SUCCESS
        return render_reply(texts.SPOOLED, raw, now)

    def ingest(self, entry: SpoolEntry) -> bool:
        """Handle a spooled callback as it would have been; True when it took effect now.

        It runs at the time it arrived, in one transaction with a message to its sender
        carrying the reply the webhook could not give. Recorded already (an earlier ingest
        that crashed before the spool moved on, or a WeChat retry that got through) it causes
        nothing; the message to the sender goes out once, under its own dedup key.
        """
        raw, message = parse_wechat_xml(entry.xml, entry.channel)
        for _attempt in range(3):
            try:
                return self._ingest_once(raw, message, entry)
            except IntegrityError:
                if not self._seen(message, entry.key):
                    raise
        raise RuntimeError("could not record a spooled message after repeated conflicts")

    def _ingest_once(self, raw: Any, message: Message, entry: SpoolEntry) -> bool:
        arrived = entry.received_at or self.clock()
        with unit_of_work(self.engine) as session:
            record_id = record_delivery(session, message, entry.key, arrived)
            if record_id is not None:
                _reply, text = self._dispatch(session, raw, message, record_id, arrived)
            else:
                seen = find_inbound(session, message.channel, message.sender, entry.key)
                text = reply_content(seen.reply if seen else None)
            if text:
                self._tell_sender(session, message, entry, texts.SPOOL_REPLY, arrived, reply=text)
        return record_id is not None

    def tell_failed(self, entry: SpoolEntry) -> None:
        """Ask the sender of a spooled callback that could not be handled to send it again."""
        if entry.damaged is not None:
            return  # nobody to tell: the line says not whose it was
        try:
            _raw, message = parse_wechat_xml(entry.xml, entry.channel)
        except Malformed:
            message = None
        if message is not None and message.type == "event":
            return
        with unit_of_work(self.engine) as session:
            self._tell_sender(
                session, message, entry, texts.SPOOL_FAILED, entry.received_at or self.clock()
            )

    def _tell_sender(
        self,
        session: Session,
        message: Message | None,
        entry: SpoolEntry,
        template: str,
        arrived: datetime,
        **fields: str,
    ) -> None:
        person = person_for_sender(session, entry.channel, entry.sender)
        text = template.format(
            time=_local_time(arrived),
            what=what_was_sent(message),
            **fields,
        )
        identity = "\0".join((entry.channel, entry.sender, entry.key))
        enqueue(
            session,
            person_id=person.id if person else None,
            kind="reply",
            text=text,
            now=self.clock(),
            dedup_key="spool:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:48],
            recipient=(entry.channel, entry.sender),
        )


def record_delivery(session: Session, message: Message, key: str, now: datetime) -> int | None:
    """Record a delivery once: its id, or None when it was recorded before (a retry).

    One statement (INSERT … ON CONFLICT DO NOTHING RETURNING id); on PostgreSQL a concurrent
    twin waits here for the first one's commit and then finds it recorded.
    """
    dialect = session.get_bind().dialect.name
    statement = _RECORD_DELIVERY["postgresql" if dialect == "postgresql" else "sqlite"]
    found: int | None = session.execute(
        statement,
        {
            "channel": message.channel,
            "sender": message.sender,
            "dedup_key": key,
            "msg_type": message.type,
            "received_at": now,
        },
    ).scalar()
    return found


def _record_delivery_statement(insert: Any) -> Any:
    inbound = table_of(InboundMessage)
    columns = ("channel", "sender", "dedup_key", "msg_type", "received_at")
    return (
        insert(inbound)
        .values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=["channel", "sender", "dedup_key"])
        .returning(inbound.c.id)
    )


# Built once: the statement is the same for every delivery, only its values change.
_RECORD_DELIVERY = {
    "postgresql": _record_delivery_statement(postgresql_insert),
    "sqlite": _record_delivery_statement(sqlite_insert),
}


def _local_time(moment: datetime) -> str:
    local = moment.astimezone(TIMEZONE)
    return texts.SPOOL_ARRIVED.format(month=local.month, day=local.day, time=f"{local:%H:%M}")


def what_was_sent(message: Message | None) -> str:
    """A few words saying which message a late answer belongs to."""
    if message is None:
        return texts.SPOOL_SOME_MESSAGE
    if message.type == "text" and message.content.strip():
        words = " ".join(message.content.split())
        if len(words) > WHAT_MAX_CHARS:
            return words[: WHAT_MAX_CHARS - 1] + "…"
        return words
    return texts.MEDIA_KINDS.get(message.type, texts.SPOOL_SOME_MESSAGE)


def reply_content(rendered: str | None) -> str | None:
    """The text inside a stored passive reply, None for `success`."""
    if not rendered or rendered == SUCCESS:
        return None
    try:
        content = xmltodict.parse(rendered)["xml"].get("Content")
    except (ExpatError, KeyError, TypeError):
        return None
    return content if isinstance(content, str) and content else None


def database_unavailable(exc: BaseException) -> bool:
    """Whether a failure says the database cannot take writes now, rather than a bug.

    Unreachable, refused, dropped or shut-down connections, a SQLite file that cannot be
    opened or written, a writer busy past the deadline (here or in another process): a later
    try can succeed, so the callback is worth keeping. Data and programming errors are not.
    """
    if isinstance(exc, WriteBusy | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        if isinstance(exc.orig, sqlite3.Error):
            # sqlite3 calls a syntax error "operational" too: only these mean the file failed.
            text = str(exc.orig).lower()
            return any(phrase in text for phrase in SQLITE_UNAVAILABLE)
        return True  # PostgreSQL: connection refused, dropped, shut down, out of resources
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def describe_failure(exc: BaseException) -> str:
    """One line about a database failure, for logs and the spool (no connection secrets)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        detail = str(exc.orig).strip().splitlines()
        return f"{type(exc.orig).__name__}: {detail[0] if detail else ''}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]
