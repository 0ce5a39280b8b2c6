"""Inbound WeChat messages, recorded once each so that WeChat's retries cause nothing twice."""

from __future__ import annotations

from datetime import datetime

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


def dedup_key_for(
    msg_type: str,
    msg_id: str | int | None,
    create_time: str | int | None,
    event: str | None,
    event_key: str | None,
    agent_id: str | int | None = None,
) -> str:
    """The key WeChat's retries share: MsgId for messages, CreateTime+Event(+key) for events."""
    if msg_type != "event" and msg_id not in (None, "", 0):
        return f"msg:{msg_id}"
    parts = ["evt", str(create_time or ""), (event or "").lower(), event_key or ""]
    if agent_id not in (None, ""):
        parts.append(str(agent_id))
    return ":".join(parts)


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
