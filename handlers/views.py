"""How tickets read on a phone: one-line summaries, the detail view and the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from handlers import texts
from handlers.assignment import category_name, local_time, person_label, place_label
from handlers.router import Context
from models.person import Person
from models.ticket import STATE_NAMES, Ticket, TicketState
from models.workflow import timeline

EVENT_NAMES = {
    "created": "受理",
    "completed": "补充文字",
    "assigned": "派单",
    "rerouted": "重新派单",
    "transferred": "转办",
    "accepted": "签收",
    "progress": "进展",
    "resolved": "办结",
    "returned": "申请退回",
    "return_approved": "同意退回",
    "return_rejected": "驳回退回",
    "extension_requested": "申请延期",
    "extension_approved": "同意延期",
    "extension_rejected": "驳回延期",
    "rated": "评价",
    "reopened": "不满意重办",
    "reassigned": "重办派单",
    "corrected": "更正",
    "withdrawn": "撤回",
    "invalid": "认定无效",
    "merged": "合并",
    "attachment": "补充附件",
    "draft_timeout": "转调度员",
    "closed": "结案",
    "reminded": "提醒",
    "escalated": "督办",
}


def state_name(ticket: Ticket) -> str:
    name = STATE_NAMES.get(TicketState(ticket.state), ticket.state)
    if ticket.reopen_count and ticket.state not in ("resolved", "closed"):
        name = texts.REOPENED_MARK + name
    return name


def route_label(route: str) -> str:
    """A recorded route ("unit_head:水利站") as people say it ("水利站负责人")."""
    step, _, detail = route.partition(":")
    template = texts.ROUTE_NAMES.get(step)
    return template.format(detail=detail) if template else route


def wrong_state(ticket: Ticket, action: str) -> str:
    """Why a step cannot be taken in the ticket's present state."""
    state = STATE_NAMES.get(TicketState(ticket.state), ticket.state)
    return texts.WRONG_STATE.format(id=ticket.id, state=state, action=action)


def one_line(session: Session, ctx: Context, ticket: Ticket, now: datetime) -> str:
    """#12 张家村3组【饮水供水】办理中 期限12月7日 17:30【超期】"""
    overdue = (
        texts.OVERDUE_MARK
        if ticket.resolve_due_at is not None
        and ticket.resolve_due_at < now
        and ticket.state not in ("resolved", "closed", "invalid", "duplicate")
        else ""
    )
    due = f" 期限{local_time(ticket.resolve_due_at)}" if ticket.resolve_due_at else ""
    return (
        f"#{ticket.id} {place_label(session, ticket)}"
        f"【{category_name(ctx.office, ticket.category)}】"
        f"{state_name(ticket)}{due}{overdue}"
    )


def detail(ctx: Context, ticket: Ticket) -> str:
    """The detail view with the timeline, for 查看."""
    session = ctx.session
    assert ticket.id is not None
    assignee = session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    reporter = session.get(Person, ticket.reporter_id) if ticket.reporter_id else None
    lines = [
        f"#{ticket.id}【{category_name(ctx.office, ticket.category)}】"
        f"{place_label(session, ticket)}" + (texts.URGENT_MARK if ticket.urgent else ""),
        ticket.text[:200] or ticket.summary,
        f"状态：{state_name(ticket)}　承办：{person_label(session, assignee)}",
        f"反映人：{reporter.name}（{reporter.phone}）" if reporter else "反映人：—",
        f"签收期限：{local_time(ticket.ack_due_at)}　办结期限：{local_time(ticket.resolve_due_at)}",
    ]
    if ticket.result:
        lines.append(f"办理结果：{ticket.result}")
    lines.append("—— 经过 ——")
    for event in timeline(session, ticket.id)[-12:]:
        actor = session.get(Person, event.actor_id) if event.actor_id else None
        who = actor.name if actor else "系统"
        note = f"：{event.note[:40]}" if event.note else ""
        lines.append(
            f"{local_time(event.at)} {who} {EVENT_NAMES.get(event.kind, event.kind)}{note}"
        )
    return "\n".join(lines)
