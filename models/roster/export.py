"""Writing the roster: the town's active people as sheet rows, the template, .xlsx and .csv."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models import texts
from models.person import ROLE_NAMES, Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, subtree_filter
from models.roster.sheet import HEADERS
from models.roster.values import COVERING_ROLES, ROLE_ORDER
from models.sheets import XlsxBook, write_csv


def roster_rows(session: Session, town: Place) -> list[dict[str, str]]:
    """The town's active roster as sheet rows (field → text), in a stable order."""
    places = {p.id: p for p in session.exec(select(Place).where(subtree_filter(Place.path, town)))}
    active = select(Person).where(col(Person.active).is_(True), col(Person.place_id).in_(places))
    people = list(session.exec(active))
    ids = [p.id for p in people]
    roles: dict[int, set[Role]] = defaultdict(set)
    for pr in session.exec(select(PersonRole).where(col(PersonRole.person_id).in_(ids))):
        if pr.role in Role.__members__:
            roles[pr.person_id].add(Role(pr.role))
    covers: dict[int, list[str]] = defaultdict(list)
    stmt = (
        select(Coverage, Place)
        .join(Place, col(Place.id) == Coverage.place_id)
        .where(
            col(Coverage.person_id).in_(ids),
            col(Coverage.role).in_([r.value for r in COVERING_ROLES]),
        )
        .order_by(col(Place.path))
    )
    for cov, covered in session.exec(stmt):
        if covered.name not in covers[cov.person_id]:
            covers[cov.person_id].append(covered.name)
    units = {u.id: u.name for u in session.exec(select(Unit).where(Unit.town_id == town.id))}
    name_counts = Counter(p.name for p in people)
    by_id = {p.id: p for p in people}
    outside_ids = {
        p.supervisor_id for p in people if p.supervisor_id and p.supervisor_id not in by_id
    }
    outside = (
        {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(list(outside_ids))))}
        if outside_ids
        else {}
    )

    def location(person: Person) -> tuple[str, str, str]:
        zone = village = group = ""
        place = places.get(person.place_id)
        while place is not None and place.id != town.id:
            if place.kind == PlaceKind.zone:
                zone = zone or place.name
            elif place.kind == PlaceKind.village:
                village = village or place.name
            elif place.kind == PlaceKind.group and place.number is not None:
                group = group or str(place.number)
            place = places.get(place.parent_id)
        return zone, village, group

    rows: list[tuple[tuple[Any, ...], dict[str, str]]] = []
    for person in people:
        assert person.id is not None
        zone, village, group = location(person)
        person_roles = sorted(roles[person.id], key=ROLE_ORDER.index)
        supervisor = ""
        boss = by_id.get(person.supervisor_id) or outside.get(person.supervisor_id)
        if boss is not None:
            unique = boss.id in by_id and name_counts[boss.name] == 1
            supervisor = boss.name if unique else boss.phone
        person_covers = covers[person.id]
        values = {
            "name": person.name,
            "phone": person.phone,
            "roles": texts.LIST_JOIN.join(ROLE_NAMES[r] for r in person_roles),
            "title": person.title or "",
            "zone": zone,
            "village": village,
            "group": group,
            "unit": units.get(person.unit_id, "") if person.unit_id else "",
            "covers": texts.LIST_JOIN.join(person_covers),
            "supervisor": supervisor,
            "wecom": person.wecom_userid or "",
        }
        rank = min((ROLE_ORDER.index(r) for r in person_roles), default=len(ROLE_ORDER))
        home = places.get(person.place_id)
        rows.append(((rank, home.path if home else "", int(group or 0), person.id), values))
    rows.sort(key=lambda item: item[0])
    return [values for _key, values in rows]


_COLUMN_WIDTHS = {
    "name": 10,
    "phone": 14,
    "roles": 16,
    "title": 14,
    "zone": 10,
    "village": 12,
    "group": 6,
}


def _write_xlsx(path: Path, rows: Iterable[dict[str, str]], notes: Sequence[str] = ()) -> None:
    book = XlsxBook()
    widths = [_COLUMN_WIDTHS.get(name, 16) for name in HEADERS]
    sheet = book.sheet(texts.ROSTER_SHEET, widths, freeze="A2")
    sheet.header(list(HEADERS.values()), fill="DDEBF7")
    for values in rows:
        # Text cells: phones and groups stay as typed (no 1.38E+10, no dropped leading zero),
        # and a name or title that starts like a formula stays a name.
        sheet.row([values.get(name, "") for name in HEADERS], number_format="@")
    if notes:
        help_sheet = book.sheet(texts.ROSTER_HELP_SHEET, [100])
        for line in notes:
            help_sheet.row([line])
    book.save(path)


def _write_csv(path: Path, rows: Iterable[dict[str, str]]) -> None:
    write_csv(path, list(HEADERS.values()), ([v.get(n, "") for n in HEADERS] for v in rows))


def write_template(path: Path) -> None:
    """An empty roster sheet with the headers, one example row and a sheet of instructions."""
    _write_xlsx(path, [texts.ROSTER_EXAMPLE_ROW], texts.ROSTER_TEMPLATE_NOTES)


def export_roster(session: Session, path: Path, town: Place) -> int:
    """Write the town's active roster to .xlsx or .csv; returns the number of people."""
    rows = roster_rows(session, town)
    if path.suffix.lower() == ".csv":
        _write_csv(path, rows)
    else:
        _write_xlsx(path, rows)
    return len(rows)
