"""Messages per second one outbox worker delivers, against the fake WeChat API on loopback.

Enqueues MESSAGES messages to 企业微信 cadres on a fresh, migrated database (SQLite in a temp
folder, or GRIEVANCE_DATABASE_URL — it must be a throwaway database), then times one worker
delivering them all, once through the console channel and once through the real wechatpy 企业微信
client against tests/fake_wechat.py.

    .venv/bin/python bench/delivery_bench.py [--messages 2000] [--batch 50]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fake_wechat

from sqlalchemy import text
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from bot.channels import build_channels
from bot.worker import Worker
from config.settings import Settings
from models.base import utcnow
from models.db import make_engine
from models.migrate import upgrade
from tests.fake_wechat import add_people, enqueue_texts, running_fake, wechat_settings


def fresh_database(url: str | None, folder: Path, name: str) -> str:
    if url is None:
        return f"sqlite:///{folder / (name + '.sqlite3')}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def run(settings: Settings, messages: int, label: str) -> None:
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    assert "outbox_message" in tables
    people = add_people(engine, 50, prefix=f"bench-{label}")
    enqueue_texts(engine, people, [f"{label} message {i}" for i in range(messages)], utcnow())
    worker = Worker(engine, settings, build_channels(engine, settings), name=label)
    started = time.perf_counter()
    sent = 0
    while (counts := worker.deliver_due(utcnow())).claimed:
        sent += counts.sent
    elapsed = time.perf_counter() - started
    engine.dispose()
    print(
        f"{label:<8} {sent} sent in {elapsed:.2f} s  →  {sent / elapsed:,.0f} messages/s "
        f"({engine.dialect.name}, batch {settings.worker_batch_size})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    url = os.environ.get("GRIEVANCE_DATABASE_URL")
    folder = Path(tempfile.mkdtemp(prefix="grievance-delivery-bench-"))
    base = Settings(
        _env_file=None,  # type: ignore[call-arg]
        instance_path=folder,
        wecom_corp_id="wwbench",
        wecom_agent_id="1000002",
        worker_batch_size=args.batch,
    )
    console = base.model_copy(
        update={"delivery": "console", "database_url": fresh_database(url, folder, "console")}
    )
    run(console, args.messages, "console")
    with running_fake() as fake:
        wecom = wechat_settings(base, fake, database_url=fresh_database(url, folder, "wecom"))
        run(wecom, args.messages, "wecom")
        assert len(fake.sends()) == args.messages, "every message reaches the fake once"
        print(f"         token fetches at the fake: {fake.token_fetches()}")


if __name__ == "__main__":
    main()
