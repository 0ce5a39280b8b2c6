"""Routing (派单): category and place give the one person responsible, never nobody."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session, col, select

from config.routing import RoutingRules
from config.taxonomy import Taxonomy
from models import texts
from models.person import Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, ancestors
from models.ticket import Ticket


@dataclass(frozen=True)
class RouteChoice:
    """Who gets the ticket and by which rule (recorded on the ticket as `route`)."""

    person: Person
    route: str


def ticket_place(session: Session, ticket: Ticket) -> Place | None:
    """The most specific place of a ticket."""
    place_id = ticket.place_id or ticket.village_id
    return session.get(Place, place_id) if place_id else None


def active_person(
    session: Session, person_id: int | None, exclude: Collection[int] = ()
) -> Person | None:
    """The person with this id if they are active and not excluded."""
    if person_id is None or person_id in exclude:
        return None
    person = session.get(Person, person_id)
    return person if person is not None and person.active else None


def _by_phone(session: Session, phone: str, exclude: Collection[int]) -> Person | None:
    person = session.exec(select(Person).where(Person.phone == phone)).first()
    return active_person(session, person.id if person else None, exclude)


def _covering(
    session: Session, place: Place, role: Role, exclude: Collection[int]
) -> Person | None:
    stmt = (
        select(Coverage.person_id)
        .join(Person, col(Person.id) == Coverage.person_id)
        .where(Coverage.place_id == place.id, Coverage.role == role.value, Person.active == True)  # noqa: E712
        .order_by(col(Coverage.person_id))
    )
    for person_id in session.exec(stmt):
        if person_id not in exclude:
            return session.get(Person, person_id)
    return None


def nearest_with_role(
    session: Session, role: Role, place_ids: list[int], exclude: Collection[int] = ()
) -> list[Person]:
    """Everyone active holding `role` at the first of `place_ids` (nearest first) that has any."""
    if not place_ids:
        return []
    stmt = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(
            PersonRole.role == role.value,
            Person.active == True,  # noqa: E712
            col(Person.place_id).in_(place_ids),
        )
        .order_by(col(Person.id))
    )
    candidates = [p for p in session.exec(stmt) if p.id not in exclude]
    for place_id in place_ids:
        here = [p for p in candidates if p.place_id == place_id]
        if here:
            return here
    return []


UNIT_SUFFIXES = texts.UNIT_SUFFIXES


def unit_names_in_label(label: str) -> list[str]:
    """The town units a taxonomy `unit` label names: '镇应急办（派出所）' → 应急办, 派出所.

    Parts starting with 镇 are town units; other parts count when they end like a unit (站, 所,
    办…), so '供水' (a remark) and '村委会' (a village body) are not units.
    """
    names = []
    for part in re.split(texts.UNIT_LABEL_SEPARATORS, label):
        part = part.strip()
        if part.startswith(texts.TOWN_PREFIX) and len(part) > 1:
            names.append(part[1:])
        elif part.endswith(UNIT_SUFFIXES) and not part.startswith(texts.VILLAGE_PREFIX):
            names.append(part)
    return names


def unit_head_of(
    session: Session, unit_id: int | None, exclude: Collection[int] = ()
) -> Person | None:
    """The active head of a unit, if any who is not excluded."""
    heads = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(
            Person.unit_id == unit_id,
            PersonRole.role == Role.unit_head.value,
            Person.active == True,  # noqa: E712
        )
        .order_by(col(Person.id))
    )
    return next((p for p in session.exec(heads) if p.id not in exclude), None)


def _unit_head(
    session: Session, label: str, town: Place, exclude: Collection[int]
) -> tuple[Person, str] | None:
    """The head of the first unit the label names that exists in this town, and its name."""
    for unit_name in unit_names_in_label(label) or [label]:
        stmt = select(Unit).where(Unit.name == unit_name, Unit.town_id == town.id)
        unit = session.exec(stmt).first()
        if unit is None:
            continue
        head = unit_head_of(session, unit.id, exclude)
        if head is not None:
            return head, unit_name
    return None


def choose_assignee(
    session: Session,
    ticket: Ticket,
    taxonomy: Taxonomy,
    rules: RoutingRules,
    exclude: Collection[int] = (),
) -> RouteChoice | None:
    """Override, unit head or village cadre, 包村干部, dispatcher; None on an empty roster."""
    place = ticket_place(session, ticket)
    chain = ancestors(session, place) if place else []
    category = ticket.category or "other"

    for node in chain:
        for rule in rules.overrides:
            if rule.place == node.name and rule.category in (category, "*"):
                person = _by_phone(session, rule.person, exclude)
                if person:
                    return RouteChoice(person, f"override:{node.name}")

    village = next((p for p in chain if p.kind == PlaceKind.village), None)
    town = next((p for p in chain if p.kind == PlaceKind.town), None)
    known = category in taxonomy.codes
    level = taxonomy.get(category).level if known else "town"
    unit = taxonomy.get(category).unit if known else None

    if level == "town" and unit and town is not None:
        found = _unit_head(session, unit, town, exclude)
        if found:
            return RouteChoice(found[0], f"unit_head:{found[1]}")
    if level == "village":
        # The nearest place with a responsible cadre: a 片 of the village, then the village.
        for node in chain:
            person = _covering(session, node, Role.village_cadre, exclude)
            if person:
                return RouteChoice(person, f"village_cadre:{node.name}")
            if node.kind == PlaceKind.village:
                break
    if village is not None:
        person = _covering(session, village, Role.liaison, exclude)
        if person:
            return RouteChoice(person, f"liaison:{village.name}")

    place_ids = [p.id for p in chain if p.id is not None]
    nearest = nearest_with_role(session, Role.dispatcher, place_ids, exclude)
    if nearest:
        return RouteChoice(nearest[0], "dispatcher")
    for role in (Role.dispatcher, Role.leader, Role.admin):
        stmt = (
            select(Person)
            .join(PersonRole, col(PersonRole.person_id) == Person.id)
            .where(PersonRole.role == role.value, Person.active == True)  # noqa: E712
            .order_by(col(Person.id))
        )
        person = next((p for p in session.exec(stmt) if p.id not in exclude), None)
        if person:
            return RouteChoice(person, f"fallback:{role.value}")
    return None


def dispatchers_for(session: Session, ticket: Ticket) -> list[Person]:
    """The dispatchers above the ticket's place (nearest first), or every dispatcher if none is."""
    place = ticket_place(session, ticket)
    chain_ids = [p.id for p in ancestors(session, place)] if place else []
    stmt = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(PersonRole.role == Role.dispatcher.value, Person.active == True)  # noqa: E712
        .order_by(col(Person.id))
    )
    everyone = list(session.exec(stmt))
    above = [p for p in everyone if p.place_id in chain_ids]
    return above or everyone
