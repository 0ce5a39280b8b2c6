"""What a reporter says about their own tickets: 查询, 我的, 满意 / 基本满意 / 不满意."""

from __future__ import annotations

from handlers import texts
from handlers.assignment import notify, ticket_fields
from handlers.commands import parse_command
from handlers.router import Context, Message, Reply
from handlers.views import one_line, result_line, state_name
from models.deadlines import set_deadlines
from models.person import REPORTER_ROLES, roles_of
from models.ticket import OPEN_STATES, Rating, Ticket, TicketState
from models.tickets import awaiting_rating, may_handle, may_view_as_reporter, tickets_of_reporter
from models.workflow import change_state

# A 邻长 asking after a ticket may say it as a cadre would (进度 12, 查看 12).
QUERY_VERBS = ("查询", "进度查询", "进度", "查看")
RATINGS = {"满意": Rating.satisfied, "基本满意": Rating.basic, "不满意": Rating.unsatisfied}


def query(message: Message, ctx: Context) -> Reply:
    """查询 12 — where my ticket stands."""
    person = ctx.person(message)
    command = parse_command(message.content, QUERY_VERBS)
    if person is None or command is None:
        return None
    if command.number is None:
        return texts.NEED_NUMBER.format(example="查询 12")
    ticket = ctx.session.get(Ticket, command.number)
    if ticket is None or not (
        may_view_as_reporter(ctx.session, person, ticket) or may_handle(ctx.session, person, ticket)
    ):
        return texts.NOT_FOUND.format(id=command.number)
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


def mine(message: Message, ctx: Context) -> Reply:
    """我的 — my tickets with their states."""
    person = ctx.person(message)
    command = parse_command(message.content, ("我的", "我的工单", "我反映的"))
    if person is None or command is None or command.rest not in ("", "工单", "问题"):
        return None
    assert person.id is not None
    tickets = tickets_of_reporter(ctx.session, person.id)
    if not tickets:
        return texts.NO_TICKETS
    return "\n".join(
        [texts.MY_TICKETS_HEADER] + [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    )


# What a reporter still waits for: tickets being handled, and results waiting for a rating.
UNFINISHED = tuple(state.value for state in (*OPEN_STATES, TicketState.resolved))


def reporter_todo(message: Message, ctx: Context) -> Reply:
    """待办 from a 邻长 (a cadre's command): the problems they reported that are not finished."""
    person = ctx.person(message)
    command = parse_command(message.content, ("待办", "我的待办"))
    if person is None or person.id is None or command is None or command.rest:
        return None
    if not roles_of(ctx.session, person.id) & REPORTER_ROLES:
        return None
    tickets = tickets_of_reporter(ctx.session, person.id, states=UNFINISHED)
    if not tickets:
        return texts.REPORTER_TODO_NONE
    lines = [texts.REPORTER_TODO_HEADER.format(count=len(tickets))]
    lines += [one_line(ctx.session, ctx, t, ctx.now) for t in tickets]
    return "\n".join(lines)


def rate(message: Message, ctx: Context) -> Reply:
    """满意 12 / 基本满意 12 / 不满意 12 原因; a bare rating fits the one waiting ticket."""
    person = ctx.person(message)
    command = parse_command(message.content, tuple(RATINGS))
    if person is None or command is None:
        return None
    assert person.id is not None
    rating = RATINGS[command.verb]
    if command.number is None:
        waiting = awaiting_rating(ctx.session, person.id)
        if not waiting:
            return texts.RATING_NONE
        if len(waiting) > 1:
            return texts.RATING_WHICH.format(id=waiting[0].id)
        ticket = waiting[0]
    else:
        found = ctx.session.get(Ticket, command.number)
        if found is None or found.reporter_id != person.id:
            return texts.NOT_FOUND.format(id=command.number)
        ticket = found
    if ticket.state != TicketState.resolved.value:
        return texts.RATING_NONE
    if rating is Rating.unsatisfied and not command.rest:
        return texts.RATING_NEEDS_REASON.format(id=ticket.id)
    ticket.rating, ticket.rated_at = rating.value, ctx.now
    if rating is not Rating.unsatisfied:
        change_state(
            ctx.session,
            ticket,
            TicketState.closed,
            kind="rated",
            now=ctx.now,
            actor_id=person.id,
            note=command.verb,
        )
        return texts.RATING_THANKS.format(id=ticket.id)
    change_state(
        ctx.session,
        ticket,
        TicketState.reopened,
        kind="reopened",
        now=ctx.now,
        actor_id=person.id,
        note=command.note,
    )
    change_state(
        ctx.session,
        ticket,
        TicketState.assigned,
        kind="reassigned",
        now=ctx.now,
        note="重办，仍由原承办人办理",
    )
    set_deadlines(ctx.session, ticket, ctx.now, sla=ctx.sla, calendar=ctx.calendar)
    fields = ticket_fields(ctx, ticket)
    notify(
        ctx,
        ticket.assignee_id,
        "reopened",
        texts.NOTIFY_REOPENED.format(reason=command.note, **fields),
        ticket,
    )
    return texts.RATING_UNSATISFIED.format(id=ticket.id, assignee=fields["assignee"])
