"""What a reporter says about their own tickets: 查询, 我的, 满意 / 基本满意 / 不满意."""

from __future__ import annotations

from handlers import texts, words
from handlers.assignment import ticket_fields
from handlers.commands import Call, command
from handlers.router import Reply
from handlers.views import one_line, result_line, state_name
from models import actions
from models.actions import Reason, Refusal
from models.person import REPORTER_ROLES
from models.ticket import OPEN_STATES, Ticket, TicketState
from models.tickets import may_handle, may_view_as_reporter, tickets_of_reporter

# What a reporter still waits for: tickets being handled, and results waiting for a rating.
UNFINISHED = tuple(state.value for state in (*OPEN_STATES, TicketState.resolved))


@command(words.QUERY, leave_prose=False, usage=texts.QUERY_USAGE)
def query(call: Call) -> Reply:
    """查询 12 — where my ticket stands."""
    ctx, person = call.ctx, call.person
    ticket = ctx.session.get(Ticket, call.number)
    if ticket is None or not (
        may_view_as_reporter(ctx.session, person, ticket) or may_handle(ctx.session, person, ticket)
    ):
        raise Refusal(Reason.not_found, ticket=call.number)
    fields = ticket_fields(ctx, ticket)
    merged_into = (
        ctx.session.get(Ticket, ticket.duplicate_of_id) if ticket.duplicate_of_id else None
    )
    shown = merged_into or ticket  # a merged ticket is handled as the one it was merged into
    contact = ticket_fields(ctx, shown)["contact"] if shown.assignee_id else ""
    assignee = texts.STATUS_ASSIGNEE.format(contact=contact) if contact else ""
    extra = result_line(shown)
    if merged_into is not None:
        state = texts.STATUS_MERGED.format(target=merged_into.id, state=state_name(merged_into))
    else:
        state = state_name(ticket)
    return texts.TICKET_STATUS.format(state=state, extra=extra, **{**fields, "assignee": assignee})


@command(words.MINE, leave_prose=False)
def mine(call: Call) -> Reply:
    """我的 — my tickets with their states."""
    if call.command.rest not in words.MINE_TAILS:
        return None
    ctx = call.ctx
    tickets = tickets_of_reporter(ctx.session, call.actor.id)
    if not tickets:
        return texts.NO_TICKETS
    return "\n".join(
        [texts.MY_TICKETS_HEADER] + [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    )


@command(words.TODO, roles=REPORTER_ROLES, refuse_others=False, leave_prose=False)
def reporter_todo(call: Call) -> Reply:
    """待办 from a 邻长 (a cadre's command): the problems they reported that are not finished."""
    if call.command.rest:
        return None
    ctx = call.ctx
    tickets = tickets_of_reporter(ctx.session, call.actor.id, states=UNFINISHED)
    if not tickets:
        return texts.REPORTER_TODO_NONE
    lines = [texts.REPORTER_TODO_HEADER.format(count=len(tickets))]
    lines += [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    return "\n".join(lines)


@command(
    tuple(words.RATINGS),
    leave_prose=False,
    refusals={
        Reason.wrong_state: texts.RATING_NONE,
        Reason.needs_text: texts.RATING_NEEDS_REASON,
    },
)
def rate(call: Call) -> Reply:
    """满意 12 / 基本满意 12 / 不满意 12 原因; a bare rating fits the one waiting ticket."""
    rating = words.RATINGS[call.command.verb]
    done = actions.rate(call.desk, call.actor, call.command.number, rating, call.command.note)
    if not done.reopened:
        return texts.RATING_THANKS.format(id=done.ticket.id)
    fields = ticket_fields(call.ctx, done.ticket)
    return texts.RATING_UNSATISFIED.format(id=done.ticket.id, assignee=fields["assignee"])
