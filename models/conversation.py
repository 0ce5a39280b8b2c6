"""Conversation state kept per sender in the database, never in process memory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


# ---------------------------------------------------------------- questions with numbered choices

QUESTION = "question"


@dataclass(frozen=True)
class Question:
    """A question put to one sender, answered by the number of a choice (1, 2, …).

    `topic` says which handler takes the answer ("is_problem"; later "category", "village");
    `choices` are what 1, 2, … stand for; `context` is what the answer acts on (the kept text).
    """

    topic: str
    choices: tuple[str, ...]
    context: dict[str, Any] = field(default_factory=dict)

    def choice(self, number: int) -> str | None:
        """The choice numbered `number` (from 1), or None when there is no such choice."""
        return self.choices[number - 1] if 1 <= number <= len(self.choices) else None


def ask_question(
    session: Session, channel: str, sender: str, question: Question, now: datetime, ttl: timedelta
) -> None:
    """Keep the question for this sender until it is answered, replaced or `ttl` has passed."""
    data = {"topic": question.topic, "choices": list(question.choices), "context": question.context}
    set_state(session, channel, sender, QUESTION, data, now, expires_at=now + ttl)


def pending_question(session: Session, channel: str, sender: str, now: datetime) -> Question | None:
    """The question this sender has not answered yet, if one is live."""
    state = get_state(session, channel, sender, now)
    if state is None or state[0] != QUESTION:
        return None
    data = state[1]
    return Question(data["topic"], tuple(data["choices"]), dict(data.get("context") or {}))
