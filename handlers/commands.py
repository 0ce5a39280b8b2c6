"""Ticket commands as people type them (签收 12, 签收#12, 办结 工单12 已修好…), registered once.

`@command(words.ACCEPT, roles=HANDLER_ROLES, usage=texts.ACCEPT_USAGE)` turns a function of a
`Call` (the sender, their roles and the parsed command) into a router handler: the verb, the
number and the rest are parsed once, the sender is looked up once, and a `Refusal` raised by a
ticket action (models/actions.py) is worded here from handlers/texts.py, in one mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from handlers import texts, words
from handlers.notify import desk_of
from handlers.router import Context, Filter, Message, Reply, normalize
from models.actions import DISPATCH_ROLES, Actor, Desk, Reason, Refusal
from models.person import Person, Role
from models.ticket import STATE_NAMES, TicketState

__all__ = ["DISPATCH_ROLES", "Call", "Command", "command", "parse_command"]

# Without a ticket number, a verb followed by this much text is somebody's prose, not a command:
# "派人来看看，3组水管爆了", "同意，村里那条路…".
PROSE_CHARS = 4
_EDGES = words.EDGES


@dataclass(frozen=True)
class Command:
    """A verb, the ticket number that follows it (if any) and the rest of the text.

    `rest` is normalised for reading words (names, categories, days); `note` is the same text
    exactly as typed, which is what is stored and passed on (进度, 办结, 退回, reasons).
    """

    verb: str
    number: int | None
    rest: str
    note: str = ""


def parse_command(text: str, verbs: tuple[str, ...]) -> Command | None:
    """Match `text` against verbs (longest first); None when it starts with none of them."""
    normalized = normalize(text)
    clean = normalized.text
    for verb in sorted(verbs, key=len, reverse=True):
        if not clean.startswith(verb):
            continue
        tail = clean[len(verb) :]
        if tail and not re.match(words.AFTER_VERB, tail):
            continue  # "满意度…" is not the verb 满意
        start = len(verb) + len(tail) - len(tail.lstrip())
        number = None
        match = re.match(words.TICKET_NUMBER, clean[start:])
        if match:
            number = int(match.group(1))
            start += match.end()
        rest = clean[start:].strip(_EDGES)
        note = normalized.typed_from(start).lstrip(_EDGES).rstrip() if rest else ""
        return Command(verb, number, rest, note)
    return None


@dataclass
class Call:
    """One ticket command being handled: the message, its context, the sender and the command."""

    message: Message
    ctx: Context
    person: Person
    actor: Actor
    command: Command

    @cached_property
    def desk(self) -> Desk:
        """Where the ticket actions of this message happen."""
        return desk_of(self.ctx)

    @property
    def number(self) -> int:
        """The ticket number (the registration's `usage` made it required)."""
        assert self.command.number is not None
        return self.command.number


CommandFunction = Callable[[Call], Reply]


class CommandHandler:
    """A router handler for one registered command (see `command`)."""

    def __init__(
        self,
        function: CommandFunction,
        verbs: tuple[str, ...],
        *,
        roles: frozenset[Role] | None,
        refuse_others: bool,
        leave_prose: bool,
        usage: texts.Usage | None,
        refusals: Mapping[Reason, str],
    ) -> None:
        self.function, self.verbs, self.roles = function, verbs, roles
        self.refuse_others, self.leave_prose = refuse_others, leave_prose
        self.usage, self.refusals = usage, refusals
        self.__name__ = function.__name__
        self.__doc__ = function.__doc__

    def __call__(self, message: Message, ctx: Context) -> Reply:
        """The command's answer; None lets the router move on to the next handler."""
        person = ctx.person(message)
        command = parse_command(message.content, self.verbs)
        if person is None or command is None:
            return None
        if self.leave_prose and command.number is None and len(command.rest) >= PROSE_CHARS:
            return None  # text that only starts like a command ("派人来看看…") is intake's
        actor = Actor.of(ctx.session, person, via="chat")
        if self.roles is not None and not actor.roles & self.roles:
            # Without a refusal, a 邻长's "进度 3" goes on to be their 查询.
            if self.refuse_others and command.number is not None:
                return self.word(Refusal(Reason.not_allowed, ticket=command.number), ctx)
            return None
        if self.usage is not None and command.number is None:
            return texts.NEED_NUMBER.format(example=self.usage.example)
        try:
            return self.function(Call(message, ctx, person, actor, command))
        except Refusal as refusal:
            return self.word(refusal, ctx)

    def word(self, refusal: Refusal, ctx: Context) -> str:
        """A refusal as the sender reads it."""
        template = self.refusals.get(refusal.reason) or texts.REFUSALS[refusal.reason]
        return template.format(**refusal_fields(refusal, ctx, self.usage))


def refusal_fields(refusal: Refusal, ctx: Context, usage: texts.Usage | None) -> dict[str, Any]:
    """The values the refusal templates refer to."""
    detail = refusal.detail
    fields: dict[str, Any] = {
        **detail,
        "id": refusal.ticket if refusal.ticket is not None else "",
        "categories": texts.LIST_SEPARATOR.join(c.name for c in ctx.taxonomy.categories),
    }
    if "state" in detail:
        fields["state"] = STATE_NAMES.get(TicketState(detail["state"]), detail["state"])
    if "phones" in detail:
        fields["phones"] = texts.LIST_SEPARATOR.join(detail["phones"])
    if usage is not None:
        fields.update(example=usage.example, action=usage.step, command=usage.name, what=usage.what)
    return fields


def command(
    verbs: tuple[str, ...],
    *,
    roles: frozenset[Role] | None = None,
    refuse_others: bool = True,
    leave_prose: bool = True,
    usage: texts.Usage | None = None,
    refusals: Mapping[Reason, str] | None = None,
) -> Callable[[CommandFunction], CommandHandler]:
    """Register the decorated function as the handler of `verbs`.

    - `roles`: who may use the command. A sender holding none of them who named a ticket is
      refused (`refuse_others`), or passed on to the next handler (a 邻长's 进度 12 is a 查询).
    - `leave_prose`: verb + four or more characters and no number is prose, left to intake.
    - `usage`: the command needs a ticket number; its example and the words of its refusals.
    - `refusals`: this command's own wording of some reasons (handlers/texts.py REFUSALS).
    """

    def register(function: CommandFunction) -> CommandHandler:
        return CommandHandler(
            function,
            verbs,
            roles=roles,
            refuse_others=refuse_others,
            leave_prose=leave_prose,
            usage=usage,
            refusals=refusals or {},
        )

    return register


def dispatcher_command(
    verbs: tuple[str, ...], *, usage: texts.Usage | None = None
) -> Callable[[CommandFunction], CommandHandler]:
    """A command for dispatchers, leaders and admins above the ticket."""
    return command(
        verbs,
        roles=DISPATCH_ROLES,
        usage=usage,
        refusals={Reason.not_allowed: texts.NOT_A_DISPATCHER},
    )


def command_filter(*verbs: str) -> Filter:
    """A router filter for text starting with one of `verbs`."""

    def matches(message: Message, ctx: Context) -> bool:
        return parse_command(message.content, verbs) is not None

    return matches


def leading_number(text: str) -> tuple[int | None, str]:
    """A number at the start of `text` (arabic or simple Chinese) and what follows it."""
    match = re.match(words.LEADING_NUMBER, text)
    if not match:
        return None, text
    return chinese_number(match.group(1)), text[match.end() :]


def chinese_number(word: str) -> int | None:
    """1 to 99 written as 3, 十二, 二十, 两…"""
    if word.isdigit():
        return int(word)
    word = word.replace(words.CN_TWO, words.CN_TWO_PLAIN)
    digits, ten = words.CN_DIGITS, words.CN_TEN
    if word == ten:
        return 10
    if ten in word:
        tens, _, units = word.partition(ten)
        tens_value = digits.index(tens) if tens else 1
        units_value = digits.index(units) if units else 0
        return tens_value * 10 + units_value
    if len(word) == 1 and word in digits:
        return digits.index(word)
    return None
