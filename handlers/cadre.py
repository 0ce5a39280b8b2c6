"""What an assignee says: 签收, 进度, 办结, 退回, 转办, 延期, 待办, 查看.

Each command parses its arguments, calls the ticket action (models/actions.py) and words the
result; refusals are worded by the registration (handlers/commands.py).
"""

from __future__ import annotations

import re

from handlers import texts, words
from handlers.commands import Call, command, leading_number
from handlers.router import Reply
from handlers.views import detail, one_line
from models import actions
from models.actions import Reason, Refusal
from models.person import HANDLER_ROLES
from models.ticket import Ticket
from models.tickets import may_handle, open_tickets_of


@command(words.ACCEPT, roles=HANDLER_ROLES, usage=texts.ACCEPT_USAGE)
def accept(call: Call) -> Reply:
    """签收 12."""
    done = actions.accept(call.desk, call.actor, call.number)
    return texts.ACCEPTED.format(id=done.ticket.id)


@command(words.PROGRESS, roles=HANDLER_ROLES, refuse_others=False, usage=texts.PROGRESS_USAGE)
def progress(call: Call) -> Reply:
    """进度 12 内容 — a note of work done, passed on to the reporter."""
    done = actions.progress(call.desk, call.actor, call.number, call.command.note)
    return texts.PROGRESS_RECORDED.format(id=done.ticket.id)


@command(words.RESOLVE, roles=HANDLER_ROLES, usage=texts.RESOLVE_USAGE)
def resolve(call: Call) -> Reply:
    """办结 12 结果说明 — a result is required; the reporter is asked whether they are satisfied."""
    done = actions.resolve(call.desk, call.actor, call.number, call.command.note)
    return texts.RESOLVED.format(id=done.ticket.id)


@command(words.RETURN, roles=HANDLER_ROLES, usage=texts.RETURN_USAGE)
def return_ticket(call: Call) -> Reply:
    """退回 12 原因 — a misrouted ticket goes back to the dispatcher, who decides."""
    done = actions.return_(call.desk, call.actor, call.number, call.command.note)
    return texts.RETURN_REQUESTED.format(id=done.ticket.id)


@command(words.TRANSFER, roles=HANDLER_ROLES, usage=texts.TRANSFER_USAGE)
def transfer(call: Call) -> Reply:
    """转办 12 姓名 [说明] — to a colleague; both the colleague and the reporter are told."""
    name = call.command.rest.partition(" ")[0]
    typed = call.command.note.split(maxsplit=1)
    done = actions.transfer(
        call.desk, call.actor, call.number, name, note=typed[1] if len(typed) > 1 else ""
    )
    assert done.person is not None
    return texts.TRANSFERRED.format(id=done.ticket.id, name=done.person.name)


@command(words.EXTEND, roles=HANDLER_ROLES, usage=texts.EXTEND_USAGE)
def extend(call: Call) -> Reply:
    """延期 12 天数 原因 — a request the dispatcher approves."""
    days, _ = leading_number(call.command.rest)
    reason = re.sub(words.DAYS_UNIT, "", leading_number(call.command.note)[1])
    reason = reason.strip(words.REASON_EDGES)
    done = actions.extend(call.desk, call.actor, call.number, days, reason)
    return texts.EXTENSION_REQUESTED.format(id=done.ticket.id, days=done.days)


@command(words.TODO, roles=HANDLER_ROLES)
def todo(call: Call) -> Reply:
    """待办 — my open tickets, overdue first."""
    if call.command.rest:
        return None
    ctx = call.ctx
    tickets = open_tickets_of(ctx.session, call.actor.id, ctx.now)
    if not tickets:
        return texts.NOTHING_TO_DO
    lines = [texts.TODO_HEADER.format(count=len(tickets))]
    lines += [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    return "\n".join(lines)


@command(words.VIEW, roles=HANDLER_ROLES, refuse_others=False, usage=texts.VIEW_USAGE)
def view(call: Call) -> Reply:
    """查看 12 — detail and timeline, for the assignee and dispatchers above the ticket."""
    ticket = call.ctx.session.get(Ticket, call.number)
    if ticket is None or not may_handle(call.ctx.session, call.person, ticket):
        raise Refusal(Reason.not_found, ticket=call.number)
    return detail(call.ctx, ticket)
