"""Binding a WeChat identity to a roster entry: by name + phone, by invite code, and undoing it.

Reporters (邻长/组长/片长) bind by name and phone. Anyone who can act on tickets binds with a
one-time code the office prints, so knowing a cadre's phone is not enough to act as them.
企业微信 users need no binding: the roster carries their userid.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, update
from sqlmodel import Session, col, select

from models.conversation import ConversationState
from models.inbound import InboundMessage
from models.person import (
    REPORTER_ROLES,
    BindingAttempt,
    InviteCode,
    Person,
    Role,
    person_for_sender,
    roles_of,
)
from models.roster import normalize_phone

MAX_FAILED_ATTEMPTS = 5  # a day, per WeChat user
# Failures naming one name or one phone, whoever sends them: a day. Many fresh openids guessing
# the phone of one known 邻长 (or the name behind one known phone) stop here.
MAX_TARGET_FAILURES = 5
# Failures of all senders together: binding pauses for everybody past either. A town binding
# its 1000 邻长 over a few weeks fails a few times an hour; a crowd of fresh openids guessing
# at random pairs or invite codes fails far more.
MAX_FAILURES_PER_HOUR = 30
MAX_FAILURES_PER_DAY = 100
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
    target_locked = "target_locked"  # too many failures naming this name or phone; not checked
    paused = "paused"  # too many failures of everybody; binding waits until `until`


@dataclass(frozen=True)
class BindResult:
    """What a binding attempt did; `attempts_left` counts today's remaining failures.

    `moved_from` is the (channel, identity) an invite code took the person away from: that
    WeChat is no longer bound and should be told. `until` is when a pause ends.
    """

    status: BindStatus
    person: Person | None = None
    attempts_left: int = MAX_FAILED_ATTEMPTS
    moved_from: tuple[str, str] | None = None
    until: datetime | None = None


def identity_column(channel: str) -> str:
    """The Person attribute holding this channel's WeChat identity."""
    return "wecom_userid" if channel == "wecom" else "wechat_openid"


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(CHINA)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def _counted(now: datetime) -> list[Any]:
    """Failures that count: today's (China time), not cleared by the office."""
    return [col(BindingAttempt.at) >= _day_start(now), col(BindingAttempt.cleared_at).is_(None)]


def failed_attempts_today(session: Session, channel: str, sender: str, now: datetime) -> int:
    """Failed binding attempts of this WeChat user since midnight, China time."""
    stmt = select(func.count()).where(
        BindingAttempt.channel == channel, BindingAttempt.sender == sender, *_counted(now)
    )
    return int(session.exec(stmt).one())


def target_failures_today(session: Session, name: str, phone: str, now: datetime) -> int:
    """Failures since midnight that named this name or this phone, from any sender."""
    stmt = select(func.count()).where(
        (col(BindingAttempt.target_name) == name) | (col(BindingAttempt.target_phone) == phone),
        *_counted(now),
    )
    return int(session.exec(stmt).one())


@dataclass(frozen=True)
class FailedTarget:
    """A name or phone that today's failed name+phone bindings tried, and how often."""

    name: str | None
    phone: str | None
    failures: int

    @property
    def locked(self) -> bool:
        return self.failures >= MAX_TARGET_FAILURES


def failed_targets_today(session: Session, now: datetime) -> list[FailedTarget]:
    """Today's counted failures by the name and phone they tried, most failures first (what
    `roster unlock` would clear)."""
    stmt = (
        select(BindingAttempt.target_name, BindingAttempt.target_phone, func.count())
        .where(
            (col(BindingAttempt.target_name).is_not(None))
            | (col(BindingAttempt.target_phone).is_not(None)),
            *_counted(now),
        )
        .group_by(col(BindingAttempt.target_name), col(BindingAttempt.target_phone))
        .order_by(func.count().desc(), col(BindingAttempt.target_name))
    )
    return [FailedTarget(name, phone, int(count)) for name, phone, count in session.exec(stmt)]


def binding_paused_until(session: Session, now: datetime) -> datetime | None:
    """When binding may resume after too many failures of everybody; None: it is not paused."""
    until: datetime | None = None
    day = int(session.exec(select(func.count()).where(*_counted(now))).one())
    if day >= MAX_FAILURES_PER_DAY:
        until = _day_start(now) + timedelta(days=1)
    hour = list(
        session.exec(
            select(BindingAttempt.at)
            .where(col(BindingAttempt.at) > now - timedelta(hours=1), *_counted(now))
            .order_by(col(BindingAttempt.at).desc())
            .limit(MAX_FAILURES_PER_HOUR)
        )
    )
    if len(hour) >= MAX_FAILURES_PER_HOUR:
        # Nothing is checked (so nothing fails) during a pause: it ends when the oldest of the
        # last hour's failures that filled the limit is an hour old.
        ends = min(hour) + timedelta(hours=1)
        until = max(until, ends) if until else ends
    return until


def _fail(
    session: Session,
    channel: str,
    sender: str,
    now: datetime,
    status: BindStatus,
    *,
    name: str | None = None,
    phone: str | None = None,
) -> BindResult:
    session.add(
        BindingAttempt(
            channel=channel,
            sender=sender,
            at=now,
            kind="code" if phone is None else "name_phone",
            target_name=name[:64] if name else None,
            target_phone=phone[:20] if phone else None,
        )
    )
    session.flush()
    left = MAX_FAILED_ATTEMPTS - failed_attempts_today(session, channel, sender, now)
    return BindResult(status, attempts_left=max(0, left))


def _attach(session: Session, person: Person, channel: str, sender: str, now: datetime) -> None:
    setattr(person, identity_column(channel), sender)
    person.bound_at = now
    session.add(person)
    session.flush()


def _limited(session: Session, channel: str, sender: str, now: datetime) -> BindResult | None:
    """The refusal for a sender past its own limit or while binding is paused; else None."""
    if failed_attempts_today(session, channel, sender, now) >= MAX_FAILED_ATTEMPTS:
        return BindResult(BindStatus.rate_limited, attempts_left=0)
    until = binding_paused_until(session, now)
    if until is not None:
        return BindResult(BindStatus.paused, until=until)
    return None


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
    refusal = _limited(session, channel, sender, now)
    if refusal is not None:
        return refusal
    # Counted on what was typed, not on the roster: the refusal reads the same for a pair that
    # exists and one that does not.
    if target_failures_today(session, name, phone, now) >= MAX_TARGET_FAILURES:
        return BindResult(BindStatus.target_locked)
    stmt = select(Person).where(
        Person.phone == phone, Person.name == name, col(Person.active).is_(True)
    )
    person = session.exec(stmt).first()
    # A cadre matching counts as no match: cadres bind by invite code, and the answer must not
    # tell a stranger which pairs belong to whom.
    if person is None or person.id is None or not roles_of(session, person.id) <= REPORTER_ROLES:
        return _fail(session, channel, sender, now, BindStatus.no_match, name=name, phone=phone)
    holder = getattr(person, identity_column(channel))
    if holder is not None and holder != sender:
        return _fail(session, channel, sender, now, BindStatus.taken, name=name, phone=phone)
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


class InviteRefused(Exception):
    """A code for a 邻长/组长/片长 who binds by name and phone (only a move needs one)."""

    def __init__(self, person: Person, roles: set[Role]) -> None:
        super().__init__(f"person #{person.id} binds by name and phone")
        self.person = person
        self.roles = roles


def invite(
    session: Session, person: Person, now: datetime, *, move: bool = False
) -> tuple[str, datetime]:
    """`roster invite`: a code for someone who acts on tickets, or (with `move`) for a reporter
    moving to a new WeChat; InviteRefused for a reporter otherwise."""
    assert person.id is not None
    roles = roles_of(session, person.id)
    if roles <= REPORTER_ROLES and not move:
        raise InviteRefused(person, roles)
    return create_invite(session, person, now)


def _live_invite(
    session: Session, code: str, now: datetime, person_id: int | None = None
) -> tuple[InviteCode, Person] | None:
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
    if person_id is not None:
        stmt = stmt.where(InviteCode.person_id == person_id)
    found = session.exec(stmt).first()
    return (found[0], found[1]) if found is not None else None


def _forget_conversation(session: Session, channel: str, sender: str) -> None:
    session.exec(
        delete(ConversationState).where(
            col(ConversationState.channel) == channel, col(ConversationState.sender) == sender
        )
    )


def bind_by_invite(
    session: Session, channel: str, sender: str, code: str, now: datetime
) -> BindResult:
    """Bind the sender to the person an unused, unexpired invite code was made for.

    A sender already bound learns nothing about the code: only a code of their own entry is
    looked at, any other (valid or not) gets the same "already bound as …" answer.
    """
    current = person_for_sender(session, channel, sender)
    if current is not None:
        own = _live_invite(session, code, now, person_id=current.id)
        if own is None:
            return BindResult(BindStatus.sender_bound_elsewhere, current)
        own[0].used_at = now
        session.add(own[0])
        session.flush()
        return BindResult(BindStatus.already, current)
    refusal = _limited(session, channel, sender, now)
    if refusal is not None:
        return refusal
    found = _live_invite(session, code, now)
    if found is None:
        return _fail(session, channel, sender, now, BindStatus.bad_code)
    invite, person = found
    invite.used_at = now
    session.add(invite)
    # The office issued this code for this person, so it moves the entry from an old phone;
    # the caller tells that phone.
    column = identity_column(channel)
    old = getattr(person, column)
    moved_from = None
    if old is not None and old != sender:
        moved_from = (channel, old)
        setattr(person, column, None)
        session.add(person)
        session.flush()
        _forget_conversation(session, channel, old)
    _attach(session, person, channel, sender, now)
    return BindResult(BindStatus.bound, person, moved_from=moved_from)


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


def unbind_person(session: Session, person: Person) -> str | None:
    """The office removes a person's 公众号 binding; returns the openid it had (None: none).

    The 企业微信 userid stays: it comes from the roster sheet, where the office changes it.
    """
    openid = person.wechat_openid
    if openid is None:
        return None
    person.wechat_openid = None
    person.bound_at = None
    session.add(person)
    session.flush()
    _forget_conversation(session, "wechat", openid)
    return openid


def unlock(
    session: Session,
    now: datetime,
    *,
    names: Iterable[str] = (),
    phones: Iterable[str] = (),
    sender: str | None = None,
    everyone: bool = False,
) -> int:
    """Clear the last day's failures naming these names or phones, of a sender, or all of them.

    Returns how many failures were cleared; cleared ones no longer count toward any limit (the
    rows stay, so what was tried remains on record). A day back covers every limit's window.
    """
    names, phones = list(names), [normalize_phone(p) for p in phones]
    conditions: list[ColumnElement[bool]] = []
    if names:
        conditions.append(col(BindingAttempt.target_name).in_(names))
    if phones:
        conditions.append(col(BindingAttempt.target_phone).in_(phones))
    if sender is not None:
        conditions.append(col(BindingAttempt.sender) == sender)
    if not conditions and not everyone:
        return 0
    stmt = (
        update(BindingAttempt)
        .where(
            col(BindingAttempt.at) > now - timedelta(days=1),
            col(BindingAttempt.cleared_at).is_(None),
        )
        .values(cleared_at=now)
    )
    if not everyone:
        stmt = stmt.where(or_(*conditions))
    result = session.exec(stmt)
    return int(result.rowcount or 0)


def unlock_who(session: Session, now: datetime, who: str) -> int:
    """`roster unlock WHO`: clear the day's failures naming WHO (a name or a phone) and those
    naming the roster people it matches. Failures are counted on what was typed, so a name or
    phone off the roster (an attack on it) can be unlocked too."""
    people = find_people(session, who)
    names: list[str] = []
    phones: list[str] = []
    typed = normalize_phone(who)
    if typed.isdigit():
        phones.append(typed)
    else:
        names.append("".join(who.split()))
    names += [person.name for person in people]
    phones += [person.phone for person in people]
    return unlock(session, now, names=names, phones=phones)


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
    _forget_conversation(session, channel, sender)
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
