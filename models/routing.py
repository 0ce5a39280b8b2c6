"""Routing (派单): category and place give the one person responsible, never nobody."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from config.routing import RoutingRules
from config.taxonomy import Taxonomy
from models import texts
from models.directory import PersonCard, directory_of
from models.person import Person, PersonRole, Role
from models.place import Place, PlaceKind
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


def choose_assignee(
    session: Session,
    ticket: Ticket,
    taxonomy: Taxonomy,
    rules: RoutingRules,
    exclude: Collection[int] = (),
) -> RouteChoice | None:
    """Override, unit head or village cadre, 包村干部, dispatcher; None on an empty roster.

    Read from the process's directory (models/directory.py): no query once it is built.
    """
    view = directory_of(session)
    book = view.places
    place_id = ticket.place_id or ticket.village_id
    place = book.places.get(place_id) if place_id else None
    chain = book.ancestors(place) if place else []
    category = ticket.category or "other"

    def first(ids: Iterable[int]) -> PersonCard | None:
        return next((c for c in view.active_cards(ids) if c.id not in exclude), None)

    def choice(card: PersonCard, route: str) -> RouteChoice:
        return RouteChoice(view.person(card), route)

    for node in chain:
        for rule in rules.overrides:
            if rule.place == node.name and rule.category in (category, "*"):
                card = view.by_phone(rule.person)
                if card is not None and card.active and card.id not in exclude:
                    return choice(card, f"override:{node.name}")

    village = next((p for p in chain if p.kind == PlaceKind.village), None)
    town = next((p for p in chain if p.kind == PlaceKind.town), None)
    known = category in taxonomy.codes
    level = taxonomy.get(category).level if known else "town"
    unit = taxonomy.get(category).unit if known else None
    people = view.people

    if level == "town" and unit and town is not None:
        # The head of the first unit the label names that exists in this town.
        for unit_name in unit_names_in_label(unit) or [unit]:
            unit_id = book.units.get((town.id, unit_name))
            head = first(people.unit_heads.get(unit_id, ())) if unit_id is not None else None
            if head is not None:
                return choice(head, f"unit_head:{unit_name}")
    if level == "village":
        # The nearest place with a responsible cadre: a 片 of the village, then the village.
        for node in chain:
            cadre = first(people.covering.get((node.id, Role.village_cadre.value), ()))
            if cadre is not None:
                return choice(cadre, f"village_cadre:{node.name}")
            if node.kind == PlaceKind.village:
                break
    if village is not None:
        liaison = first(people.covering.get((village.id, Role.liaison.value), ()))
        if liaison is not None:
            return choice(liaison, f"liaison:{village.name}")

    dispatchers = [
        c for c in view.active_cards(people.by_role.get(Role.dispatcher, ())) if c.id not in exclude
    ]
    for node in chain:
        here = next((c for c in dispatchers if c.place_id == node.id), None)
        if here is not None:
            return choice(here, "dispatcher")
    for role in (Role.dispatcher, Role.leader, Role.admin):
        fallback = first(people.by_role.get(role, ()))
        if fallback is not None:
            return choice(fallback, f"fallback:{role.value}")
    return None


def dispatchers_for(session: Session, ticket: Ticket) -> list[Person]:
    """The dispatchers above the ticket's place (nearest first), or every dispatcher if none is."""
    view = directory_of(session)
    place_id = ticket.place_id or ticket.village_id
    place = view.places.places.get(place_id) if place_id else None
    chain_ids = [p.id for p in view.places.ancestors(place)] if place else []
    everyone = view.active_cards(view.people.by_role.get(Role.dispatcher, ()))
    above = [c for c in everyone if c.place_id in chain_ids]
    return [view.person(c) for c in above or everyone]
