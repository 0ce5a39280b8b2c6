"""What each inbound message means. The order below is the priority order: first match wins."""

from __future__ import annotations

from handlers import binding, cadre, dispatcher, events, help, intake, questions, reporter, words
from handlers.commands import command_filter
from handlers.router import Context, Message, Router, event_is, text_is

__all__ = ["Context", "Message", "Router", "build_router"]

# Ticket commands, tried before a bound person's free text is taken as a new problem, in this
# order; each brings its verbs from its registration (handlers/commands.py, handlers/words.py).
TICKET_COMMANDS = tuple(
    (handler, handler.verbs)
    for handler in (
        cadre.accept,
        cadre.progress,
        cadre.resolve,
        cadre.return_ticket,
        cadre.transfer,
        cadre.extend,
        cadre.todo,
        reporter.reporter_todo,
        cadre.view,
        dispatcher.send_to,
        dispatcher.approve,
        dispatcher.reject,
        dispatcher.merge,
        dispatcher.invalidate,
        dispatcher.queue,
        reporter.query,
        reporter.mine,
        reporter.rate,
        intake.correct,
        intake.withdraw,
    )
)


def build_router() -> Router:
    """The bot's handlers, highest priority first."""
    router = Router()
    router.add("text", help.show_help, text_is(*words.HELP))
    router.add("event", events.welcome, event_is("subscribe"))
    router.add("event", intake.ignore_location_reports, event_is("location"))
    # Who is writing: binding commands, then the answer to anyone the roster does not know yet.
    router.add("event", binding.unsubscribed, event_is("unsubscribe"))
    router.add("text", binding.bind, binding.is_bind_command)
    router.add("text", binding.whoami, text_is(*words.WHOAMI))
    router.add("text", binding.unbind_me, text_is(*words.UNBIND))
    router.add("*", binding.explain_binding, binding.is_unbound_sender)

    # Bound people: the answer to a question the bot asked, ticket commands, then intake.
    router.add("text", questions.answer)
    for handler, verbs in TICKET_COMMANDS:
        router.add("text", handler, command_filter(*verbs))
    router.add("text", intake.report)
    for media_type in intake.MEDIA_TYPES:
        router.add(media_type, intake.attach)
    return router
