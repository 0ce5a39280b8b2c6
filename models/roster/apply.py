"""Importing a checked roster sheet: all or nothing; matched by phone, the missing dropped."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, insert, update
from sqlmodel import Session, col, select

from models import texts
from models.db import unit_of_work
from models.person import Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, add_place, add_places, subtree_filter
from models.roster.sheet import RosterError, RosterProblem, Sheet, SheetRow, read_sheet
from models.roster.tree import TownTree
from models.roster.validate import CheckedRow, Checker
from models.roster.values import group_place_name

# New people written per statement: a county's sheet is 200,000 rows.
INSERT_CHUNK = 5000


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


class _DryRun(Exception):
    """Raised inside preview_roster's transaction so that it rolls back."""


def preview_roster(
    engine: Engine,
    path: Path,
    *,
    town_name: str | None = None,
    county_name: str | None = None,
) -> ImportResult:
    """What import_roster would do with `path`, changing nothing: the import runs in its own
    transaction, which is rolled back (its counts are those an apply would report)."""
    result = ImportResult()
    try:
        with unit_of_work(engine) as session:
            result = import_roster(session, path, town_name=town_name, county_name=county_name)
            raise _DryRun
    except _DryRun:
        pass
    return result


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

        new_rows = [row for row in self.rows if row.phone not in existing]
        person_ids = self._insert_people(new_rows, villages, groups, units)
        person_ids.update({phone: p.id for phone, p in existing.items() if p.id is not None})
        for row in self.rows:
            row.person_id = person_ids[row.phone]
        self.result.added += len(new_rows)

        supervisors: list[dict[str, int]] = []
        role_rows: list[dict[str, object]] = []
        cover_rows: list[dict[str, object]] = []
        for row in self.rows:
            assert row.person_id is not None
            supervisor_id = (
                row.supervisor.person_id
                if row.supervisor
                else (row.outside_supervisor.id if row.outside_supervisor else None)
            )
            roles = {role.value for role in row.roles}
            covers = self._covers_of(row, villages)
            if row.phone not in existing:
                # A new person: the rest of their row goes in a few multi-row statements.
                if supervisor_id is not None:
                    supervisors.append({"id": row.person_id, "supervisor_id": supervisor_id})
                role_rows += [{"person_id": row.person_id, "role": r} for r in sorted(roles)]
                cover_rows += [
                    {"person_id": row.person_id, "place_id": place_id, "role": role}
                    for place_id, role in sorted(covers)
                ]
                continue
            person = existing[row.phone]
            assert person.id is not None
            after: _State = (
                row.name,
                self._place_id(row, villages, groups),
                units[row.unit].id if row.unit else None,
                supervisor_id,
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
        if supervisors:
            session.execute(update(Person), supervisors)
        if role_rows:
            session.execute(insert(PersonRole), role_rows)
        if cover_rows:
            session.execute(insert(Coverage), cover_rows)

    def _insert_people(
        self,
        rows: list[CheckedRow],
        villages: dict[str, Place],
        groups: dict[tuple[str, int], Place],
        units: dict[str, Unit],
    ) -> dict[str, int]:
        """The sheet's new people, a multi-row statement per INSERT_CHUNK: phone → id (their
        supervisors, who may be new too, are set once every id is known)."""
        if not rows:
            return {}
        last = self.session.exec(select(func.max(Person.id))).one() or 0
        for start in range(0, len(rows), INSERT_CHUNK):
            values = [
                {
                    "name": row.name,
                    "phone": row.phone,
                    "title": row.title,
                    "place_id": self._place_id(row, villages, groups),
                    "unit_id": units[row.unit].id if row.unit else None,
                    "supervisor_id": None,
                    "active": True,
                    "wechat_openid": None,
                    "wecom_userid": row.wecom,
                    "bound_at": None,
                }
                for row in rows[start : start + INSERT_CHUNK]
            ]
            # Ids are read back by phone (unique) from the ids above the largest before:
            # RETURNING on a many-row insert costs more than the insert itself here.
            self.session.execute(insert(Person), values)
        wanted = {row.phone for row in rows}
        stmt = select(Person.id, Person.phone).where(col(Person.id) > last)
        return {phone: i for i, phone in self.session.exec(stmt) if phone in wanted and i}

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
        zones = add_places(session, [(n, PlaceKind.zone, self.town, None) for n in tree.new_zones])
        tree.zones.update({place.name: place for place in zones})
        villages = add_places(
            session,
            [
                (name, PlaceKind.village, tree.zones[zone] if zone else self.town, None)
                for name, zone in tree.new_villages.items()
            ],
        )
        tree.villages.update({place.name: place for place in villages})
        self.result.places_added += len(tree.new_zones) + len(tree.new_villages)
        names_by_id = {p.id: name for name, p in tree.villages.items()}
        groups: dict[tuple[str, int], Place] = {}
        stmt = select(Place).where(
            col(Place.parent_id).in_(list(names_by_id)), Place.kind == PlaceKind.group.value
        )
        for place in session.exec(stmt):
            if place.number is not None and place.parent_id in names_by_id:
                groups[(names_by_id[place.parent_id], place.number)] = place
        specs = [
            (group_place_name(number), PlaceKind.group, tree.villages[village], number)
            for village, number in tree.new_groups
        ]
        for key, place in zip(tree.new_groups, add_places(session, specs), strict=True):
            groups[key] = place
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
