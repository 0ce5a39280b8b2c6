"""Reading commands as people type them: 签收 12, 签收#12, 签收 12号, 办结 工单12 已修好…"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.router import Context, Filter, Message, normalize_text
from models.person import Person

_NUMBER = r"(?:工单|单号)?\s*[#＃]?\s*(\d{1,9})\s*号?"
_CN_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Command:
    """A verb, the ticket number that follows it (if any) and the rest of the text."""

    verb: str
    number: int | None
    rest: str


def parse_command(text: str, verbs: tuple[str, ...]) -> Command | None:
    """Match `text` against verbs (longest first); None when it starts with none of them."""
    clean = normalize_text(text)
    for verb in sorted(verbs, key=len, reverse=True):
        if not clean.startswith(verb):
            continue
        tail = clean[len(verb) :]
        if tail and not re.match(r"[\s\d#＃:：,，]|工单|单号", tail):
            continue  # "满意度…" is not the verb 满意
        match = re.match(_NUMBER, tail.lstrip())
        if match:
            rest = tail.lstrip()[match.end() :]
            return Command(verb, int(match.group(1)), rest.strip(" ，,：:。"))
        return Command(verb, None, tail.strip(" ，,：:。"))
    return None


def begin_command(
    message: Message, ctx: Context, verbs: tuple[str, ...]
) -> tuple[Person, Command] | None:
    """The bound sender and their command, or None when either is missing (the router moves on)."""
    person = ctx.person(message)
    command = parse_command(message.content, verbs)
    if person is None or command is None:
        return None
    return person, command


def command_filter(*verbs: str) -> Filter:
    """A router filter for text starting with one of `verbs`."""

    def matches(message: Message, ctx: Context) -> bool:
        return parse_command(message.content, verbs) is not None

    return matches


def leading_number(text: str) -> tuple[int | None, str]:
    """A number at the start of `text` (arabic or simple Chinese) and what follows it."""
    match = re.match(r"\s*(\d{1,4}|[一二两三四五六七八九十]{1,3})\s*", text)
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
