"""How tickets read on a phone: one-line summaries, the detail view and the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from config.calendar import deadline_clock
from handlers import texts
from handlers.assignment import category_name, local_time, person_label, place_label
from handlers.router import Context
from models.person import Person
from models.texts import ASSIGNED_NOTE_SEPARATOR
from models.ticket import STATE_NAMES, Ticket, TicketState
from models.workflow import timeline

EVENT_NAMES = texts.EVENT_NAMES
# Events whose note ends in "姓名｜route" (handlers/assignment.py assign): the route is a code.
ASSIGNING_EVENTS = frozenset({"assigned", "rerouted", "transferred", "reassigned"})


def local_due(moment: datetime | None) -> str:
    """A deadline as people in the town read it: 12月7日 17:30, or 12月7日 24:00 at midnight."""
    if moment is None:
        return texts.DASH
    month, day, hour, minute = deadline_clock(moment)
    return texts.DUE_AT.format(month=month, day=day, hour=hour, minute=minute)


def state_name(ticket: Ticket) -> str:
    name = STATE_NAMES.get(TicketState(ticket.state), ticket.state)
    if ticket.reopen_count and ticket.state not in ("resolved", "closed"):
        name = texts.REOPENED_MARK + name
    return name


def route_label(route: str) -> str:
    """A recorded route ("unit_head:水利站") as people say it ("水利站负责人")."""
    step, _, detail = route.partition(":")
    if step == "dispatcher" and detail:
        if detail == "draft":
            return texts.ROUTE_DRAFT
        return texts.ROUTE_BY_DISPATCHER.format(detail=detail)
    template = texts.ROUTE_NAMES.get(step)
    return template.format(detail=detail) if template else texts.ROUTE_OTHER


def event_note(kind: str, note: str) -> str:
    """An event's note as people read it: codes (routes, attachment kinds) in words."""
    if kind == "attachment":
        return texts.MEDIA_KINDS.get(note, texts.ATTACHMENT_KIND)
    if kind in ASSIGNING_EVENTS and ASSIGNED_NOTE_SEPARATOR in note:
        head, _, route = note.rpartition(ASSIGNED_NOTE_SEPARATOR)
        return texts.ROUTED_TO.format(name=head, route=route_label(route))
    return note


def result_line(ticket: Ticket) -> str:
    """ "\n结果：…", or after a 不满意 the earlier result, which is no longer the answer."""
    if not ticket.result:
        return ""
    if ticket.state in (TicketState.resolved.value, TicketState.closed.value):
        return texts.STATUS_RESULT.format(result=ticket.result)
    return texts.STATUS_EARLIER_RESULT.format(result=ticket.result)


def one_line(session: Session, ctx: Context, ticket: Ticket, now: datetime) -> str:
    """#12 张家村3组【饮水供水】办理中 期限12月7日 17:30【超期】"""
    overdue = (
        texts.OVERDUE_MARK
        if ticket.resolve_due_at is not None
        and ticket.resolve_due_at < now
        and ticket.state not in ("resolved", "closed", "invalid", "duplicate")
        else ""
    )
    due = (
        texts.ONE_LINE_DUE.format(due=local_due(ticket.resolve_due_at))
        if ticket.resolve_due_at
        else ""
    )
    return texts.ONE_LINE.format(
        id=ticket.id,
        place=place_label(session, ticket),
        category=category_name(ctx.office, ticket.category),
        state=state_name(ticket),
        due=due,
        overdue=overdue,
    )


def detail(ctx: Context, ticket: Ticket) -> str:
    """The detail view with the timeline, for 查看."""
    session = ctx.session
    assert ticket.id is not None
    assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    reporter = session.get(Person, ticket.reporter_id) if ticket.reporter_id else None
    head = texts.DETAIL_HEAD.format(
        id=ticket.id,
        category=category_name(ctx.office, ticket.category),
        place=place_label(session, ticket),
        urgency=texts.URGENT_MARK if ticket.urgent else "",
    )
    shown_reporter = (
        texts.PERSON_WITH_PHONE.format(name=reporter.name, phone=reporter.phone)
        if reporter
        else texts.DASH
    )
    lines = [
        head,
        ticket.text[:200] or ticket.summary,
        texts.DETAIL_STATE.format(
            state=state_name(ticket), assignee=person_label(session, assignee)
        ),
        texts.DETAIL_REPORTER.format(reporter=shown_reporter),
        texts.DETAIL_DEADLINES.format(
            ack=local_due(ticket.ack_due_at), resolve=local_due(ticket.resolve_due_at)
        ),
    ]
    if ticket.result:
        lines.append(result_line(ticket).strip())
    lines.append(texts.DETAIL_TIMELINE)
    for event in timeline(session, ticket.id)[-12:]:
        actor = session.get(Person, event.actor_id) if event.actor_id else None
        who = actor.name if actor else texts.SYSTEM_ACTOR
        note = event_note(event.kind, event.note)
        note = texts.DETAIL_EVENT_NOTE.format(note=note[:40]) if note else ""
        name = EVENT_NAMES.get(event.kind, texts.EVENT_OTHER)
        lines.append(
            texts.DETAIL_EVENT.format(time=local_time(event.at), who=who, name=name, note=note)
        )
    return "\n".join(lines)
