"""The places of the town a roster is for, and the ones its import would add, by name."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from models import texts
from models.place import Place, PlaceKind, subtree_filter


@dataclass
class TownTree:
    """The places of one town, with the ones an import would add, by name."""

    town: Place | None
    zones: dict[str, Place]
    villages: dict[str, Place]
    village_zone: dict[str, str | None]  # village name → its 片区 name (None: under the town)
    groups: set[tuple[str, int]]
    new_zones: list[str] = field(default_factory=list)
    new_villages: dict[str, str | None] = field(default_factory=dict)
    new_groups: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session, town: Place | None) -> TownTree:
        if town is None:
            return cls(None, {}, {}, {}, set())
        places = list(session.exec(select(Place).where(subtree_filter(Place.path, town))))
        by_id = {p.id: p for p in places}
        zones = {p.name: p for p in places if p.kind == PlaceKind.zone and p.parent_id == town.id}
        villages: dict[str, Place] = {}
        village_zone: dict[str, str | None] = {}
        for place in places:
            if place.kind != PlaceKind.village:
                continue
            villages[place.name] = place
            parent = by_id.get(place.parent_id)
            village_zone[place.name] = (
                parent.name if parent and parent.kind == PlaceKind.zone else None
            )
        groups = set()
        for place in places:
            parent = by_id.get(place.parent_id)
            if place.kind != PlaceKind.group or place.number is None or parent is None:
                continue
            if parent.kind == PlaceKind.village:
                groups.add((parent.name, place.number))
        return cls(town, zones, villages, village_zone, groups)

    def find_village(self, name: str) -> str | None:
        """The village's name in the tree: '大栗港' finds 大栗港村, '杨家嘴' finds 杨家嘴社区."""
        for candidate in (name, *(name + ending for ending in texts.VILLAGE_ENDINGS)):
            if candidate in self.villages or candidate in self.new_villages:
                return candidate
        return None

    def zone_of(self, village: str) -> str | None:
        if village in self.village_zone:
            return self.village_zone[village]
        return self.new_villages.get(village)

    def plan_zone(self, name: str) -> None:
        if name not in self.zones and name not in self.new_zones:
            self.new_zones.append(name)

    def plan_group(self, village: str, number: int) -> None:
        key = (village, number)
        if key not in self.groups and key not in self.new_groups:
            self.new_groups.append(key)
