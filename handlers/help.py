"""The help menu: 帮助, 菜单, ? and friends."""

from __future__ import annotations

from handlers import texts
from handlers.router import Context, Message, Reply

HELP_WORDS = ("帮助", "菜单", "?", "help", "功能", "怎么用")


def show_help(message: Message, ctx: Context) -> Reply:
    """Show what the bot understands."""
    return texts.HELP
