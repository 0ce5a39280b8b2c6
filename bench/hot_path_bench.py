"""The statements of one report, then statements and CPU per report (no HTTP server, no wrk).

Seeds the demo town in a temporary SQLite instance (or PostgreSQL with --pg), binds REPORTERS
邻长 through the signed webhook, sends WARM reports, prints each SQL statement of the next one,
then runs bench/load_bench.py's in-process count over REPORTS reports.

    .venv/bin/python bench/hot_path_bench.py [--reports 100] [--reporters 50] [--profile]
        [--pg postgresql://postgres@127.0.0.1:5432/test_i]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load_bench  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402

from bot.phone import Phone, message_xml, text_fields  # noqa: E402
from config.settings import Settings  # noqa: E402

WARM = 5


def one_report(reporters: int, db_url: str | None, instance: Path) -> None:
    """Print the statements of one report, after a few to warm the caches."""
    from bot.app import create_app
    from demo.cli import seed_demo_if_empty
    from models.db import make_engine
    from models.migrate import upgrade

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, instance_path=instance, database_url=db_url, log_level="WARNING"
    ).with_development_credentials()
    engine = make_engine(settings.resolved_database_url)
    if db_url:
        load_bench._reset_pg(engine)
    upgrade(engine)
    seed_demo_if_empty(engine)
    client = create_app(settings, engine=engine).test_client()
    phone = Phone(settings)
    people = load_bench.neighbour_heads(settings.resolved_database_url, reporters)
    for n, (name, number, _, _) in enumerate(people):
        signed = phone.sign(message_xml(text_fields(load_bench.openid(n), f"绑定 {name} {number}")))
        client.post("/wechat", query_string=signed.query, data=signed.body)
    texts = load_bench.problem_texts(people, WARM + 1, 14)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:160])

    for i, words in enumerate(texts):
        signed = phone.sign(message_xml(text_fields(load_bench.openid(i % len(people)), words)))
        if i == WARM:
            event.listen(Engine, "before_cursor_execute", record)
        client.post("/wechat", query_string=signed.query, data=signed.body)
    event.remove(Engine, "before_cursor_execute", record)
    print(f"one report ({texts[-1]}): {len(statements)} statements")
    for statement in statements:
        print("  -", statement)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100)
    parser.add_argument("--reporters", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    one_report(args.reporters, args.pg, Path(tempfile.mkdtemp()))
    load_bench.in_process(args, args.pg, Path(tempfile.mkdtemp()))


if __name__ == "__main__":
    main()
