"""What each inbound message means. The order below is the priority order: first match wins."""

from __future__ import annotations

from handlers import binding, cadre, dispatcher, events, help, intake, questions, reporter
from handlers.commands import command_filter
from handlers.router import Context, Message, Router, event_is, text_is

__all__ = ["Context", "Message", "Router", "build_router"]

# Ticket commands, tried before a bound person's free text is taken as a new problem.
TICKET_COMMANDS = (
    (cadre.accept, ("签收", "接单")),
    (cadre.progress, ("进度", "进展")),
    (cadre.resolve, ("办结", "完成")),
    (cadre.return_ticket, ("退回", "退单")),
    (cadre.transfer, ("转办", "转交", "转给")),
    (cadre.extend, ("延期", "申请延期")),
    (cadre.todo, ("待办", "我的待办")),
    (reporter.reporter_todo, ("待办", "我的待办")),
    (cadre.view, ("查看", "详情")),
    (dispatcher.send_to, ("派", "派单", "指派")),
    (dispatcher.approve, ("同意", "批准")),
    (dispatcher.reject, ("驳回", "不同意")),
    (dispatcher.merge, ("合并",)),
    (dispatcher.invalidate, ("无效",)),
    (dispatcher.queue, ("待派", "待审批")),
    (reporter.query, reporter.QUERY_VERBS),
    (reporter.mine, ("我的", "我的工单", "我反映的")),
    (reporter.rate, ("满意", "基本满意", "不满意")),
    (intake.correct, intake.CORRECTION_VERBS),
    (intake.withdraw, intake.WITHDRAW_VERBS),
)


def build_router() -> Router:
    """The bot's handlers, highest priority first."""
    router = Router()
    router.add("text", help.show_help, text_is(*help.HELP_WORDS))
    router.add("event", events.welcome, event_is("subscribe"))
    router.add("event", intake.ignore_location_reports, event_is("location"))
    # Who is writing: binding commands, then the answer to anyone the roster does not know yet.
    router.add("event", binding.unsubscribed, event_is("unsubscribe"))
    router.add("text", binding.bind, binding.is_bind_command)
    router.add("text", binding.whoami, text_is(*binding.WHOAMI_WORDS))
    router.add("text", binding.unbind_me, text_is(*binding.UNBIND_WORDS))
    router.add("*", binding.explain_binding, binding.is_unbound_sender)

    # Bound people: the answer to a question the bot asked, ticket commands, then intake.
    router.add("text", questions.answer)
    for handler, verbs in TICKET_COMMANDS:
        router.add("text", handler, command_filter(*verbs))
    router.add("text", intake.report)
    for media_type in intake.MEDIA_TYPES:
        router.add(media_type, intake.attach)
    return router
