"""What a report counts: a period in Asia/Shanghai, a place's subtree, the states that count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from config.calendar import TIMEZONE
from models.place import Place
from models.ticket import Rating, TicketState

SHANGHAI = TIMEZONE

BreakdownKey = Literal["zone", "village", "category", "assignee"]
BREAKDOWN_KEYS: tuple[BreakdownKey, ...] = get_args(BreakdownKey)
PLACE_KEYS = frozenset({"zone", "village"})

NOT_COLLECTED = (TicketState.draft, TicketState.invalid, TicketState.duplicate)
RESOLVED_STATES = (TicketState.resolved, TicketState.closed)
RATED = (Rating.satisfied, Rating.basic, Rating.unsatisfied)
SATISFIED = (Rating.satisfied, Rating.basic)


@dataclass(frozen=True)
class Scope:
    """What to count: tickets created in [start, end) in a place's subtree, deadlines at as_of."""

    start: datetime
    end: datetime
    as_of: datetime
    place: Place | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "as_of"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.end <= self.start:
            raise ValueError("the period ends before it starts")

    @property
    def first_day(self) -> date:
        """The period's first day in Asia/Shanghai."""
        return self.start.astimezone(SHANGHAI).date()

    @property
    def last_day(self) -> date:
        """The period's last day in Asia/Shanghai (end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()

    @property
    def as_of_day(self) -> date:
        """The last day the figures cover: as_of's day, or the day before when it is midnight."""
        return (self.as_of - timedelta(microseconds=1)).astimezone(SHANGHAI).date()


def period_scope(
    first: date | None,
    last: date | None,
    *,
    now: datetime,
    place: Place | None = None,
) -> Scope:
    """The scope of whole days first..last in Asia/Shanghai (default: this year up to today)."""
    today = now.astimezone(SHANGHAI).date()
    last = last or today
    first = first or date(last.year, 1, 1)
    start = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=SHANGHAI)
    if end <= start:
        raise ValueError("the period ends before it starts")
    return Scope(start=start, end=end, as_of=min(end, now), place=place)
