"""The demo town 大栗港镇: its places from config/demo_town.toml and a generated roster.

Deterministic: the same seed, the same file and the same taxonomy give the same names, phones,
places and supervisor chains every time, in any database. Bulk inserts keep a seed well under a
second on SQLite, since tests seed it often.
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlmodel import Session, SQLModel, col, select

from config.taxonomy import Taxonomy, load_taxonomy
from demo import phrasebook as say
from models.person import Person, Role, Unit
from models.place import Place, PlaceKind, add_place
from models.roster import DEMO_PHONE_PREFIX, group_place_name
from models.routing import unit_names_in_label

SEED = 20261130
NEIGHBOUR_HEADS = 1038  # as 大栗港镇 publishes: "1038 名邻长"
GROUPS_PER_ZONE_HEAD = 5  # a 片长 looks after about five 组

# Phone blocks inside the reserved range (see models.roster.DEMO_PHONE_PREFIX: numbers starting
# 100 reach nobody), one block per layer so a layer growing does not renumber the others.
PHONE_BLOCKS = {
    "leader": 1,
    "dispatcher": 9,
    "unit": 100,
    "liaison": 200,
    "village_cadre": 300,
    "zone_head": 400,
    "group_head": 500,
    "neighbour_head": 1000,
}


class DemoTownExists(RuntimeError):
    """Raised when the demo town is already in the database."""


@dataclass(frozen=True)
class DemoConfig:
    county: str
    town: str
    zones: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # 片区 → (village, groups)


def load_demo_config() -> DemoConfig:
    """The places of config/demo_town.toml."""
    text = resources.files("config").joinpath("demo_town.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    zones = tuple(
        (
            str(zone["name"]),
            tuple((str(v["name"]), int(v["groups"])) for v in zone["villages"]),
        )
        for zone in data["zones"]
    )
    return DemoConfig(county=str(data["county"]), town=str(data["town"]), zones=zones)


def taxonomy_unit_names(taxonomy: Taxonomy) -> tuple[str, ...]:
    """Every town unit the taxonomy routes a category to, in its order."""
    names: list[str] = []
    for category in taxonomy.categories:
        for name in unit_names_in_label(category.unit):
            if name not in names:
                names.append(name)
    return tuple(names)


def demo_unit_names(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The demo town's units: the usual ones, then any other the taxonomy names."""
    base = say.BASE_UNITS
    return base + tuple(n for n in taxonomy_unit_names(taxonomy) if n not in base)


@dataclass
class DemoTown:
    """Handles on the seeded town for tests and demos; objects are loaded and detached-safe."""

    county: Place
    town: Place
    zones: dict[str, Place]
    villages: dict[str, Place]
    groups: dict[tuple[str, int], Place]
    units: dict[str, Unit]
    secretary: Person  # 党委书记, top of every chain
    mayor: Person  # 镇长
    deputies: list[Person]  # 副镇长 (分管领导), one per 片区
    dispatcher: Person
    unit_heads: dict[str, Person]
    unit_members: dict[str, list[Person]]
    village_cadres: dict[str, Person]  # village → its 村支书兼主任
    liaisons: dict[str, Person]  # village → its 包村干部
    zone_heads: dict[str, list[Person]]  # village → its 片长
    group_heads: dict[tuple[str, int], Person]
    neighbour_heads: dict[tuple[str, int], list[Person]]
    people: dict[int, Person] = field(default_factory=dict)

    @property
    def leaders(self) -> list[Person]:
        return [self.secretary, self.mayor, *self.deputies]

    def group(self, village: str, number: int) -> Place:
        """The 组 `number` of `village`."""
        return self.groups[(village, number)]

    def neighbour_head(self, village: str, group: int, index: int = 0) -> Person:
        """One 邻长 of a group."""
        return self.neighbour_heads[(village, group)][index]


def database_is_empty(session: Session) -> bool:
    """True when there is neither a place nor a person yet."""
    return session.exec(select(Place.id).limit(1)).first() is None and (
        session.exec(select(Person.id).limit(1)).first() is None
    )


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


class _Generator:
    """Draws names from one seeded random stream, in a fixed order."""

    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.surnames = [s for s, _w in say.SURNAMES]
        self.weights = [w for _s, w in say.SURNAMES]
        self.counters: dict[str, int] = dict.fromkeys(PHONE_BLOCKS, 0)

    def name(self, village: str | None = None) -> str:
        # Villages called 朱家村, 刘家村… are full of 朱 and 刘.
        if village and say.CLAN_VILLAGE in village and self.rng.random() < 0.4:
            surname = village.split(say.CLAN_VILLAGE)[0][-1]
        else:
            surname = self.rng.choices(self.surnames, self.weights)[0]
        size = 1 if len(surname) == 2 or self.rng.random() < 0.3 else 2
        return surname + "".join(self.rng.choice(say.GIVEN_CHARS) for _ in range(size))

    def phone(self, layer: str) -> str:
        self.counters[layer] += 1
        return f"{DEMO_PHONE_PREFIX}{PHONE_BLOCKS[layer] + self.counters[layer] - 1:04d}"


def _person_row(
    name: str,
    phone: str,
    place: Place,
    *,
    title: str | None = None,
    unit_id: int | None = None,
    supervisor_id: int | None = None,
    wecom: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "phone": phone,
        "title": title,
        "place_id": place.id,
        "unit_id": unit_id,
        "supervisor_id": supervisor_id,
        "active": True,
        "wechat_openid": None,
        "wecom_userid": wecom,
        "bound_at": None,
    }


class _Seeder:
    def __init__(self, session: Session, config: DemoConfig, taxonomy: Taxonomy) -> None:
        self.session = session
        self.config = config
        self.taxonomy = taxonomy
        self.gen = _Generator()
        self.roles: list[dict[str, Any]] = []
        self.coverage: list[dict[str, Any]] = []

    def insert_people(self, rows: list[dict[str, Any]], *roles: Role) -> list[int]:
        """Insert many people at once (ids in input order) and remember their roles."""
        table = _table("person")
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(row[0]) for row in self.session.exec(stmt, params=rows)]
        self.roles.extend({"person_id": i, "role": r.value} for i in ids for r in roles)
        return ids

    def seed(self) -> DemoTown:
        session, cfg, gen = self.session, self.config, self.gen
        county = add_place(session, cfg.county, PlaceKind.county)
        town = add_place(session, cfg.town, PlaceKind.town, county)
        zones: dict[str, Place] = {}
        villages: dict[str, Place] = {}
        village_zone: dict[str, str] = {}
        for zone_name, zone_villages in cfg.zones:
            zones[zone_name] = add_place(session, zone_name, PlaceKind.zone, town)
            for village_name, _groups in zone_villages:
                villages[village_name] = add_place(
                    session, village_name, PlaceKind.village, zones[zone_name]
                )
                village_zone[village_name] = zone_name
        groups = self._insert_groups(villages)
        assert town.id is not None
        units = {name: Unit(name=name, town_id=town.id) for name in demo_unit_names(self.taxonomy)}
        session.add_all(units.values())
        session.flush()

        # The office: 党委书记 ← 镇长 ← one 副镇长 per 片区, who also 分管 a share of the units.
        leader_rows = [
            _person_row(
                gen.name(),
                gen.phone("leader"),
                town,
                title=say.TITLES["secretary"],
                wecom="dlg-leader-01",
            )
        ]
        (secretary_id,) = self.insert_people(leader_rows, Role.leader)
        mayor_row = _person_row(
            gen.name(),
            gen.phone("leader"),
            town,
            title=say.TITLES["mayor"],
            supervisor_id=secretary_id,
            wecom="dlg-leader-02",
        )
        (mayor_id,) = self.insert_people([mayor_row], Role.leader)
        deputy_rows = [
            _person_row(
                gen.name(),
                gen.phone("leader"),
                town,
                title=say.TITLES["deputy"],
                supervisor_id=mayor_id,
                wecom=f"dlg-leader-{i + 3:02d}",
            )
            for i in range(len(zones))
        ]
        deputy_ids = self.insert_people(deputy_rows, Role.leader)
        deputy_of_zone = dict(zip(zones, deputy_ids, strict=True))
        dispatcher_row = _person_row(
            gen.name(),
            gen.phone("dispatcher"),
            town,
            title=say.TITLES["dispatcher"],
            supervisor_id=deputy_ids[0],
            wecom="dlg-dispatcher-01",
        )
        (dispatcher_id,) = self.insert_people([dispatcher_row], Role.dispatcher)

        unit_staff = 0
        head_rows = []
        for index, (unit_name, unit) in enumerate(units.items()):
            unit_staff += 1
            head_rows.append(
                _person_row(
                    gen.name(),
                    gen.phone("unit"),
                    town,
                    title=_head_title(unit_name),
                    unit_id=unit.id,
                    supervisor_id=deputy_ids[index % len(deputy_ids)],
                    wecom=f"dlg-unit-{unit_staff:03d}",
                )
            )
        head_ids = dict(zip(units, self.insert_people(head_rows, Role.unit_head), strict=True))
        member_rows = []
        member_units = []
        for index, (unit_name, unit) in enumerate(units.items()):
            for _ in range(1 + index % 2):
                unit_staff += 1
                member_units.append(unit_name)
                member_rows.append(
                    _person_row(
                        gen.name(),
                        gen.phone("unit"),
                        town,
                        unit_id=unit.id,
                        supervisor_id=head_ids[unit_name],
                        wecom=f"dlg-unit-{unit_staff:03d}",
                    )
                )
        member_ids = self.insert_people(member_rows, Role.unit_member)

        # 包村干部: each covers one to three neighbouring villages of one 片区.
        liaison_rows: list[dict[str, Any]] = []
        liaison_villages: list[list[str]] = []
        sizes = (2, 3, 1)
        for zone_name, zone_villages in cfg.zones:
            names = [v for v, _g in zone_villages]
            start = 0
            while start < len(names):
                size = sizes[len(liaison_villages) % len(sizes)]
                chunk = names[start : start + size]
                start += size
                liaison_villages.append(chunk)
                liaison_rows.append(
                    _person_row(
                        gen.name(),
                        gen.phone("liaison"),
                        town,
                        title=say.TITLES["liaison"],
                        supervisor_id=deputy_of_zone[zone_name],
                        wecom=f"dlg-liaison-{len(liaison_rows) + 1:02d}",
                    )
                )
        liaison_ids = self.insert_people(liaison_rows, Role.liaison)
        liaison_of: dict[str, int] = {}
        for person_id, chunk in zip(liaison_ids, liaison_villages, strict=True):
            for village_name in chunk:
                liaison_of[village_name] = person_id
                self.coverage.append(
                    {
                        "person_id": person_id,
                        "place_id": villages[village_name].id,
                        "role": Role.liaison.value,
                    }
                )

        cadre_rows = [
            _person_row(
                gen.name(name),
                gen.phone("village_cadre"),
                village,
                title=say.TITLES["village_cadre"],
                supervisor_id=liaison_of[name],
                wecom=f"dlg-cadre-{index + 1:03d}",
            )
            for index, (name, village) in enumerate(villages.items())
        ]
        cadre_ids = dict(
            zip(villages, self.insert_people(cadre_rows, Role.village_cadre), strict=True)
        )
        for name, village in villages.items():
            self.coverage.append(
                {
                    "person_id": cadre_ids[name],
                    "place_id": village.id,
                    "role": Role.village_cadre.value,
                }
            )

        # 三长制: 邻长 ← 组长 (one a group) ← 片长 (one per ~5 groups) ← the village cadre.
        group_counts = {name: count for _z, vs in cfg.zones for name, count in vs}
        zone_head_rows = []
        zone_head_keys: list[tuple[str, int]] = []
        for name, village in villages.items():
            for index in range(math.ceil(group_counts[name] / GROUPS_PER_ZONE_HEAD)):
                zone_head_keys.append((name, index))
                zone_head_rows.append(
                    _person_row(
                        gen.name(name),
                        gen.phone("zone_head"),
                        village,
                        supervisor_id=cadre_ids[name],
                    )
                )
        zone_head_ids = dict(
            zip(zone_head_keys, self.insert_people(zone_head_rows, Role.zone_head), strict=True)
        )
        group_head_rows = []
        for (name, number), group in groups.items():
            count = group_counts[name]
            pian = (number - 1) * math.ceil(count / GROUPS_PER_ZONE_HEAD) // count
            group_head_rows.append(
                _person_row(
                    gen.name(name),
                    gen.phone("group_head"),
                    group,
                    supervisor_id=zone_head_ids[(name, pian)],
                )
            )
        group_head_ids = dict(
            zip(groups, self.insert_people(group_head_rows, Role.group_head), strict=True)
        )
        per_group = self._spread_neighbour_heads(list(groups))
        neighbour_rows = []
        neighbour_keys = []
        for key, group in groups.items():
            for _ in range(per_group[key]):
                neighbour_keys.append(key)
                neighbour_rows.append(
                    _person_row(
                        gen.name(key[0]),
                        gen.phone("neighbour_head"),
                        group,
                        supervisor_id=group_head_ids[key],
                    )
                )
        neighbour_ids = self.insert_people(neighbour_rows, Role.neighbour_head)

        session.exec(insert(_table("person_role")), params=self.roles)
        session.exec(insert(_table("coverage")), params=self.coverage)
        session.flush()

        everyone = [
            secretary_id,
            mayor_id,
            *deputy_ids,
            dispatcher_id,
            *head_ids.values(),
            *member_ids,
            *liaison_ids,
            *cadre_ids.values(),
            *zone_head_ids.values(),
            *group_head_ids.values(),
            *neighbour_ids,
        ]
        stmt = select(Person).where(col(Person.id).in_(everyone))
        people = {p.id: p for p in session.exec(stmt) if p.id is not None}
        members: dict[str, list[Person]] = {name: [] for name in units}
        for unit_name, person_id in zip(member_units, member_ids, strict=True):
            members[unit_name].append(people[person_id])
        zone_heads: dict[str, list[Person]] = {name: [] for name in villages}
        for (name, _index), person_id in zone_head_ids.items():
            zone_heads[name].append(people[person_id])
        neighbours: dict[tuple[str, int], list[Person]] = {key: [] for key in groups}
        for key, person_id in zip(neighbour_keys, neighbour_ids, strict=True):
            neighbours[key].append(people[person_id])
        return DemoTown(
            county=county,
            town=town,
            zones=zones,
            villages=villages,
            groups=groups,
            units=units,
            secretary=people[secretary_id],
            mayor=people[mayor_id],
            deputies=[people[i] for i in deputy_ids],
            dispatcher=people[dispatcher_id],
            unit_heads={name: people[i] for name, i in head_ids.items()},
            unit_members=members,
            village_cadres={name: people[i] for name, i in cadre_ids.items()},
            liaisons={name: people[i] for name, i in liaison_of.items()},
            zone_heads=zone_heads,
            group_heads={key: people[i] for key, i in group_head_ids.items()},
            neighbour_heads=neighbours,
            people=people,
        )

    def _insert_groups(self, villages: dict[str, Place]) -> dict[tuple[str, int], Place]:
        """Every village's 组, inserted in one statement and given their paths in another."""
        counts = {name: count for _z, vs in self.config.zones for name, count in vs}
        keys = [(name, n) for name in villages for n in range(1, counts[name] + 1)]
        rows = [
            {
                "name": group_place_name(n),
                "kind": PlaceKind.group.value,
                "parent_id": villages[name].id,
                "path": "",
                "depth": villages[name].depth + 1,
                "number": n,
            }
            for name, n in keys
        ]
        table = _table("place")
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(row[0]) for row in self.session.exec(stmt, params=rows)]
        paths = [
            {"b_id": i, "b_path": f"{villages[name].path}{i}/"}
            for i, (name, _n) in zip(ids, keys, strict=True)
        ]
        set_path = (
            update(table).where(table.c.id == bindparam("b_id")).values(path=bindparam("b_path"))
        )
        self.session.exec(set_path, params=paths)
        by_id = {p.id: p for p in self.session.exec(select(Place).where(col(Place.id).in_(ids)))}
        return {key: by_id[i] for key, i in zip(keys, ids, strict=True)}

    def _spread_neighbour_heads(self, groups: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """NEIGHBOUR_HEADS spread over the groups: a few each, some groups a few more."""
        base = max(1, NEIGHBOUR_HEADS // len(groups) - 1)
        counts = dict.fromkeys(groups, base)
        for _ in range(NEIGHBOUR_HEADS - base * len(groups)):
            counts[groups[self.gen.rng.randrange(len(groups))]] += 1
        return counts


def _head_title(unit_name: str) -> str:
    for suffix, title in say.HEAD_TITLES:
        if unit_name.endswith(suffix):
            return title
    return say.HEAD_TITLE_OTHER


def seed_demo_town(session: Session, taxonomy: Taxonomy | None = None) -> DemoTown:
    """Create 大栗港镇 with its roster in the caller's transaction; DemoTownExists if present.

    The town's units follow `taxonomy` (config/taxonomy.toml when none is given).
    """
    config = load_demo_config()
    stmt = select(Place.id).where(Place.name == config.town, Place.kind == PlaceKind.town.value)
    if session.exec(stmt).first() is not None:
        raise DemoTownExists(f"{config.town} is already in the database")
    return _Seeder(session, config, taxonomy or load_taxonomy()).seed()
