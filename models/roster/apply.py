"""Importing a checked roster sheet: all or nothing; matched by phone, the missing dropped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from models import texts
from models.person import Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, add_place, subtree_filter
from models.roster.sheet import RosterError, RosterProblem, Sheet, SheetRow, read_sheet
from models.roster.tree import TownTree
from models.roster.validate import CheckedRow, Checker
from models.roster.values import group_place_name


@dataclass
class ImportResult:
    """What an import did (or, with errors, the reasons it did nothing)."""

    added: int = 0
    updated: int = 0
    deactivated: int = 0
    unchanged: int = 0
    places_added: int = 0
    units_added: int = 0
    skipped_example: bool = False
    errors: list[RosterProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One line in Chinese for the clerk."""
        if self.errors:
            return texts.IMPORT_FAILED.format(count=len(self.errors))
        text = texts.IMPORT_DONE.format(
            added=self.added,
            updated=self.updated,
            deactivated=self.deactivated,
            unchanged=self.unchanged,
            places_added=self.places_added,
            units_added=self.units_added,
        )
        if self.skipped_example:
            text += texts.IMPORT_SKIPPED_EXAMPLE
        return text


def find_town(session: Session, name: str | None = None) -> Place | None:
    """The town by name, or the only town when no name is given."""
    stmt = select(Place).where(Place.kind == PlaceKind.town.value)
    if name:
        stmt = stmt.where(Place.name == name)
    towns = list(session.exec(stmt.order_by(col(Place.id))))
    return towns[0] if len(towns) == 1 or (name and towns) else None


def _is_example(row: SheetRow) -> bool:
    values = {k: v for k, v in row.values.items() if v}
    return values == {k: v for k, v in texts.ROSTER_EXAMPLE_ROW.items() if v and k in row.values}


def import_roster(
    session: Session,
    path: Path,
    *,
    town_name: str | None = None,
    county_name: str | None = None,
) -> ImportResult:
    """Import the town's sheet, all or nothing; the caller's transaction commits."""
    try:
        sheet = read_sheet(path)
    except RosterError as exc:
        return ImportResult(errors=[RosterProblem(None, None, str(exc))])
    return import_sheet(session, sheet, town_name=town_name, county_name=county_name)


def import_sheet(
    session: Session,
    sheet: Sheet,
    *,
    town_name: str | None = None,
    county_name: str | None = None,
) -> ImportResult:
    """Import an already read sheet (see import_roster)."""
    result = ImportResult()
    if sheet.rows and _is_example(sheet.rows[0]):
        sheet = Sheet(sheet.rows[1:], sheet.columns, sheet.problems)
        result.skipped_example = True
    town = find_town(session, town_name)
    if town is None and not town_name:
        count = len(list(session.exec(select(Place.id).where(Place.kind == PlaceKind.town.value))))
        message = texts.NO_TOWN_YET if count == 0 else texts.SEVERAL_TOWNS
        result.errors.append(RosterProblem(None, None, message))
        return result
    tree = TownTree.load(session, town)
    checker = Checker(session, sheet, tree)
    rows = checker.check()
    if not sheet.rows and not checker.problems:
        checker.problems.append(RosterProblem(None, None, texts.EMPTY_SHEET))
    if checker.problems:
        result.errors = checker.problems
        return result
    if town is None:
        assert town_name is not None
        town, created = _create_town(session, town_name, county_name)
        result.places_added += created
        tree.town = town
    _Applier(session, town, tree, rows, result).apply()
    return result


def _create_town(session: Session, town_name: str, county_name: str | None) -> tuple[Place, int]:
    """The new town (under its county, made when missing) and how many places were made."""
    county = None
    created = 1
    if county_name:
        stmt = select(Place).where(Place.name == county_name, col(Place.parent_id).is_(None))
        county = session.exec(stmt).first()
        if county is None:
            county = add_place(session, county_name, PlaceKind.county)
            created += 1
    return add_place(session, town_name, PlaceKind.town, county), created


_State = tuple[Any, ...]


class _Applier:
    """Writes a checked sheet: places and units first, then people, roles, coverage, drops."""

    def __init__(
        self,
        session: Session,
        town: Place,
        tree: TownTree,
        rows: list[CheckedRow],
        result: ImportResult,
    ) -> None:
        self.session = session
        self.town = town
        self.tree = tree
        self.rows = rows
        self.result = result

    def apply(self) -> None:
        session = self.session
        villages, groups = self._create_places()
        units = self._create_units()
        phones = [row.phone for row in self.rows]
        existing = {
            p.phone: p for p in session.exec(select(Person).where(col(Person.phone).in_(phones)))
        }
        ids = [p.id for p in existing.values()]
        roles_before: dict[int | None, set[str]] = defaultdict(set)
        for pr in session.exec(select(PersonRole).where(col(PersonRole.person_id).in_(ids))):
            roles_before[pr.person_id].add(pr.role)
        covers_before: dict[int | None, set[tuple[int, str]]] = defaultdict(set)
        for cov in session.exec(select(Coverage).where(col(Coverage.person_id).in_(ids))):
            covers_before[cov.person_id].add((cov.place_id, cov.role))
        before = {
            phone: (
                p.name,
                p.place_id,
                p.unit_id,
                p.supervisor_id,
                p.title,
                p.active,
                p.wecom_userid,
                frozenset(roles_before[p.id]),
                frozenset(covers_before[p.id]),
            )
            for phone, p in existing.items()
        }
        self._release_identities(existing)

        for row in self.rows:
            person = existing.get(row.phone)
            if person is None:
                person = Person(
                    name=row.name, phone=row.phone, place_id=self._place_id(row, villages, groups)
                )
                session.add(person)
                self.result.added += 1
            row.person = person
        session.flush()

        for row in self.rows:
            person = row.person
            assert person is not None and person.id is not None
            supervisor = row.supervisor.person if row.supervisor else row.outside_supervisor
            roles = {role.value for role in row.roles}
            covers = self._covers_of(row, villages)
            after: _State = (
                row.name,
                self._place_id(row, villages, groups),
                units[row.unit].id if row.unit else None,
                supervisor.id if supervisor else None,
                row.title,
                True,
                row.wecom,
                frozenset(roles),
                frozenset(covers),
            )
            if row.phone in before:
                if before[row.phone] == after:
                    self.result.unchanged += 1
                    continue
                self.result.updated += 1
            person.name, person.place_id, person.unit_id, person.supervisor_id = after[:4]
            person.title, person.active, person.wecom_userid = row.title, True, row.wecom
            session.add(person)
            old_roles = roles_before[person.id]
            for role in old_roles - roles:
                session.exec(
                    delete(PersonRole).where(
                        col(PersonRole.person_id) == person.id, col(PersonRole.role) == role
                    )
                )
            for role in sorted(roles - old_roles):
                session.add(PersonRole(person_id=person.id, role=role))
            old_covers = covers_before[person.id]
            for place_id, role in old_covers - covers:
                session.exec(
                    delete(Coverage).where(
                        col(Coverage.person_id) == person.id,
                        col(Coverage.place_id) == place_id,
                        col(Coverage.role) == role,
                    )
                )
            for place_id, role in sorted(covers - old_covers):
                session.add(Coverage(person_id=person.id, place_id=place_id, role=role))
        session.flush()

    def _release_identities(self, existing: dict[str, Person]) -> None:
        """Deactivate the dropped, and free every userid that moves, before anyone takes one.

        The identity columns are unique, so a userid passing from one person to another (or
        from a dropped person to a new one) must be let go of first.
        """
        session = self.session
        sheet_phones = {row.phone for row in self.rows}
        stmt = (
            select(Person)
            .join(Place, col(Place.id) == Person.place_id)
            .where(subtree_filter(Place.path, self.town), col(Person.active).is_(True))
        )
        dropped = [p for p in session.exec(stmt) if p.phone not in sheet_phones]
        for person in dropped:
            # Dropped people leave WeChat too: their openid may bind to a new roster entry.
            person.active = False
            person.wechat_openid = person.wecom_userid = None
            person.bound_at = None
            session.add(person)
            session.exec(delete(Coverage).where(col(Coverage.person_id) == person.id))
        self.result.deactivated = len(dropped)
        wanted = [row.wecom for row in self.rows if row.wecom]
        if wanted:
            holders = select(Person).where(
                col(Person.wecom_userid).in_(wanted),
                col(Person.active).is_(False),
                col(Person.phone).not_in(sheet_phones),
            )
            for holder in session.exec(holders).all():
                holder.wecom_userid = None
                session.add(holder)
        for row in self.rows:
            known = existing.get(row.phone)
            if known is not None and known.wecom_userid not in (None, row.wecom):
                known.wecom_userid = None
                session.add(known)
        session.flush()

    def _place_id(
        self, row: CheckedRow, villages: dict[str, Place], groups: dict[tuple[str, int], Place]
    ) -> int:
        if row.village and row.group is not None:
            place = groups[(row.village, row.group)]
        elif row.village:
            place = villages[row.village]
        elif row.zone:
            place = self.tree.zones[row.zone]
        else:
            place = self.town
        assert place.id is not None
        return place.id

    def _covers_of(self, row: CheckedRow, villages: dict[str, Place]) -> set[tuple[int, str]]:
        """Coverage rows: a village cadre answers for their own village unless told otherwise."""
        own = row.village if Role.village_cadre in row.roles else None
        names = row.covers or ([own] if own else [])
        covers = set()
        for name in names:
            village_id = villages[name].id
            assert village_id is not None
            # Someone who is both 村干部 and 包村干部 is the cadre of their own village only.
            is_liaison = Role.liaison in row.roles and (own is None or name != own)
            role = Role.liaison if is_liaison else Role.village_cadre
            covers.add((village_id, role.value))
        return covers

    def _create_places(self) -> tuple[dict[str, Place], dict[tuple[str, int], Place]]:
        tree, session = self.tree, self.session
        for name in tree.new_zones:
            tree.zones[name] = add_place(session, name, PlaceKind.zone, self.town)
        for name, zone in tree.new_villages.items():
            parent = tree.zones[zone] if zone else self.town
            tree.villages[name] = add_place(session, name, PlaceKind.village, parent)
        self.result.places_added += len(tree.new_zones) + len(tree.new_villages)
        names_by_id = {p.id: name for name, p in tree.villages.items()}
        groups: dict[tuple[str, int], Place] = {}
        stmt = select(Place).where(
            col(Place.parent_id).in_(list(names_by_id)), Place.kind == PlaceKind.group.value
        )
        for place in session.exec(stmt):
            if place.number is not None and place.parent_id in names_by_id:
                groups[(names_by_id[place.parent_id], place.number)] = place
        for village, number in tree.new_groups:
            groups[(village, number)] = add_place(
                session,
                group_place_name(number),
                PlaceKind.group,
                tree.villages[village],
                number=number,
            )
        self.result.places_added += len(tree.new_groups)
        return tree.villages, groups

    def _create_units(self) -> dict[str, Unit]:
        stmt = select(Unit).where(Unit.town_id == self.town.id)
        units = {unit.name: unit for unit in self.session.exec(stmt)}
        assert self.town.id is not None
        for name in sorted({row.unit for row in self.rows if row.unit} - set(units)):
            units[name] = Unit(name=name, town_id=self.town.id)
            self.session.add(units[name])
            self.result.units_added += 1
        self.session.flush()
        return units


def iter_problems(result: ImportResult) -> Iterator[str]:
    """The problems of a failed import, one Chinese sentence each."""
    for problem in result.errors:
        yield str(problem)
