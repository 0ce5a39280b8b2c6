"""Inbound WeChat messages, recorded once each so that WeChat's retries cause nothing twice."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select

from models.base import UTCDateTime


class InboundMessage(SQLModel, table=True):
    """One message or event as WeChat delivered it, with the reply the bot gave."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "sender", "dedup_key", name="uq_inbound_once"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # "wechat" (公众号) or "wecom" (企业微信)
    sender: str = Field(max_length=128)  # FromUserName: openid or WeCom userid
    dedup_key: str = Field(max_length=255)
    msg_type: str = Field(max_length=32)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reply: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def column_chars(attribute: Any) -> int:
    """The declared length of a string column: the limit PostgreSQL enforces (SQLite does not)."""
    length = attribute.property.columns[0].type.length
    assert isinstance(length, int), attribute
    return length


DEDUP_KEY_CHARS = column_chars(InboundMessage.dedup_key)


def dedup_key_for(
    msg_type: str,
    msg_id: str | int | None,
    create_time: str | int | None,
    event: str | None,
    event_key: str | None,
    agent_id: str | int | None = None,
    *,
    content_digest: str = "",
) -> str:
    """The key WeChat's retries share.

    Messages: MsgId; without one, CreateTime and a hash of the content (a retry carries the same
    body, another message does not). Events: CreateTime + Event + EventKey (+ AgentID). A key longer
    than the column (a long EventKey or MsgId) is replaced by its hash, the same on every database.
    """
    if msg_type != "event" and msg_id not in (None, "", 0, "0"):
        key = f"msg:{msg_id}"
    elif msg_type != "event":
        key = f"body:{create_time or ''}:{content_digest}"
    else:
        parts = ["evt", str(create_time or ""), (event or "").lower(), event_key or ""]
        if agent_id not in (None, ""):
            parts.append(str(agent_id))
        key = ":".join(parts)
    if len(key) > DEDUP_KEY_CHARS:
        kind = key.split(":", 1)[0]
        key = f"{kind}:sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"
    return key


def find_inbound(
    session: Session, channel: str, sender: str, dedup_key: str
) -> InboundMessage | None:
    """The stored record of a delivery, if this message was seen before."""
    stmt = select(InboundMessage).where(
        InboundMessage.channel == channel,
        InboundMessage.sender == sender,
        InboundMessage.dedup_key == dedup_key,
    )
    return session.exec(stmt).first()
