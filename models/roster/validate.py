"""Checking a roster sheet: every row against itself, the sheet and the database, all problems."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import texts
from models.person import ROLE_NAMES, Person, Role
from models.place import Place
from models.roster.sheet import HEADERS, RosterProblem, Sheet, SheetRow
from models.roster.tree import TownTree
from models.roster.values import (
    COVERING_ROLES,
    MAX_GROUP_NUMBER,
    MAX_NAME_CHARS,
    ROLE_ORDER,
    WECOM_USERID,
    is_valid_phone,
    normalize_phone,
    normalize_unit_name,
    parse_group_number,
    roles_of_cell,
    split_list,
)
from models.sheets import looks_like_formula


@dataclass
class CheckedRow:
    """A row that passed its own checks, with its place planned by name."""

    number: int
    name: str
    phone: str
    roles: set[Role]
    title: str | None
    zone: str | None
    village: str | None
    group: int | None
    unit: str | None
    covers: list[str]
    supervisor_ref: str
    wecom: str | None
    supervisor: CheckedRow | None = None
    outside_supervisor: Person | None = None
    person: Person | None = None


class Checker:
    """Checks every row of a sheet against itself and the database, collecting every problem."""

    def __init__(self, session: Session, sheet: Sheet, tree: TownTree) -> None:
        self.session = session
        self.sheet = sheet
        self.tree = tree
        self.problems: list[RosterProblem] = list(sheet.problems)
        self.rows: list[CheckedRow] = []
        self.sheet_zones: dict[str, str] = {}
        self.rejected: set[str] = set()  # names, phones and villages of rows with a problem

    def problem(self, row: int, column: str | None, message: str) -> None:
        label = self.sheet.column(column) if column else None
        self.problems.append(RosterProblem(row, label, message))

    def check(self) -> list[CheckedRow]:
        # Clerks often write the 片区 on one row of a village only; any row that names both
        # places the village for all of its rows.
        for raw in self.sheet.rows:
            if raw.get("zone") and raw.get("village"):
                self.sheet_zones.setdefault(raw.get("village"), raw.get("zone"))
        for raw in self.sheet.rows:
            parsed = self._check_row(raw)
            if parsed is not None:
                self.rows.append(parsed)
        self._check_duplicates()
        self._check_covers()
        self._check_supervisors()
        self._check_database_conflicts()
        self.problems.sort(key=lambda p: p.row or 0)
        return self.rows

    def _check_row(self, raw: SheetRow) -> CheckedRow | None:
        n = raw.number
        ok = True
        name = re.sub(r"\s+", "", raw.get("name"))
        if not name:
            self.problem(n, "name", texts.NAME_EMPTY)
            ok = False
        elif len(name) > MAX_NAME_CHARS:
            self.problem(n, "name", texts.NAME_TOO_LONG.format(limit=MAX_NAME_CHARS))
            ok = False
        elif looks_like_formula(name):
            # No name starts so; a sheet would run it as a formula. Other columns keep such
            # text as typed (a 职务 of "-"), and every export writes it back as text.
            self.problem(n, "name", texts.NAME_LIKE_FORMULA.format(name=name))
            ok = False
        phone = normalize_phone(raw.get("phone"))
        if not phone:
            self.problem(n, "phone", texts.PHONE_EMPTY)
            ok = False
        elif not is_valid_phone(phone):
            self.problem(n, "phone", texts.PHONE_INVALID.format(phone=raw.get("phone")))
            ok = False
        roles, unknown = roles_of_cell(raw.get("roles"), raw)
        if unknown:
            known = texts.LIST_JOIN.join(ROLE_NAMES[r] for r in ROLE_ORDER)
            message = texts.ROLE_UNKNOWN.format(unknown=texts.LIST_JOIN.join(unknown), known=known)
            self.problem(n, "roles", message)
            ok = False
        elif not roles:
            self.problem(n, "roles", texts.ROLE_EMPTY)
            ok = False
        title = raw.get("title") or None
        if title and len(title) > 32:
            self.problem(n, "title", texts.TITLE_TOO_LONG)
            ok = False
        zone = raw.get("zone") or None
        village_text = raw.get("village") or None
        group = None
        if raw.get("group"):
            group = parse_group_number(raw.get("group"))
            if group is None or not 1 <= group <= MAX_GROUP_NUMBER:
                self.problem(n, "group", texts.GROUP_INVALID.format(group=raw.get("group")))
                ok = False
            elif not village_text:
                self.problem(n, "village", texts.GROUP_WITHOUT_VILLAGE)
                ok = False
        unit = normalize_unit_name(raw.get("unit"), self.tree.town.name if self.tree.town else "")
        wecom = raw.get("wecom") or None
        if wecom and not WECOM_USERID.match(wecom):
            self.problem(n, "wecom", texts.WECOM_INVALID.format(wecom=wecom))
            ok = False
        needs = {
            Role.neighbour_head: ("village", "group"),
            Role.group_head: ("village", "group"),
            Role.zone_head: ("village",),
            Role.unit_member: ("unit",),
            Role.unit_head: ("unit",),
        }
        for role in sorted(roles, key=ROLE_ORDER.index):
            for column in needs.get(role, ()):
                if not raw.get(column):
                    message = texts.ROLE_NEEDS_COLUMN.format(
                        role=ROLE_NAMES[role], header=HEADERS[column]
                    )
                    self.problem(n, column, message)
                    ok = False
        covers = split_list(raw.get("covers"))
        if Role.liaison in roles and not covers:
            self.problem(n, "covers", texts.LIAISON_NEEDS_COVERS)
            ok = False
        if Role.village_cadre in roles and not covers and not village_text:
            self.problem(n, "village", texts.VILLAGE_CADRE_NEEDS_VILLAGE)
            ok = False
        if covers and not roles & set(COVERING_ROLES) and roles:
            self.problem(n, "covers", texts.COVERS_ONLY_FOR_CADRES)
            ok = False
        village = self._plan_place(n, zone, village_text, group) if ok else None
        if not ok or (village_text and village is None):
            # Other rows may point at this one; its own problem is the one worth reporting.
            self.rejected.update(filter(None, (name, phone, village_text)))
            return None
        return CheckedRow(
            number=n,
            name=name,
            phone=phone,
            roles=roles,
            title=title,
            zone=zone,
            village=village,
            group=group,
            unit=unit or None,
            covers=covers,
            supervisor_ref=raw.get("supervisor"),
            wecom=wecom,
        )

    def _plan_place(
        self, n: int, zone: str | None, village_text: str | None, group: int | None
    ) -> str | None:
        """Plan the row's 片区/村/组; returns the village's name in the tree (or None)."""
        tree = self.tree
        if zone is not None:
            tree.plan_zone(zone)
        if village_text is None:
            return None
        village = tree.find_village(village_text)
        if village is not None:
            known_zone = tree.zone_of(village)
            if zone is not None and known_zone != zone:
                where = (
                    texts.VILLAGE_IN_ZONE.format(zone=known_zone)
                    if known_zone
                    else texts.VILLAGE_IN_NO_ZONE
                )
                message = texts.VILLAGE_ZONE_MISMATCH.format(
                    village=village, where=where, zone=zone
                )
                self.problem(n, "zone", message)
                return None
        elif zone is None and village_text in self.sheet_zones:
            village = village_text
            zone = self.sheet_zones[village_text]
            tree.plan_zone(zone)
            tree.new_villages[village] = zone
        elif zone is None and (tree.zones or self.sheet_zones):
            self.problem(n, "village", texts.VILLAGE_UNKNOWN.format(village=village_text))
            return None
        else:
            village = village_text
            tree.new_villages[village] = zone
        if group is not None:
            tree.plan_group(village, group)
        return village

    def _check_duplicates(self) -> None:
        for column, key in (("phone", "phone"), ("wecom", "wecom")):
            seen: dict[str, int] = {}
            for row in self.rows:
                value = getattr(row, key)
                if not value:
                    continue
                if value in seen:
                    message = texts.DUPLICATE_OF_ROW.format(row=seen[value], value=value)
                    self.problem(row.number, column, message)
                else:
                    seen[value] = row.number

    def _check_covers(self) -> None:
        for row in self.rows:
            found = []
            for text in row.covers:
                village = self.tree.find_village(text)
                if village is None and text in self.rejected:
                    continue
                if village is None:
                    message = texts.COVERED_VILLAGE_UNKNOWN.format(village=text)
                    self.problem(row.number, "covers", message)
                else:
                    found.append(village)
            row.covers = list(dict.fromkeys(found))

    def _check_supervisors(self) -> None:
        by_phone = {row.phone: row for row in self.rows}
        by_name: dict[str, list[CheckedRow]] = defaultdict(list)
        for row in self.rows:
            by_name[row.name].append(row)
        outside_phones = [
            normalize_phone(r.supervisor_ref)
            for r in self.rows
            if r.supervisor_ref and normalize_phone(r.supervisor_ref) not in by_phone
        ]
        outside: dict[str, Person] = {}
        if outside_phones:
            stmt = select(Person).where(
                col(Person.phone).in_(outside_phones), col(Person.active).is_(True)
            )
            outside = {p.phone: p for p in self.session.exec(stmt)}
        for row in self.rows:
            ref = re.sub(r"\s+", "", row.supervisor_ref)
            if not ref:
                continue
            phone = normalize_phone(ref)
            if phone.isdigit():
                if phone in by_phone:
                    row.supervisor = by_phone[phone]
                elif phone in outside:
                    row.outside_supervisor = outside[phone]
                elif phone not in self.rejected:
                    message = texts.SUPERVISOR_PHONE_UNKNOWN.format(ref=ref)
                    self.problem(row.number, "supervisor", message)
                    continue
            else:
                matches = by_name.get(ref, [])
                if not matches:
                    if ref not in self.rejected:
                        message = texts.SUPERVISOR_UNKNOWN.format(ref=ref)
                        self.problem(row.number, "supervisor", message)
                    continue
                if len(matches) > 1:
                    lines = texts.LIST_JOIN.join(str(m.number) for m in matches)
                    message = texts.SUPERVISOR_NAMESAKES.format(
                        count=len(matches), ref=ref, rows=lines
                    )
                    self.problem(row.number, "supervisor", message)
                    continue
                row.supervisor = matches[0]
            if row.supervisor is row:
                self.problem(row.number, "supervisor", texts.SUPERVISOR_SELF)
                row.supervisor = None
        self._check_cycles()

    def _check_cycles(self) -> None:
        reported: set[int] = set()
        for row in self.rows:
            seen: list[CheckedRow] = []
            current: CheckedRow | None = row
            while current is not None and current not in seen:
                seen.append(current)
                current = current.supervisor
            if current is None:
                continue
            cycle = seen[seen.index(current) :]
            if any(id(r) in reported for r in cycle):
                continue
            reported.update(id(r) for r in cycle)
            lines = texts.LIST_JOIN.join(
                str(r.number) for r in sorted(cycle, key=lambda r: r.number)
            )
            first = min(cycle, key=lambda r: r.number)
            self.problem(first.number, "supervisor", texts.SUPERVISOR_CYCLE.format(rows=lines))

    def _check_database_conflicts(self) -> None:
        """A phone or 企业微信账号 held by an active person of another town cannot move here."""
        town = self.tree.town
        by_phone = {row.phone: row for row in self.rows}
        by_userid = {row.wecom: row for row in self.rows if row.wecom}
        if not by_phone:
            return
        stmt = (
            select(Person, Place)
            .join(Place, col(Place.id) == Person.place_id)
            .where(col(Person.active).is_(True))
            .where(
                col(Person.phone).in_(list(by_phone))
                | col(Person.wecom_userid).in_(list(by_userid))
            )
        )
        for person, place in self.session.exec(stmt):
            if town is not None and place.path.startswith(town.path):
                continue
            if person.phone in by_phone:
                row = by_phone[person.phone]
                message = texts.PHONE_ELSEWHERE.format(place=place.name, name=person.name)
                self.problem(row.number, "phone", message)
            if person.wecom_userid in by_userid:
                row = by_userid[person.wecom_userid]
                message = texts.WECOM_ELSEWHERE.format(place=place.name, name=person.name)
                self.problem(row.number, "wecom", message)
