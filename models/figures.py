"""The figures a township reports upward, for any period and any place subtree.

Everything is counted by aggregate queries in the database; no ticket is loaded into Python. One
pass groups the tickets in scope by (village, category[, assignee]) with conditional counts, and the
overall figures and every breakdown are sums of those few thousand group rows. What does not add
up — distinct reporters and the median time to resolve — has its own query: reporters from the
distinct (village, reporter) pairs, medians by `percentile_cont` on PostgreSQL and by an ordered
walk of an index per group on SQLite (ORDER BY … LIMIT 2 OFFSET n/2).

Definitions (the figures file repeats them for the people who read the report):

- collected: tickets created in [start, end), not draft, invalid or duplicate; in the place's
  subtree (ticket.place_path starts with place.path).
- resolved: of those, state resolved or closed. A reopened ticket is back in an open state until
  it is resolved again; a ticket auto-closed without a rating (rating "unrated") is resolved.
- 解决率 resolved ÷ collected. 按时办结率 resolved with resolved_at ≤ resolve_due_at ÷ resolved.
- 响应率 acknowledged (accepted_at set) with accepted_at ≤ ack_due_at ÷ tickets acknowledged or
  whose ack_due_at ≤ as_of: a ticket neither acknowledged nor yet due is not judged.
- 满意率 (satisfied + basic) ÷ every 回访 answer: the final 满意/基本满意 of each ticket plus every
  不满意 ever given (each one reopened the ticket, so reopen_count counts them); unrated closes are
  not answers.
- 重办率 tickets reopened at least once ÷ tickets resolved at least once (resolved now, or
  reopened): the share of answers the reporter sent back.
- 退单率 tickets with at least one 退单 ÷ tickets ever assigned (assigned_at set). A 退单 is a
  return (退回) the dispatcher approved: one refused (驳回) or still undecided is not counted.
- overdue: open tickets (OPEN_STATES) whose resolve_due_at < as_of.
- median hours to resolve: resolved_at - created_at over the resolved tickets.
- 参与率 distinct reporters ÷ active 邻长 on the roster in the subtree (place breakdowns only).
- score: the rates' weighted mean * 100, weights from config/figures.toml; 重办率 and 退单率 count
  as (1 - rate); a rate without data (denominator 0) is left out of the mean.

States are the tickets' current ones; `as_of` (the end of the period, or now when that is
earlier) only decides which deadlines have passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal, cast, get_args

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    extract,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlmodel import Session, SQLModel

from config.calendar import TIMEZONE
from config.figures import LOWER_IS_BETTER, RATE_NAMES, FiguresConfig, load_figures_config
from models.base import UTCDateTime
from models.person import Person, PersonRole, Role
from models.place import PLACE_KIND_NAMES, Place, PlaceKind
from models.ticket import OPEN_STATES, Rating, Ticket, TicketState

SHANGHAI = TIMEZONE

BreakdownKey = Literal["zone", "village", "category", "assignee"]
BREAKDOWN_KEYS: tuple[BreakdownKey, ...] = get_args(BreakdownKey)
PLACE_KEYS = frozenset({"zone", "village"})
_Part = tuple[str, int] | None  # a range of villages for the grouped pass; None is all

NOT_COLLECTED = (TicketState.draft, TicketState.invalid, TicketState.duplicate)
RESOLVED_STATES = (TicketState.resolved, TicketState.closed)
RATED = (Rating.satisfied, Rating.basic, Rating.unsatisfied)
SATISFIED = (Rating.satisfied, Rating.basic)

# SQLite only: the index expression the median walks read in order, written exactly as in the
# migration so that the planner matches it (it compares expression trees).
SQLITE_RESOLVE_DAYS = "(julianday(ticket.resolved_at) - julianday(ticket.created_at))"
SQLITE_RESOLVED_STATES = "ticket.state IN ('resolved', 'closed')"


@dataclass(frozen=True)
class Scope:
    """What to count: tickets created in [start, end) in a place's subtree, deadlines at as_of."""

    start: datetime
    end: datetime
    as_of: datetime
    place: Place | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "as_of"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")
        if self.end <= self.start:
            raise ValueError("the period ends before it starts")

    @property
    def first_day(self) -> date:
        """The period's first day in Asia/Shanghai."""
        return self.start.astimezone(SHANGHAI).date()

    @property
    def last_day(self) -> date:
        """The period's last day in Asia/Shanghai (end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).astimezone(SHANGHAI).date()

    @property
    def as_of_day(self) -> date:
        """The last day the figures cover: as_of's day, or the day before when it is midnight."""
        return (self.as_of - timedelta(microseconds=1)).astimezone(SHANGHAI).date()


def period_scope(
    first: date | None,
    last: date | None,
    *,
    now: datetime,
    place: Place | None = None,
) -> Scope:
    """The scope of whole days first..last in Asia/Shanghai (default: this year up to today)."""
    today = now.astimezone(SHANGHAI).date()
    last = last or today
    first = first or date(last.year, 1, 1)
    start = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=SHANGHAI)
    if end <= start:
        raise ValueError("the period ends before it starts")
    return Scope(start=start, end=end, as_of=min(end, now), place=place)


@dataclass(frozen=True)
class Figures:
    """The counts of one scope or one group, and the rates made from them."""

    collected: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    ack_due: int = 0
    acknowledged_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    resolutions: int = 0
    reopened: int = 0
    assigned: int = 0
    returned: int = 0
    overdue: int = 0
    median_hours_to_resolve: float | None = None
    reporters: int | None = None
    neighbour_heads: int | None = None

    def fraction(self, rate: str) -> tuple[int, int] | None:
        """A rate as (numerator, denominator), or None when it has no denominator."""
        parts = {
            "resolution_rate": (self.resolved, self.collected),
            "response_rate": (self.acknowledged_on_time, self.ack_due),
            "on_time_rate": (self.resolved_on_time, self.resolved),
            "satisfaction_rate": (self.satisfied, self.rated),
            "reopen_rate": (self.reopened, self.resolutions),
            "return_rate": (self.returned, self.assigned),
            "participation_rate": (self.reporters or 0, self.neighbour_heads or 0),
        }[rate]
        return parts if parts[1] else None

    def rate(self, name: str) -> float | None:
        """A rate between 0 and 1, or None when there is nothing to divide by."""
        parts = self.fraction(name)
        return None if parts is None else parts[0] / parts[1]

    @property
    def resolution_rate(self) -> float | None:
        """解决率."""
        return self.rate("resolution_rate")

    @property
    def response_rate(self) -> float | None:
        """响应率."""
        return self.rate("response_rate")

    @property
    def on_time_rate(self) -> float | None:
        """按时办结率."""
        return self.rate("on_time_rate")

    @property
    def satisfaction_rate(self) -> float | None:
        """满意率."""
        return self.rate("satisfaction_rate")

    @property
    def reopen_rate(self) -> float | None:
        """重办率."""
        return self.rate("reopen_rate")

    @property
    def return_rate(self) -> float | None:
        """退单率."""
        return self.rate("return_rate")

    @property
    def participation_rate(self) -> float | None:
        """参与率."""
        return self.rate("participation_rate")

    def score(self, weights: Mapping[str, float] | None = None) -> float | None:
        """The composite score out of 100, or None when no weighted rate has data."""
        weights = weights if weights is not None else load_figures_config().weights
        total = weight_sum = Fraction(0)
        for name in RATE_NAMES:
            weight = Fraction(weights.get(name, 0.0))
            parts = self.fraction(name)
            if not weight or parts is None:
                continue
            value = Fraction(*parts)
            total += weight * (1 - value if name in LOWER_IS_BETTER else value)
            weight_sum += weight
        if not weight_sum:
            return None
        return float(round(total / weight_sum * 100, 1))

    def as_dict(self, weights: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Counts, rates (0 to 1, or None) and score, for JSON."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.median_hours_to_resolve is not None:
            data["median_hours_to_resolve"] = round(self.median_hours_to_resolve, 2)
        for name in RATE_NAMES:
            value = self.rate(name)
            data[name] = None if value is None else round(value, 4)
        data["score"] = self.score(weights)
        return data


COUNT_NAMES: tuple[str, ...] = tuple(
    f.name
    for f in fields(Figures)
    if f.name not in {"median_hours_to_resolve", "reporters", "neighbour_heads"}
)


@dataclass(frozen=True)
class Report:
    """The overall figures of a scope and the breakdowns asked for, in display order."""

    scope: Scope
    place_name: str
    place_kind: str
    overall: Figures
    breakdowns: dict[str, list[tuple[str, Figures]]] = field(default_factory=dict)


def compute_figures(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    place: Place | None = None,
    config: FiguresConfig | None = None,
) -> Figures:
    """The figures of tickets created in [start, end) in the place's subtree."""
    scope = Scope(start=start, end=end, as_of=as_of, place=place)
    return compute_report(session, scope, config=config).overall


def breakdown(
    session: Session,
    by: BreakdownKey,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    place: Place | None = None,
    config: FiguresConfig | None = None,
) -> list[tuple[str, Figures]]:
    """The figures of each 片区, village, category or assignee, as (label, figures) rows."""
    scope = Scope(start=start, end=end, as_of=as_of, place=place)
    return compute_report(session, scope, by=(by,), config=config).breakdowns[by]


def compute_report(
    session: Session,
    scope: Scope,
    by: Sequence[BreakdownKey] = (),
    config: FiguresConfig | None = None,
) -> Report:
    """The overall figures and the breakdowns `by`, sharing one grouped pass over the tickets."""
    unknown = [key for key in by if key not in BREAKDOWN_KEYS]
    if unknown:
        raise ValueError(f"unknown breakdown {unknown[0]!r}; use one of {BREAKDOWN_KEYS}")
    config = config or load_figures_config()
    conn = session.connection()
    _tune(conn)
    query = _Query(conn, scope)
    places = _Places.load(conn, scope)
    place_keys = [key for key in by if key in PLACE_KEYS]

    # A read-only report shares its work with a second connection on another core: on SQLite
    # the grouped pass over half the villages and the overall and category medians, on
    # PostgreSQL all the medians. The work is split, not repeated: on a busy machine the
    # report takes what one connection takes, on an idle one about a third less.
    with_assignee = "assignee" in by
    beside = _Beside.start(session, scope, places, by, with_assignee)
    try:
        rows = query.group_counts(with_assignee, beside.parts if beside else (None,))
        if beside is not None:
            rows += beside.rows()
        groups = _grouped(rows, places, by, with_assignee)
        resolved = COUNT_NAMES.index("resolved")
        sizes = {
            key: {group: sums[resolved] for group, sums in table.items()}
            for key, table in groups.items()
        }
        if beside is not None:
            sizes = beside.walk(sizes)
        medians = query.medians(sizes)
        reporters = query.reporters(place_keys)
        heads = _neighbour_heads(conn, scope, place_keys, places)
    finally:
        walked = beside.result() if beside is not None else {}
    medians |= walked
    width = len(COUNT_NAMES)

    def figures(key: str, group: Any) -> Figures:
        sums = groups[key].get(group, [0] * width)
        extra: dict[str, Any] = {"median_hours_to_resolve": medians.get((key, group))}
        if key == "all" or key in PLACE_KEYS:
            extra["reporters"] = reporters.get((key, group), 0)
            extra["neighbour_heads"] = heads.get((key, group))
        return Figures(**dict(zip(COUNT_NAMES, sums, strict=True)), **extra)

    breakdowns: dict[str, list[tuple[str, Figures]]] = {}
    for key in by:
        present: set[Any] = set(groups[key])
        if key in PLACE_KEYS:
            present |= places.ids(key)  # a village without tickets is a row too
        rows = [(group, figures(key, group)) for group in present]
        rows.sort(key=lambda row: places.sort_key(key, row[0], row[1], config))
        labels = places.labels(conn, key, [group for group, _ in rows], config)
        breakdowns[key] = [(labels[group], fig) for group, fig in rows]
    if scope.place is not None:
        home: tuple[str, str] | None = (scope.place.name, scope.place.kind)
    else:
        home = _home_place(conn)
    return Report(
        scope=scope,
        place_name=home[0] if home else "",
        place_kind=home[1] if home else PlaceKind.town.value,
        overall=figures("all", None),
        breakdowns=breakdowns,
    )


def _tune(conn: Connection) -> None:
    """Settings for a report's transaction on PostgreSQL (none on SQLite)."""
    if conn.dialect.name == "postgresql":
        # For this transaction only: sorts and hashes of a county's tickets fit in memory,
        # and compiling each query to machine code (JIT) costs more than it saves here.
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        conn.exec_driver_sql("SET LOCAL jit = off")


def _grouped(
    rows: Sequence[tuple[Any, ...]], places: _Places, by: Sequence[str], with_assignee: bool
) -> dict[str, dict[Any, list[int]]]:
    """The grouped pass, summed per breakdown: {key: {group: counts in COUNT_NAMES order}}."""
    # The pass returns a few thousand group rows, never tickets; adding them up here is what
    # lets one pass serve the overall figures and every breakdown.
    groups: dict[str, dict[Any, list[int]]] = {key: {} for key in ("all", *by)}
    width = len(COUNT_NAMES)
    for row in rows:
        village, category = row[0], row[1]
        counts = row[3:] if with_assignee else row[2:]
        keys = {
            "all": None,
            "village": village,
            "zone": places.zone_of(village),
            "category": category,
            "assignee": row[2] if with_assignee else None,
        }
        for key, table in groups.items():
            sums = table.setdefault(keys[key], [0] * width)
            for i, value in enumerate(counts):
                sums[i] += value
    return groups


def scope_filter(session: Session, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE terms of the collected tickets of a scope, in the dialect's fastest form."""
    return _Query(session.connection(), scope).in_scope()


def ledger_filter(session: Session, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE terms of the 台账's tickets: the collected ones and those merged into another.

    A duplicate is not collected (it is counted once, as the ticket it was merged into), but it
    was reported: the 台账 lists it with its state and the ticket it went into.
    """
    query = _Query(session.connection(), scope)
    left_out = [s for s in NOT_COLLECTED if s is not TicketState.duplicate]
    return [*query.in_period(), *(TICKET.c.state != s.value for s in left_out)]


# ---------------------------------------------------------------- the headline


class _Day(date):
    """A date whose format also understands %-m and %-d (no leading zero) on every platform."""

    def __format__(self, spec: str) -> str:
        if not spec:
            return f"{self.year}年{self.month}月{self.day}日"
        spec = spec.replace("%-m", str(self.month)).replace("%-d", str(self.day))
        return self.strftime(spec)


def _day(value: date) -> _Day:
    return _Day(value.year, value.month, value.day)


def format_percent(parts: tuple[int, int] | None, decimals: int = 1, trim: bool = True) -> str:
    """A rate as the town writes it: 99.5%, 100%; a dash when there is nothing to divide."""
    # Tables pass trim=False, so that a column reads 97.0% beside 96.5%.
    if parts is None:
        return "—"
    exact = Decimal(parts[0] * 100) / Decimal(parts[1])
    shown = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text_value = f"{shown:f}"
    if trim and "." in text_value and not shown % 1:
        text_value = text_value.split(".")[0]  # 100.0% reads as 100%
    return f"{text_value}%"


def headline_fields(report: Report, config: FiguresConfig | None = None) -> dict[str, Any]:
    """Every field the headline template may use."""
    config = config or load_figures_config()
    figures = report.overall
    values: dict[str, Any] = {
        "as_of": _day(report.scope.as_of_day),
        "start": _day(report.scope.first_day),
        "end": _day(report.scope.last_day),
        "place": report.place_name,
        "unit": PLACE_KIND_NAMES.get(PlaceKind(report.place_kind), "镇"),
        "neighbour_heads": figures.neighbour_heads or 0,
        "reporters": figures.reporters or 0,
        "median_hours": (
            "—"
            if figures.median_hours_to_resolve is None
            else f"{figures.median_hours_to_resolve:.1f}"
        ),
        "score": "—" if figures.score(config.weights) is None else figures.score(config.weights),
    }
    for name in COUNT_NAMES:
        values[name] = getattr(figures, name)
    for name in RATE_NAMES:
        values[name] = format_percent(figures.fraction(name), config.percent_decimals)
    return values


def headline(report: Report, config: FiguresConfig | None = None) -> str:
    """The town's sentence, e.g. 截至2026年9月30日，我镇1038名邻长收集到……解决率99.5%。"""
    config = config or load_figures_config()
    try:
        return config.headline.format(**headline_fields(report, config))
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"the headline template in the figures file is wrong: {exc}") from exc


# ---------------------------------------------------------------- the queries

TICKET = SQLModel.metadata.tables[Ticket.__tablename__]
PLACE = SQLModel.metadata.tables[Place.__tablename__]
PERSON = SQLModel.metadata.tables[Person.__tablename__]
PERSON_ROLE = SQLModel.metadata.tables[PersonRole.__tablename__]


def _plain(column: Any, sqlite: bool) -> Any:
    # SQLite gives DATETIME columns NUMERIC affinity, so every comparison of two stored strings
    # first tries to read them as numbers; a unary + strips the affinity (a quarter or so
    # of the grouped pass). PostgreSQL has real timestamps, and no unary + for them.
    if not sqlite:
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def _path_within(path: Any, prefix: Any, sqlite: bool) -> ColumnElement[bool]:
    """`path` lies in the subtree whose path is `prefix` (a string or a path column)."""
    if not sqlite:
        return cast(ColumnElement[bool], path.like(prefix + "%"))
    # SQLite cannot use an index for LIKE, but can for a range: paths hold digits and "/", and
    # every path below "/1/4/" sorts before "/1/40" because "/" < "0".
    if isinstance(prefix, str):
        upper: Any = prefix[:-1] + "0"
    else:
        upper = func.substr(prefix, 1, func.length(prefix) - 1, type_=String).concat("0")
    return and_(path >= prefix, path < upper)


def _null(type_: Any) -> Any:
    return sql_cast(null(), type_)


class _Query:
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
        return _plain(column, self.sqlite)

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
            conditions.append(_path_within(path, self.scope.place.path, self.sqlite))
        return conditions

    def in_scope(self) -> list[ColumnElement[bool]]:
        """In the period and collected: not a draft, invalid or a duplicate."""
        return [*self.in_period(), *(TICKET.c.state != s.value for s in NOT_COLLECTED)]

    def group_counts(
        self, with_assignee: bool, parts: Sequence[_Part] = (None,)
    ) -> list[tuple[Any, ...]]:
        """Counts per (village, category[, assignee]), the leading columns of ix_ticket_report."""
        # Each part is a range of the index's first column, so that two connections can each
        # read half the villages: None is every ticket, ("null",) those without a village,
        # ("below", id) and ("from", id) the villages on either side of an id.
        t = TICKET.c
        rows: list[tuple[Any, ...]] = []
        for part in parts:
            condition: ColumnElement[bool] = true()
            if part is not None:
                kind, split = part
                condition = {
                    "null": t.village_id.is_(None),
                    "below": t.village_id < split,
                    "from": t.village_id >= split,
                }[kind]
            stmt, width = self._count_statement(with_assignee, condition)
            rows += [
                (*row[:width], *(int(value or 0) for value in row[width:]))
                for row in self.conn.execute(stmt)
            ]
        return rows

    def _count_statement(
        self, with_assignee: bool, part: ColumnElement[bool]
    ) -> tuple[Select[Any], int]:
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
            .where(*self.in_period(), part)
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
                _null(Integer),
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
            return self._sqlite_medians(sizes)
        return self._postgresql_medians(sizes)

    def _postgresql_medians(
        self, groups: Mapping[str, Mapping[Any, int]]
    ) -> dict[tuple[str, Any], float]:
        # One scan for every grouping asked for (GROUPING SETS); GROUPING() tells which set a
        # row belongs to: its bit is 0 for the grouped column, 1 for the others.
        t = TICKET.c
        village, zone = PLACE.alias("village"), PLACE.alias("zone")
        columns = {**_GROUP_COLUMNS, "zone": zone.c.id}
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

    def _sqlite_medians(
        self, sizes: Mapping[str, Mapping[Any, int]]
    ) -> dict[tuple[str, Any], float]:
        # SQLite has no percentile: per group, walk the resolved tickets in the order of the time
        # they took and read the middle one or two (LIMIT 2 OFFSET (n-1)/2), n known from the
        # grouped pass. With ix_ticket_resolve_time[_village|_category] a walk reads half its
        # group from an index; other keys sort one group at a time. The walks go straight to
        # the driver, on the same connection and snapshot: hundreds of tiny statements are
        # otherwise mostly SQLAlchemy's overhead.
        to_db = TICKET.c.created_at.type.bind_processor(self.conn.dialect)
        assert to_db is not None  # UTCDateTime always converts
        conditions = ["+ticket.created_at >= ?", "+ticket.created_at < ?"]
        params: tuple[Any, ...] = (to_db(self.scope.start), to_db(self.scope.end))
        if self.scope.place is not None:
            conditions += ["+ticket.place_path >= ?", "+ticket.place_path < ?"]
            params += (self.scope.place.path, self.scope.place.path[:-1] + "0")
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        result: dict[tuple[str, Any], float] = {}
        try:
            for key, table in sizes.items():
                for group, n in table.items():
                    if not n:
                        continue
                    sql = _sqlite_walk(key, group, conditions)
                    values = params + (() if key == "all" or group is None else (group,))
                    cursor.execute(sql, (*values, 2 - n % 2, (n - 1) // 2))
                    middle = cursor.fetchone()[0]
                    if middle is not None:
                        result[(key, group)] = float(middle) * 24
        finally:
            cursor.close()
        return result


@lru_cache(maxsize=64)
def _sqlite_walk_cached(key: str, null_group: bool, conditions: tuple[str, ...]) -> str:
    index = _SQLITE_MEDIAN_INDEXES.get(key)
    where = [SQLITE_RESOLVED_STATES, *conditions]
    if key != "all":
        where.append(_sqlite_group_condition(key, None if null_group else 0))
    # Every piece is a constant of this module; values are bound parameters.
    return (
        f"SELECT avg(days) FROM (SELECT {SQLITE_RESOLVE_DAYS} AS days "  # noqa: S608
        f"FROM ticket{f' INDEXED BY {index}' if index else ''} "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {SQLITE_RESOLVE_DAYS} LIMIT ? OFFSET ?)"
    )


def _sqlite_walk(key: str, group: Any, conditions: list[str]) -> str:
    """The ordered walk to the middle of one group's resolved tickets (SQLite, qmark style)."""
    return _sqlite_walk_cached(key, group is None, tuple(conditions))


_SQLITE_MEDIAN_INDEXES = {
    "all": "ix_ticket_resolve_time",
    "village": "ix_ticket_resolve_time_village",
    "category": "ix_ticket_resolve_time_category",
}


def _sqlite_group_condition(key: str, group: Any) -> str:
    """The SQL of one group of a breakdown; a group's value is its one parameter."""
    if key == "zone":
        zones = "SELECT v.id FROM place v JOIN place z ON z.id = v.parent_id WHERE z.kind = 'zone'"
        if group is None:
            return f"(ticket.village_id IS NULL OR ticket.village_id NOT IN ({zones}))"
        return f"ticket.village_id IN ({zones} AND z.id = ?)"
    column = {"village": "village_id", "category": "category", "assignee": "assignee_id"}[key]
    return f"ticket.{column} IS NULL" if group is None else f"ticket.{column} = ?"


_GROUP_COLUMNS: dict[str, Any] = {
    "village": TICKET.c.village_id,
    "category": TICKET.c.category,
    "assignee": TICKET.c.assignee_id,
}


class _Beside:
    """A second connection, in a thread, that takes a share of a read-only report's work."""

    # The medians it walks on SQLite once the grouped pass has told it their sizes; the
    # calling thread walks the others (by village, 片区, assignee) meanwhile.
    SQLITE_KEYS = ("all", "category")

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        parts: tuple[_Part, ...],
        keys: list[str],
        counted: Future[list[tuple[Any, ...]]],
        sizes: Future[dict[str, dict[Any, int]]],
        work: Future[dict[tuple[str, Any], float]],
    ) -> None:
        self.executor = executor
        self.parts = parts  # the caller's share of the grouped pass
        self.keys = keys
        self.counted = counted
        self.sizes = sizes
        self.work = work

    @classmethod
    def start(
        cls, session: Session, scope: Scope, places: _Places, by: Sequence[str], assignee: bool
    ) -> _Beside | None:
        """Start the thread, or None where a second connection would not see the same data."""
        # Only a read-only session of a file database qualifies: a session that has written
        # may hold changes another connection cannot see, and ":memory:" is per connection.
        conn = session.connection()
        if not conn.get_execution_options().get("sqlite_read_only"):  # set by read_session
            return None
        sqlite = conn.dialect.name == "sqlite"
        if sqlite and conn.engine.url.database in (None, "", ":memory:"):
            return None
        if scope.place is not None:
            # A detached copy: the thread must never make the caller's session load anything.
            place = scope.place
            copy = Place(id=place.id, name=place.name, kind=place.kind, path=place.path)
            scope = replace(scope, place=copy)
        counted: Future[list[tuple[Any, ...]]] = Future()
        sizes: Future[dict[str, dict[Any, int]]] = Future()
        mine: _Part = None
        parts: tuple[_Part, ...] = (None,)
        if sqlite:
            keys = [key for key in cls.SQLITE_KEYS if key == "all" or key in by]
            split = places.split()
            if split is not None:
                mine, parts = ("from", split), (("null", 0), ("below", split))
            else:
                counted.set_result([])
        else:
            # PostgreSQL groups in parallel itself; percentile_cont needs no sizes, so all the
            # medians start at once.
            keys = ["all", *by]
            counted.set_result([])
            sizes.set_result({key: {} for key in keys})
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures")
        work = executor.submit(_beside, conn.engine, scope, assignee, mine, counted, sizes)
        return cls(executor, parts, keys, counted, sizes, work)

    def rows(self) -> list[tuple[Any, ...]]:
        """The thread's share of the grouped pass (waits for it)."""
        return self.counted.result()

    def walk(self, sizes: dict[str, dict[Any, int]]) -> dict[str, dict[Any, int]]:
        """Hand the thread the sizes of its medians; return those the caller walks itself."""
        if not self.sizes.done():
            self.sizes.set_result({key: sizes[key] for key in self.keys})
        return {key: table for key, table in sizes.items() if key not in self.keys}

    def result(self) -> dict[tuple[str, Any], float]:
        """Wait for the thread: the medians it computed."""
        if not self.sizes.done():  # the caller failed on the way: let the thread stop too
            self.sizes.set_exception(RuntimeError("the report stopped"))
        try:
            return self.work.result()
        finally:
            self.executor.shutdown(wait=True)


def _beside(
    engine: Engine,
    scope: Scope,
    assignee: bool,
    part: _Part,
    counted: Future[list[tuple[Any, ...]]],
    sizes: Future[dict[str, dict[Any, int]]],
) -> dict[tuple[str, Any], float]:
    with engine.connect() as conn:
        conn.execution_options(sqlite_read_only=True)  # BEGIN, not BEGIN IMMEDIATE
        with conn.begin():
            _tune(conn)
            query = _Query(conn, scope)
            if not counted.done():
                try:
                    counted.set_result(query.group_counts(assignee, (part,)))
                except BaseException as exc:
                    counted.set_exception(exc)
                    raise
            return query.medians(sizes.result())


def _neighbour_heads(
    conn: Connection, scope: Scope, place_keys: Sequence[str], places: _Places
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
        stmt = stmt.where(_path_within(at.c.path, scope.place.path, conn.dialect.name == "sqlite"))
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
class _Places:
    """The villages and 片区 with their names and tree order; which of them the scope holds."""

    villages: dict[int, tuple[str, str, int | None]]  # id → name, path, 片区 id
    zones: dict[int, tuple[str, str]]  # id → name, path
    towns: dict[int, str]
    inside: str  # the scope's path: villages and 片区 below it are rows even without tickets

    @classmethod
    def load(cls, conn: Connection, scope: Scope) -> _Places:
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

    def split(self) -> int | None:
        """A village id that halves the scope's villages, or None when there are too few."""
        ids = sorted(self.ids("village"))
        return ids[len(ids) // 2] if len(ids) >= 2 else None

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
                labels[g] = name if repeated[name] == 1 else f"{name}（{where}）"
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


def _home_place(conn: Connection) -> tuple[str, str] | None:
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
