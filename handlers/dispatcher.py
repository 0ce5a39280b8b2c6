"""What a dispatcher (or a leader above the ticket) says: 派, 同意, 驳回, 合并, 无效, 待派."""

from __future__ import annotations

from sqlmodel import col, select

from handlers import texts
from handlers.assignment import (
    assign,
    notify,
    route,
    tell_reporters_reassigned,
)
from handlers.cadre import pick_person
from handlers.commands import DISPATCH_ROLES, Command, begin_command, leading_number
from handlers.router import Context, Message, Reply
from handlers.views import local_due, one_line, route_label, wrong_state
from models.deadlines import extend_resolve_due
from models.person import Person
from models.place import Place
from models.routing import RouteChoice
from models.ticket import Ticket, TicketRequest, TicketState
from models.tickets import cancel_pending_requests, dispatch_queue, may_dispatch
from models.workflow import approve_return, can_transition, change_state, record_event

REQUEST_NAMES = {"return": "退回", "extension": "延期"}
# A ticket that is itself merged away, or void, cannot take others in.
MERGE_REFUSED = (TicketState.duplicate.value, TicketState.invalid.value)


def dispatcher_ticket(ctx: Context, person: Person, command: Command, example: str) -> Ticket | str:
    """The ticket named, if this person dispatches above it; otherwise the refusal to say."""
    if command.number is None:
        return texts.NEED_NUMBER.format(example=example)
    ticket = ctx.session.get(Ticket, command.number)
    if ticket is None or not may_dispatch(ctx.session, person, ticket):
        return texts.NOT_FOUND.format(id=command.number)
    return ticket


def _pending_request(ctx: Context, ticket: Ticket) -> TicketRequest | None:
    stmt = (
        select(TicketRequest)
        .where(TicketRequest.ticket_id == ticket.id, TicketRequest.status == "pending")
        .order_by(col(TicketRequest.id).desc())
    )
    return ctx.session.exec(stmt).first()


def _close_request(
    ctx: Context,
    ticket: Ticket,
    request: TicketRequest,
    person: Person,
    status: str,
    note: str = "",
) -> None:
    request.status, request.decided_by_id, request.decided_at = status, person.id, ctx.now
    request.decision_note = note
    ctx.session.add(request)
    if request.kind == "return" and status == "approved":
        approve_return(ticket)


def send_to(message: Message, ctx: Context) -> Reply:
    """派 12 姓名 — assign (or reassign) a ticket by hand."""
    begun = begin_command(
        message, ctx, ("派", "派单", "指派"), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = dispatcher_ticket(ctx, person, command, "派 12 张三")
    if isinstance(ticket, str):
        return ticket
    if not can_transition(ticket.state, TicketState.assigned):
        return wrong_state(ticket, "派单")
    target = pick_person(ctx, command.rest.partition(" ")[0])
    if isinstance(target, str):
        return target
    previous = ticket.assignee_id
    pending = _pending_request(ctx, ticket)
    if pending is not None and pending.kind == "return":
        _close_request(ctx, ticket, pending, person, "approved", target.name)
    cancel_pending_requests(ctx.session, ticket, ctx.now, target.name)
    assign(ctx, ticket, RouteChoice(target, f"dispatcher:{person.name}"), actor_id=person.id)
    if previous not in (None, target.id):
        notify(
            ctx,
            previous,
            "taken_off",
            texts.NOTIFY_TAKEN_OFF_REASSIGNED.format(id=ticket.id),
            ticket,
        )
    if previous is not None:
        tell_reporters_reassigned(ctx, ticket)
    return texts.ASSIGNED_BY_DISPATCHER.format(id=ticket.id, name=target.name)


def approve(message: Message, ctx: Context) -> Reply:
    """同意 12 — approve the pending return (re-route) or extension (move the deadline)."""
    begun = begin_command(
        message, ctx, ("同意", "批准"), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = dispatcher_ticket(ctx, person, command, "同意 12")
    if isinstance(ticket, str):
        return ticket
    request = _pending_request(ctx, ticket)
    if request is None:
        return texts.NO_PENDING_REQUEST.format(id=ticket.id)
    _close_request(ctx, ticket, request, person, "approved")
    if request.kind == "return":
        excluded = {request.requested_by_id} if request.requested_by_id else set()
        choice = route(ctx, ticket, exclude=excluded)
        if choice is None:
            choice = RouteChoice(person, f"dispatcher:{person.name}")
        assign(ctx, ticket, choice, actor_id=person.id, kind="rerouted", note="同意退回")
        tell_reporters_reassigned(ctx, ticket)
        return texts.RETURN_APPROVED.format(
            id=ticket.id, name=choice.person.name, route=route_label(choice.route)
        )
    assert request.days, "extension requests always carry their days (cadre.extend checks)"
    base = ticket.resolve_due_at or ctx.now
    ticket.resolve_due_at = extend_resolve_due(
        base, request.days, sla=ctx.sla, calendar=ctx.calendar
    )
    ticket.updated_at = ctx.now
    ctx.session.add(ticket)
    due = local_due(ticket.resolve_due_at)
    record_event(
        ctx.session,
        ticket,
        "extension_approved",
        now=ctx.now,
        actor_id=person.id,
        note=f"{request.days}个工作日，新期限{due}",
    )
    notify(
        ctx,
        request.requested_by_id,
        "extension_approved",
        texts.NOTIFY_EXTENSION_APPROVED.format(id=ticket.id, due=due),
        ticket,
    )
    return texts.EXTENSION_APPROVED.format(id=ticket.id, due=due)


def reject(message: Message, ctx: Context) -> Reply:
    """驳回 12 原因 — refuse the pending return (back to its assignee) or extension."""
    begun = begin_command(
        message, ctx, ("驳回", "不同意"), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = dispatcher_ticket(ctx, person, command, "驳回 12 属于本村范围")
    if isinstance(ticket, str):
        return ticket
    if not command.rest:
        return texts.NEEDS_TEXT.format(command="驳回", what="原因", example="驳回 12 属于本村范围")
    request = _pending_request(ctx, ticket)
    if request is None:
        return texts.NO_PENDING_REQUEST.format(id=ticket.id)
    _close_request(ctx, ticket, request, person, "rejected", command.note)
    name = REQUEST_NAMES.get(request.kind, request.kind)
    if request.kind == "return":
        change_state(
            ctx.session,
            ticket,
            TicketState.assigned,
            kind="return_rejected",
            now=ctx.now,
            actor_id=person.id,
            note=command.note,
        )
    else:
        record_event(
            ctx.session,
            ticket,
            "extension_rejected",
            now=ctx.now,
            actor_id=person.id,
            note=command.note,
        )
    notify(
        ctx,
        request.requested_by_id,
        f"{request.kind}_rejected",
        texts.NOTIFY_REQUEST_REJECTED.format(id=ticket.id, request=name, reason=command.note),
        ticket,
    )
    return texts.REQUEST_REJECTED.format(id=ticket.id, request=name)


def merge(message: Message, ctx: Context) -> Reply:
    """合并 12 10 — 12 duplicates 10; 12's reporter follows 10 from now on."""
    begun = begin_command(
        message, ctx, ("合并",), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = dispatcher_ticket(ctx, person, command, "合并 12 10")
    if isinstance(ticket, str):
        return ticket
    target_number, _ = leading_number(command.rest.lstrip("#＃到入 "))
    target = ctx.session.get(Ticket, target_number) if target_number else None
    if target is None or target.id == ticket.id or not may_dispatch(ctx.session, person, target):
        return texts.NOT_FOUND.format(id=target_number or "")
    if target.state in MERGE_REFUSED:
        return wrong_state(target, "作为合并目标")
    if not can_transition(ticket.state, TicketState.duplicate):
        return wrong_state(ticket, "合并")
    ticket.duplicate_of_id = target.id
    # Tickets merged into this one earlier now follow the target too, so no reporter is lost.
    for earlier in ctx.session.exec(select(Ticket).where(Ticket.duplicate_of_id == ticket.id)):
        earlier.duplicate_of_id = target.id
        ctx.session.add(earlier)
    cancel_pending_requests(ctx.session, ticket, ctx.now, f"并入 #{target.id}")
    change_state(
        ctx.session,
        ticket,
        TicketState.duplicate,
        kind="merged",
        now=ctx.now,
        actor_id=person.id,
        note=f"并入 #{target.id}",
    )
    record_event(
        ctx.session, target, "merged", now=ctx.now, actor_id=person.id, note=f"#{ticket.id} 并入"
    )
    notify(
        ctx,
        ticket.reporter_id,
        "merged",
        texts.NOTIFY_MERGED.format(id=ticket.id, target=target.id),
        ticket,
    )
    if ticket.assignee_id not in (None, target.assignee_id):
        text = texts.NOTIFY_TAKEN_OFF_MERGED.format(id=ticket.id, target=target.id)
        notify(ctx, ticket.assignee_id, "taken_off", text, ticket)
    return texts.MERGED.format(id=ticket.id, target=target.id)


def invalidate(message: Message, ctx: Context) -> Reply:
    """无效 12 原因 — not a real problem, or not ours to handle."""
    begun = begin_command(
        message, ctx, ("无效",), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    person, command = begun
    ticket = dispatcher_ticket(ctx, person, command, "无效 12 重复发送")
    if isinstance(ticket, str):
        return ticket
    if not command.rest:
        return texts.NEEDS_TEXT.format(command="无效", what="原因", example="无效 12 重复发送")
    if not can_transition(ticket.state, TicketState.invalid):
        return wrong_state(ticket, "标记无效")
    cancel_pending_requests(ctx.session, ticket, ctx.now, command.note)
    change_state(
        ctx.session,
        ticket,
        TicketState.invalid,
        kind="invalid",
        now=ctx.now,
        actor_id=person.id,
        note=command.note,
    )
    notify(
        ctx,
        ticket.reporter_id,
        "invalid",
        texts.NOTIFY_INVALID.format(id=ticket.id, reason=command.note),
        ticket,
    )
    if ticket.assignee_id is not None and ticket.assignee_id != person.id:
        text = texts.NOTIFY_TAKEN_OFF_INVALID.format(id=ticket.id, reason=command.note)
        notify(ctx, ticket.assignee_id, "taken_off", text, ticket)
    return texts.MARKED_INVALID.format(id=ticket.id)


def queue(message: Message, ctx: Context) -> Reply:
    """待派 — returned and unassigned tickets, and requests waiting for a decision."""
    begun = begin_command(
        message, ctx, ("待派", "待审批"), roles=DISPATCH_ROLES, refusal=texts.NOT_A_DISPATCHER
    )
    if begun is None or isinstance(begun, str):
        return begun
    if begun[1].rest:
        return None
    person, _ = begun
    from models.person import Role, roles_of

    assert person.id is not None
    if not roles_of(ctx.session, person.id) & {Role.dispatcher, Role.leader, Role.admin}:
        return texts.NOT_A_DISPATCHER
    under = ctx.session.get(Place, person.place_id)
    tickets = dispatch_queue(ctx.session, under)
    stmt = (
        select(TicketRequest, Ticket)
        .join(Ticket, col(Ticket.id) == TicketRequest.ticket_id)
        .where(TicketRequest.status == "pending", TicketRequest.kind == "extension")
        .order_by(col(TicketRequest.id))
        .limit(20)
    )
    if under is not None:
        stmt = stmt.where(col(Ticket.place_path).startswith(under.path))
    extensions = list(ctx.session.exec(stmt))
    if not tickets and not extensions:
        return texts.QUEUE_EMPTY
    lines = [texts.QUEUE_HEADER]
    lines += [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    lines += [f"#{t.id} 申请延期{req.days}个工作日：{req.reason[:20]}" for req, t in extensions]
    return "\n".join(lines)
