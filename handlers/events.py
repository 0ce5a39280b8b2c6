"""Events WeChat sends on the user's behalf: follow, unfollow, menu clicks, locations."""

from __future__ import annotations

from handlers import texts
from handlers.router import Context, Message, Reply


def welcome(message: Message, ctx: Context) -> Reply:
    """Greet a new follower and tell them how to bind."""
    return texts.WELCOME
