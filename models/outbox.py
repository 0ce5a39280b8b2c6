"""The outbox: every message to a person is written here in the same transaction as its cause."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import utc_column

log = logging.getLogger(__name__)


class OutboxStatus(StrEnum):
    pending = "pending"  # waiting; never handed to WeChat since it was last put back
    sending = "sending"  # a call was about to be made: WeChat may have taken it
    sent = "sent"
    dead = "dead"


class OutboxMessage(SQLModel, table=True):
    """One message to one person, delivered later by the worker through the right channel."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=32)  # assigned, progress, resolved, rate, digest, …
    text: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # template fields
    # Set when a cause must produce this message once only (e.g. "digest:2026-12-07:17").
    dedup_key: str | None = Field(default=None, max_length=255, unique=True)
    status: str = Field(default=OutboxStatus.pending.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=utc_column())
    last_error: str | None = Field(default=None, max_length=1024)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    # When it was sent; while `sending`, when the call that may have gone through began.
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    channel: str | None = Field(default=None, max_length=32)  # how it went out: wecom, wechat_cs…
    # A WeChat identity to deliver to instead of the person's bound one: the phone a message
    # came from (a reply to a message taken while the database was down), or an old WeChat
    # that a rebinding took the person away from. `person_id` still says whom it concerns.
    recipient_channel: str | None = Field(default=None, max_length=16)  # "wechat" or "wecom"
    recipient: str | None = Field(default=None, max_length=128)  # openid or userid


class AccessToken(SQLModel, table=True):
    """An app's WeChat access token, shared by every process."""

    __tablename__ = "access_token"

    app: str = Field(
        max_length=64, primary_key=True
    )  # "wechat:<appid>" or "wecom:<corpid>:<agent>"
    token: str = Field(default="", max_length=1024)
    expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    refreshed_at: datetime | None = Field(default=None, sa_column=utc_column())


def outbox_row(
    *,
    person_id: int | None,
    kind: str,
    text: str,
    now: datetime,
    ticket_id: int | None = None,
    dedup_key: str | None = None,
    data: dict[str, Any] | None = None,
    recipient: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The columns of a message due for delivery `now`: for callers that insert many at once."""
    return {
        "person_id": person_id,
        "ticket_id": ticket_id,
        "kind": kind,
        "text": text,
        "data": json.dumps(data or {}, ensure_ascii=False),
        "dedup_key": dedup_key,
        "status": OutboxStatus.pending.value,
        "attempts": 0,
        "recipient_channel": recipient[0] if recipient else None,
        "recipient": recipient[1] if recipient else None,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    session: Session,
    *,
    person_id: int | None,
    kind: str,
    text: str,
    now: datetime,
    ticket_id: int | None = None,
    dedup_key: str | None = None,
    data: dict[str, Any] | None = None,
    recipient: tuple[str, str] | None = None,
) -> OutboxMessage | None:
    """Write a message for later delivery, in the caller's transaction.

    With a `dedup_key` already present nothing is added and None is returned, so a cause that
    runs twice (two workers, a retried job) still tells each person once. `recipient`, a
    (channel, openid-or-userid) pair, sends it to that WeChat identity rather than the one the
    person is bound to now (or to nobody on the roster, with `person_id` None).
    """
    if dedup_key is not None:
        exists = session.exec(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        ).first()
        if exists is not None:
            return None
    message = OutboxMessage(
        **outbox_row(
            person_id=person_id,
            kind=kind,
            text=text,
            now=now,
            ticket_id=ticket_id,
            dedup_key=dedup_key,
            data=data,
            recipient=recipient,
        )
    )
    session.add(message)
    session.flush()
    return message


def keys_with_prefix(session: Session, prefix: str) -> set[str]:
    """The dedup keys in the outbox that start with `prefix` (one range of the unique index)."""
    stmt = select(OutboxMessage.dedup_key).where(
        col(OutboxMessage.dedup_key) >= prefix,
        col(OutboxMessage.dedup_key) < prefix + "\U0010ffff",
    )
    return {key for key in session.exec(stmt) if key is not None}


class RetryRefused(Exception):
    """A message that cannot be queued again: `reason` is "missing", "sent" or "sending"."""

    def __init__(self, message_id: int, reason: str) -> None:
        super().__init__(f"message #{message_id}: {reason}")
        self.message_id = message_id
        self.reason = reason


def dead_letters(session: Session) -> list[OutboxMessage]:
    """Every dead letter, newest first."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.dead.value)
        .order_by(col(OutboxMessage.id).desc())
    )
    return list(session.exec(stmt))


def check_retry(message: OutboxMessage | None, message_id: int, now: datetime) -> OutboxMessage:
    """The message if it may be queued again (dead or waiting), else RetryRefused."""
    if message is None:
        raise RetryRefused(message_id, "missing")
    if message.status == OutboxStatus.sent.value:
        raise RetryRefused(message_id, "sent")
    if message.lease_until is not None and message.lease_until > now:
        raise RetryRefused(message_id, "sending")
    return message


def retry(
    session: Session, messages: Sequence[OutboxMessage], *, now: datetime, by: str
) -> list[OutboxMessage]:
    """Queue `messages` for delivery now, their attempts counted afresh, in the caller's
    transaction; each retry is logged with who asked for it (`by`: "cli", "web:<person id>")."""
    for message in messages:
        message.status = OutboxStatus.pending.value
        message.sent_at = None  # the office decided: a fresh send, not a repeat
        message.attempts = 0
        message.next_attempt_at = now
        message.lease_until = None
        session.add(message)
        log.info(
            "outbox retry: message #%s (%s, person %s, ticket %s) queued again by %s; "
            "last error: %s",
            message.id,
            message.kind,
            message.person_id,
            message.ticket_id,
            by,
            message.last_error,
        )
    return list(messages)


def retry_one(session: Session, message_id: int, *, now: datetime, by: str) -> OutboxMessage:
    """Queue one dead or waiting message again (RetryRefused if it was sent or is sending)."""
    message = check_retry(session.get(OutboxMessage, message_id), message_id, now)
    retry(session, [message], now=now, by=by)
    return message


def retry_all_dead(session: Session, *, now: datetime, by: str) -> list[OutboxMessage]:
    """Queue every dead letter again."""
    return retry(session, dead_letters(session), now=now, by=by)
