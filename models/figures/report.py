"""A report: the overall figures and the breakdowns, from one grouped pass over the tickets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from config.figures import FiguresConfig, load_figures_config
from models.figures.beside import Beside
from models.figures.counts import COUNT_NAMES, Figures, Report
from models.figures.places import Places, home_place, neighbour_heads
from models.figures.queries import Query, tune
from models.figures.scope import BREAKDOWN_KEYS, PLACE_KEYS, BreakdownKey, Scope
from models.place import Place, PlaceKind


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
    tune(conn)
    query = Query(conn, scope)
    places = Places.load(conn, scope)
    place_keys = [key for key in by if key in PLACE_KEYS]

    # A read-only report on PostgreSQL computes its medians on a second connection meanwhile
    # (models/figures/beside.py, where the measurement is).
    with_assignee = "assignee" in by
    beside = Beside.start(session, scope, by, config)
    try:
        rows = query.group_counts(with_assignee)
        groups = grouped(rows, places, by, with_assignee)
        resolved = COUNT_NAMES.index("resolved")
        sizes = {
            key: {group: sums[resolved] for group, sums in table.items()}
            for key, table in groups.items()
        }
        medians = query.medians(sizes) if beside is None else {}
        reporters = query.reporters(place_keys)
        heads = neighbour_heads(conn, scope, place_keys, places)
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
        home = home_place(conn)
    return Report(
        scope=scope,
        place_name=home[0] if home else "",
        place_kind=home[1] if home else PlaceKind.town.value,
        overall=figures("all", None),
        breakdowns=breakdowns,
    )


def grouped(
    rows: Sequence[tuple[Any, ...]], places: Places, by: Sequence[str], with_assignee: bool
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
