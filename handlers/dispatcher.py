"""What a dispatcher (or a leader above the ticket) says: 派, 同意, 驳回, 合并, 无效, 待派."""

from __future__ import annotations

from sqlmodel import col, select

from handlers import texts, words
from handlers.commands import Call, dispatcher_command, leading_number
from handlers.router import Reply
from handlers.views import local_due, one_line, route_label
from models import actions
from models.place import Place
from models.ticket import Ticket, TicketRequest
from models.tickets import dispatch_queue

# How much of an extension's reason the 待派 list shows.
QUEUE_REASON_CHARS = 20


@dispatcher_command(words.SEND_TO, usage=texts.SEND_TO_USAGE)
def send_to(call: Call) -> Reply:
    """派 12 姓名 — assign (or reassign) a ticket by hand."""
    name = call.command.rest.partition(" ")[0]
    done = actions.send_to(call.desk, call.actor, call.number, name)
    assert done.person is not None
    return texts.ASSIGNED_BY_DISPATCHER.format(id=done.ticket.id, name=done.person.name)


@dispatcher_command(words.APPROVE, usage=texts.APPROVE_USAGE)
def approve(call: Call) -> Reply:
    """同意 12 — approve the pending return (re-route) or extension (move the deadline)."""
    done = actions.approve(call.desk, call.actor, call.number)
    if done.request == "return":
        assert done.person is not None
        return texts.RETURN_APPROVED.format(
            id=done.ticket.id, name=done.person.name, route=route_label(done.route)
        )
    return texts.EXTENSION_APPROVED.format(id=done.ticket.id, due=local_due(done.due))


@dispatcher_command(words.REJECT, usage=texts.REJECT_USAGE)
def reject(call: Call) -> Reply:
    """驳回 12 原因 — refuse the pending return (back to its assignee) or extension."""
    done = actions.reject(call.desk, call.actor, call.number, call.command.note)
    name = texts.REQUEST_NAMES.get(done.request, done.request)
    return texts.REQUEST_REJECTED.format(id=done.ticket.id, request=name)


@dispatcher_command(words.MERGE, usage=texts.MERGE_USAGE)
def merge(call: Call) -> Reply:
    """合并 12 10 — 12 duplicates 10; 12's reporter follows 10 from now on."""
    into, _ = leading_number(call.command.rest.lstrip(words.MERGE_LINK))
    done = actions.merge(call.desk, call.actor, call.number, into or None)
    assert done.into is not None
    return texts.MERGED.format(id=done.ticket.id, target=done.into.id)


@dispatcher_command(words.INVALIDATE, usage=texts.INVALIDATE_USAGE)
def invalidate(call: Call) -> Reply:
    """无效 12 原因 — not a real problem, or not ours to handle."""
    done = actions.invalidate(call.desk, call.actor, call.number, call.command.note)
    return texts.MARKED_INVALID.format(id=done.ticket.id)


@dispatcher_command(words.QUEUE)
def queue(call: Call) -> Reply:
    """待派 — returned and unassigned tickets, and requests waiting for a decision."""
    if call.command.rest:
        return None
    ctx = call.ctx
    under = ctx.session.get(Place, call.person.place_id)
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
    lines += [
        texts.QUEUE_EXTENSION_LINE.format(
            id=t.id, days=req.days, reason=req.reason[:QUEUE_REASON_CHARS]
        )
        for req, t in extensions
    ]
    return "\n".join(lines)
