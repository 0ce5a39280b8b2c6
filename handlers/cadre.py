"""What an assignee says: 签收, 进度, 办结, 退回, 转办, 延期, 待办, 查看."""

from __future__ import annotations

import re

from sqlmodel import select

from handlers import texts
from handlers.assignment import (
    assign,
    notify,
    notify_reporters,
    tell_reporters_reassigned,
    ticket_fields,
)
from handlers.commands import Command, begin_command, leading_number
from handlers.router import Context, Message, Reply
from handlers.views import detail, one_line, wrong_state
from models.person import HANDLER_ROLES, Person, find_handlers
from models.routing import RouteChoice, dispatchers_for
from models.ticket import Ticket, TicketRequest, TicketState
from models.tickets import cancel_pending_requests, followers, may_handle, open_tickets_of
from models.workflow import change_state, record_event

WORKING = (TicketState.assigned.value, TicketState.accepted.value, TicketState.in_progress.value)


def handler_ticket(ctx: Context, person: Person, command: Command, example: str) -> Ticket | str:
    """The ticket a command names, if this person may act on it; otherwise the refusal to say."""
    if command.number is None:
        return texts.NEED_NUMBER.format(example=example)
    ticket = ctx.session.get(Ticket, command.number)
    if ticket is None or not may_handle(ctx.session, person, ticket):
        return texts.NOT_FOUND.format(id=command.number)
    return ticket


def accept(message: Message, ctx: Context) -> Reply:
    """签收 12."""
    begun = begin_command(
        message, ctx, ("签收", "接单"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "签收 12")
    if isinstance(ticket, str):
        return ticket
    if ticket.state != TicketState.assigned.value:
        return wrong_state(ticket, "签收")
    change_state(
        ctx.session, ticket, TicketState.accepted, kind="accepted", now=ctx.now, actor_id=person.id
    )
    notify_reporters(
        ctx, ticket, "accepted", texts.NOTIFY_ACCEPTED.format(**ticket_fields(ctx, ticket))
    )
    return texts.ACCEPTED.format(id=ticket.id)


def progress(message: Message, ctx: Context) -> Reply:
    """进度 12 内容 — a note of work done, passed on to the reporter."""
    begun = begin_command(message, ctx, ("进度", "进展"), roles=HANDLER_ROLES, refusal=None)
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "进度 12 已联系施工队")
    if isinstance(ticket, str):
        return ticket
    if not command.rest:
        return texts.NEEDS_TEXT.format(command="进度", what="内容", example="进度 12 已联系施工队")
    if ticket.state not in WORKING:
        return wrong_state(ticket, "记录进展")
    if ticket.state == TicketState.assigned.value:
        change_state(
            ctx.session,
            ticket,
            TicketState.accepted,
            kind="accepted",
            now=ctx.now,
            actor_id=person.id,
        )
    change_state(
        ctx.session,
        ticket,
        TicketState.in_progress,
        kind="progress",
        now=ctx.now,
        actor_id=person.id,
        note=command.note,
    )
    notify_reporters(
        ctx, ticket, "progress", texts.NOTIFY_PROGRESS.format(id=ticket.id, note=command.note)
    )
    return texts.PROGRESS_RECORDED.format(id=ticket.id)


def resolve(message: Message, ctx: Context) -> Reply:
    """办结 12 结果说明 — a result is required; the reporter is asked whether they are satisfied."""
    begun = begin_command(
        message, ctx, ("办结", "完成"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "办结 12 已派人修好")
    if isinstance(ticket, str):
        return ticket
    if not command.rest:
        return texts.NEEDS_TEXT.format(
            command="办结", what="结果说明", example="办结 12 已派人修好"
        )
    if ticket.state not in WORKING:
        return wrong_state(ticket, "办结")
    change_state(
        ctx.session,
        ticket,
        TicketState.resolved,
        kind="resolved",
        now=ctx.now,
        actor_id=person.id,
        note=command.note,
    )
    ticket.result = command.note
    ticket.rating, ticket.rated_at = None, None
    ticket.rating_asked_at, ticket.rating_reminded_at = ctx.now, None
    cancel_pending_requests(ctx.session, ticket, ctx.now, command.note)
    fields = ticket_fields(ctx, ticket)
    # Only the reporter rates; reporters of merged duplicates hear the result.
    notify(
        ctx,
        ticket.reporter_id,
        "resolved",
        texts.NOTIFY_RESOLVED.format(result=command.note, **fields),
        ticket,
    )
    for follower in followers(ctx.session, ticket)[1:]:
        text = texts.NOTIFY_RESOLVED_FOLLOWER.format(result=command.note, **fields)
        notify(ctx, follower, "resolved", text, ticket)
    return texts.RESOLVED.format(id=ticket.id)


def return_ticket(message: Message, ctx: Context) -> Reply:
    """退回 12 原因 — a misrouted ticket goes back to the dispatcher, who decides."""
    begun = begin_command(
        message, ctx, ("退回", "退单"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "退回 12 不属于本村")
    if isinstance(ticket, str):
        return ticket
    if not command.rest:
        return texts.NEEDS_TEXT.format(command="退回", what="原因", example="退回 12 不属于本村")
    if ticket.state not in WORKING:
        return wrong_state(ticket, "退回")
    change_state(
        ctx.session,
        ticket,
        TicketState.returned,
        kind="returned",
        now=ctx.now,
        actor_id=person.id,
        note=command.note,
    )
    assert ticket.id is not None
    ctx.session.add(
        TicketRequest(
            ticket_id=ticket.id,
            kind="return",
            requested_by_id=person.id,
            reason=command.note,
            created_at=ctx.now,
        )
    )
    fields = ticket_fields(ctx, ticket)
    text = texts.NOTIFY_RETURN_REQUEST.format(reason=command.note, **fields)
    for dispatcher in dispatchers_for(ctx.session, ticket)[:1]:
        notify(ctx, dispatcher.id, "return_request", text, ticket)
    notify_reporters(
        ctx, ticket, "returned", texts.NOTIFY_RETURNED_TO_REPORTER.format(id=ticket.id)
    )
    return texts.RETURN_REQUESTED.format(id=ticket.id)


def _pending_extension(ctx: Context, ticket: Ticket) -> bool:
    stmt = select(TicketRequest.id).where(
        TicketRequest.ticket_id == ticket.id,
        TicketRequest.kind == "extension",
        TicketRequest.status == "pending",
    )
    return ctx.session.exec(stmt).first() is not None


def pick_person(ctx: Context, word: str) -> Person | str:
    """A handler named by name or phone, or the sentence explaining why not."""
    word = word.strip()
    if not word:
        return texts.PERSON_NOT_FOUND.format(name="")
    people = find_handlers(ctx.session, word)
    if not people:
        return texts.PERSON_NOT_FOUND.format(name=word)
    if len(people) > 1:
        phones = "、".join(p.phone for p in people[:5])
        return texts.PERSON_AMBIGUOUS.format(name=word, phones=phones)
    return people[0]


def transfer(message: Message, ctx: Context) -> Reply:
    """转办 12 姓名 — to a colleague; recorded, and both the colleague and the reporter are told."""
    begun = begin_command(
        message, ctx, ("转办", "转交", "转给"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "转办 12 张三")
    if isinstance(ticket, str):
        return ticket
    if ticket.state not in WORKING:
        return wrong_state(ticket, "转办")
    name = command.rest.partition(" ")[0]
    note = command.note.split(maxsplit=1)[1] if len(command.note.split()) > 1 else ""
    target = pick_person(ctx, name)
    if isinstance(target, str):
        return target
    cancel_pending_requests(ctx.session, ticket, ctx.now, target.name)
    assign(
        ctx,
        ticket,
        RouteChoice(target, f"transfer:{person.name}"),
        actor_id=person.id,
        kind="transferred",
        note=note.strip(),
    )
    tell_reporters_reassigned(ctx, ticket)
    return texts.TRANSFERRED.format(id=ticket.id, name=target.name)


def extend(message: Message, ctx: Context) -> Reply:
    """延期 12 天数 原因 — a request the dispatcher approves."""
    begun = begin_command(
        message, ctx, ("延期", "申请延期"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    example = "延期 12 3 等材料到货"
    ticket = handler_ticket(ctx, person, command, example)
    if isinstance(ticket, str):
        return ticket
    days, _ = leading_number(command.rest)
    reason = re.sub(r"^\s*(?:天|[个個]?工作日)", "", leading_number(command.note)[1])
    reason = reason.strip(" \u3000，,：:")
    if days is None or days <= 0 or not reason:
        return texts.NEEDS_TEXT.format(command="延期", what="天数和原因", example=example)
    longest = ctx.sla.extension_max_working_days  # the app's SLA file, [extension]
    if days > longest:
        return texts.EXTENSION_TOO_LONG.format(max=longest)
    if ticket.state not in WORKING:
        return wrong_state(ticket, "申请延期")
    if _pending_extension(ctx, ticket):
        return texts.EXTENSION_ALREADY_PENDING.format(id=ticket.id)
    assert ticket.id is not None
    ctx.session.add(
        TicketRequest(
            ticket_id=ticket.id,
            kind="extension",
            requested_by_id=person.id,
            days=days,
            reason=reason,
            created_at=ctx.now,
        )
    )
    record_event(
        ctx.session,
        ticket,
        "extension_requested",
        now=ctx.now,
        actor_id=person.id,
        note=f"{days}个工作日：{reason}",
    )
    fields = ticket_fields(ctx, ticket)
    text = texts.NOTIFY_EXTENSION_REQUEST.format(days=days, reason=reason, **fields)
    for dispatcher in dispatchers_for(ctx.session, ticket)[:1]:
        notify(ctx, dispatcher.id, "extension_request", text, ticket)
    return texts.EXTENSION_REQUESTED.format(id=ticket.id, days=days)


def todo(message: Message, ctx: Context) -> Reply:
    """待办 — my open tickets, overdue first."""
    begun = begin_command(
        message, ctx, ("待办", "我的待办"), roles=HANDLER_ROLES, refusal=texts.NOT_A_HANDLER
    )
    if begun is None or isinstance(begun, str):
        return begun
    if begun[1].rest:
        return None
    person, _ = begun
    assert person.id is not None
    tickets = open_tickets_of(ctx.session, person.id, ctx.now)
    if not tickets:
        return texts.NOTHING_TO_DO
    lines = [texts.TODO_HEADER.format(count=len(tickets))]
    lines += [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    return "\n".join(lines)


def view(message: Message, ctx: Context) -> Reply:
    """查看 12 — detail and timeline, for the assignee and dispatchers above the ticket."""
    begun = begin_command(message, ctx, ("查看", "详情"), roles=HANDLER_ROLES, refusal=None)
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = handler_ticket(ctx, person, command, "查看 12")
    if isinstance(ticket, str):
        return ticket
    return detail(ctx, ticket)
