"""The statements of a report over the tickets of one scope, each in its dialect's fastest form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    extract,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from models.base import UTCDateTime
from models.figures.columns import GROUP_COLUMNS, PLACE, TICKET, null_of, path_within, plain
from models.figures.counts import COUNT_NAMES
from models.figures.scope import (
    NOT_COLLECTED,
    RESOLVED_STATES,
    SATISFIED,
    Scope,
)
from models.figures.sqlite import sqlite_medians
from models.place import PlaceKind
from models.ticket import OPEN_STATES, TicketState


def tune(conn: Connection) -> None:
    """Settings for a report's transaction on PostgreSQL (none on SQLite)."""
    if conn.dialect.name == "postgresql":
        # For this transaction only: sorts and hashes of a county's tickets fit in memory,
        # and compiling each query to machine code (JIT) costs more than it saves here.
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        conn.exec_driver_sql("SET LOCAL jit = off")


def scope_filter(session: Session, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE terms of the collected tickets of a scope, in the dialect's fastest form."""
    return Query(session.connection(), scope).in_scope()


def ledger_filter(session: Session, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE terms of the 台账's tickets: the collected ones and those merged into another.

    A duplicate is not collected (it is counted once, as the ticket it was merged into), but it
    was reported: the 台账 lists it with its state and the ticket it went into.
    """
    query = Query(session.connection(), scope)
    left_out = [s for s in NOT_COLLECTED if s is not TicketState.duplicate]
    return [*query.in_period(), *(TICKET.c.state != s.value for s in left_out)]


class Query:
    """The statements over the tickets of one scope, each in its dialect's fastest form."""

    def __init__(self, conn: Connection, scope: Scope) -> None:
        self.conn = conn
        self.scope = scope
        self.sqlite = conn.dialect.name == "sqlite"
        self.start = bindparam("start", scope.start, type_=UTCDateTime())
        self.end = bindparam("end", scope.end, type_=UTCDateTime())
        self.as_of = bindparam("as_of", scope.as_of, type_=UTCDateTime())

    def plain(self, column: Any) -> Any:
        """The column without SQLite's numeric affinity (unchanged on PostgreSQL)."""
        return plain(column, self.sqlite)

    def in_period(self) -> list[ColumnElement[bool]]:
        """Created in [start, end) and in the place's subtree."""
        t = TICKET.c
        conditions = [
            # On SQLite the unary + also keeps the planner off ix_ticket_created_at, whose range
            # scan with a table lookup per row is several times slower than ix_ticket_report.
            self.plain(t.created_at) >= self.start,
            self.plain(t.created_at) < self.end,
        ]
        if self.scope.place is not None:
            path = self.plain(t.place_path)  # the covering indexes, not ix_ticket_place_path
            conditions.append(path_within(path, self.scope.place.path, self.sqlite))
        return conditions

    def in_scope(self) -> list[ColumnElement[bool]]:
        """In the period and collected: not a draft, invalid or a duplicate."""
        return [*self.in_period(), *(TICKET.c.state != s.value for s in NOT_COLLECTED)]

    def group_counts(self, with_assignee: bool) -> list[tuple[Any, ...]]:
        """Counts per (village, category[, assignee]), the leading columns of ix_ticket_report."""
        stmt, width = self._count_statement(with_assignee)
        return [
            (*row[:width], *(int(value or 0) for value in row[width:]))
            for row in self.conn.execute(stmt)
        ]

    def _count_statement(self, with_assignee: bool) -> tuple[Select[Any], int]:
        # Inside, the tickets are grouped further by state and rating — the next columns of the
        # index, so SQLite still groups without sorting — and every test of a state or a rating
        # is made once per group outside instead of once per ticket. What depends on a ticket's
        # times is counted per ticket inside.
        t = TICKET.c
        p = self.plain
        count = func.count
        keys = [t.village_id, t.category, t.state, t.rating]
        if with_assignee:
            keys.append(t.assignee_id)
        inner = (
            select(
                *keys,
                count().label("n"),
                count(t.assigned_at).label("assigned"),
                count().filter(p(t.resolved_at) <= p(t.resolve_due_at)).label("on_time"),
                count()
                .filter(or_(t.accepted_at.is_not(None), p(t.ack_due_at) <= self.as_of))
                .label("ack_due"),
                count().filter(p(t.accepted_at) <= p(t.ack_due_at)).label("ack_on_time"),
                count().filter(t.reopen_count > 0).label("reopened"),
                # Every 不满意 reopens the ticket once, so this is how many 回访 answers were
                # 不满意 — the later 满意 of a redone ticket does not erase them.
                func.coalesce(func.sum(t.reopen_count), 0).label("unsatisfied_answers"),
                count().filter(t.return_count > 0).label("returned"),
                count().filter(p(t.resolve_due_at) < self.as_of).label("past_due"),
            )
            .where(*self.in_period())
            .group_by(*keys)
            .subquery("by_state")
        )
        g = inner.c
        resolved = g.state.in_([s.value for s in RESOLVED_STATES])
        columns: dict[str, Any] = {
            "collected": func.sum(g.n),
            "resolved": func.sum(g.n).filter(resolved),
            "resolved_on_time": func.sum(g.on_time).filter(resolved),
            "ack_due": func.sum(g.ack_due),
            "acknowledged_on_time": func.sum(g.ack_on_time),
            "rated": func.coalesce(
                func.sum(g.n).filter(g.rating.in_([r.value for r in SATISFIED])), 0
            )
            + func.sum(g.unsatisfied_answers),
            "satisfied": func.sum(g.n).filter(g.rating.in_([r.value for r in SATISFIED])),
            "resolutions": func.sum(case((resolved, g.n), else_=g.reopened)),
            "reopened": func.sum(g.reopened),
            "assigned": func.sum(g.assigned),
            "returned": func.sum(g.returned),
            "overdue": func.sum(g.past_due).filter(g.state.in_([s.value for s in OPEN_STATES])),
        }
        outer_keys = [g.village_id, g.category] + ([g.assignee_id] if with_assignee else [])
        stmt = (
            select(*outer_keys, *(columns[name].label(name) for name in COUNT_NAMES))
            .where(g.state.not_in([s.value for s in NOT_COLLECTED]))
            .group_by(*outer_keys)
        )
        return stmt, len(outer_keys)

    def reporters(self, place_keys: Sequence[str]) -> dict[tuple[str, Any], int]:
        """Distinct reporters overall and per village / 片区, from distinct (village, reporter)."""
        t = TICKET.c
        pairs = (
            select(t.village_id, t.reporter_id)
            .where(*self.in_scope(), t.reporter_id.is_not(None))
            .distinct()
            .cte("pairs")
        )
        parts = [
            select(
                literal_column("'all'"),
                null_of(Integer),
                func.count(pairs.c.reporter_id.distinct()),
            )
        ]
        if "village" in place_keys:
            parts.append(
                select(literal_column("'village'"), pairs.c.village_id, func.count()).group_by(
                    pairs.c.village_id
                )
            )
        if "zone" in place_keys:
            village, zone = PLACE.alias("village"), PLACE.alias("zone")
            parts.append(
                select(
                    literal_column("'zone'"),
                    zone.c.id,
                    func.count(pairs.c.reporter_id.distinct()),
                )
                .select_from(pairs)
                .outerjoin(village, village.c.id == pairs.c.village_id)
                .outerjoin(
                    zone,
                    and_(zone.c.id == village.c.parent_id, zone.c.kind == PlaceKind.zone.value),
                )
                .group_by(zone.c.id)
            )
        rows = self.conn.execute(union_all(*parts)).all()
        return {(key, group): int(count) for key, group, count in rows}

    def medians(self, sizes: Mapping[str, Mapping[Any, int]]) -> dict[tuple[str, Any], float]:
        """Median hours from creation to resolution per group; `sizes` holds the resolved counts."""
        if self.sqlite:
            return sqlite_medians(self.conn, self.scope, sizes)
        return self._postgresql_medians(sizes)

    def _postgresql_medians(
        self, groups: Mapping[str, Mapping[Any, int]]
    ) -> dict[tuple[str, Any], float]:
        # One scan for every grouping asked for (GROUPING SETS); GROUPING() tells which set a
        # row belongs to: its bit is 0 for the grouped column, 1 for the others.
        t = TICKET.c
        village, zone = PLACE.alias("village"), PLACE.alias("zone")
        columns = {**GROUP_COLUMNS, "zone": zone.c.id}
        keys = [key for key in groups if key != "all"]
        hours = extract("epoch", t.resolved_at - t.created_at) / 3600.0
        grouped = [columns[key] for key in keys]
        stmt = select(
            *grouped,
            func.grouping(*grouped) if grouped else literal_column("0"),
            func.percentile_cont(0.5).within_group(hours),
        ).where(
            t.state.in_([s.value for s in RESOLVED_STATES]),
            t.resolved_at.is_not(None),
            *self.in_period(),
        )
        if "zone" in keys:
            stmt = stmt.select_from(
                TICKET.outerjoin(village, village.c.id == t.village_id).outerjoin(
                    zone,
                    and_(zone.c.id == village.c.parent_id, zone.c.kind == PlaceKind.zone.value),
                )
            )
        if grouped:
            sets = [tuple_()] + [tuple_(column) for column in grouped]
            stmt = stmt.group_by(func.grouping_sets(*sets))
        full = (1 << len(keys)) - 1
        mask_of = {full: "all"} | {
            full ^ (1 << (len(keys) - 1 - i)): key for i, key in enumerate(keys)
        }
        result: dict[tuple[str, Any], float] = {}
        for row in self.conn.execute(stmt):
            *values, mask, median = row
            key = mask_of[mask] if keys else "all"
            if median is not None and key in groups:
                group = None if key == "all" else values[keys.index(key)]
                result[(key, group)] = float(median)
        return result
