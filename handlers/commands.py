"""Reading commands as people type them: 签收 12, 签收#12, 签收 12号, 办结 工单12 已修好…"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.router import Context, Filter, Message, normalize
from models.person import Person, Role, roles_of

DISPATCH_ROLES = frozenset({Role.dispatcher, Role.leader, Role.admin})

# A ticket number; "3组", "5户", "3天" are groups, households and days, not ticket numbers.
_NUMBER = r"(?:工单|单号)?\s*[#＃]?\s*(\d{1,9})(?!\d|\s*[组組队户天个人家])\s*号?"
# What may follow a verb directly: a separator, a number, or (for 改) what is being corrected.
_AFTER_VERB = r"[\s\d#＃:：,，。！!~]|工单|单号|类别|分类|类型|村|地点|紧急|不急"
# Without a ticket number, a verb followed by this much text is somebody's prose, not a command:
# "派人来看看，3组水管爆了", "同意，村里那条路…".
PROSE_CHARS = 4
_CN_DIGITS = "零一二三四五六七八九"
# What separates a command's parts from its text, as typed in either width.
_EDGES = " \u3000，,：:。！!~\uff5e"


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
        if tail and not re.match(_AFTER_VERB, tail):
            continue  # "满意度…" is not the verb 满意
        start = len(verb) + len(tail) - len(tail.lstrip())
        number = None
        match = re.match(_NUMBER, clean[start:])
        if match:
            number = int(match.group(1))
            start += match.end()
        rest = clean[start:].strip(_EDGES)
        note = normalized.typed_from(start).lstrip(_EDGES).rstrip() if rest else ""
        return Command(verb, number, rest, note)
    return None


def begin_command(
    message: Message,
    ctx: Context,
    verbs: tuple[str, ...],
    *,
    roles: frozenset[Role] | None = None,
    refusal: str | None = None,
) -> tuple[Person, Command] | str | None:
    """The bound sender and their ticket command; None lets the router move on.

    Text that only starts like a command ("派人来看看…") is left to intake. With `roles`, a sender
    holding none of them gets `refusal` when they named a ticket, and is otherwise left to the
    handlers after this one (without a refusal, a 邻长's "进度 3" goes on to be their 查询).
    """
    person = ctx.person(message)
    command = parse_command(message.content, verbs)
    if person is None or command is None:
        return None
    if command.number is None and len(command.rest) >= PROSE_CHARS:
        return None
    if roles is not None:
        assert person.id is not None
        if not roles_of(ctx.session, person.id) & roles:
            return refusal if command.number is not None else None
    return person, command


def command_filter(*verbs: str) -> Filter:
    """A router filter for text starting with one of `verbs`."""

    def matches(message: Message, ctx: Context) -> bool:
        return parse_command(message.content, verbs) is not None

    return matches


def leading_number(text: str) -> tuple[int | None, str]:
    """A number at the start of `text` (arabic or simple Chinese) and what follows it."""
    match = re.match(r"\s*(\d+|[一二两三四五六七八九十]{1,3})\s*", text)
    if not match:
        return None, text
    return chinese_number(match.group(1)), text[match.end() :]


def chinese_number(word: str) -> int | None:
    """1 to 99 written as 3, 十二, 二十, 两…"""
    if word.isdigit():
        return int(word)
    word = word.replace("两", "二")
    if word == "十":
        return 10
    if "十" in word:
        tens, _, units = word.partition("十")
        tens_value = _CN_DIGITS.index(tens) if tens else 1
        units_value = _CN_DIGITS.index(units) if units else 0
        return tens_value * 10 + units_value
    if len(word) == 1 and word in _CN_DIGITS:
        return _CN_DIGITS.index(word)
    return None
