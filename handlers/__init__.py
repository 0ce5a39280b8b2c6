"""What each inbound message means. The order below is the priority order: first match wins."""

from __future__ import annotations

from handlers import events, help
from handlers.router import Context, Message, Router, event_is, text_is

__all__ = ["Context", "Message", "Router", "build_router"]


def build_router() -> Router:
    """The bot's handlers, highest priority first."""
    router = Router()
    router.add("text", help.show_help, text_is(*help.HELP_WORDS))
    router.add("event", events.welcome, event_is("subscribe"))
    return router
