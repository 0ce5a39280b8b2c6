"""Conversation state kept per sender in the database, never in process memory."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel

from models.base import utc_column


class ConversationState(SQLModel, table=True):
    """What the bot is waiting for from one sender (e.g. words for a draft ticket)."""

    __tablename__ = "conversation_state"

    channel: str = Field(max_length=16, primary_key=True)
    sender: str = Field(max_length=128, primary_key=True)
    kind: str = Field(max_length=32)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=utc_column())


def get_state(
    session: Session, channel: str, sender: str, now: datetime
) -> tuple[str, dict[str, Any]] | None:
    """The sender's live state (kind, data), or None when there is none or it has expired."""
    state = session.get(ConversationState, (channel, sender))
    if state is None or (state.expires_at is not None and state.expires_at <= now):
        return None
    data: dict[str, Any] = json.loads(state.data)
    return state.kind, data


def set_state(
    session: Session,
    channel: str,
    sender: str,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    """Remember what we wait for from this sender."""
    state = session.get(ConversationState, (channel, sender)) or ConversationState(
        channel=channel, sender=sender, kind=kind, updated_at=now
    )
    state.kind, state.data, state.updated_at, state.expires_at = (
        kind,
        json.dumps(data),
        now,
        expires_at,
    )
    session.add(state)


def clear_state(session: Session, channel: str, sender: str) -> None:
    """Forget the sender's state."""
    state = session.get(ConversationState, (channel, sender))
    if state is not None:
        session.delete(state)
