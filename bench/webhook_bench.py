"""Webhook answer time under concurrent load, against a real `grievance-bot serve` on loopback.

Starts the server on a fresh SQLite instance (or GRIEVANCE_DATABASE_URL), then sends signed,
encrypted messages from CONCURRENCY threads and prints the median and 99th-percentile times.

    .venv/bin/python bench/webhook_bench.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bot.phone import Phone, message_xml, text_fields
from config.settings import Settings

TEXTS = ["帮助", "你好", "3组的路灯坏了", "菜单", "谢谢"]
# With --report, bound 邻长 send problems: parse, route, assign, outbox — the heaviest path.
REPORTS = [
    "我们组的路灯坏了一个多月，晚上黑漆漆的",
    "自来水停了两天了，十几户没水吃",
    "山塘的坝漏水了，下面的田灌不上水",
    "隔壁两家为宅基地边界吵起来了",
    "垃圾好多天没人来收，臭得很",
]


def neighbour_heads(instance: Path, count: int) -> list[tuple[str, str]]:
    """(name, phone) of `count` 邻长 of the demo town the server seeded."""
    from sqlmodel import Session, col, select

    from models.db import make_engine
    from models.person import Person, PersonRole, Role

    engine = make_engine(f"sqlite:///{instance / 'grievance.sqlite3'}")
    with Session(engine) as session:
        stmt = (
            select(Person.name, Person.phone)
            .join(PersonRole, col(PersonRole.person_id) == Person.id)
            .where(PersonRole.role == Role.neighbour_head.value)
            .order_by(col(Person.id))
            .limit(count)
        )
        rows = [(name, phone) for name, phone in session.exec(stmt)]
    engine.dispose()
    return rows


def wait_until_up(url: str, deadline: float) -> None:
    while time.time() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=0.5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def count_tickets(instance: Path) -> int:
    """Tickets in the bench's database (to see the reports really became tickets)."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from models.db import make_engine
    from models.ticket import Ticket

    engine = make_engine(f"sqlite:///{instance / 'grievance.sqlite3'}")
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(Ticket)).one()
    engine.dispose()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--report", action="store_true", help="bound 邻长 report problems (creates tickets)"
    )
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="grievance-bench-"))
    env = {**os.environ, "GRIEVANCE_INSTANCE_PATH": str(instance), "GRIEVANCE_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(args.port), "--threads", "16"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_until_up(url, time.time() + 30)
        settings = Settings(_env_file=None, instance_path=instance).with_development_credentials()  # type: ignore[call-arg]
        phone = Phone(settings)
        times: list[float] = []
        errors = 0
        lock = threading.Lock()
        per_thread = args.requests // args.concurrency
        texts = TEXTS
        if args.report:
            texts = REPORTS
            for n, (name, phone_number) in enumerate(neighbour_heads(instance, args.concurrency)):
                signed = phone.sign(
                    message_xml(text_fields(f"bench-{n}", f"绑定 {name} {phone_number}"))
                )
                requests.post(url + "/wechat", params=signed.query, data=signed.body, timeout=10)

        def worker(n: int) -> None:
            nonlocal errors
            session = requests.Session()
            for i in range(per_thread):
                fields = text_fields(f"bench-{n}", texts[i % len(texts)])
                signed = phone.sign(message_xml(fields))
                started = time.perf_counter()
                response = session.post(
                    url + "/wechat", params=signed.query, data=signed.body, timeout=10
                )
                elapsed = time.perf_counter() - started
                with lock:
                    times.append(elapsed)
                    if response.status_code != 200:
                        errors += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        kind = "bound 邻长 reporting problems" if args.report else "help, greetings, menu"
        print(f"messages      {kind}")
        print(f"requests      {len(times)} ({errors} errors), concurrency {args.concurrency}")
        print(f"median        {statistics.median(times) * 1000:.1f} ms")
        print(f"p99           {p99 * 1000:.1f} ms")
        print(f"max           {times[-1] * 1000:.1f} ms")
        print(f"throughput    {len(times) / wall:.0f} requests/s")
        if args.report:
            print(f"tickets made  {count_tickets(instance)}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
