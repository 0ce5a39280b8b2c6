"""People of the roster, their roles, what they are responsible for, and their WeChat identities."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models import texts
from models.base import UTCDateTime


class Role(StrEnum):
    neighbour_head = "neighbour_head"  # 邻长
    group_head = "group_head"  # 组长
    zone_head = "zone_head"  # 片长
    village_cadre = "village_cadre"  # 村干部
    liaison = "liaison"  # 包村干部
    unit_member = "unit_member"  # member of a town unit (水利站, 供电所…)
    unit_head = "unit_head"  # head of a town unit
    dispatcher = "dispatcher"  # 调度员
    leader = "leader"  # 书记, 镇长, 分管领导
    admin = "admin"


ROLE_NAMES: dict[Role, str] = {role: texts.ROLE_NAMES[role] for role in Role}
ROLES_BY_NAME: dict[str, Role] = {name: role for role, name in ROLE_NAMES.items()}
REPORTER_ROLES = frozenset({Role.neighbour_head, Role.group_head, Role.zone_head})
HANDLER_ROLES = frozenset(Role) - REPORTER_ROLES


class Unit(SQLModel, table=True):
    """A town unit that handles a kind of problem: 水利站, 供电所, 司法所…"""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("town_id", "name", name="uq_unit_name_in_town"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    town_id: int = Field(foreign_key="place.id", index=True)


class Person(SQLModel, table=True):
    """One roster entry. Dropped from the sheet means inactive, never deleted."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32, index=True)
    phone: str = Field(max_length=20, unique=True)
    # 职务 as the town's sheet writes it (镇长, 村支书兼主任); roles say what the person may do.
    title: str | None = Field(default=None, max_length=32)
    place_id: int = Field(foreign_key="place.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    supervisor_id: int | None = Field(default=None, foreign_key="person.id")
    active: bool = True
    wechat_openid: str | None = Field(default=None, max_length=128, unique=True)
    wecom_userid: str | None = Field(default=None, max_length=128, unique=True)
    bound_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class PersonRole(SQLModel, table=True):
    """A role a person holds; a person may hold several."""

    __tablename__ = "person_role"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    role: str = Field(max_length=32, primary_key=True, index=True)


class Coverage(SQLModel, table=True):
    """A place a handler answers for in one role (村干部 or 包村干部 of a village)."""

    __tablename__ = "coverage"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    place_id: int = Field(foreign_key="place.id", primary_key=True, index=True)
    role: str = Field(max_length=32, primary_key=True)


class InviteCode(SQLModel, table=True):
    """A one-time binding code for a handler; only its hash is stored."""

    __tablename__ = "invite_code"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    code_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class BindingAttempt(SQLModel, table=True):
    """A failed binding attempt, counted to limit guessing (see models/binding.py's limits).

    A name+phone attempt keeps the name and phone it tried, so failures naming one roster entry
    are counted whoever sends them; the office's `roster unlock` marks failures cleared.
    """

    __tablename__ = "binding_attempt"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    sender: str = Field(max_length=128, index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    kind: str | None = Field(default=None, max_length=16)  # "name_phone" or "code"
    target_name: str | None = Field(default=None, max_length=64, index=True)
    target_phone: str | None = Field(default=None, max_length=20, index=True)
    cleared_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


def person_for_sender(session: Session, channel: str, sender: str) -> Person | None:
    """The active roster entry bound to this WeChat identity (openid, or WeCom userid)."""
    column = Person.wecom_userid if channel == "wecom" else Person.wechat_openid
    stmt = select(Person).where(column == sender, Person.active == True)  # noqa: E712
    return session.exec(stmt).first()


def roles_of(session: Session, person_id: int) -> set[Role]:
    """Every role a person holds, from the process's directory (models/directory.py)."""
    from models.directory import directory_of  # the directory is built from this module

    return set(directory_of(session).roles(person_id))


def find_handlers(session: Session, name_or_phone: str) -> list[Person]:
    """Active people with a handler role matching a phone number or an exact name."""
    word = name_or_phone.strip()
    column = Person.phone if word.isdigit() else Person.name
    stmt = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(
            column == word,
            Person.active == True,  # noqa: E712
            col(PersonRole.role).in_([role.value for role in HANDLER_ROLES]),
        )
        .distinct()
        .order_by(col(Person.id))
    )
    return list(session.exec(stmt))
