"""The places of a report: villages and 片区 with names and tree order, 邻长 counts, the home."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from config.figures import FiguresConfig
from models import texts
from models.figures.columns import PERSON, PERSON_ROLE, PLACE, path_within
from models.figures.counts import Figures
from models.figures.scope import PLACE_KEYS, Scope
from models.person import Role
from models.place import PlaceKind


def neighbour_heads(
    conn: Connection, scope: Scope, place_keys: Sequence[str], places: Places
) -> dict[tuple[str, Any], int]:
    """Active 邻长 on the roster: in the subtree, and per village / 片区 asked for."""
    # Counted per place in SQL (a few thousand rows at county scale), then each place's count
    # goes to the village and 片区 on its path: a join on "path starts with" has no index.
    at = PLACE.alias("at")
    stmt = (
        select(at.c.path, func.count(PERSON.c.id.distinct()))
        .select_from(PERSON)
        .join(PERSON_ROLE, PERSON_ROLE.c.person_id == PERSON.c.id)
        .join(at, at.c.id == PERSON.c.place_id)
        .where(PERSON_ROLE.c.role == Role.neighbour_head.value, PERSON.c.active.is_(True))
        .group_by(at.c.id, at.c.path)
    )
    if scope.place is not None:
        stmt = stmt.where(path_within(at.c.path, scope.place.path, conn.dialect.name == "sqlite"))
    result: dict[tuple[str, Any], int] = {("all", None): 0}
    wanted = {key: places.ids(key) for key in place_keys}
    for path, count in conn.execute(stmt):
        result[("all", None)] += count
        on_path = {int(part) for part in path.strip("/").split("/") if part}
        for key, ids in wanted.items():
            for group in on_path & ids:
                result[(key, group)] = result.get((key, group), 0) + count
    return result


@dataclass
class Places:
    """The villages and 片区 with their names and tree order; which of them the scope holds."""

    villages: dict[int, tuple[str, str, int | None]]  # id → name, path, 片区 id
    zones: dict[int, tuple[str, str]]  # id → name, path
    towns: dict[int, str]
    inside: str  # the scope's path: villages and 片区 below it are rows even without tickets

    @classmethod
    def load(cls, conn: Connection, scope: Scope) -> Places:
        """Read the towns, 片区 and villages (a few hundred rows for a county)."""
        kinds = [PlaceKind.town.value, PlaceKind.zone.value, PlaceKind.village.value]
        rows = conn.execute(
            select(PLACE.c.id, PLACE.c.name, PLACE.c.kind, PLACE.c.parent_id, PLACE.c.path).where(
                PLACE.c.kind.in_(kinds)
            )
        ).all()
        kind_of = {r.id: r.kind for r in rows}
        villages: dict[int, tuple[str, str, int | None]] = {}
        zones: dict[int, tuple[str, str]] = {}
        for r in rows:
            if r.kind == PlaceKind.village.value:
                zone = r.parent_id if kind_of.get(r.parent_id) == PlaceKind.zone.value else None
                villages[r.id] = (r.name, r.path, zone)
            elif r.kind == PlaceKind.zone.value:
                zones[r.id] = (r.name, r.path)
        return cls(
            villages=villages,
            zones=zones,
            towns={r.id: r.name for r in rows if r.kind == PlaceKind.town.value},
            inside=scope.place.path if scope.place is not None else "/",
        )

    def zone_of(self, village_id: int | None) -> int | None:
        """The 片区 a village lies in, or None."""
        if village_id is None or village_id not in self.villages:
            return None
        return self.villages[village_id][2]

    def _names(self, key: str) -> dict[int, tuple[str, str]]:
        if key == "village":
            return {i: (name, path) for i, (name, path, _) in self.villages.items()}
        return self.zones

    def ids(self, key: str) -> set[int]:
        """Every village or 片区 in the scope's subtree."""
        return {i for i, (_, path) in self._names(key).items() if path.startswith(self.inside)}

    def labels(
        self, conn: Connection, key: str, groups: Sequence[Any], config: FiguresConfig
    ) -> dict[Any, str]:
        """Each row's name: a place, a category or a person, told apart where names repeat."""
        # A repeated place name gets its town, a repeated person name their place, and
        # namesakes in one place their id.
        if key == "category":
            return {
                g: config.labels["no_category"] if g is None else config.category_name(g)
                for g in groups
            }
        if key == "assignee":
            ids = [g for g in groups if g is not None]
            people = conn.execute(
                select(PERSON.c.id, PERSON.c.name, PLACE.c.name)
                .join(PLACE, PLACE.c.id == PERSON.c.place_id)
                .where(PERSON.c.id.in_(ids))
            ).all()
            names = {pid: (name, where) for pid, name, where in people}
            missing = config.labels["no_assignee"]
        else:
            places = self._names(key)
            names = {g: (places[g][0], self._town_of(places[g][1])) for g in groups if g in places}
            missing = config.labels["no_village" if key == "village" else "no_zone"]
        repeated = Counter(name for name, _ in names.values())
        labels: dict[Any, str] = {}
        for g in groups:
            if g is None:
                labels[g] = missing
            elif g not in names:
                labels[g] = f"#{g}"
            else:
                name, where = names[g]
                unique = repeated[name] == 1
                labels[g] = name if unique else texts.NAME_WITH_PLACE.format(name=name, where=where)
        repeated = Counter(labels.values())
        # Namesakes in one place: the id tells them apart.
        return {g: f"{label}#{g}" if repeated[label] > 1 else label for g, label in labels.items()}

    def _town_of(self, path: str) -> str:
        ids = (int(i) for i in path.strip("/").split("/") if i)
        return next((self.towns[i] for i in ids if i in self.towns), "")

    def sort_key(self, key: str, group: Any, figures: Figures, config: FiguresConfig) -> Any:
        """Places in tree order, categories in taxonomy order, people by tickets; None last."""
        if group is None:
            return (1, ())
        if key in PLACE_KEYS:
            names = self._names(key)
            path = names[group][1] if group in names else ""
            return (0, tuple(int(i) for i in path.strip("/").split("/") if i))
        if key == "category":
            order = list(config.category_names)
            return (0, (order.index(group) if group in order else len(order), group))
        return (0, (-figures.collected, group))


def home_place(conn: Connection) -> tuple[str, str] | None:
    """The (name, kind) a whole-database report speaks for: the root, or its only child, …"""
    # A one-town deployment keeps its county above the town; its report says 我镇, not 我县.
    home: tuple[str, str] | None = None
    parent: int | None = None
    while True:
        where = PLACE.c.parent_id.is_(None) if parent is None else PLACE.c.parent_id == parent
        stmt = select(PLACE.c.id, PLACE.c.name, PLACE.c.kind).where(where).limit(2)
        children = conn.execute(stmt).all()
        if len(children) != 1:
            return home
        child = children[0]
        if child.kind not in {PlaceKind.county.value, PlaceKind.town.value}:
            return home
        home, parent = (child.name, child.kind), child.id
