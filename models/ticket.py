"""Tickets, their append-only timeline, attachments and pending requests (退单, 延期)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, event, inspect, text
from sqlmodel import Field, Session, SQLModel

from models import texts
from models.base import utc_column


class TicketState(StrEnum):
    draft = "draft"  # a photo or voice note waiting for words
    submitted = "submitted"
    assigned = "assigned"
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    returned = "returned"
    reopened = "reopened"
    invalid = "invalid"
    duplicate = "duplicate"


STATE_NAMES: dict[TicketState, str] = {state: texts.STATE_NAMES[state] for state in TicketState}
OPEN_STATES = frozenset(
    {
        TicketState.submitted,
        TicketState.assigned,
        TicketState.accepted,
        TicketState.in_progress,
        TicketState.returned,
        TicketState.reopened,
    }
)


class Rating(StrEnum):
    satisfied = "satisfied"  # 满意
    basic = "basic"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意
    unrated = "unrated"  # auto-closed without an answer


# The figures' indexes (models/figures/, bench/report_bench.py), SQLite only: PostgreSQL scans,
# hashes and sorts in parallel without them. SQLite groups only in index order and has no
# percentile, so the report reads one covering index in (village, category, state…) order,
# one for distinct reporters, and walks resolved tickets in order of the time they took.
# Expression indexes are not reflected: a batch_alter_table("ticket") must create them again.
_RESOLVE_DAYS = text("(julianday(resolved_at) - julianday(created_at))")
_RESOLVED = text("state IN ('resolved', 'closed')")
_RESOLVE_TIME_COLUMNS = (_RESOLVE_DAYS, "created_at", "place_path", "state")
FIGURES_INDEXES = (
    Index(
        "ix_ticket_report",
        *("village_id", "category", "state", "rating", "assignee_id", "created_at", "place_path"),
        *("reopen_count", "return_count", "assigned_at", "accepted_at", "ack_due_at"),
        *("resolved_at", "resolve_due_at"),
    ).ddl_if(dialect="sqlite"),
    Index(
        "ix_ticket_reporters", "village_id", "reporter_id", "created_at", "place_path", "state"
    ).ddl_if(dialect="sqlite"),
    Index("ix_ticket_resolve_time", *_RESOLVE_TIME_COLUMNS, sqlite_where=_RESOLVED).ddl_if(
        dialect="sqlite"
    ),
    Index(
        "ix_ticket_resolve_time_village",
        "village_id",
        *_RESOLVE_TIME_COLUMNS,
        sqlite_where=_RESOLVED,
    ).ddl_if(dialect="sqlite"),
    Index(
        "ix_ticket_resolve_time_category",
        "category",
        *_RESOLVE_TIME_COLUMNS,
        sqlite_where=_RESOLVED,
    ).ddl_if(dialect="sqlite"),
)


class Ticket(SQLModel, table=True):
    """One grievance from intake to 回访. Timestamps are aware UTC."""

    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_created_place", "created_at", "place_path"),
        Index("ix_ticket_state_assignee", "state", "assignee_id"),
        *FIGURES_INDEXES,
    )

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(default=TicketState.submitted.value, max_length=16, index=True)
    channel: str = Field(max_length=16)
    sender: str = Field(max_length=128, index=True)
    reporter_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    summary: str = Field(default="", max_length=120)
    category: str | None = Field(default=None, max_length=32, index=True)
    confidence: float = 0.0
    village_id: int | None = Field(default=None, foreign_key="place.id", index=True)
    group_number: int | None = None
    place_id: int | None = Field(default=None, foreign_key="place.id")
    # The path of the most specific place known, copied for cheap subtree counts at county scale.
    place_path: str = Field(default="/", sa_column=Column(String(255), nullable=False, index=True))
    urgent: bool = False
    households: int | None = None
    assignee_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    route: str = Field(default="", max_length=255)  # how routing chose the assignee
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rating: str | None = Field(default=None, max_length=16)
    duplicate_of_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    reopen_count: int = 0
    # 退单 that stood: returns (退回) the dispatcher approved — by 同意, or by 派 to someone. A
    # return refused (驳回) or still waiting is not one; the timeline keeps every request.
    return_count: int = 0

    created_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    # 派单 and 签收 happen again after a 转办, a re-route or a reopen: the deadlines run from the
    # latest 派单; the 响应率 reads the first 签收; the 台账 shows the first and the latest of both.
    first_assigned_at: datetime | None = Field(default=None, sa_column=utc_column())
    assigned_at: datetime | None = Field(default=None, sa_column=utc_column())  # latest 派单
    accepted_at: datetime | None = Field(default=None, sa_column=utc_column())  # first 签收
    last_accepted_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column())
    rated_at: datetime | None = Field(default=None, sa_column=utc_column())
    ack_due_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    resolve_due_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    rating_asked_at: datetime | None = Field(default=None, sa_column=utc_column())
    rating_reminded_at: datetime | None = Field(default=None, sa_column=utc_column())
    # When the SLA sweep must next look at this ticket (models/sla.py): never later than its next
    # reminder, escalation or 督办, NULL when it has none left. The sweep reads only due rows.
    next_alert_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


# "Look at me at the next sweep": a next_alert_at no sweep can be early for.
RECHECK = datetime(2000, 1, 1, tzinfo=UTC)
# While someone must 签收 or 办结 a ticket it has deadlines the sweep watches (models/sla.py).
WATCHED_STATES = frozenset({TicketState.assigned, TicketState.accepted, TicketState.in_progress})
_ALERT_INPUTS = ("ack_due_at", "resolve_due_at", "assignee_id", "assigned_at")


@event.listens_for(Session, "before_flush")
def _keep_next_alert(session: Session, _context: object, _instances: object) -> None:
    """Keep `next_alert_at` a safe lower bound whatever code changed a ticket.

    Writers that know the SLA (models/deadlines.py, the sweep) set the exact time; any other
    change of a deadline, the assignee or into a watched state asks for a look at the next
    sweep, and a ticket leaving the watched states is no longer looked at.
    """
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Ticket):
            continue
        state = inspect(obj)
        if obj.state not in WATCHED_STATES or obj.assignee_id is None:
            if obj.next_alert_at is not None:
                obj.next_alert_at = None
            continue
        if state.attrs.next_alert_at.history.has_changes():
            continue
        entered = state.attrs.state.history.has_changes() and not any(
            old in WATCHED_STATES for old in state.attrs.state.history.deleted
        )
        changed = any(state.attrs[name].history.has_changes() for name in _ALERT_INPUTS)
        if obj in session.new or entered or changed:
            obj.next_alert_at = RECHECK


class TicketEvent(SQLModel, table=True):
    """An append-only line of a ticket's timeline: who did what, when, from which state to which."""

    __tablename__ = "ticket_event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    kind: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str | None = Field(default=None, max_length=16)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class Attachment(SQLModel, table=True):
    """A photo, voice note, video or location of a ticket; media is fetched into the store."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=16)  # image, voice, video, location, link, file
    channel: str = Field(max_length=16)
    media_id: str | None = Field(default=None, max_length=255)
    url: str | None = Field(default=None, max_length=1024)
    latitude: float | None = None
    longitude: float | None = None
    label: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    file_path: str | None = Field(default=None, max_length=512)
    downloaded_at: datetime | None = Field(default=None, sa_column=utc_column())
    download_attempts: int = 0
    next_download_at: datetime | None = Field(default=None, sa_column=utc_column(index=True))
    download_error: str | None = Field(default=None, max_length=512)


class TicketRequest(SQLModel, table=True):
    """A request the dispatcher decides: a return (退单) or an extension (延期)."""

    __tablename__ = "ticket_request"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=16)  # return, extension
    requested_by_id: int | None = Field(default=None, foreign_key="person.id")
    days: int | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)  # pending, approved, rejected
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = Field(default=None, sa_column=utc_column())
    decision_note: str = Field(default="", sa_column=Column(Text, nullable=False))


class TicketAlert(SQLModel, table=True):
    """A reminder or escalation already sent for one ticket and one deadline: sent once, ever."""

    __tablename__ = "ticket_alert"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "deadline_at", name="uq_alert_once"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=32)  # remind_ack, escalate_ack, remind_resolve, escalate_resolve…
    deadline_at: datetime = Field(sa_column=utc_column(nullable=False))
    sent_at: datetime = Field(sa_column=utc_column(nullable=False))
