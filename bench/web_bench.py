"""The web pages' times on 100,000 tickets (SQLite): the ticket list and the figures page.

Fills bench/out/web_bench.sqlite3 with report_bench's county (20 towns) and TICKETS tickets over
2025, makes one town's dispatcher and a county administrator, then times whole requests
through the app (Flask's test client: rendering included, no network): the list unfiltered and
filtered, a word search, and the figures page for the year. Goal: under 300 ms each.

    .venv/bin/python bench/web_bench.py [--tickets 100000] [--reuse] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import report_bench  # beside this file: the county and its tickets
from sqlalchemy import text

from bot.app import create_app
from config.settings import Settings
from models.db import make_engine
from models.migrate import upgrade
from web.links import sign_in_token

OUT = Path(__file__).with_name("out")
GOAL_MS = 300


def timed(client, path: str, runs: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    response = client.get(path)  # warm-up
    assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260930)
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    path = OUT / "web_bench.sqlite3"
    OUT.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    if not (args.reuse and path.exists()):
        started = time.perf_counter()
        roster = report_bench.build_roster(random.Random(args.seed))
        report_bench.fill_sqlite(path, roster, args.tickets, args.seed)
        print(f"filled {args.tickets:,} tickets in {time.perf_counter() - started:.0f} s")
    engine = make_engine(url)
    upgrade(engine)  # a reused file from an older checkout gets the newest schema
    with engine.begin() as conn:
        dispatcher = conn.execute(
            text("SELECT person_id FROM person_role WHERE role = 'dispatcher' ORDER BY person_id")
        ).scalar()
        admin = conn.execute(text("SELECT max(id) FROM person")).scalar_one()
        conn.execute(
            text("INSERT OR IGNORE INTO person_role (person_id, role) VALUES (:p, 'admin')"),
            {"p": admin},
        )
        count = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
        village = conn.execute(text("SELECT id FROM place WHERE kind = 'village' LIMIT 1")).scalar()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        instance_path=OUT / "web_instance",
        database_url=url,
        web_secret="bench-secret",
        public_url="http://127.0.0.1:8500",
    )
    app = create_app(settings, engine=engine)
    now = datetime.now(UTC)
    print(f"{count:,} tickets; median of {args.runs} requests after a warm-up (goal {GOAL_MS} ms)")
    pages = [
        ("list, everything", "/"),
        ("list, open and overdue", "/?state=open&overdue=1"),
        ("list, one village, page 3", f"/?village={village}&page=3"),
        ("list, search a word", "/?q=%E8%B7%AF%E7%81%AF"),
        ("figures, 2025, by village", "/figures?from=2025-01-01&to=2025-12-31"),
        ("figures, 2025, by category", "/figures?from=2025-01-01&to=2025-12-31&by=category"),
    ]
    worst = 0.0
    for who, person in (("town dispatcher", dispatcher), ("county admin", admin)):
        client = app.test_client()
        client.get(f"/l/{sign_in_token(settings, int(person), '/', now)}")
        for label, page in pages:
            ms, size = timed(client, page, args.runs)
            worst = max(worst, ms)
            print(f"  {who:16} {label:28} {ms:7.1f} ms  ({size / 1024:.0f} KiB)")
    print(f"slowest: {worst:.1f} ms — {'within' if worst < GOAL_MS else 'over'} the goal")
    engine.dispose()


if __name__ == "__main__":
    main()
