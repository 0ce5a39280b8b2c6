"""Outbox messages sent twice or lost when workers are killed with SIGKILL mid-batch.

Enqueues MESSAGES messages on a fresh database (SQLite in a temp folder, or
GRIEVANCE_DATABASE_URL — it must be a throwaway database): a third to 企业微信 cadres, a third
to 公众号 users whose customer-service window is open, a third to users reached by template
messages. Then, again and again, starts `grievance-bot worker` against the fake WeChat API on
loopback (tests/fake_wechat.py: it delivers a send when it receives it and answers
ANSWER_DELAY later, as a real API does, and drops repeats the way WeChat documents), kills it
with SIGKILL at a random moment while it is sending, and lets the lease run out (by moving the
killed worker's lease end to now, instead of waiting the minute). At the end one worker drains
what is left. Prints messages delivered once, duplicates, lost, and the uncertain dead letters
held for the office.

    .venv/bin/python bench/outbox_kill_bench.py [--messages 2000] [--seed 1]
    # the same against another checkout (e.g. the code before the `sending` state):
    git archive 3f31cd4 | tar -x -C /tmp/old
    .venv/bin/python bench/outbox_kill_bench.py --code /tmp/old
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fake_wechat

from sqlalchemy import text  # noqa: E402
from sqlmodel import select  # noqa: E402

import models.tables  # noqa: E402, F401
from handlers import texts  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.db import make_engine, read_session, unit_of_work  # noqa: E402
from models.inbound import InboundMessage  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from models.outbox import OutboxMessage, enqueue  # noqa: E402
from tests.fake_wechat import FakeWeChat, add_people, running_fake  # noqa: E402

TEMPLATES = """
[default]
template_id = "TPL-bench"
[default.fields]
thing2 = "{text}"
"""
PER_PERSON = 4  # fewer than 5: a customer-service window takes them all


def fresh_database(url: str | None, folder: Path) -> str:
    if url is None:
        return f"sqlite:///{folder / 'kill-bench.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def enqueue_messages(url: str, messages: int) -> list[str]:
    """The messages, spread over cadres, open-window users and template users."""
    engine = make_engine(url)
    upgrade(engine)
    groups = max(1, messages // PER_PERSON // 3 + 1)
    cadres = add_people(engine, groups, wecom=True, prefix="cadre")
    window = add_people(engine, groups, wecom=False, openid=True, prefix="cs")
    closed = add_people(engine, groups, wecom=False, openid=True, prefix="tpl")
    now = utcnow()
    with unit_of_work(engine) as session:
        for i in range(groups):  # they wrote an hour ago: their window is open
            session.add(
                InboundMessage(
                    channel="wechat",
                    sender=f"cs-openid-{i}",
                    dedup_key=f"msg:bench-{i}",
                    msg_type="text",
                    received_at=now - timedelta(hours=1),
                )
            )
    kinds = [cadres, window, closed]
    bodies = [f"bench-{i:05d}" for i in range(messages)]
    with unit_of_work(engine) as session:
        for i, body in enumerate(bodies):
            person = kinds[i % 3][i // 3 // PER_PERSON]
            enqueue(session, person_id=person, kind="bench", text=body, now=now)
    engine.dispose()
    return bodies


def worker_env(url: str, folder: Path, fake: FakeWeChat, code: Path) -> dict[str, str]:
    templates = folder / "templates.toml"
    templates.write_text(TEMPLATES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env.update(
        PYTHONPATH=str(code),
        GRIEVANCE_DATABASE_URL=url,
        GRIEVANCE_INSTANCE_PATH=str(folder / "instance"),
        GRIEVANCE_LOG_LEVEL="WARNING",
        GRIEVANCE_DELIVERY="wechat",
        GRIEVANCE_WECHAT_TOKEN="bench-token",
        GRIEVANCE_WECHAT_APPID="wxbench",
        GRIEVANCE_WECHAT_SECRET="bench-secret",
        GRIEVANCE_WECHAT_API_BASE=fake.wechat_base,
        GRIEVANCE_WECOM_CORP_ID="wwbench",
        GRIEVANCE_WECOM_AGENT_ID="1000002",
        GRIEVANCE_WECOM_SECRET="bench-secret",
        GRIEVANCE_WECOM_API_BASE=fake.wecom_base,
        GRIEVANCE_TEMPLATES_FILE=str(templates),
        GRIEVANCE_WORKER_POLL_SECONDS="0.2",
        GRIEVANCE_WORKER_BATCH_SIZE="50",
    )
    return env


def outstanding(url: str) -> int:
    """Messages not settled yet (waiting, or interrupted mid-call)."""
    engine = make_engine(url)
    with read_session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.id).where(
                OutboxMessage.status.in_(("pending", "sending"))  # type: ignore[attr-defined]
            )
        ).all()
    engine.dispose()
    return len(rows)


def expire_leases(url: str) -> None:
    """What a minute's wait would do: the killed worker's leases run out."""
    engine = make_engine(url)
    now = utcnow()
    with unit_of_work(engine) as session:
        for message in session.exec(
            select(OutboxMessage).where(OutboxMessage.lease_until.is_not(None))  # type: ignore[union-attr]
        ):
            message.lease_until = None
            message.next_attempt_at = min(message.next_attempt_at, now)
            session.add(message)
    engine.dispose()


def delivered(fake: FakeWeChat) -> Counter[str]:
    """How often each message reached a phone (template contents carry it in thing2)."""
    counts: Counter[str] = Counter()
    for call in fake.sends():
        content = call.content or ""
        if call.endpoint == "message/template/send":
            content = json.loads(content)["thing2"]["value"]
        counts[content] += 1
    return counts


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="grievance-kill-bench-"))
    url = fresh_database(os.environ.get("GRIEVANCE_DATABASE_URL"), folder)
    bodies = enqueue_messages(url, args.messages)
    code = Path(args.code).resolve()
    with running_fake() as fake:
        fake.answer_delay = args.answer_delay
        env = worker_env(url, folder, fake, code)
        kills = 0
        started = time.perf_counter()
        while outstanding(url) and kills < args.max_kills:
            before = len(fake.sends())
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "worker"],
                cwd=code,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Let it get going, then kill it at a random moment mid-batch.
            deadline = time.monotonic() + 60
            while len(fake.sends()) == before and time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SystemExit(f"the worker exited with {process.returncode}")
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, args.max_run))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
            expire_leases(url)
        # One worker, left alone, settles the rest.
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], cwd=code, env=env)
        deadline = time.monotonic() + 600
        while outstanding(url) and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        elapsed = time.perf_counter() - started
        copies = delivered(fake)
        repeats_dropped = sum(1 for c in fake.calls if c.deduped)
    engine = make_engine(url)
    with read_session(engine) as session:
        rows = list(session.exec(select(OutboxMessage)))
    engine.dispose()
    statuses = Counter(row.status for row in rows)
    uncertain = [r for r in rows if r.status == "dead" and r.last_error == texts.OUTBOX_UNCERTAIN]
    once = sum(1 for t in bodies if copies[t] == 1)
    twice = sum(1 for t in bodies if copies[t] > 1)
    extra = sum(copies[t] - 1 for t in bodies if copies[t] > 1)
    never = [t for t in bodies if copies[t] == 0]
    held = {r.text for r in uncertain}
    lost = [t for t in never if t not in held]
    print(f"code: {code}  ({engine.dialect.name}, answer delay {args.answer_delay * 1000:.0f} ms)")
    print(f"{len(bodies)} messages, {kills} workers killed with SIGKILL, {elapsed:.0f} s")
    print(f"  delivered once:            {once}")
    print(f"  delivered more than once:  {twice} ({extra} extra copies)", end="")
    print(f"  = 1 in {len(bodies) / twice:.0f}" if twice else "")
    print(f"  never delivered, lost:     {len(lost)}")
    print(
        f"  held as uncertain for the office: {len(uncertain)} "
        f"({sum(1 for r in uncertain if copies[r.text])} of them had been delivered)"
    )
    print(f"  repeats WeChat dropped (dedup): {repeats_dropped}")
    print(f"  outbox: {dict(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--code", default=str(ROOT), help="source tree the worker runs from")
    parser.add_argument("--answer-delay", type=float, default=0.02, help="seconds per API answer")
    parser.add_argument("--max-run", type=float, default=2.0, help="longest run before a kill (s)")
    parser.add_argument("--max-kills", type=int, default=60)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run(args)


if __name__ == "__main__":
    main()
