"""Deadlines of a ticket: acknowledge-by (签收) and resolve-by (办结), from SLA and calendar.

Times are aware UTC in and out; day arithmetic happens in Asia/Shanghai on the official calendar
(config.calendar). Every function takes the SLA and the calendar of the app or process that
calls it (config.office, built once from that app's settings and passed down through the handler
Context or the JobContext): a deadline never depends on which settings the process happened to
read first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, time, timedelta

from sqlmodel import Session

from config.calendar import TIMEZONE, WorkCalendar
from config.sla import Limit, SlaConfig
from models.ticket import WATCHED_STATES, Ticket, TicketState

# The office's day. A working-day deadline carries the time of day it was counted from, so a
# ticket assigned at 05:03 or 21:40 would be due at 05:03 or 21:40, when nobody is at work:
# such a deadline is moved to the end of its day (24:00) instead.
OFFICE_OPENS = time(8, 0)
OFFICE_CLOSES = time(18, 0)


def within_office_day(due: datetime) -> datetime:
    """`due`, or the end of its day (Asia/Shanghai) when it falls outside the office's hours."""
    local = due.astimezone(TIMEZONE)
    if OFFICE_OPENS <= local.time() <= OFFICE_CLOSES or local.time() == time(0):
        return due
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=TIMEZONE)
    return end_of_day.astimezone(UTC)


def due_after(start: datetime, limit: Limit, calendar: WorkCalendar) -> datetime:
    """The moment `limit` after `start`: clock time for minutes/hours/days, else working days
    (moved to the end of the day when that would be outside office hours)."""
    if start.tzinfo is None:
        raise ValueError("naive datetime given for a deadline")
    if limit.working:
        return within_office_day(calendar.add_working_days(start, limit.amount))
    return start + limit.clock


def deadlines_for(
    urgent: bool,
    category: str | None,
    assigned_at: datetime,
    *,
    sla: SlaConfig,
    calendar: WorkCalendar,
) -> tuple[datetime, datetime]:
    """(ack_due_at, resolve_due_at) of a ticket assigned at `assigned_at`, aware UTC.

    Hour limits count clock hours: an urgent ticket assigned at 15:00 is due to be resolved 24 hours
    later, weekend or not. Day limits count working days of the official calendar: N working days
    from a moment t end at the same time of day on the N-th working day after t's day, skipping
    weekends and holidays and counting 调休 make-up Saturdays and Sundays as working days. So a
    normal ticket assigned on Wednesday 2026-09-30 at 15:00, the last working day before the
    National Day holiday (1 to 7 October), is due to be resolved on 2026-10-15 at 15:00: the 7th
    working day after is Thursday the 15th, counting 8, 9, the make-up Saturday 10, 12, 13, 14 and
    15 October. A ticket assigned on a day off starts counting at 00:00 of the next working day and
    so is due at 24:00 of the N-th working day; so is one whose deadline would fall outside office
    hours (assigned at 05:03 or at 21:40).
    """
    limits = sla.limits_for(urgent, category)
    return due_after(assigned_at, limits.ack, calendar), due_after(
        assigned_at, limits.resolve, calendar
    )


def extend_resolve_due(
    resolve_due_at: datetime,
    days: int,
    *,
    sla: SlaConfig,
    calendar: WorkCalendar,
) -> datetime:
    """The resolve-by time after an approved extension (延期) of `days` working days.

    The extension counts from the current resolve-by time by the same working-day rule; one
    approval may grant at most the SLA's `extension.max_working_days` (ValueError otherwise).
    """
    if not 1 <= days <= sla.extension_max_working_days:
        raise ValueError(
            f"an extension is 1 to {sla.extension_max_working_days} working days, not {days}"
        )
    return within_office_day(calendar.add_working_days(resolve_due_at, days))


def set_deadlines(
    session: Session,
    ticket: Ticket,
    now: datetime,
    *,
    sla: SlaConfig,
    calendar: WorkCalendar,
) -> tuple[datetime, datetime]:
    """Give a ticket that is being assigned at `now` its ack-by and resolve-by times.

    Called at every (re-)assignment: a transferred or reopened ticket gets fresh deadlines, and the
    reminders and escalations of the new deadlines are sent afresh (they are keyed by deadline).
    """
    ack_due_at, resolve_due_at = deadlines_for(
        ticket.urgent, ticket.category, now, sla=sla, calendar=calendar
    )
    ticket.ack_due_at = ack_due_at
    ticket.resolve_due_at = resolve_due_at
    # Its first step is the earlier reminder; models.ticket clears it if nobody holds the ticket.
    ticket.next_alert_at = _next_step(ticket, {}, sla, calendar, start=now, waiting_ack=True)
    session.add(ticket)
    session.flush()
    return ack_due_at, resolve_due_at


def reminder_at(
    start: datetime,
    due: datetime,
    limit: Limit,
    threshold: float,
    calendar: WorkCalendar,
) -> datetime:
    """When `threshold` of the time from `start` to `due` is used: clock time for clock limits,
    working time for working-day limits (so a holiday in between is not counted as time used)."""
    if due <= start:
        return due
    if limit.working:
        used = calendar.working_time_between(start, due) * threshold
        return calendar.add_working_time(start, used)
    return start + (due - start) * threshold


def next_alert_at(
    ticket: Ticket,
    sent: Mapping[str, Collection[str]],
    *,
    sla: SlaConfig,
    calendar: WorkCalendar,
    start: datetime | None = None,
) -> datetime | None:
    """When the SLA sweep must next look at `ticket`: its earliest step not sent yet.

    `sent` maps "ack" / "resolve" to the steps already sent for the current deadline ("remind",
    "escalate", "leader"). The 签收 deadline counts only while the ticket waits for 签收; a
    reminder not sent by the deadline is never sent (the escalation is), and after the 督办 a
    deadline has nothing left. None when no step is left or nobody holds the ticket.
    """
    if ticket.state not in WATCHED_STATES or ticket.assignee_id is None:
        return None
    waiting_ack = ticket.state == TicketState.assigned.value
    return _next_step(ticket, sent, sla, calendar, start=start, waiting_ack=waiting_ack)


def _next_step(
    ticket: Ticket,
    sent: Mapping[str, Collection[str]],
    sla: SlaConfig,
    calendar: WorkCalendar,
    *,
    start: datetime | None,
    waiting_ack: bool,
) -> datetime | None:
    limits = sla.limits_for(ticket.urgent, ticket.category)
    start = start or ticket.assigned_at or ticket.created_at
    times: list[datetime] = []
    for deadline, due, limit in (
        ("ack", ticket.ack_due_at if waiting_ack else None, limits.ack),
        ("resolve", ticket.resolve_due_at, limits.resolve),
    ):
        if due is None:
            continue
        done = sent.get(deadline, ())
        if "leader" in done:
            continue
        if "escalate" in done:
            times.append(due_after(due, sla.leader_after, calendar))
        elif "remind" in done:
            times.append(due)
        else:
            times.append(reminder_at(start, due, limit, sla.reminder_threshold, calendar))
    return min(times, default=None)
