"""Places: one tree of any depth (county → town → 片区 → village → 片 → 组), queried by subtree."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models import texts


class PlaceKind(StrEnum):
    county = "county"
    town = "town"
    zone = "zone"  # 片区
    village = "village"  # 村 or 社区
    pian = "pian"  # 片, a part of a village
    group = "group"  # 村民小组


PLACE_KIND_NAMES = {kind: texts.PLACE_KIND_NAMES[kind] for kind in PlaceKind}


class Place(SQLModel, table=True):
    """A node of the tree; `path` is the chain of ids ("/1/4/17/") for subtree queries."""

    __tablename__ = "place"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_place_name_in_parent"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="place.id", index=True)
    path: str = Field(default="", sa_column=Column(String(255), nullable=False, index=True))
    depth: int = 0
    number: int | None = None  # the group number of a 组


def add_place(
    session: Session,
    name: str,
    kind: PlaceKind,
    parent: Place | None = None,
    number: int | None = None,
) -> Place:
    """Create a place under `parent` and set its materialised path."""
    place = Place(
        name=name,
        kind=kind.value,
        parent_id=parent.id if parent else None,
        depth=(parent.depth + 1) if parent else 0,
        number=number,
    )
    session.add(place)
    session.flush()
    place.path = f"{parent.path if parent else '/'}{place.id}/"
    session.add(place)
    session.flush()
    return place


def subtree_filter(column: Any, ancestor: Place) -> Any:
    """A WHERE clause: the path `column` lies in `ancestor`'s subtree (itself included)."""
    return col(column).startswith(ancestor.path)


def ancestors(session: Session, place: Place) -> list[Place]:
    """The place and every place above it, nearest first."""
    ids = [int(part) for part in place.path.strip("/").split("/") if part]
    rows = {p.id: p for p in session.exec(select(Place).where(col(Place.id).in_(ids)))}
    return [rows[i] for i in reversed(ids) if i in rows]


def village_of(session: Session, place: Place) -> Place | None:
    """The village (or community) a place lies in, or the place itself when it is one."""
    for candidate in ancestors(session, place):
        if candidate.kind == PlaceKind.village:
            return candidate
    return None


def find_places(session: Session, name: str, kind: PlaceKind | None = None) -> list[Place]:
    """Places with exactly this name, optionally of one kind."""
    stmt = select(Place).where(Place.name == name)
    if kind is not None:
        stmt = stmt.where(Place.kind == kind.value)
    return list(session.exec(stmt))
