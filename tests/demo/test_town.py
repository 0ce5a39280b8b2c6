"""The demo town: 大栗港镇 as published, every responsibility filled, the same every time."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from config.taxonomy import load_taxonomy
from demo.town import (
    DemoTown,
    DemoTownExists,
    database_is_empty,
    load_demo_config,
    seed_demo_town,
)
from models.db import make_engine, unit_of_work
from models.person import HANDLER_ROLES, Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, subtree_filter
from models.roster import is_valid_phone
from models.routing import unit_names_in_label
from tests.conftest import SHARED, needs_shared

pytest_plugins = ["tests.demo"]  # the demo_town fixture

PUBLISHED_ZONES = {
    "大栗港片": ["大栗港村", "朱家村", "刘家村", "德茂园村", "杨家嘴社区"],
    "栗山河片": ["栗山河村", "黄道仑村", "张家村", "童子山村", "安宁村", "毛羊坪村"],
    "筑金坝片": ["筑金坝村", "金牛村", "双合村", "马鞭溪村", "松木桥村", "九湖村"],
}


def roles_by_person(session: Session) -> dict[int, set[Role]]:
    roles: dict[int, set[Role]] = {}
    for pr in session.exec(select(PersonRole)):
        roles.setdefault(pr.person_id, set()).add(Role(pr.role))
    return roles


@needs_shared("eval/README.md")
def test_the_eval_readme_lists_the_same_villages() -> None:
    # The parser's labels and the roster agree on names.
    readme = (SHARED / "eval" / "README.md").read_text(encoding="utf-8")
    for villages in PUBLISHED_ZONES.values():
        assert all(name in readme for name in villages)


def test_places_follow_the_published_list(engine: Engine, demo_town: DemoTown) -> None:
    with Session(engine) as session:
        town = session.exec(select(Place).where(Place.kind == "town")).one()
        assert town.name == "大栗港镇"
        county = session.get(Place, town.parent_id)
        assert county is not None and county.name == "桃江县"
        zones = session.exec(select(Place).where(Place.kind == "zone", Place.parent_id == town.id))
        found = {
            zone.name: [
                v.name
                for v in session.exec(
                    select(Place).where(Place.parent_id == zone.id).order_by(col(Place.id))
                )
            ]
            for zone in zones
        }
        assert found == PUBLISHED_ZONES
        config = load_demo_config()
        for _zone, villages in config.zones:
            for name, groups in villages:
                village = demo_town.villages[name]
                numbers = sorted(
                    p.number or 0
                    for p in session.exec(select(Place).where(Place.parent_id == village.id))
                )
                assert numbers == list(range(1, groups + 1)) and groups <= 20
                # Materialised paths find the groups as the village's subtree.
                in_subtree = session.exec(
                    select(func.count()).where(subtree_filter(Place.path, village))
                ).one()
                assert in_subtree == groups + 1


def test_exactly_1038_active_neighbour_heads_in_the_17_villages(
    engine: Engine, demo_town: DemoTown
) -> None:
    with Session(engine) as session:
        stmt = (
            select(Person, Place)
            .join(PersonRole, col(PersonRole.person_id) == Person.id)
            .join(Place, col(Place.id) == Person.place_id)
            .where(PersonRole.role == Role.neighbour_head.value, col(Person.active).is_(True))
        )
        per_village: Counter[str] = Counter()
        for _person, group in session.exec(stmt):
            assert group.kind == PlaceKind.group
            village = session.get(Place, group.parent_id)
            assert village is not None and village.kind == PlaceKind.village
            per_village[village.name] += 1
    assert sum(per_village.values()) == 1038
    assert len(per_village) == 17 and min(per_village.values()) > 0
    assert sum(len(heads) for heads in demo_town.neighbour_heads.values()) == 1038
    assert all(heads for heads in demo_town.neighbour_heads.values())  # every group has some


def test_every_village_has_a_cadre_and_a_liaison(engine: Engine, demo_town: DemoTown) -> None:
    with Session(engine) as session:
        roles = roles_by_person(session)
        liaison_load: Counter[int] = Counter()
        for name, village in demo_town.villages.items():
            covers = session.exec(select(Coverage).where(Coverage.place_id == village.id)).all()
            by_role = {c.role: c.person_id for c in covers}
            cadre = session.get(Person, by_role[Role.village_cadre.value])
            liaison = session.get(Person, by_role[Role.liaison.value])
            assert cadre is not None and cadre.active and cadre.place_id == village.id
            assert liaison is not None and liaison.active
            assert Role.village_cadre in roles[cadre.id or 0]
            assert Role.liaison in roles[liaison.id or 0]
            # The escalation ladder: village cadre → this village's 包村干部.
            assert cadre.supervisor_id == liaison.id
            assert demo_town.village_cadres[name].id == cadre.id
            liaison_load[liaison.id or 0] += 1
        assert set(liaison_load.values()) <= {1, 2, 3}


def test_every_unit_has_a_head_and_covers_the_taxonomy(engine: Engine, demo_town: DemoTown) -> None:
    named = {n for c in load_taxonomy().categories for n in unit_names_in_label(c.unit)}
    with Session(engine) as session:
        roles = roles_by_person(session)
        units = session.exec(select(Unit).where(Unit.town_id == demo_town.town.id)).all()
        assert named <= {u.name for u in units}
        for unit in units:
            staff = session.exec(select(Person).where(Person.unit_id == unit.id)).all()
            heads = [p for p in staff if Role.unit_head in roles[p.id or 0]]
            members = [p for p in staff if Role.unit_member in roles[p.id or 0]]
            assert len(heads) == 1 and 1 <= len(members) <= 2
            assert all(m.supervisor_id == heads[0].id for m in members)
            boss = session.get(Person, heads[0].supervisor_id)
            assert boss is not None and Role.leader in roles[boss.id or 0]


def test_unit_names_are_read_from_taxonomy_labels() -> None:
    assert unit_names_in_label("镇应急办（派出所）") == ["应急办", "派出所"]
    assert unit_names_in_label("村委会（镇生态环境办）") == ["生态环境办"]
    assert unit_names_in_label("镇水利站（供水）") == ["水利站"]
    assert unit_names_in_label("镇村镇建设办（自然资源所）") == ["村镇建设办", "自然资源所"]


def test_every_handler_chain_ends_at_a_leader(engine: Engine, demo_town: DemoTown) -> None:
    with Session(engine) as session:
        roles = roles_by_person(session)
        people = {p.id: p for p in session.exec(select(Person))}
        handlers = [p for p in people.values() if roles[p.id or 0] & HANDLER_ROLES]
        assert len(handlers) > 50
        for person in handlers:
            chain = [person]
            while chain[-1].supervisor_id is not None:
                chain.append(people[chain[-1].supervisor_id])
                assert len(chain) < 10, f"cycle above {person.name}"
            assert Role.leader in roles[chain[-1].id or 0]
            if Role.leader not in roles[person.id or 0]:
                assert len(chain) > 1
        # The full ladder of the design: village cadre → 包村干部 → 分管领导 → 镇长 → 书记.
        cadre = demo_town.village_cadres["张家村"]
        ladder = [cadre]
        while ladder[-1].supervisor_id is not None:
            ladder.append(people[ladder[-1].supervisor_id])
        assert [p.title for p in ladder] == [
            "村支书兼主任",
            "包村干部",
            "副镇长",
            "镇长",
            "党委书记",
        ]
        assert demo_town.dispatcher.supervisor_id in {p.id for p in demo_town.deputies}
        # Reporters too: 邻长 → 组长 → 片长 → village cadre.
        neighbour = demo_town.neighbour_head("张家村", 7)
        group_head = people[neighbour.supervisor_id]
        zone_head = people[group_head.supervisor_id]
        assert Role.group_head in roles[group_head.id or 0]
        assert Role.zone_head in roles[zone_head.id or 0]
        assert zone_head.supervisor_id == cadre.id


def test_phones_and_wecom_ids_are_reserved_and_unique(demo_town: DemoTown) -> None:
    people = list(demo_town.people.values())
    assert all(p.phone.startswith("1000000") and is_valid_phone(p.phone) for p in people)
    assert len({p.phone for p in people}) == len(people)
    handlers = [demo_town.dispatcher, *demo_town.leaders, *demo_town.unit_heads.values()]
    handlers += [*demo_town.village_cadres.values(), *demo_town.liaisons.values()]
    assert all(p.wecom_userid and p.wecom_userid.startswith("dlg-") for p in handlers)
    assert demo_town.dispatcher.wecom_userid == "dlg-dispatcher-01"
    assert demo_town.village_cadres["大栗港村"].wecom_userid == "dlg-cadre-001"


def dump(engine: Engine) -> list[tuple[Any, ...]]:
    """The roster by natural keys only, so two databases can be compared whatever their ids."""
    with Session(engine) as session:
        places = {p.id: p for p in session.exec(select(Place))}
        people = {p.id: p for p in session.exec(select(Person))}
        units = {u.id: u.name for u in session.exec(select(Unit))}
        roles = roles_by_person(session)
        covers: dict[int, set[tuple[str, str]]] = {}
        for c in session.exec(select(Coverage)):
            covers.setdefault(c.person_id, set()).add((places[c.place_id].name, c.role))

        def where(place_id: int) -> str:
            path = places[place_id].path.strip("/").split("/")
            return "/".join(places[int(i)].name for i in path)

        rows = []
        for p in people.values():
            boss = people[p.supervisor_id].phone if p.supervisor_id else None
            rows.append(
                (
                    p.name,
                    p.phone,
                    p.title,
                    where(p.place_id),
                    units.get(p.unit_id or 0),
                    boss,
                    p.wecom_userid,
                    p.active,
                    tuple(sorted(roles.get(p.id or 0, set()))),
                    tuple(sorted(covers.get(p.id or 0, set()))),
                )
            )
        return sorted(rows)


def test_deterministic_across_databases(
    engine: Engine, demo_town: DemoTown, tmp_path: Path, sqlite_template: Path
) -> None:
    other_path = tmp_path / "other.sqlite3"
    shutil.copyfile(sqlite_template, other_path)
    other = make_engine(f"sqlite:///{other_path}")
    try:
        with unit_of_work(other) as session:
            assert database_is_empty(session)
            started = time.perf_counter()
            seed_demo_town(session)
            seconds = time.perf_counter() - started
        first, second = dump(engine), dump(other)
        assert len(first) == len(demo_town.people) > 1300
        assert first == second
        assert seconds < 2.0, f"seeding took {seconds:.2f} s"
    finally:
        other.dispose()


def test_seeding_twice_is_refused(engine: Engine, demo_town: DemoTown) -> None:
    with pytest.raises(DemoTownExists), unit_of_work(engine) as session:
        seed_demo_town(session)
    with Session(engine) as session:
        assert not database_is_empty(session)
        town_count = session.exec(select(func.count()).where(Place.kind == "town")).one()
        assert town_count == 1
