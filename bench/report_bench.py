"""The full report on one million tickets over a county, on SQLite and PostgreSQL.

Fills a database with a county-sized tree (20 towns, ~21,000 邻长) and TICKETS tickets spread
over 2025, then times the full report a clerk asks for — the headline figures, the breakdown by
village and by category — against the plain GROUP BY that is its floor on the same rows, and
prints both and their ratio. The SQLite file lives in bench/out/ (ignored by git); `--reuse`
keeps an already filled database so a rerun only times.

    .venv/bin/python bench/report_bench.py [--tickets 1000000] [--reuse]
        [--pg postgresql://postgres@127.0.0.1:5432/bench_figures] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alembic.util import CommandError
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session

from bot.cli_report import ledger_rows
from config.figures import FiguresConfig
from models.db import make_engine, read_session
from models.figures import TICKET, Scope, compute_report, headline, scope_filter
from models.migrate import upgrade
from models.place import Place

OUT = Path(__file__).with_name("out")
SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2025, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
# The fill happens as the year ends, so December's tickets are partly still open.
FILL_NOW = YEAR_END

TOWNS = 20
ZONES_PER_TOWN = 3
VILLAGES_PER_ZONE = (5, 7)
GROUPS_PER_VILLAGE = (8, 16)
NEIGHBOUR_HEADS = 21_000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "建国红军志强秀英桂兰春华德明海燕玉梅文斌新民金花国平小军丽娟永福长生爱华冬梅光荣"
PLACE_SYLLABLES = "大小栗山河金牛双合马鞭溪松木桥九湖黄道仑张家童子安宁毛羊坪朱刘德茂园杨嘴石竹"
CATEGORIES = [
    ("road", 18, "town"),
    ("water", 14, "town"),
    ("irrigation", 9, "town"),
    ("power", 8, "town"),
    ("environment", 12, "village"),
    ("social_security", 9, "town"),
    ("medical", 4, "town"),
    ("education", 3, "town"),
    ("housing", 5, "village"),
    ("agriculture", 5, "town"),
    ("dispute", 6, "village"),
    ("safety", 4, "town"),
    ("other", 3, "village"),
]
PHRASES = [
    "组的路灯坏了半个月了，晚上出门看不见，老人摔了一跤，请尽快来修一下。",
    "组通组路上有个大坑，下雨天积水，摩托车过不去，麻烦派人看看。",
    "组停水三天了，家家户户没得水吃，水管可能爆了，请水利站来看下。",
    "组山塘的闸门坏了，放不了水，田里要干了，请帮忙联系一下。",
    "组变压器老是跳闸，一天停好几次电，冰箱都坏了。",
    "组垃圾好久没人收了，堆在路边发臭，夏天苍蝇多。",
    "组有户五保老人房子漏雨，墙也裂了，担心住不安全。",
    "组两家为了宅基地界线吵起来了，请村里来调解一下。",
    "组低保的事想问一下，申请交上去两个月没有消息。",
    "组河边没有护栏，小孩放学经过很危险，请装个栏杆。",
]
RESULTS = ["已安排维修完毕", "已现场处理", "已协调解决", "已回复群众并办结", "已更换设备"]


@dataclass
class Roster:
    """The generated county: places, 邻长 by village and handlers by village and town."""

    places: list[tuple[int, str, str, int | None, str, int, int | None]] = field(
        default_factory=list
    )
    people: list[tuple[int, str, str, int]] = field(default_factory=list)
    roles: list[tuple[int, str]] = field(default_factory=list)
    # (person id, village id, place id, place path, group number)
    reporters: list[tuple[int, int, int, str, int]] = field(default_factory=list)
    village_cadres: dict[int, list[int]] = field(default_factory=dict)
    unit_members: dict[int, list[int]] = field(default_factory=dict)  # by town id
    town_of_village: dict[int, int] = field(default_factory=dict)


def build_roster(rng: random.Random) -> Roster:
    """A county of TOWNS towns with 片区, villages and groups, and its people."""
    roster = Roster()
    next_place = iter(range(1, 10**7))
    next_person = iter(range(1, 10**7))
    used_names: set[str] = set()

    def place_name(suffix: str) -> str:
        while True:
            name = "".join(rng.sample(PLACE_SYLLABLES, 2)) + suffix
            if name not in used_names:
                used_names.add(name)
                return name

    def add(name: str, kind: str, parent: tuple[int, str] | None, number: int | None = None):
        pid = next(next_place)
        path = f"{parent[1] if parent else '/'}{pid}/"
        depth = path.count("/") - 2
        roster.places.append((pid, name, kind, parent[0] if parent else None, path, depth, number))
        return pid, path

    def person(name: str, place_id: int, *roles: str) -> int:
        pid = next(next_person)
        roster.people.append((pid, name, f"1{3 + pid % 7}{pid:09d}", place_id))
        roster.roles.extend((pid, role) for role in roles)
        return pid

    def name() -> str:
        return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))

    county = add("资江县", "county", None)
    groups: list[tuple[int, int, str, int]] = []  # village id, group id, group path, number
    for _ in range(TOWNS):
        town = add(place_name("镇"), "town", county)
        members = [person(name(), town[0], "unit_member") for _ in range(12)]
        roster.unit_members[town[0]] = members
        person(name(), town[0], "dispatcher")
        for _ in range(ZONES_PER_TOWN):
            zone = add(place_name("片"), "zone", town)
            for _ in range(rng.randint(*VILLAGES_PER_ZONE)):
                village = add(place_name("村"), "village", zone)
                roster.town_of_village[village[0]] = town[0]
                roster.village_cadres[village[0]] = [
                    person(name(), village[0], "village_cadre") for _ in range(2)
                ]
                for number in range(1, rng.randint(*GROUPS_PER_VILLAGE) + 1):
                    group = add(f"{number}组", "group", village, number)
                    groups.append((village[0], group[0], group[1], number))
    for index in range(NEIGHBOUR_HEADS):
        village_id, group_id, group_path, number = groups[index % len(groups)]
        pid = person(name(), group_id, "neighbour_head")
        roster.reporters.append((pid, village_id, group_id, group_path, number))
    return roster


TICKET_COLUMNS = [
    "id",
    "state",
    "channel",
    "sender",
    "reporter_id",
    "text",
    "summary",
    "category",
    "confidence",
    "village_id",
    "group_number",
    "place_id",
    "place_path",
    "urgent",
    "households",
    "assignee_id",
    "route",
    "result",
    "rating",
    "duplicate_of_id",
    "reopen_count",
    "return_count",
    "created_at",
    "first_assigned_at",
    "assigned_at",
    "accepted_at",
    "last_accepted_at",
    "resolved_at",
    "closed_at",
    "rated_at",
    "ack_due_at",
    "resolve_due_at",
    "rating_asked_at",
    "rating_reminded_at",
    "next_alert_at",
    "updated_at",
]
TIMES = TICKET_COLUMNS.index("created_at")


def tickets(roster: Roster, count: int, seed: int) -> Iterator[list[Any]]:
    """Rows for the ticket table in created order; timestamps as aware UTC datetimes."""
    rng = random.Random(seed)
    codes = [c for c, _, _ in CATEGORIES]
    weights = [w for _, w, _ in CATEGORIES]
    levels = {c: level for c, _, level in CATEGORIES}
    # Some 邻长 report often, many rarely, a few never: a skewed choice like a real roster.
    active = roster.reporters[: int(len(roster.reporters) * 0.93)]
    step = (YEAR_END - YEAR_START).total_seconds() / count
    created = YEAR_START
    for ticket_id in range(1, count + 1):
        created += timedelta(seconds=rng.expovariate(1 / step))
        created = min(created, YEAR_END - timedelta(seconds=1))
        reporter, village_id, group_id, group_path, number = active[
            min(int(rng.paretovariate(1.2)) - 1 + rng.randrange(len(active)), len(active) - 1)
        ]
        category = rng.choices(codes, weights)[0]
        urgent = rng.random() < 0.08
        phrase = rng.choice(PHRASES)
        row: dict[str, Any] = dict.fromkeys(TICKET_COLUMNS)
        row.update(
            id=ticket_id,
            channel="wechat",
            sender=f"o{reporter:08d}wxopenid",
            reporter_id=reporter,
            text=f"{number}{phrase}",
            summary=f"{number}{phrase[:18]}",
            category=category,
            confidence=round(rng.uniform(0.4, 1.0), 2),
            village_id=village_id,
            group_number=number,
            place_id=group_id,
            place_path=group_path,
            urgent=urgent,
            households=rng.randint(1, 30),
            route="",
            reopen_count=0,
            return_count=0,
            created_at=created,
            updated_at=created,
        )
        fate = rng.random()
        if fate < 0.004:
            row["state"] = "draft"
        elif fate < 0.024:
            row["state"] = "invalid"
        elif fate < 0.039:
            row["state"] = "duplicate"
            row["duplicate_of_id"] = max(1, ticket_id - rng.randint(1, 50))
        else:
            _life(rng, row, roster, levels[category], village_id)
        yield [row[c] for c in TICKET_COLUMNS]


def _life(
    rng: random.Random, row: dict[str, Any], roster: Roster, level: str, village: int
) -> None:
    """Assign, acknowledge, resolve and rate one ticket with realistic delays."""
    created: datetime = row["created_at"]
    if level == "village":
        assignee = rng.choice(roster.village_cadres[village])
        row["route"] = f"village:{village}"
    else:
        assignee = rng.choice(roster.unit_members[roster.town_of_village[village]])
        row["route"] = f"unit:{row['category']}"
    assigned = created + timedelta(minutes=rng.uniform(1, 40))
    urgent = row["urgent"]
    ack_due = assigned + timedelta(hours=2 if urgent else 24)
    resolve_due = assigned + timedelta(hours=24 if urgent else 7 * 24)
    row.update(
        state="assigned",
        assignee_id=assignee,
        first_assigned_at=assigned,
        assigned_at=assigned,
        ack_due_at=ack_due,
        resolve_due_at=resolve_due,
    )
    if rng.random() < 0.03:  # a 退单 the dispatcher approved: assigned again, to someone else
        row["return_count"] = 1
        assigned += timedelta(hours=rng.uniform(1, 20))
        row["assigned_at"] = assigned
    accepted = assigned + timedelta(hours=rng.lognormvariate(1.0 if not urgent else -0.7, 1.0))
    if accepted > FILL_NOW or rng.random() < 0.003:  # a few are never even acknowledged
        return
    row.update(state="accepted", accepted_at=accepted, last_accepted_at=accepted)
    resolved = accepted + timedelta(hours=rng.lognormvariate(3.3 if not urgent else 1.5, 0.9))
    if resolved > FILL_NOW or rng.random() < 0.006:  # and a few are stuck
        row["state"] = "in_progress"
        return
    row.update(state="resolved", resolved_at=resolved, result=rng.choice(RESULTS))
    row["rating_asked_at"] = resolved + timedelta(minutes=1)
    answer = rng.random()
    if answer < 0.025:
        # 不满意 → 重办: most are resolved again, some are still being redone.
        row.update(reopen_count=1, rating="unsatisfied", rated_at=resolved + timedelta(hours=5))
        again = resolved + timedelta(hours=rng.lognormvariate(3.0, 0.8))
        if again > FILL_NOW or rng.random() < 0.2:
            row.update(state="reopened", resolved_at=None)
            return
        row.update(state="resolved", resolved_at=again, rating=None, rated_at=None)
        resolved = again
        answer = rng.uniform(0.025, 1)
    when = resolved + timedelta(hours=rng.uniform(1, 60))
    if when > FILL_NOW:
        return
    if answer < 0.75:
        row.update(state="closed", rating="satisfied", rated_at=when, closed_at=when)
    elif answer < 0.88:
        row.update(state="closed", rating="basic", rated_at=when, closed_at=when)
    else:
        auto = resolved + timedelta(days=3)
        if auto <= FILL_NOW:
            row.update(state="closed", rating="unrated", closed_at=auto)
            row["rating_reminded_at"] = resolved + timedelta(days=1)
    row["updated_at"] = max(t for t in row.values() if isinstance(t, datetime))


def _sqlite_time(value: datetime | None) -> str | None:
    # The exact text SQLAlchemy's DateTime stores on SQLite, so queries compare like with like.
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill_sqlite(path: Path, roster: Roster, count: int, seed: int) -> None:
    """Create and fill the SQLite file: the migrated schema, bulk inserts, then the indexes."""
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    # A fresh file nobody else reads: no journal, no syncs, and the ticket indexes built once
    # at the end instead of row by row (several times faster).
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    indexes = [
        (name, sql)
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ticket' "
            "AND sql IS NOT NULL"
        )
    ]
    conn.execute("BEGIN")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    _insert_roster(conn.executemany, roster, "?")
    insert = (
        f"INSERT INTO ticket ({', '.join(TICKET_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))})"
    )
    for chunk in _chunks(tickets(roster, count, seed), 50_000):
        for row in chunk:
            for i in range(TIMES, len(row)):
                row[i] = _sqlite_time(row[i])
        conn.executemany(insert, chunk)
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def fill_postgresql(url: str, roster: Roster, count: int, seed: int) -> None:
    """Create the schema in a fresh public schema, COPY the same rows in, then index them."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ticket' "
            "AND indexname <> 'ticket_pkey'"
        )
        indexes = list(cursor.fetchall())
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        _insert_roster(cursor.executemany, roster, "%s")
        copy_sql = f"COPY ticket ({', '.join(TICKET_COLUMNS)}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for row in tickets(roster, count, seed):
                copy.write_row(row)
        for _, sql in indexes:
            cursor.execute(sql)
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _insert_roster(executemany: Callable[[str, Any], Any], roster: Roster, mark: str) -> None:
    def insert(table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join([mark] * len(columns.split(",")))
        executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    insert("place", "id, name, kind, parent_id, path, depth, number", roster.places)
    insert(
        "person",
        "id, name, phone, place_id, active",
        [(*p, True) for p in roster.people],
    )
    insert("person_role", "person_id, role", roster.roles)


def _chunks(rows: Iterator[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    chunk: list[list[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ticket_count(engine: Engine) -> int:
    """How many tickets the database holds (0 when it has no schema)."""
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM ticket")).scalar_one())
    except Exception:  # no table yet: an empty database
        return 0


def county_scope(session: Session) -> Scope:
    """The year 2025 in the whole county, as of the year's end."""
    county = session.get(Place, 1)
    assert county is not None
    return Scope(start=YEAR_START, end=YEAR_END, as_of=YEAR_END, place=county)


def full_report(engine: Engine, read_only: bool = True) -> tuple[str, int, int]:
    """The report a clerk asks for: the headline figures, by village and by category."""
    # `grievance-bot report` reads in a read-only session, which on PostgreSQL lets the report
    # compute its medians on a second connection beside its grouped pass (models/figures/
    # beside.py); a session that may write, and SQLite, keep to one.
    with read_session(engine) if read_only else Session(engine) as session:
        report = compute_report(session, county_scope(session), by=("village", "category"))
    return headline(report), len(report.breakdowns["village"]), len(report.breakdowns["category"])


def ledger_month(engine: Engine) -> int:
    """The 台账's rows for December in the whole county, as `report --xlsx` streams them."""
    with read_session(engine) as session:
        county = session.get(Place, 1)
        assert county is not None
        december = datetime(2025, 12, 1, tzinfo=SHANGHAI).astimezone(UTC)
        scope = Scope(start=december, end=YEAR_END, as_of=YEAR_END, place=county)
        return sum(1 for _ in ledger_rows(session, scope, FiguresConfig()))


def floor_query(engine: Engine) -> int:
    """The plain GROUP BY under the report: collected tickets per (village, category)."""
    # Its rows add up to the headline count and to both breakdowns' counts, so a count-only
    # report could be made from it: no report of the same rows can cost less. It gets the
    # report's scope terms and indexes, so it runs as fast as the database can group them.
    with read_session(engine) as session:
        t = TICKET.c
        stmt = (
            select(t.village_id, t.category, func.count())
            .where(*scope_filter(session, county_scope(session)))
            .group_by(t.village_id, t.category)
        )
        return len(session.connection().execute(stmt).all())


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median wall time of `runs` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(label: str, engine: Engine, runs: int) -> None:
    """Time the full report and its floor on one database and print them."""
    report_s, (sentence, villages, categories) = timed(lambda: full_report(engine), runs)
    single_s, _ = timed(lambda: full_report(engine, read_only=False), runs)
    floor_s, _ = timed(lambda: floor_query(engine), runs)
    ledger_s, listed = timed(lambda: ledger_month(engine), max(1, runs // 2))
    print(
        f"{label}: {ticket_count(engine):,} tickets, {villages} villages, {categories} categories"
    )
    print(f"  {sentence}")
    print(f"  full report     {report_s:7.3f} s   (headline + by village + by category)")
    print(f"  GROUP BY floor  {floor_s:7.3f} s   (collected per village and category, same rows)")
    print(f"  ratio           {report_s / floor_s:7.2f} x")
    print(
        f"  台账 December  {ledger_s:7.3f} s   ({listed:,} ledger rows streamed, "
        f"{listed / ledger_s:,.0f} rows/s; the xlsx writer comes on top)"
    )
    print(
        f"  one connection  {single_s:7.3f} s   ({single_s / floor_s:.2f} x; a session that "
        "may write does not use a second connection)"
    )
    sys.stdout.flush()


def main() -> None:
    """Fill (unless --reuse finds the databases filled), then time and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20260930)
    parser.add_argument("--sqlite", type=Path, default=OUT / "report_bench.sqlite3")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/bench_figures")
    parser.add_argument("--no-pg", action="store_true", help="time SQLite only")
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    roster = build_roster(random.Random(args.seed))
    heads = sum(1 for _, role in roster.roles if role == "neighbour_head")
    print(f"county: {TOWNS} towns, {len(roster.village_cadres)} villages, {heads:,} 邻长")
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; median of {args.runs} runs after a warm-up"
    )

    args.sqlite.parent.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{args.sqlite}"
    if not (args.reuse and args.sqlite.exists() and _filled(sqlite_url, args.tickets)):
        started = time.perf_counter()
        fill_sqlite(args.sqlite, roster, args.tickets, args.seed)
        print(f"filled SQLite in {time.perf_counter() - started:.0f} s")
    engine = make_engine(sqlite_url)
    measure("SQLite", engine, args.runs)
    engine.dispose()

    if args.no_pg:
        return
    _ensure_database(args.pg)
    if not (args.reuse and _filled(args.pg, args.tickets)):
        started = time.perf_counter()
        fill_postgresql(args.pg, roster, args.tickets, args.seed)
        print(f"filled PostgreSQL in {time.perf_counter() - started:.0f} s")
    engine = make_engine(args.pg)
    measure("PostgreSQL", engine, args.runs)
    engine.dispose()


def _filled(url: str, count: int) -> bool:
    """Whether the database holds `count` tickets and upgrades to the code's schema."""
    engine = make_engine(url)
    try:
        if ticket_count(engine) != count:
            return False
        upgrade(engine)  # a reused database gets any index added since it was filled
        return True
    except CommandError as exc:  # its schema history is not the code's any more: fill anew
        print(f"refilling {engine.url.render_as_string(hide_password=True)}: {exc}")
        return False
    finally:
        engine.dispose()


def _ensure_database(url: str) -> None:
    """Create the benchmark's own PostgreSQL database when it does not exist yet."""
    engine = make_engine(url)
    name = engine.url.database
    admin = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


if __name__ == "__main__":
    main()
