"""Who is writing: 绑定 姓名 手机号, 绑定 邀请码, 我是谁, 解绑, unfollowing, and unbound senders."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlmodel import col, select

from config.calendar import TIMEZONE
from handlers import texts, words
from handlers.router import NO_REPLY, Context, Message, Reply, normalize_text
from models.binding import (
    BindResult,
    BindStatus,
    bind_by_invite,
    bind_by_name_and_phone,
    forget_sender,
    unbind,
)
from models.outbox import enqueue
from models.person import (
    HANDLER_ROLES,
    ROLE_NAMES,
    Coverage,
    Person,
    Role,
    Unit,
    roles_of,
)
from models.place import Place, PlaceKind, ancestors

BIND_WORDS = words.BIND
_BIND_COMMAND = re.compile(rf"^(?:{'|'.join(BIND_WORDS)})(.*)$", re.DOTALL)
# Spaces or dashes inside a number ("138 0000 0000", "123 456") are how phones get typed.
_DIGIT_GAPS = re.compile(r"(?<=\d)[\s\-]+(?=\d)")
_SEPARATORS = re.compile(words.BIND_SEPARATORS)
_ROLE_ORDER = tuple(Role)
log = logging.getLogger(__name__)


def is_bind_command(message: Message, ctx: Context) -> bool:
    """Text starting with 绑定."""
    return bool(_BIND_COMMAND.match(normalize_text(message.content)))


def parse_bind(text: str) -> tuple[str, str] | str | None:
    """'绑定 张三 138…' → (name, phone); '绑定 123456' → '123456'; anything else → None."""
    match = _BIND_COMMAND.match(normalize_text(text))
    if match is None:
        return None
    rest = _DIGIT_GAPS.sub("", match.group(1))
    numbers = re.findall(r"\d+", rest)
    name = _SEPARATORS.sub("", re.sub(r"\d+", " ", rest))
    if len(numbers) != 1:
        return None
    number = numbers[0]
    if not name:
        return number if len(number) == 6 else None
    if number.startswith("86") and len(number) == 13:
        number = number[2:]
    return (name, number) if len(number) == 11 else None


def _roles_text(roles: set[Role], title: str | None) -> str:
    names = [ROLE_NAMES[role] for role in _ROLE_ORDER if role in roles]
    text = texts.LIST_SEPARATOR.join(names)
    return (
        texts.ROLES_WITH_TITLE.format(roles=text, title=title)
        if title and title not in names
        else text
    )


def _place_text(ctx: Context, person: Person) -> str:
    place = ctx.session.get(Place, person.place_id)
    if place is None:
        return ""
    # County and 片区 mean little to the person; town → village → group is how they say it.
    shown = (PlaceKind.town, PlaceKind.village, PlaceKind.pian, PlaceKind.group)
    return "".join(p.name for p in reversed(ancestors(ctx.session, place)) if p.kind in shown)


def _masked_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else phone


def _tries_left(result: BindResult) -> str:
    if result.attempts_left <= 0:
        return texts.BIND_RATE_LIMITED
    return texts.BIND_TRIES_LEFT.format(left=result.attempts_left)


def _bound_reply(ctx: Context, person: Person) -> str:
    assert person.id is not None
    roles = roles_of(ctx.session, person.id)
    if roles & HANDLER_ROLES:
        return texts.BIND_OK_HANDLER.format(
            name=person.name, roles=_roles_text(roles, person.title)
        )
    return texts.BIND_OK.format(
        name=person.name, place=_place_text(ctx, person), roles=_roles_text(roles, None)
    )


def _until_text(until: datetime, now: datetime) -> str:
    local = until.astimezone(TIMEZONE)
    time = f"{local:%H:%M}"
    if local.date() == now.astimezone(TIMEZONE).date():
        return texts.BIND_PAUSED_TODAY.format(time=time)
    return texts.BIND_PAUSED_LATER.format(month=local.month, day=local.day, time=time)


def _tell_old_wechat(ctx: Context, person: Person, old: tuple[str, str]) -> None:
    """An invite code moved the person to a new WeChat: the old one is told, and it is logged."""
    local = ctx.now.astimezone(TIMEZONE)
    notice = enqueue(
        ctx.session,
        person_id=person.id,
        kind="binding_moved",
        text=texts.BIND_MOVED_NOTICE.format(name=person.name, time=f"{local:%Y-%m-%d %H:%M}"),
        now=ctx.now,
        recipient=old,
    )
    # The outbox row names the old identity; the log needs neither openid.
    log.warning(
        "invite code moved person #%s to another %s identity; old one told by outbox #%s",
        person.id,
        old[0],
        notice.id if notice else None,
    )


def bind(message: Message, ctx: Context) -> Reply:
    """绑定 姓名 手机号 (邻长/组长/片长) or 绑定 邀请码 (cadres, dispatchers, leaders)."""
    current = ctx.person(message)
    parsed = parse_bind(message.content)
    if message.channel == "wecom" and current is not None:
        return texts.WECOM_ALREADY.format(name=current.name)
    if parsed is None:
        return texts.BIND_USAGE
    if isinstance(parsed, str):
        result = bind_by_invite(ctx.session, message.channel, message.sender, parsed, ctx.now)
    else:
        name, phone = parsed
        result = bind_by_name_and_phone(
            ctx.session, message.channel, message.sender, name, phone, ctx.now
        )
    ctx.forget_person(message)
    if result.status is BindStatus.bound and result.person is not None:
        if result.moved_from is not None:
            _tell_old_wechat(ctx, result.person, result.moved_from)
            return _bound_reply(ctx, result.person) + texts.BIND_MOVED_NOTE
        return _bound_reply(ctx, result.person)
    if result.status is BindStatus.already and result.person is not None:
        return texts.BIND_ALREADY.format(name=result.person.name)
    if result.status is BindStatus.sender_bound_elsewhere and result.person is not None:
        return texts.BIND_SENDER_ELSEWHERE.format(name=result.person.name)
    if result.status is BindStatus.rate_limited:
        return texts.BIND_RATE_LIMITED
    if result.status is BindStatus.target_locked:
        return texts.BIND_TARGET_LOCKED
    if result.status is BindStatus.paused and result.until is not None:
        return texts.BIND_PAUSED.format(until=_until_text(result.until, ctx.now))
    if result.status is BindStatus.bad_code:
        return texts.BIND_BAD_CODE + _tries_left(result)
    # no_match and taken answer alike: neither may tell a stranger that the pair exists.
    return texts.BIND_NO_MATCH + _tries_left(result)


def whoami(message: Message, ctx: Context) -> Reply:
    """我是谁: the roster entry this WeChat user is bound to."""
    person = ctx.person(message)
    if person is None:
        return texts.WECOM_UNKNOWN if message.channel == "wecom" else texts.BIND_HOW
    assert person.id is not None
    roles = roles_of(ctx.session, person.id)
    extra = ""
    if person.unit_id is not None:
        unit = ctx.session.get(Unit, person.unit_id)
        extra += texts.WHOAMI_UNIT.format(unit=unit.name if unit else "")
    covered = ctx.session.exec(
        select(Place.name)
        .join(Coverage, col(Coverage.place_id) == Place.id)
        .where(Coverage.person_id == person.id)
        .order_by(col(Place.path))
    ).all()
    if covered:
        extra += texts.WHOAMI_COVERS.format(
            villages=texts.LIST_SEPARATOR.join(dict.fromkeys(covered))
        )
    if message.channel == "wecom":
        extra += texts.WHOAMI_WECOM_FOOTER.format(userid=message.sender)
    else:
        extra += texts.WHOAMI_WECHAT_FOOTER
    return texts.WHOAMI.format(
        name=person.name,
        roles=_roles_text(roles, person.title),
        place=_place_text(ctx, person),
        phone=_masked_phone(person.phone),
        extra=extra,
    )


def unbind_me(message: Message, ctx: Context) -> Reply:
    """解绑: forget which roster entry this 公众号 user is."""
    if message.channel == "wecom":
        return texts.WECOM_NO_UNBIND
    person = unbind(ctx.session, message.channel, message.sender)
    ctx.forget_person(message)
    if person is None:
        return texts.UNBIND_NONE
    return texts.UNBIND_OK.format(name=person.name)


def unsubscribed(message: Message, ctx: Context) -> Reply:
    """Unfollowing the 公众号: delete what we keep about this WeChat user, as WeChat requires."""
    if message.channel != "wecom":
        forget_sender(ctx.session, message.channel, message.sender)
        ctx.forget_person(message)
    return NO_REPLY


def is_unbound_sender(message: Message, ctx: Context) -> bool:
    """A message (not an event) from someone the roster does not know yet."""
    return message.type != "event" and ctx.person(message) is None


def explain_binding(message: Message, ctx: Context) -> Reply:
    """Anything an unbound sender writes: explain how to bind."""
    return texts.WECOM_UNKNOWN if message.channel == "wecom" else texts.BIND_HOW
