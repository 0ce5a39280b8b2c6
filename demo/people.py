"""The demo town's people as the season sees them: 邻长 with their phones, cadres on 企业微信."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import click
from sqlalchemy import Engine
from sqlmodel import col, select

from demo import phrasebook
from models.db import read_session
from models.person import Coverage, Person, PersonRole, Role
from models.place import Place, PlaceKind


class ScenarioRefused(click.ClickException):
    """The database is not one a demo season may be played in (as it stands)."""


@dataclass
class Reporter:
    """A 邻长 as the season knows them: who, where, and their phone's WeChat identity."""

    person_id: int
    name: str
    phone: str
    village: str
    group: int
    openid: str
    bound: bool = False
    activity: float = 1.0
    awaiting: set[int] = field(default_factory=set)  # own tickets waiting for a rating


@dataclass
class Cadre:
    """Someone who answers on 企业微信: a cadre, a unit head or member, the dispatcher, a leader."""

    person_id: int
    name: str
    phone: str
    userid: str
    unit_id: int | None = None


@dataclass
class Roster:
    """The demo town's people, read from the database once."""

    reporters: list[Reporter]
    by_person: dict[int, Reporter]
    cadres: dict[int, Cadre]
    dispatcher: Cadre
    village_cadre: dict[str, Cadre]
    unit_members: dict[int, list[Cadre]]  # unit → members (not heads)
    unit_heads: set[int]
    villages: dict[str, int]  # village → number of groups
    groups: dict[tuple[str, int], list[Reporter]]


def openid_for(phone: str) -> str:
    """A stable, openid-like 公众号 identity for a demo phone."""
    digest = hashlib.sha256(f"demo-scenario:{phone}".encode()).hexdigest()
    return f"oDLG{digest[:24]}"


def load_roster(engine: Engine) -> Roster:
    """Read the 邻长, the cadres and the places of the demo town."""
    with read_session(engine) as session:
        places = {p.id: p for p in session.exec(select(Place))}
        role_rows = session.exec(select(PersonRole.person_id, PersonRole.role)).all()
        roles: dict[int, set[str]] = {}
        for person_id, role in role_rows:
            roles.setdefault(person_id, set()).add(role)
        people = list(session.exec(select(Person).where(col(Person.active).is_(True))))
        coverage = session.exec(
            select(Coverage.place_id, Coverage.person_id).where(
                Coverage.role == Role.village_cadre.value
            )
        ).all()
    villages: dict[str, int] = {}
    for place in places.values():
        if place.kind == PlaceKind.group.value and place.parent_id in places:
            parent = places[place.parent_id]
            villages[parent.name] = villages.get(parent.name, 0) + 1
    reporters: list[Reporter] = []
    cadres: dict[int, Cadre] = {}
    dispatcher: Cadre | None = None
    unit_members: dict[int, list[Cadre]] = {}
    unit_heads: set[int] = set()
    for person in sorted(people, key=lambda p: p.id or 0):
        assert person.id is not None
        person_roles = roles.get(person.id, set())
        if Role.neighbour_head.value in person_roles:
            home = places.get(person.place_id)
            if home is None or home.kind != PlaceKind.group.value or home.number is None:
                continue
            village = places.get(home.parent_id)
            if village is None:
                continue
            reporters.append(
                Reporter(
                    person_id=person.id,
                    name=person.name,
                    phone=person.phone,
                    village=village.name,
                    group=home.number,
                    openid=person.wechat_openid or openid_for(person.phone),
                    bound=person.wechat_openid is not None,
                )
            )
        elif person.wecom_userid:
            cadre = Cadre(person.id, person.name, person.phone, person.wecom_userid, person.unit_id)
            cadres[person.id] = cadre
            if Role.dispatcher.value in person_roles and dispatcher is None:
                dispatcher = cadre
            if Role.unit_head.value in person_roles:
                unit_heads.add(person.id)
            if Role.unit_member.value in person_roles and person.unit_id is not None:
                unit_members.setdefault(person.unit_id, []).append(cadre)
    if dispatcher is None or not reporters:
        raise ScenarioRefused(phrasebook.REFUSED_NOT_DEMO)
    village_cadre = {
        places[place_id].name: cadres[person_id]
        for place_id, person_id in coverage
        if place_id in places and person_id in cadres
    }
    groups: dict[tuple[str, int], list[Reporter]] = {}
    for reporter in reporters:
        groups.setdefault((reporter.village, reporter.group), []).append(reporter)
    return Roster(
        reporters=reporters,
        by_person={r.person_id: r for r in reporters},
        cadres=cadres,
        dispatcher=dispatcher,
        village_cadre=village_cadre,
        unit_members=unit_members,
        unit_heads=unit_heads,
        villages=villages,
        groups=groups,
    )
