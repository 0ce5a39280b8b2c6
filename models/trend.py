"""The weekly trend of a report's scope: tickets collected each week, and how many are resolved.

Counted as the report counts them (models/figures.py): collected excludes drafts, invalid and
duplicate tickets; resolved means resolved or closed now. Weeks start on Monday in Asia/Shanghai;
the weeks add up to the report's overall 收集 and 已解决.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, case, func, literal_column
from sqlmodel import Session, col, select

from models.figures import NOT_COLLECTED, RESOLVED_STATES, Scope
from models.ticket import Ticket


@dataclass(frozen=True)
class Week:
    monday: date
    collected: int
    resolved: int


def _local_day(session: Session) -> Any:
    """The ticket's creation day in Asia/Shanghai, as the database computes it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", col(Ticket.created_at)))
    return func.date(col(Ticket.created_at), literal_column("'+8 hours'"))


def weekly_trend(session: Session, scope: Scope) -> list[Week]:
    """One row per week of the scope's period, empty weeks included, oldest first."""
    day = _local_day(session).label("day")
    resolved = func.sum(
        case((col(Ticket.state).in_([s.value for s in RESOLVED_STATES]), 1), else_=0)
    ).cast(Integer)
    stmt = (
        select(day, func.count(), resolved)
        .where(
            col(Ticket.created_at) >= scope.start,
            col(Ticket.created_at) < scope.end,
            col(Ticket.state).notin_([s.value for s in NOT_COLLECTED]),
        )
        .group_by(day)
    )
    if scope.place is not None:
        stmt = stmt.where(col(Ticket.place_path).startswith(scope.place.path))
    weeks: dict[date, list[int]] = {}
    first = scope.first_day - timedelta(days=scope.first_day.weekday())
    monday = first
    while monday <= scope.last_day:
        weeks[monday] = [0, 0]
        monday += timedelta(days=7)
    for value, collected, done in session.exec(stmt):
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
        key = when - timedelta(days=when.weekday())
        counts = weeks.setdefault(key, [0, 0])
        counts[0] += int(collected)
        counts[1] += int(done or 0)
    return [Week(monday, c, r) for monday, (c, r) in sorted(weeks.items())]
