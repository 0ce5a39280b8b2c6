"""Binding a WeChat identity to a roster entry: by name + phone, by invite code, and undoing it.

Reporters (邻长/组长/片长) bind by name and phone. Anyone who can act on tickets binds with a
one-time code the office prints, so knowing a cadre's phone is not enough to act as them.
企业微信 users need no binding: the roster carries their userid.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from models.conversation import ConversationState
from models.inbound import InboundMessage
from models.person import (
    REPORTER_ROLES,
    BindingAttempt,
    InviteCode,
    Person,
    person_for_sender,
    roles_of,
)
from models.roster import normalize_phone

MAX_FAILED_ATTEMPTS = 5  # a day, per WeChat user
INVITE_DAYS = 7
INVITE_DIGITS = 6
# Attempts are counted per calendar day in China (UTC+8 all year, no daylight saving), so
# "try again tomorrow" means what the user thinks it means.
CHINA = timezone(timedelta(hours=8))


class BindStatus(StrEnum):
    bound = "bound"  # the sender is now bound to `person`
    already = "already"  # the sender was already bound to this very person
    sender_bound_elsewhere = "sender_bound_elsewhere"  # the sender is someone else already
    taken = "taken"  # the entry is bound to another WeChat user
    no_match = "no_match"  # no active reporter with this name and phone (or a cadre's)
    bad_code = "bad_code"  # unknown, used or expired invite code
    rate_limited = "rate_limited"  # too many failures today; nothing was checked


@dataclass(frozen=True)
class BindResult:
    """What a binding attempt did; `attempts_left` counts today's remaining failures."""

    status: BindStatus
    person: Person | None = None
    attempts_left: int = MAX_FAILED_ATTEMPTS


def identity_column(channel: str) -> str:
    """The Person attribute holding this channel's WeChat identity."""
    return "wecom_userid" if channel == "wecom" else "wechat_openid"


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(CHINA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def failed_attempts_today(session: Session, channel: str, sender: str, now: datetime) -> int:
    """Failed binding attempts of this WeChat user since midnight, China time."""
    stmt = select(func.count()).where(
        BindingAttempt.channel == channel,
        BindingAttempt.sender == sender,
        col(BindingAttempt.at) >= _day_start(now),
    )
    return int(session.exec(stmt).one())


def _fail(
    session: Session, channel: str, sender: str, now: datetime, status: BindStatus
) -> BindResult:
    session.add(BindingAttempt(channel=channel, sender=sender, at=now))
    session.flush()
    left = MAX_FAILED_ATTEMPTS - failed_attempts_today(session, channel, sender, now)
    return BindResult(status, attempts_left=max(0, left))


def _attach(session: Session, person: Person, channel: str, sender: str, now: datetime) -> None:
    setattr(person, identity_column(channel), sender)
    person.bound_at = now
    session.add(person)
    session.flush()


def _rate_limited(session: Session, channel: str, sender: str, now: datetime) -> bool:
    return failed_attempts_today(session, channel, sender, now) >= MAX_FAILED_ATTEMPTS


def bind_by_name_and_phone(
    session: Session, channel: str, sender: str, name: str, phone: str, now: datetime
) -> BindResult:
    """Bind a 邻长/组长/片长 whose active roster entry has exactly this name and phone."""
    phone = normalize_phone(phone)
    name = "".join(name.split())
    current = person_for_sender(session, channel, sender)
    if current is not None:
        same = current.name == name and current.phone == phone
        return BindResult(
            BindStatus.already if same else BindStatus.sender_bound_elsewhere, current
        )
    if _rate_limited(session, channel, sender, now):
        return BindResult(BindStatus.rate_limited, attempts_left=0)
    stmt = select(Person).where(
        Person.phone == phone, Person.name == name, col(Person.active).is_(True)
    )
    person = session.exec(stmt).first()
    # A cadre matching counts as no match: cadres bind by invite code, and the answer must not
    # tell a stranger which pairs belong to whom.
    if person is None or person.id is None or not roles_of(session, person.id) <= REPORTER_ROLES:
        return _fail(session, channel, sender, now, BindStatus.no_match)
    holder = getattr(person, identity_column(channel))
    if holder is not None and holder != sender:
        return _fail(session, channel, sender, now, BindStatus.taken)
    _attach(session, person, channel, sender, now)
    return BindResult(BindStatus.bound, person)


def hash_code(code: str) -> str:
    """The stored form of an invite code.

    A bare SHA-256 of six digits could be reversed by trying all million codes, but only by
    someone who already reads the database; it keeps codes out of backups and logs, and each
    code lives a week at most and works once.
    """
    return hashlib.sha256(f"grievance-invite:{code}".encode()).hexdigest()


def create_invite(session: Session, person: Person, now: datetime) -> tuple[str, datetime]:
    """A fresh 6-digit code for `person`, valid for 7 days; earlier unused codes stop working."""
    live = select(InviteCode).where(
        col(InviteCode.used_at).is_(None), col(InviteCode.expires_at) > now
    )
    taken = {invite.code_hash for invite in session.exec(live)}
    while True:
        code = f"{secrets.randbelow(10**INVITE_DIGITS):0{INVITE_DIGITS}d}"
        if hash_code(code) not in taken:
            break
    session.exec(
        update(InviteCode)
        .where(
            col(InviteCode.person_id) == person.id,
            col(InviteCode.used_at).is_(None),
            col(InviteCode.expires_at) > now,
        )
        .values(expires_at=now)
    )
    assert person.id is not None
    expires = now + timedelta(days=INVITE_DAYS)
    session.add(
        InviteCode(
            person_id=person.id, code_hash=hash_code(code), created_at=now, expires_at=expires
        )
    )
    session.flush()
    return code, expires


def bind_by_invite(
    session: Session, channel: str, sender: str, code: str, now: datetime
) -> BindResult:
    """Bind the sender to the person an unused, unexpired invite code was made for."""
    current = person_for_sender(session, channel, sender)
    if _rate_limited(session, channel, sender, now):
        return BindResult(BindStatus.rate_limited, current, attempts_left=0)
    stmt = (
        select(InviteCode, Person)
        .join(Person, col(Person.id) == InviteCode.person_id)
        .where(
            InviteCode.code_hash == hash_code(code),
            col(InviteCode.used_at).is_(None),
            col(InviteCode.expires_at) > now,
            col(Person.active).is_(True),
        )
    )
    found = session.exec(stmt).first()
    if found is None:
        return _fail(session, channel, sender, now, BindStatus.bad_code)
    invite, person = found
    if current is not None and current.id != person.id:
        return BindResult(BindStatus.sender_bound_elsewhere, current)
    invite.used_at = now
    session.add(invite)
    # The office issued this code for this person, so it moves the entry from an old phone.
    column = identity_column(channel)
    if getattr(person, column) not in (None, sender):
        setattr(person, column, None)
        session.add(person)
        session.flush()
    _attach(session, person, channel, sender, now)
    status = BindStatus.already if current is not None else BindStatus.bound
    return BindResult(status, person)


def unbind(session: Session, channel: str, sender: str) -> Person | None:
    """Remove the sender's binding; the person it was bound to, or None."""
    person = person_for_sender(session, channel, sender)
    if person is None:
        return None
    setattr(person, identity_column(channel), None)
    person.bound_at = None
    session.add(person)
    session.flush()
    return person


def forget_sender(session: Session, channel: str, sender: str) -> None:
    """Delete what the bot keeps about a WeChat user who unfollowed (WeChat's rule).

    The binding (of active and inactive entries alike) and conversation state go; the day's
    failed binding attempts stay (they expire by themselves), or unfollowing and following
    again would reset the limit on guessing. The stored replies of earlier messages, which may
    name the person, are blanked while their dedup keys stay, so late retries cause nothing.
    """
    column = getattr(Person, identity_column(channel))
    session.exec(
        update(Person).where(col(column) == sender).values({column: None, "bound_at": None})
    )
    session.exec(
        delete(ConversationState).where(
            col(ConversationState.channel) == channel, col(ConversationState.sender) == sender
        )
    )
    session.exec(
        update(InboundMessage)
        .where(col(InboundMessage.channel) == channel, col(InboundMessage.sender) == sender)
        .values(reply=None)
    )


def find_people(session: Session, who: str) -> list[Person]:
    """Active people matching a name, or a phone when `who` is one."""
    phone = normalize_phone(who)
    if phone.isdigit():
        stmt = select(Person).where(Person.phone == phone)
    else:
        stmt = select(Person).where(Person.name == "".join(who.split()))
    stmt = stmt.where(col(Person.active).is_(True)).order_by(col(Person.id))
    return list(session.exec(stmt))
