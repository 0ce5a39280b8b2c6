"""A small router: handlers register for a message type and a filter; first match wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import opencc
from sqlmodel import Session

from config.calendar import WorkCalendar
from config.office import OfficeConfig
from config.settings import Settings
from config.sla import SlaConfig
from config.taxonomy import Taxonomy
from handlers import words
from handlers.parsers import ParserCache
from models.person import Person, person_for_sender


@dataclass(frozen=True)
class Message:
    """What a phone sent, independent of the web layer and of the channel's encryption."""

    channel: str  # "wechat" (公众号) or "wecom" (企业微信)
    sender: str  # openid or WeCom userid
    type: str  # text, image, voice, video, shortvideo, location, link, file, event, unknown
    created_at: datetime
    content: str = ""  # text, or voice recognition when WeChat gave one
    event: str | None = None  # lower-case event name for type "event"
    event_key: str | None = None
    media_id: str | None = None
    picture_url: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    label: str | None = None  # location label, link title, file name
    msg_id: str | None = None
    raw: Any = None  # the wechatpy message object, for handlers that need a rare field


@dataclass
class Context:
    """What a handler may use: the one transaction of this message, settings, the office's files
    (SLA, calendar, taxonomy — the app's, read once when it was built), time and services, and
    the app's parser cache (a context built without one parses with a parser of its own)."""

    session: Session
    settings: Settings
    now: datetime
    office: OfficeConfig
    services: dict[str, Any] = field(default_factory=dict)
    parsers: ParserCache = field(default_factory=ParserCache)
    _people: dict[tuple[str, str], Person | None] = field(default_factory=dict, repr=False)

    @property
    def sla(self) -> SlaConfig:
        """The app's time limits."""
        return self.office.sla

    @property
    def calendar(self) -> WorkCalendar:
        """The app's working-day calendar."""
        return self.office.calendar

    @property
    def taxonomy(self) -> Taxonomy:
        """The office's categories, for parsing and for every name people read."""
        return self.office.taxonomy

    def person(self, message: Message) -> Person | None:
        """The active roster entry bound to the sender, looked up once per message."""
        key = (message.channel, message.sender)
        if key not in self._people:
            self._people[key] = person_for_sender(self.session, *key)
        return self._people[key]

    def forget_person(self, message: Message) -> None:
        """Drop the cached lookup after a binding changed it."""
        self._people.pop((message.channel, message.sender), None)


Reply = str | None
# A handler that took the message but has nothing to say returns this: WeChat gets `success`.
NO_REPLY = ""
Handler = Callable[[Message, Context], Reply]
Filter = Callable[[Message, Context], bool]


@dataclass(frozen=True)
class Route:
    msg_type: str  # a message type, or "*" for any
    handler: Handler
    filter: Filter | None = None


class Router:
    """Handlers in priority order; `dispatch` runs the first whose type and filter match."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def on(self, msg_type: str, filter: Filter | None = None) -> Callable[[Handler], Handler]:
        """Register the decorated handler and return it unchanged."""

        def register(handler: Handler) -> Handler:
            self.add(msg_type, handler, filter)
            return handler

        return register

    def add(self, msg_type: str, handler: Handler, filter: Filter | None = None) -> None:
        """Append a route after the ones already registered."""
        self.routes.append(Route(msg_type, handler, filter))

    def dispatch(self, message: Message, ctx: Context) -> Reply:
        """Run the first matching handler; None passes to the next one, NO_REPLY stops quietly."""
        for route in self.routes:
            if route.msg_type not in ("*", message.type):
                continue
            if route.filter is not None and not route.filter(message, ctx):
                continue
            reply = route.handler(message, ctx)
            if reply is not None:
                return reply
        return None


def event_is(*names: str) -> Filter:
    """A filter for events by name (case-insensitive)."""
    wanted = {name.lower() for name in names}
    return lambda message, _ctx: (message.event or "") in wanted


def text_is(*words: str) -> Filter:
    """A filter for text that is exactly one of `words`, ignoring spaces and case."""
    wanted = {word.strip().lower() for word in words}
    return lambda message, _ctx: normalize_text(message.content).lower() in wanted


# Phones set to traditional script send 查詢 12, 幫助, 我的工單: commands are read in simplified
# script (OpenCC's t2s tables), while what people typed is kept as they typed it.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")

# English a phone may send for a command, read as the Chinese verb (handlers/words.py).
ENGLISH_VERBS = words.ENGLISH_VERBS
_ENGLISH_VERB = re.compile(
    r"(" + "|".join(re.escape(w) for w in sorted(ENGLISH_VERBS, key=len, reverse=True)) + r")"
    r"(?![a-z])",
    re.IGNORECASE,
)


def to_simplified(text: str) -> str:
    """Traditional-script characters in simplified script, one for one."""
    simplified = _TO_SIMPLIFIED.convert(text)
    if len(simplified) == len(text):
        return simplified
    # A phrase rule changed the length: convert character by character so positions still match.
    return "".join(_TO_SIMPLIFIED.convert(ch) or ch for ch in text)


@dataclass(frozen=True)
class NormalizedText:
    """A message as commands read it, with where each character came from in what was typed."""

    typed: str
    text: str
    origins: tuple[int, ...]  # origins[k]: index in `typed` of text[k]

    def typed_from(self, position: int) -> str:
        """What was typed from the character that became text[position] on."""
        if position >= len(self.text):
            return ""
        return self.typed[self.origins[position] :]


def normalize(typed: str) -> NormalizedText:
    """Simplified script, half-width ASCII, collapsed whitespace and English verbs in Chinese."""
    simplified = to_simplified(typed)
    chars: list[str] = []
    origins: list[int] = []
    for index, ch in enumerate(simplified):
        code = ord(ch)
        if ch.isspace():
            ch = " "
        elif 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        if ch == " " and (not chars or chars[-1] == " "):
            continue
        chars.append(ch)
        origins.append(index)
    while chars and chars[-1] == " ":
        chars.pop()
        origins.pop()
    text = "".join(chars)
    english = _ENGLISH_VERB.match(text)
    if english is not None:
        verb = ENGLISH_VERBS[english.group(1).lower()]
        end = english.end()
        origins = [origins[0]] * len(verb) + origins[end:]
        text = verb + text[end:]
    return NormalizedText(typed, text, tuple(origins))


def normalize_text(text: str) -> str:
    """A message as commands read it (see `normalize`)."""
    return normalize(text).text
