"""The help menu: 帮助, 菜单, ? and friends."""

from __future__ import annotations

from handlers import texts
from handlers.commands import DISPATCH_ROLES
from handlers.router import Context, Message, Reply
from models.person import HANDLER_ROLES, roles_of


def show_help(message: Message, ctx: Context) -> Reply:
    """Show what the bot understands, with the commands of the sender's roles."""
    person = ctx.person(message)
    if person is None or person.id is None:
        return texts.HELP
    roles = roles_of(ctx.session, person.id)
    if roles & DISPATCH_ROLES:
        return texts.HELP_CADRE + "\n" + texts.HELP_DISPATCHER
    if roles & HANDLER_ROLES:
        return texts.HELP_CADRE
    return texts.HELP
