"""SQLite's medians: an ordered walk of an index to the middle of each group (no percentile)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from models.figures.columns import TICKET
from models.figures.scope import Scope

# The index expression the median walks read in order, written exactly as in the migration so
# that the planner matches it (it compares expression trees).
SQLITE_RESOLVE_DAYS = "(julianday(ticket.resolved_at) - julianday(ticket.created_at))"
SQLITE_RESOLVED_STATES = "ticket.state IN ('resolved', 'closed')"

_SQLITE_MEDIAN_INDEXES = {
    "all": "ix_ticket_resolve_time",
    "village": "ix_ticket_resolve_time_village",
    "category": "ix_ticket_resolve_time_category",
}


def sqlite_medians(
    conn: Connection, scope: Scope, sizes: Mapping[str, Mapping[Any, int]]
) -> dict[tuple[str, Any], float]:
    """Median hours to resolve per group; `sizes` holds each group's resolved count."""
    # SQLite has no percentile: per group, walk the resolved tickets in the order of the time
    # they took and read the middle one or two (LIMIT 2 OFFSET (n-1)/2), n known from the
    # grouped pass. With ix_ticket_resolve_time[_village|_category] a walk reads half its
    # group from an index; other keys sort one group at a time. The walks go straight to
    # the driver, on the same connection and snapshot: hundreds of tiny statements are
    # otherwise mostly SQLAlchemy's overhead.
    to_db = TICKET.c.created_at.type.bind_processor(conn.dialect)
    assert to_db is not None  # UTCDateTime always converts
    conditions = ["+ticket.created_at >= ?", "+ticket.created_at < ?"]
    params: tuple[Any, ...] = (to_db(scope.start), to_db(scope.end))
    if scope.place is not None:
        conditions += ["+ticket.place_path >= ?", "+ticket.place_path < ?"]
        params += (scope.place.path, scope.place.path[:-1] + "0")
    # One statement per breakdown and NULL-ness, whatever the number of groups: the walks of
    # one report share them (a few, for hundreds of walks).
    statements: dict[tuple[str, bool], str] = {}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    result: dict[tuple[str, Any], float] = {}
    try:
        for key, table in sizes.items():
            for group, n in table.items():
                if not n:
                    continue
                shape = (key, group is None)
                if shape not in statements:
                    statements[shape] = sqlite_walk(key, group, conditions)
                values = params + (() if key == "all" or group is None else (group,))
                cursor.execute(statements[shape], (*values, 2 - n % 2, (n - 1) // 2))
                middle = cursor.fetchone()[0]
                if middle is not None:
                    result[(key, group)] = float(middle) * 24
    finally:
        cursor.close()
    return result


def sqlite_walk(key: str, group: Any, conditions: list[str]) -> str:
    """The ordered walk to the middle of one group's resolved tickets (SQLite, qmark style)."""
    index = _SQLITE_MEDIAN_INDEXES.get(key)
    where = [SQLITE_RESOLVED_STATES, *conditions]
    if key != "all":
        where.append(_sqlite_group_condition(key, group))
    # Every piece is a constant of this module; values are bound parameters.
    return (
        f"SELECT avg(days) FROM (SELECT {SQLITE_RESOLVE_DAYS} AS days "  # noqa: S608
        f"FROM ticket{f' INDEXED BY {index}' if index else ''} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {SQLITE_RESOLVE_DAYS} LIMIT ? OFFSET ?)"
    )


def _sqlite_group_condition(key: str, group: Any) -> str:
    """The SQL of one group of a breakdown; a group's value is its one parameter."""
    if key == "zone":
        zones = "SELECT v.id FROM place v JOIN place z ON z.id = v.parent_id WHERE z.kind = 'zone'"
        if group is None:
            return f"(ticket.village_id IS NULL OR ticket.village_id NOT IN ({zones}))"
        return f"ticket.village_id IN ({zones} AND z.id = ?)"
    column = {"village": "village_id", "category": "category", "assignee": "assignee_id"}[key]
    return f"ticket.{column} IS NULL" if group is None else f"ticket.{column} = ?"
