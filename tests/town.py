"""A small town built row by row, for handler tests that need a known roster."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, select

from config.taxonomy import load_taxonomy
from models.base import utcnow
from models.person import Coverage, Person, PersonRole, Role, Unit
from models.place import Place, PlaceKind, add_place
from models.routing import unit_names_in_label


@dataclass
class SmallTown:
    """Handles on the people of the town, by the part they play."""

    town_id: int
    villages: dict[str, int]
    people: dict[str, Person] = field(default_factory=dict)
    unit_heads: dict[str, Person] = field(default_factory=dict)

    def openid(self, key: str) -> str:
        openid = self.people[key].wechat_openid
        assert openid is not None
        return openid


def build_small_town(engine: Engine) -> SmallTown:
    """桃花镇: 张家村 (5 groups), 李家村 (3), their cadres, a 包村干部, every unit, a dispatcher."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        county = add_place(session, "测试县", PlaceKind.county)
        town = add_place(session, "桃花镇", PlaceKind.town, county)
        zone = add_place(session, "东片", PlaceKind.zone, town)
        villages: dict[str, Place] = {}
        for name, groups in (("张家村", 5), ("李家村", 3)):
            village = add_place(session, name, PlaceKind.village, zone)
            villages[name] = village
            for number in range(1, groups + 1):
                add_place(session, f"{number}组", PlaceKind.group, village, number=number)
        assert town.id is not None
        result = SmallTown(town.id, {n: v.id for n, v in villages.items() if v.id is not None})
        phone = iter(range(17000000001, 17000009999))

        def person(key: str, name: str, place: Place, roles: list[Role], **extra: object) -> Person:
            p = Person(name=name, phone=str(next(phone)), place_id=place.id, **extra)  # type: ignore[arg-type]
            session.add(p)
            session.flush()
            for role in roles:
                session.add(PersonRole(person_id=p.id, role=role.value))  # type: ignore[arg-type]
            result.people[key] = p
            return p

        leader = person("leader", "王书记", town, [Role.leader], wecom_userid="wang-leader")
        person(
            "dispatcher",
            "赵调度",
            town,
            [Role.dispatcher],
            supervisor_id=leader.id,
            wecom_userid="zhao-dispatch",
        )
        liaison = person(
            "liaison",
            "钱包村",
            town,
            [Role.liaison],
            supervisor_id=leader.id,
            wecom_userid="qian-liaison",
        )
        for name, village in villages.items():
            cadre = person(
                f"cadre:{name}",
                f"{name[0]}支书",
                village,
                [Role.village_cadre],
                supervisor_id=liaison.id,
                wecom_userid=f"cadre-{village.id}",
            )
            session.add(
                Coverage(person_id=cadre.id, place_id=village.id, role=Role.village_cadre.value)
            )  # type: ignore[arg-type]
            session.add(
                Coverage(person_id=liaison.id, place_id=village.id, role=Role.liaison.value)
            )  # type: ignore[arg-type]
        labels = [c.unit for c in load_taxonomy().categories if c.unit]
        units = sorted({name for label in labels for name in unit_names_in_label(label)})
        for index, unit_name in enumerate(units):
            unit = Unit(name=unit_name, town_id=town.id)
            session.add(unit)
            session.flush()
            head = person(
                f"unit:{unit_name}",
                f"站长{index}",
                town,
                [Role.unit_head],
                unit_id=unit.id,
                supervisor_id=leader.id,
                wecom_userid=f"unit-head-{index}",
            )
            result.unit_heads[unit_name] = head

        def group(village: str, number: int) -> Place:
            stmt = select(Place).where(
                Place.parent_id == villages[village].id, Place.number == number
            )
            return session.exec(stmt).one()

        group3 = group("张家村", 3)
        person(
            "reporter", "刘邻长", group3, [Role.neighbour_head], wechat_openid="o-liu", bound_at=now
        )
        li1 = group("李家村", 1)
        person(
            "reporter2", "陈邻长", li1, [Role.neighbour_head], wechat_openid="o-chen", bound_at=now
        )
        person(
            "stranger", "孙邻长", li1, [Role.neighbour_head], wechat_openid="o-sun", bound_at=now
        )
        person(
            "colleague",
            "周干部",
            town,
            [Role.unit_member],
            supervisor_id=leader.id,
            wecom_userid="zhou",
        )
        session.commit()
    return result
