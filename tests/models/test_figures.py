"""Figures checked against counts written out in plain Python over the same tickets.

A small county is built row by row: two towns, 片区, villages, 邻长 (one inactive), cadres, and
tickets with known outcomes — the edge cases by hand, the rest drawn at random. Every figure
the database computes is compared with an independent count over the ticket specs.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from config.figures import FiguresConfig, load_figures_config
from config.taxonomy import load_taxonomy
from models.db import read_session, unit_of_work
from models.figures import (
    BREAKDOWN_KEYS,
    Figures,
    Scope,
    breakdown,
    compute_figures,
    compute_report,
    format_percent,
    headline,
    period_scope,
)
from models.person import Person, PersonRole, Role
from models.place import Place, PlaceKind, add_place
from models.ticket import OPEN_STATES, Ticket, TicketState

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, tzinfo=SHANGHAI)
END = datetime(2026, 10, 1, tzinfo=SHANGHAI)  # the period is January to September
AS_OF = END
S = TicketState


def cst(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Spec:
    """One ticket as the test knows it: the row's fields and where it lies in the tree."""

    village: str | None  # a village name, or None for a town-level ticket
    state: TicketState
    created: datetime
    category: str | None = "road"
    reporter: str | None = "head:张家村:1"
    assignee: str | None = "cadre:张家村"
    assigned: datetime | None = None
    accepted: datetime | None = None
    ack_due: datetime | None = None
    resolved: datetime | None = None
    resolve_due: datetime | None = None
    rating: str | None = None
    reopen_count: int = 0
    return_count: int = 0
    note: str = ""
    id: int | None = None


@dataclass
class County:
    """The built county: place and person ids by name, and the tickets' specs."""

    places: dict[str, Place] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    town_of: dict[str, str] = field(default_factory=dict)  # village → town
    zone_of: dict[str, str | None] = field(default_factory=dict)  # village → 片区
    specs: list[Spec] = field(default_factory=list)


# town → 片区 → villages (a None 片区: the village hangs under the town directly)
TREE = {
    "桃花镇": {"东片": ["张家村", "李家村"], "西片": ["王家村"], None: ["河口社区"]},
    "杏林镇": {"南片": ["赵家村", "张家村"]},  # a second 张家村, in another town
}
HEADS = {"张家村": 3, "李家村": 2, "王家村": 2, "河口社区": 1, "赵家村": 2}


def build_county(engine: Engine, specs: Iterable[Spec]) -> County:
    """Places, 邻长 and cadres by hand, then the tickets written with the model classes."""
    county = County()
    phones = iter(range(13800000000, 13899999999))
    with unit_of_work(engine) as session:
        root = add_place(session, "桃江县", PlaceKind.county)
        county.places["桃江县"] = root

        def person(key: str, name: str, place: Place, role: Role, active: bool = True) -> None:
            someone = Person(name=name, phone=str(next(phones)), place_id=place.id, active=active)  # type: ignore[arg-type]
            session.add(someone)
            session.flush()
            session.add(PersonRole(person_id=someone.id, role=role.value))  # type: ignore[arg-type]
            county.people[key] = someone

        for town_name, zones in TREE.items():
            town = add_place(session, town_name, PlaceKind.town, root)
            county.places[town_name] = town
            person(f"dispatcher:{town_name}", f"{town_name[0]}调度", town, Role.dispatcher)
            for zone_name, villages in zones.items():
                parent = town
                if zone_name is not None:
                    parent = add_place(session, zone_name, PlaceKind.zone, town)
                    county.places[zone_name] = parent
                for village_name in villages:
                    village = add_place(session, village_name, PlaceKind.village, parent)
                    key = village_name if town_name == "桃花镇" else f"{town_name}:{village_name}"
                    county.places[key] = village
                    county.town_of[key] = town_name
                    county.zone_of[key] = zone_name
                    group = add_place(session, "1组", PlaceKind.group, village, number=1)
                    county.places[f"{key}:1组"] = group
                    person(f"cadre:{key}", f"{village_name[0]}支书", village, Role.village_cadre)
                    for n in range(1, HEADS.get(village_name, 1) + 1):
                        # Alternate 邻长 between the village itself and its group.
                        where = group if n % 2 else village
                        person(
                            f"head:{key}:{n}",
                            f"{village_name[0]}邻长{n}",
                            where,
                            Role.neighbour_head,
                        )
        # Off the roster: an inactive 邻长 is not counted.
        person("head:张家村:gone", "张离职", county.places["张家村"], Role.neighbour_head, False)
        for spec in specs:
            ticket = _ticket(county, spec)
            session.add(ticket)
            session.flush()
            spec.id = ticket.id
            county.specs.append(spec)
    return county


def _ticket(county: County, spec: Spec) -> Ticket:
    if spec.village is None:
        place = county.places["桃花镇"]
        village_id = None
    else:
        village = county.places[spec.village]
        place = county.places[f"{spec.village}:1组"]
        village_id = village.id
    person = county.people
    return Ticket(
        state=spec.state.value,
        channel="wechat",
        sender=f"openid-{spec.reporter}",
        reporter_id=person[spec.reporter].id if spec.reporter else None,
        text=spec.note or "路灯坏了",
        summary=spec.note or "路灯坏了",
        category=spec.category,
        village_id=village_id,
        place_id=place.id,
        place_path=place.path,
        assignee_id=person[spec.assignee].id if spec.assignee else None,
        assigned_at=spec.assigned,
        accepted_at=spec.accepted,
        ack_due_at=spec.ack_due,
        resolved_at=spec.resolved,
        resolve_due_at=spec.resolve_due,
        rating=spec.rating,
        rated_at=spec.resolved + timedelta(hours=6) if spec.rating and spec.resolved else None,
        reopen_count=spec.reopen_count,
        return_count=spec.return_count,
        created_at=spec.created,
        updated_at=spec.resolved or spec.created,
    )


def lifecycle(
    village: str | None,
    created: datetime,
    *,
    state: TicketState = S.closed,
    ack_after: timedelta | None = timedelta(hours=2),
    resolve_after: timedelta | None = timedelta(days=2),
    rating: str | None = "satisfied",
    **fields: object,
) -> Spec:
    """A ticket assigned at creation with 1-day / 7-day limits, acknowledged and resolved after."""
    assigned = created + timedelta(minutes=5)
    spec = Spec(
        village=village,
        state=state,
        created=created,
        assigned=assigned,
        ack_due=assigned + timedelta(days=1),
        resolve_due=assigned + timedelta(days=7),
        accepted=assigned + ack_after if ack_after is not None else None,
        resolved=assigned + resolve_after if resolve_after is not None else None,
        rating=rating,
    )
    if village is not None and "assignee" not in fields:
        spec.assignee = f"cadre:{village}"
    if village is not None and "reporter" not in fields:
        spec.reporter = f"head:{village}:1"
    for name, value in fields.items():
        setattr(spec, name, value)
    return spec


def edge_cases() -> list[Spec]:
    """Every case the issue names, and the boundaries of period, place and deadlines."""
    return [
        lifecycle("张家村", cst(3, 2), note="closed, satisfied"),
        lifecycle("张家村", cst(3, 3), rating="basic", note="closed, basic"),
        lifecycle(
            "张家村",
            cst(3, 4),
            state=S.assigned,
            rating="unsatisfied",
            reopen_count=1,
            note="reopened after resolution, back with the cadre",
        ),
        lifecycle(
            "张家村", cst(3, 5), reopen_count=1, rating="satisfied", note="reopened, solved again"
        ),
        lifecycle("李家村", cst(3, 6), rating="unrated", note="auto-closed without a rating"),
        lifecycle("李家村", cst(4, 1), state=S.duplicate, rating=None, note="duplicate"),
        Spec(village="李家村", state=S.invalid, created=cst(4, 2), assignee=None, note="invalid"),
        Spec(village="李家村", state=S.draft, created=cst(4, 3), assignee=None, note="a draft"),
        lifecycle("张家村", START.astimezone(UTC) - timedelta(days=1), note="the day before"),
        lifecycle("张家村", START.astimezone(UTC), note="the first instant of the period"),
        lifecycle("王家村", END.astimezone(UTC), note="the first instant after the period"),
        lifecycle(
            "王家村",
            cst(9, 30, 23, 50),
            state=S.assigned,
            ack_after=None,
            resolve_after=None,
            rating=None,
            note="not yet due to be acknowledged",
        ),
        lifecycle(
            "王家村",
            cst(9, 30, 23, 40),
            state=S.accepted,
            ack_after=timedelta(minutes=10),
            resolve_after=None,
            rating=None,
            note="acknowledged before its deadline came",
        ),
        lifecycle(
            "王家村",
            cst(9, 1),
            state=S.in_progress,
            resolve_after=None,
            rating=None,
            note="open and overdue",
        ),
        lifecycle(
            "王家村",
            cst(9, 28),
            state=S.in_progress,
            resolve_after=None,
            rating=None,
            note="open, not yet due",
        ),
        lifecycle(
            "王家村",
            cst(8, 1),
            state=S.assigned,
            ack_after=None,
            resolve_after=None,
            rating=None,
            note="never acknowledged, past both deadlines",
        ),
        lifecycle("河口社区", cst(5, 1), ack_after=timedelta(days=3), note="acknowledged late"),
        lifecycle("河口社区", cst(5, 2), resolve_after=timedelta(days=9), note="resolved late"),
        lifecycle("河口社区", cst(5, 3), return_count=1, note="returned once, then solved"),
        lifecycle(
            "河口社区",
            cst(5, 4),
            state=S.returned,
            resolve_after=None,
            rating=None,
            ack_after=None,
            return_count=0,  # a 退单 only once the dispatcher approves it
            note="returned, waiting for the dispatcher",
        ),
        lifecycle(
            None,
            cst(6, 1),
            assignee="dispatcher:桃花镇",
            reporter="head:张家村:2",
            note="a town-level ticket without a village",
        ),
        lifecycle("李家村", cst(6, 2), category=None, note="no category"),
        lifecycle("李家村", cst(6, 3), state=S.resolved, rating=None, note="resolved, unrated yet"),
        lifecycle(
            "杏林镇:赵家村",
            cst(6, 4),
            reporter="head:杏林镇:赵家村:1",
            note="the sibling town (outside 桃花镇)",
        ),
        lifecycle(
            "杏林镇:张家村",
            cst(6, 5),
            reporter="head:杏林镇:张家村:1",
            note="a second 张家村, in the sibling town",
        ),
        Spec(
            village="李家村",
            state=S.submitted,
            created=cst(7, 1),
            assignee=None,
            note="submitted, not assigned yet",
        ),
    ]


def random_tickets(seed: int, count: int) -> list[Spec]:
    """Tickets with random outcomes across both towns, so groups hold more than one."""
    rng = random.Random(seed)
    villages = ["张家村", "李家村", "王家村", "河口社区", "杏林镇:赵家村", "杏林镇:张家村"]
    specs = []
    for _ in range(count):
        village = rng.choice(villages)
        created = cst(
            rng.randint(1, 10), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
        )
        state = rng.choice(
            [
                S.closed,
                S.closed,
                S.closed,
                S.resolved,
                S.in_progress,
                S.assigned,
                S.accepted,
                S.reopened,
                S.invalid,
                S.duplicate,
            ]
        )
        done = state in (S.closed, S.resolved)
        heads = HEADS[village.split(":")[-1]]
        specs.append(
            lifecycle(
                village,
                created,
                state=state,
                category=rng.choice(["road", "water", "power", "dispute"]),
                reporter=f"head:{village}:{rng.randint(1, heads)}",
                ack_after=timedelta(hours=rng.uniform(0.1, 40)) if rng.random() < 0.9 else None,
                resolve_after=timedelta(hours=rng.uniform(1, 300)) if done else None,
                rating=rng.choice(["satisfied", "basic", "unsatisfied", "unrated", None])
                if done
                else None,
                reopen_count=int(rng.random() < 0.15),
                return_count=int(rng.random() < 0.15),
                note="random",
            )
        )
    return specs


def active_heads(county: County, prefix: str = "head:") -> int:
    """邻长 on the roster whose key starts with `prefix` (the inactive one left out)."""
    return sum(1 for key, p in county.people.items() if key.startswith(prefix) and p.active)


# ---------------------------------------------------------------- the independent count


def expected(specs: Iterable[Spec], as_of: datetime, heads: int | None = None) -> Figures:
    """The figures of these tickets (already chosen for period and place), counted in Python."""
    collected = [s for s in specs if s.state not in (S.draft, S.invalid, S.duplicate)]
    resolved = [s for s in collected if s.state in (S.resolved, S.closed)]
    acknowledged = [s for s in collected if s.accepted is not None]
    due = [s for s in collected if s.accepted is not None or (s.ack_due and s.ack_due <= as_of)]
    pleased = [s for s in collected if s.rating in ("satisfied", "basic")]
    # Every 不满意 reopened its ticket once: they are answers too, though later 满意 replaced them.
    answers = len(pleased) + sum(s.reopen_count for s in collected)
    hours = [(s.resolved - s.created).total_seconds() / 3600 for s in resolved if s.resolved]
    reporters = {s.reporter for s in collected if s.reporter}
    return Figures(
        collected=len(collected),
        resolved=len(resolved),
        resolved_on_time=sum(
            1 for s in resolved if s.resolved and s.resolve_due and s.resolved <= s.resolve_due
        ),
        ack_due=len(due),
        acknowledged_on_time=sum(
            1 for s in acknowledged if s.ack_due and s.accepted and s.accepted <= s.ack_due
        ),
        rated=answers,
        satisfied=len(pleased),
        resolutions=sum(1 for s in collected if s in resolved or s.reopen_count > 0),
        reopened=sum(1 for s in collected if s.reopen_count > 0),
        assigned=sum(1 for s in collected if s.assigned is not None),
        returned=sum(1 for s in collected if s.return_count > 0),
        overdue=sum(
            1
            for s in collected
            if s.state in OPEN_STATES and s.resolve_due and s.resolve_due < as_of
        ),
        median_hours_to_resolve=statistics.median(hours) if hours else None,
        reporters=len(reporters),
        neighbour_heads=heads,
    )


def in_period(spec: Spec) -> bool:
    return START <= spec.created < END


def assert_same(actual: Figures, wanted: Figures, what: str) -> None:
    for name in Figures.__dataclass_fields__:
        a, w = getattr(actual, name), getattr(wanted, name)
        if name == "median_hours_to_resolve" and a is not None and w is not None:
            assert a == pytest.approx(w, abs=1e-5), f"{what}: {name}"
        else:
            assert a == w, f"{what}: {name} is {a}, counted {w}"


@pytest.fixture
def county(engine: Engine) -> County:
    return build_county(engine, edge_cases() + random_tickets(seed=8, count=120))


def town_scope(county: County) -> Scope:
    return Scope(start=START, end=END, as_of=AS_OF, place=county.places["桃花镇"])


def in_town(county: County) -> Callable[[Spec], bool]:
    return lambda s: in_period(s) and (s.village is None or county.town_of[s.village] == "桃花镇")


# ---------------------------------------------------------------- the tests


def test_town_figures_match_an_independent_count(engine: Engine, county: County) -> None:
    mine = [s for s in county.specs if in_town(county)(s)]
    notes = {s.note for s in mine}
    # The boundaries fell where they should before anything is compared.
    assert "the first instant of the period" in notes
    assert "the first instant after the period" not in notes
    assert "the day before" not in notes
    assert "the sibling town (outside 桃花镇)" not in notes

    with Session(engine) as session:
        figures = compute_figures(
            session, start=START, end=END, as_of=AS_OF, place=county.places["桃花镇"]
        )
    heads = sum(HEADS[v] for v in ("张家村", "李家村", "王家村", "河口社区"))
    wanted = expected(mine, AS_OF, heads)
    assert_same(figures, wanted, "桃花镇")
    # The counts are not trivially equal: every figure has something to tell apart.
    assert 0 < figures.resolved < figures.collected
    assert figures.overdue > 0 and figures.reopened > 0 and figures.returned > 0
    assert figures.ack_due < figures.collected  # the not-yet-due ticket is not judged


def test_edge_cases_count_as_the_definitions_say(engine: Engine) -> None:
    """Only the hand-made cases, so each one's effect on the figures can be read off."""
    county = build_county(engine, edge_cases())
    with Session(engine) as session:
        figures = compute_figures(
            session, start=START, end=END, as_of=AS_OF, place=county.places["桃花镇"]
        )
    # 26 cases; out: draft, invalid, duplicate, the day before, the instant after, two in 杏林镇.
    assert figures.collected == 19
    # closed x2, solved again, unrated auto-close, the first instant, late ack, late, returned
    # then solved, town-level, no category, resolved-unrated.
    assert figures.resolved == 11
    assert figures.reopened == 2 and figures.resolutions == 12  # + the one being redone
    # 9 pleased answers and the 2 不满意 that reopened tickets; unrated and unanswered are not.
    assert figures.rated == 11
    assert figures.satisfied == 9
    # being redone, open and overdue, never acknowledged, returned and waiting
    assert figures.overdue == 4
    # not judged: the one not yet due, and the submitted one without a deadline
    assert figures.ack_due == 17
    assert figures.acknowledged_on_time == 14  # not: late, never, returned-waiting
    assert figures.resolved_on_time == 10  # not: the late one
    # returned once (approved), then solved; the one waiting for the dispatcher is no 退单 yet
    assert figures.returned == 1 and figures.assigned == 18
    assert figures.reporters == 5 and figures.neighbour_heads == 8
    assert_same(
        figures,
        expected([s for s in county.specs if in_town(county)(s)], AS_OF, 8),
        "edge cases",
    )


@pytest.mark.parametrize("by", BREAKDOWN_KEYS)
def test_breakdowns_match_an_independent_count(engine: Engine, county: County, by: str) -> None:
    mine = [s for s in county.specs if in_town(county)(s)]

    def key(spec: Spec) -> str | None:
        if by == "village":
            return spec.village
        if by == "zone":
            return county.zone_of.get(spec.village) if spec.village else None
        if by == "category":
            return spec.category
        return spec.assignee

    labels = {
        "village": {v: v for v in ("张家村", "李家村", "王家村", "河口社区")}
        | {None: "（未定村）"},
        "zone": {"东片": "东片", "西片": "西片", None: "（不在片区）"},
        "category": {
            code: load_taxonomy().get(code).name for code in ("road", "water", "power", "dispute")
        }
        | {None: "（未分类）"},
    }
    with Session(engine) as session:
        rows = breakdown(
            session,
            by,  # type: ignore[arg-type]
            start=START,
            end=END,
            as_of=AS_OF,
            place=county.places["桃花镇"],
            config=load_figures_config(taxonomy=load_taxonomy()),
        )
    groups: dict[str | None, list[Spec]] = {}
    for spec in mine:
        groups.setdefault(key(spec), []).append(spec)
    if by in ("village", "zone"):
        for name in labels[by]:
            if name is not None:
                groups.setdefault(name, [])  # places without tickets are rows too
    assert len(rows) == len(groups)
    seen = set()
    for group, specs in groups.items():
        if by == "assignee":
            label = county.people[group].name if group else "（未派单）"
        else:
            label = labels[by][group]
        matches = [figures for name, figures in rows if name == label]
        assert len(matches) == 1, f"{by}: one row named {label}, got {[r[0] for r in rows]}"
        heads = None
        if by == "village" and group:
            heads = active_heads(county, f"head:{group}:")
        elif by == "zone" and group:
            villages = [v for v, z in county.zone_of.items() if z == group]
            heads = sum(active_heads(county, f"head:{v}:") for v in villages)
        wanted = expected(specs, AS_OF, heads)
        if by in ("category", "assignee"):
            wanted = Figures(**{**wanted.__dict__, "reporters": None})
        assert_same(matches[0], wanted, f"{by} {label}")
        seen.add(label)
    assert len(seen) == len(rows)
    if by == "village":  # tree order, the ticket without a village last
        assert [name for name, _ in rows] == [
            "张家村",
            "李家村",
            "王家村",
            "河口社区",
            "（未定村）",
        ]


def test_the_whole_county_a_village_and_a_group(engine: Engine, county: County) -> None:
    """No place: every ticket; a village or a group: its own subtree and nothing beside it."""
    with Session(engine) as session:
        whole = compute_figures(session, start=START, end=END, as_of=AS_OF)
        zhang = compute_figures(
            session, start=START, end=END, as_of=AS_OF, place=county.places["张家村"]
        )
        group = compute_figures(
            session, start=START, end=END, as_of=AS_OF, place=county.places["张家村:1组"]
        )
    everyone = active_heads(county)
    assert_same(whole, expected([s for s in county.specs if in_period(s)], AS_OF, everyone), "all")
    # 张家村 of 桃花镇 only — the other 张家村 lies in the sibling town.
    mine = [s for s in county.specs if in_period(s) and s.village == "张家村"]
    assert_same(zhang, expected(mine, AS_OF, HEADS["张家村"]), "张家村")
    # Every ticket of the test sits in a village's 1组; half the 邻长 sit on the village itself.
    assert_same(group, expected(mine, AS_OF, (HEADS["张家村"] + 1) // 2), "张家村 1组")


def test_as_of_decides_which_deadlines_have_passed(engine: Engine) -> None:
    county = build_county(engine, edge_cases())
    place = county.places["桃花镇"]
    early = cst(9, 30, 12)  # before the last ticket's ack deadline and some resolve deadlines
    with Session(engine) as session:
        figures = compute_figures(session, start=START, end=END, as_of=early, place=place)
    mine = [s for s in county.specs if in_town(county)(s)]
    assert_same(figures, expected(mine, early, 8), "as of noon on 30 September")


def test_an_empty_period_has_no_rates(engine: Engine, county: County) -> None:
    with Session(engine) as session:
        figures = compute_figures(
            session,
            start=datetime(2030, 1, 1, tzinfo=UTC),
            end=datetime(2030, 2, 1, tzinfo=UTC),
            as_of=datetime(2030, 2, 1, tzinfo=UTC),
        )
    assert figures.collected == 0 and figures.median_hours_to_resolve is None
    assert figures.resolution_rate is None and figures.score() is None
    assert figures.neighbour_heads == active_heads(county)
    assert figures.participation_rate == 0


def test_headline_in_the_towns_style(engine: Engine, county: County) -> None:
    with Session(engine) as session:
        report = compute_report(session, town_scope(county))
    figures = report.overall
    sentence = headline(report)
    rate = format_percent((figures.resolved, figures.collected))
    assert sentence == (
        f"截至2026年9月30日，我镇{figures.neighbour_heads}名邻长收集到群众“急难愁盼”民生问题"
        f"{figures.collected}件，已解决{figures.resolved}件，解决率{rate}。"
    )
    custom = FiguresConfig(headline="{place}{start:%-m月%-d日}至{end}：满意率{satisfaction_rate}")
    satisfied = format_percent((figures.satisfied, figures.rated))
    assert headline(report, custom) == f"桃花镇1月1日至2026年9月30日：满意率{satisfied}"
    with pytest.raises(ValueError, match="headline"):
        headline(report, FiguresConfig(headline="{no_such_field}"))


def test_a_one_town_database_says_wo_zhen(engine: Engine) -> None:
    """Without a place, a county holding one town reports as that town (我镇, its 邻长)."""
    with unit_of_work(engine) as session:
        county = add_place(session, "桃江县", PlaceKind.county)
        add_place(session, "大栗港镇", PlaceKind.town, county)
    with Session(engine) as session:
        scope = period_scope(date(2026, 1, 1), None, now=cst(9, 30, 15))
        report = compute_report(session, scope)
    assert report.place_name == "大栗港镇"
    assert headline(report).startswith("截至2026年9月30日，我镇0名邻长")
    assert scope.as_of == cst(9, 30, 15)  # the period runs to today: as of now


@pytest.mark.parametrize(
    ("parts", "shown"),
    [
        ((794, 798), "99.5%"),
        ((1, 1), "100%"),
        ((1, 2), "50%"),
        ((1, 8), "12.5%"),
        ((2, 3), "66.7%"),
        ((1, 3), "33.3%"),
        ((0, 5), "0%"),
        (None, "—"),
    ],
)
def test_percentages_read_like_the_towns(parts: tuple[int, int] | None, shown: str) -> None:
    assert format_percent(parts) == shown


def test_score_weighs_rates_and_skips_missing_ones() -> None:
    figures = Figures(
        collected=10,
        resolved=8,
        ack_due=10,
        acknowledged_on_time=10,
        reopened=1,
        resolutions=8,
        assigned=10,
        returned=0,
    )
    weights = {
        "resolution_rate": 1.0,
        "response_rate": 1.0,
        "reopen_rate": 2.0,
        "satisfaction_rate": 5.0,
    }  # no ratings: satisfaction is left out
    wanted = (0.8 * 1 + 1.0 * 1 + (1 - 1 / 8) * 2) / 4 * 100
    assert figures.score(weights) == round(wanted, 1)
    assert load_figures_config().weights["resolution_rate"] > 0


def test_a_read_only_report_gives_the_same_figures_beside(
    engine: Engine, county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only PostgreSQL report computes its medians on a second connection; same figures."""
    import models.figures.beside

    calls: list[list[str]] = []
    real = models.figures.beside._medians_beside

    def spy(*args: Any) -> Any:
        calls.append(args[2])  # the medians the second connection computes
        return real(*args)

    monkeypatch.setattr(models.figures.beside, "_medians_beside", spy)
    scope = town_scope(county)
    with Session(engine) as session:
        alone = compute_report(session, scope, by=BREAKDOWN_KEYS)
    assert calls == []  # a session that may write keeps everything on its own connection
    with read_session(engine) as session:
        beside = compute_report(session, scope, by=BREAKDOWN_KEYS)
    # SQLite gained nothing from a second connection (bench/report_bench.py): it keeps to one.
    assert calls == ([] if engine.dialect.name == "sqlite" else [["all", *BREAKDOWN_KEYS]])
    assert beside.overall == alone.overall
    assert beside.breakdowns == alone.breakdowns
    calls.clear()
    one = replace(load_figures_config(), second_connection=False)
    with read_session(engine) as session:
        single = compute_report(session, scope, by=BREAKDOWN_KEYS, config=one)
    assert calls == []  # the figures file turns it off
    assert single.overall == alone.overall
    assert single.breakdowns == alone.breakdowns


def test_the_figures_file_is_checked(tmp_path: Path) -> None:
    from config.figures import FiguresConfigError, load_figures_config, parse_figures_config

    default = load_figures_config()
    assert default.headline.startswith("截至{as_of:%Y年%-m月%-d日}")
    assert default.category_name("road") == "road"  # names come only from a taxonomy given
    named = load_figures_config(taxonomy=load_taxonomy())
    assert named.category_name("road") == "道路交通"
    assert named.category_name("no-such-code") == "no-such-code"
    custom = tmp_path / "figures.toml"
    custom.write_text('headline = "{collected}"\n[score]\nresolution_rate = 1\n', "utf-8")
    loaded = load_figures_config(custom)
    assert loaded.headline == "{collected}" and loaded.weights["resolution_rate"] == 1.0
    assert loaded.weights["on_time_rate"] == default.weights["on_time_rate"]
    for bad, message in [
        ({"headlines": "x"}, "unknown key"),
        ({"score": {"speed": 1}}, "unknown rate"),
        ({"score": {"resolution_rate": -1}}, "≥ 0"),
        ({"score": {"resolution_rate": True}}, "≥ 0"),
        ({"score": dict.fromkeys(default.weights, 0)}, "above 0"),
        ({"percent_decimals": 9}, "0 to 4"),
        ({"labels": {"no_village": ""}}, "non-empty"),
        ({"second_connection": "yes"}, "true or false"),
    ]:
        with pytest.raises(FiguresConfigError, match=message):
            parse_figures_config(bad)
