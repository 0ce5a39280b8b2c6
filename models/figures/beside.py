"""PostgreSQL's medians on a second connection, in a thread, beside the report's grouped pass.

Measured with bench/report_bench.py (one million tickets, 2 cores): on PostgreSQL the report
takes about a quarter less time with it (median 6.5 s against 8.6 s on a loaded machine), because
`percentile_cont` is most of the report and runs while the first connection groups. On SQLite it
gained nothing (2.29 s against 2.22 s), so SQLite always keeps to one connection. The figures
file's `second_connection = false` turns it off (config/figures.toml).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from config.figures import FiguresConfig
from models.figures.queries import Query, tune
from models.figures.scope import Scope
from models.place import Place


class Beside:
    """The medians of a read-only PostgreSQL report, computed on a second connection."""

    def __init__(
        self, executor: ThreadPoolExecutor, work: Future[dict[tuple[str, Any], float]]
    ) -> None:
        self.executor = executor
        self.work = work

    @classmethod
    def start(
        cls, session: Session, scope: Scope, by: Sequence[str], config: FiguresConfig
    ) -> Beside | None:
        """Start the thread, or None where one connection does it all."""
        # Only a read-only session qualifies: a session that has written may hold changes
        # another connection cannot see.
        conn = session.connection()
        if not config.second_connection or conn.dialect.name != "postgresql":
            return None
        if not conn.get_execution_options().get("sqlite_read_only"):  # set by read_session
            return None
        if scope.place is not None:
            # A detached copy: the thread must never make the caller's session load anything.
            place = scope.place
            copy = Place(id=place.id, name=place.name, kind=place.kind, path=place.path)
            scope = replace(scope, place=copy)
        # percentile_cont needs no group sizes, so every median starts at once.
        keys = ["all", *by]
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures")
        work = executor.submit(_medians_beside, conn.engine, scope, keys)
        return cls(executor, work)

    def result(self) -> dict[tuple[str, Any], float]:
        """Wait for the thread: the medians it computed."""
        try:
            return self.work.result()
        finally:
            self.executor.shutdown(wait=True)


def _medians_beside(engine: Engine, scope: Scope, keys: list[str]) -> dict[tuple[str, Any], float]:
    with engine.connect() as conn:
        conn.execution_options(sqlite_read_only=True)  # read-only, as the caller's session
        with conn.begin():
            tune(conn)
            return Query(conn, scope).medians({key: {} for key in keys})
