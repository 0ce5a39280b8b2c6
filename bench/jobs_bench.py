"""The scheduled jobs at county scale: `jobs run sla_sweep` and `jobs run weekly_digest`.

Builds a county in a fresh database (a temporary SQLite file, and PostgreSQL): report_bench's 20
towns with ~21,000 邻长, 720 village cadres, 240 站所 members, a dispatcher and three leaders per
town (or, with --demo-town, the demo town seeded by `demo seed`); bulk-inserts SIZE open tickets
assigned to them with deadlines from the SLA file and calendar, then runs
the jobs through the CLI entry point (`grievance-bot jobs run NAME --now …`), each in its own
process with a timeout, in this order:

- sla_sweep at Monday 09:00, a moment with nothing due (every reminder still ahead);
- weekly_digest at the same Monday, the week's first run, then again: nothing left to send;
- sla_sweep at 13:00: urgent tickets past their 签收 deadline and urgent reminders are due;
- sla_sweep five minutes later: nothing new is due.

For each run it prints the wall time (or "did not finish in N s") and the job's outcome line; on
SQLite also the longest write transaction (BEGIN IMMEDIATE to COMMIT: the time the writer lock is
held, while the webhook waits), measured in the job's process with SQLAlchemy events. The job
process uses GRIEVANCE_DELIVERY=wechat so that `jobs run` does not also deliver the console
outbox: the figure is the job's alone. Before each run its job's slot claim is cleared, so a
repeated run runs again instead of finding its slot taken.

    .venv/bin/python bench/jobs_bench.py [--sizes 10000,100000] [--timeout 120]
        [--pg postgresql://postgres@127.0.0.1:5432/test_f_jobs] [--no-pg] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report_bench import (  # noqa: E402
    CATEGORIES,
    PHRASES,
    TICKET_COLUMNS,
    TIMES,
    _insert_roster,
    _sqlite_time,
    build_roster,
)

from config.calendar import TIMEZONE  # noqa: E402

MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=TIMEZONE)  # an ordinary working Monday
RUNS = [
    ("sla_sweep", MONDAY, "nothing due"),
    ("weekly_digest", MONDAY, "first run of the week"),
    ("weekly_digest", MONDAY, "again: nothing to send"),
    ("sla_sweep", MONDAY + timedelta(hours=4), "urgent deadlines due"),
    ("sla_sweep", MONDAY + timedelta(hours=4, minutes=5), "five minutes later: nothing new"),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(GRIEVANCE_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


# ---- the job's process: the CLI, with the write transactions timed -------------------------


def child(name: str, now: str, stats_path: Path) -> None:
    """Run `grievance-bot jobs run NAME --now NOW`, recording write-transaction durations."""
    from sqlalchemy import Engine, event

    from bot.cli import main

    stats: dict[str, Any] = {
        "writes": 0,
        "longest_ms": 0.0,
        "longest_first": "",
        "total_ms": 0.0,
        "open_since": None,
        "job_s": None,
    }

    def save() -> None:
        stats_path.write_text(json.dumps(stats))

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_read_only"):
            return
        conn.info["bench_begin"] = time.perf_counter()
        conn.info["bench_first"] = None
        stats["open_since"] = time.time()
        save()

    def statement(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        # The transaction's first statement after BEGIN says which part of the job it is.
        if (
            "bench_begin" in conn.info
            and conn.info.get("bench_first") is None
            and not sql.lstrip().upper().startswith("BEGIN")
        ):
            conn.info["bench_first"] = " ".join(sql.split())[:60]

    def end(conn: Any) -> None:
        started = conn.info.pop("bench_begin", None)
        if started is None:
            return
        held = (time.perf_counter() - started) * 1000
        stats["writes"] += 1
        stats["total_ms"] += held
        if held > stats["longest_ms"]:
            stats["longest_ms"] = held
            stats["longest_first"] = conn.info.get("bench_first") or ""
        stats["open_since"] = None
        save()

    event.listen(Engine, "begin", begin)
    event.listen(Engine, "commit", end)
    event.listen(Engine, "rollback", end)
    event.listen(Engine, "before_cursor_execute", statement)
    save()
    started = time.perf_counter()
    try:
        main(["jobs", "run", name, "--now", now], standalone_mode=True)
    finally:
        stats["job_s"] = time.perf_counter() - started
        save()


# ---- filling the database ------------------------------------------------------------------


LEADERS_PER_TOWN = 3


def seed(url: str, county: bool, seed_value: int) -> None:
    """The demo town (seeded through the CLI, as an office would), or report_bench's county."""
    if county:
        seed_county(url, seed_value)
        return
    env = clean_env(GRIEVANCE_DATABASE_URL=url, GRIEVANCE_INSTANCE_PATH=tempfile.mkdtemp())
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "seed"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )


def seed_county(url: str, seed_value: int) -> None:
    """report_bench's county (20 towns, ~21,000 邻长) plus three leaders per town, migrated."""
    from models.db import make_engine
    from models.migrate import upgrade

    roster = build_roster(random.Random(seed_value))
    pid = max(p[0] for p in roster.people)
    for town_id in roster.unit_members:
        for n in range(LEADERS_PER_TOWN):
            pid += 1
            roster.people.append((pid, f"领导{town_id}-{n}", f"1{3 + pid % 7}{pid:09d}", town_id))
            roster.roles.append((pid, "leader"))
    engine = make_engine(url)
    upgrade(engine)
    raw = engine.raw_connection()
    try:
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        _insert_roster(raw.cursor().executemany, roster, mark)
        if engine.dialect.name == "postgresql":
            cursor = raw.cursor()
            for table in ("place", "person"):
                cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()


def town(url: str) -> dict[str, Any]:
    """The groups, 邻长, village cadres, 站所 members (by town) and each village's town."""
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        places = {
            pid: (kind, parent, path, number)
            for pid, kind, parent, path, number in conn.execute(
                text("SELECT id, kind, parent_id, path, number FROM place")
            )
        }
        roles: dict[str, list[tuple[int, int]]] = {}
        for pid, place, role in conn.execute(
            text(
                "SELECT p.id, p.place_id, r.role FROM person p "
                "JOIN person_role r ON r.person_id = p.id WHERE p.active"
            )
        ):
            roles.setdefault(role, []).append((pid, place))
    engine.dispose()
    groups = [
        (pid, parent, path, number)
        for pid, (kind, parent, path, number) in places.items()
        if kind == "group"
    ]
    heads: dict[int, list[int]] = {}
    for person, place in roles.get("neighbour_head", []):
        heads.setdefault(place, []).append(person)
    cadres: dict[int, list[int]] = {}
    for person, place in roles.get("village_cadre", []):
        cadres.setdefault(place, []).append(person)
    units: dict[int, list[int]] = {}  # by town
    for person, place in roles.get("unit_member", []):
        units.setdefault(place, []).append(person)
    # The town of each village: the ancestor on its path that has 站所 members.
    town_of = {
        pid: next(int(a) for a in path.strip("/").split("/") if int(a) in units)
        for pid, (kind, _, path, _) in places.items()
        if kind == "village"
    }
    return {"groups": groups, "heads": heads, "cadres": cadres, "units": units, "town": town_of}


def tickets(roster: dict[str, Any], count: int, seed_value: int) -> list[list[Any]]:
    """`count` open tickets as of MONDAY: nothing due yet, urgent ones due within hours."""
    from config.calendar import load_calendar
    from config.settings import get_settings
    from config.sla import load_sla
    from models.deadlines import deadlines_for, next_alert_at
    from models.ticket import Ticket

    rng = random.Random(seed_value)
    sla = load_sla(get_settings().sla_file)
    calendar = load_calendar(get_settings().holidays_file)
    codes = [c for c, _, _ in CATEGORIES]
    weights = [w for _, w, _ in CATEGORIES]
    levels = {c: level for c, _, level in CATEGORIES}
    now = MONDAY.astimezone(UTC)
    cache: dict[tuple[bool, str, datetime], tuple[datetime, datetime]] = {}
    looks: dict[tuple[bool, str, datetime, str], datetime | None] = {}
    rows = []
    for ticket_id in range(1, count + 1):
        group, village, path, number = rng.choice(roster["groups"])
        reporter = rng.choice(roster["heads"].get(group) or [None])
        category = rng.choices(codes, weights)[0]
        urgent = rng.random() < 0.08
        waiting = rng.random() < 0.2  # assigned, waiting for 签收; else accepted or in progress
        if waiting:
            back = rng.uniform(5, 60 if urgent else 180)  # minutes
        else:
            back = rng.uniform(5, 17 * 60 if urgent else 6 * 24 * 60)
        assigned = (now - timedelta(minutes=back)).replace(second=0, microsecond=0)
        key = (urgent, category, assigned)
        if key not in cache:
            cache[key] = deadlines_for(urgent, category, assigned, sla=sla, calendar=calendar)
        ack_due, resolve_due = cache[key]
        if levels[category] == "village" and roster["cadres"].get(village):
            assignee = rng.choice(roster["cadres"][village])
            route = f"village:{village}"
        else:
            assignee = rng.choice(roster["units"][roster["town"][village]])
            route = f"unit:{category}"
        created = assigned - timedelta(minutes=rng.uniform(0.5, 4))
        state = "assigned" if waiting else rng.choice(("accepted", "accepted", "in_progress"))
        accepted = None if waiting else min(assigned + timedelta(minutes=rng.uniform(2, 90)), now)
        phrase = rng.choice(PHRASES)
        # As the sweep leaves it: the moment of the ticket's first step not yet due.
        look = (urgent, category, assigned, state)
        if look not in looks:
            held = Ticket(
                state=state,
                channel="wechat",
                sender="",
                category=category,
                urgent=urgent,
                assignee_id=assignee,
                created_at=created,
                assigned_at=assigned,
                ack_due_at=ack_due,
                resolve_due_at=resolve_due,
                updated_at=assigned,
            )
            looks[look] = next_alert_at(held, {}, sla=sla, calendar=calendar)
        row: dict[str, Any] = dict.fromkeys(TICKET_COLUMNS)
        row.update(
            id=ticket_id,
            state=state,
            channel="wechat",
            sender=f"o{reporter or 0:08d}wxopenid",
            reporter_id=reporter,
            text=f"{number}{phrase}",
            summary=f"{number}{phrase[:18]}",
            category=category,
            confidence=0.9,
            village_id=village,
            group_number=number,
            place_id=group,
            place_path=path,
            urgent=urgent,
            households=rng.randint(1, 30),
            assignee_id=assignee,
            route=route,
            reopen_count=0,
            return_count=0,
            created_at=created,
            assigned_at=assigned,
            accepted_at=accepted,
            ack_due_at=ack_due,
            resolve_due_at=resolve_due,
            next_alert_at=looks[look],
            updated_at=accepted or assigned,
        )
        rows.append([row[c] for c in TICKET_COLUMNS])
    return rows


def fill_sqlite(path: Path, count: int, seed_value: int, county: bool) -> str:
    url = f"sqlite:///{path}"
    seed(url, county, seed_value)
    rows = tickets(town(url), count, seed_value)
    for row in rows:
        for i in range(TIMES, len(row)):
            row[i] = _sqlite_time(row[i])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO ticket ({', '.join(TICKET_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))})",
        rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return url


def fill_postgresql(url: str, count: int, seed_value: int, county: bool) -> str:
    from sqlalchemy import text

    from models.db import make_engine

    ensure_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    seed(url, county, seed_value)
    rows = tickets(town(url), count, seed_value)
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY ticket ({', '.join(TICKET_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("SELECT setval('ticket_id_seq', (SELECT max(id) FROM ticket))")
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url


def ensure_database(url: str) -> None:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    name = engine.url.database
    admin = make_engine(engine.url.set(database="postgres").render_as_string(hide_password=False))
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


# ---- timing ------------------------------------------------------------------------------


def clear_claim(url: str, job: str) -> None:
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM job_run WHERE job = :job"), {"job": job})
    engine.dispose()


def timed_run(url: str, job: str, now: datetime, timeout: int, workdir: Path) -> None:
    clear_claim(url, job)
    stats_path = workdir / "stats.json"
    stats_path.unlink(missing_ok=True)
    env = clean_env(
        GRIEVANCE_DATABASE_URL=url,
        GRIEVANCE_INSTANCE_PATH=str(workdir / "instance"),
        GRIEVANCE_DELIVERY="wechat",
    )
    cmd = [sys.executable, str(Path(__file__).resolve())]
    cmd += ["--child", job, "--now", now.isoformat(), "--stats", str(stats_path)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        elapsed = time.perf_counter() - started
        outcome = (out.strip().splitlines() or [""])[-1]
        figure = f"{elapsed:7.2f} s"
        if proc.returncode:
            outcome = f"exit {proc.returncode}: {out.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        figure = f"did not finish in {timeout} s"
        outcome = ""
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    if stats.get("job_s") is not None:
        figure += f" (the command after imports: {stats['job_s']:.2f} s)"
    held = ""
    if url.startswith("sqlite") and stats:
        longest = stats["longest_ms"]
        if stats.get("open_since"):  # killed inside a write transaction
            longest = max(longest, (time.time() - stats["open_since"]) * 1000)
        held = (
            f"; writer held at most {longest:,.0f} ms "
            f"({stats['writes']} write transactions, {stats['total_ms']:,.0f} ms in all; "
            f"the longest began with {stats['longest_first'] or '?'})"
        )
    print(f"    {figure}{held}", flush=True)
    if outcome:
        print(f"      {outcome}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000", help="open tickets, comma-separated")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per job run")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test_f_jobs")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--demo-town", action="store_true", help="the demo town (1038 邻长) instead of a county"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--stats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.now, args.stats)
        return

    workdir = Path(tempfile.mkdtemp(prefix="grievance-jobs-"))
    backends = [] if args.no_sqlite else ["SQLite"]
    backends += [] if args.no_pg else ["PostgreSQL"]
    where = "the demo town" if args.demo_town else "a county of 20 towns (report_bench's)"
    print(f"machine: {os.cpu_count()} cores; {where}, timeout {args.timeout} s per run")
    for size in [int(s) for s in args.sizes.split(",")]:
        for backend in backends:
            started = time.perf_counter()
            if backend == "SQLite":
                path = workdir / f"jobs-{size}.sqlite3"
                url = fill_sqlite(path, size, args.seed, not args.demo_town)
            else:
                url = fill_postgresql(args.pg, size, args.seed, not args.demo_town)
            filled = time.perf_counter() - started
            print(f"{backend}, {size:,} open tickets (filled in {filled:.0f} s)", flush=True)
            for job, now, what in RUNS:
                local = now.astimezone(TIMEZONE).strftime("%a %H:%M")
                print(f"  {job} at {local}, {what}", flush=True)
                timed_run(url, job, now, args.timeout, workdir)
            if backend == "SQLite":
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
