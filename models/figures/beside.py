"""A second connection, in a thread, that takes a share of a read-only report's work."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from models.figures.places import Places
from models.figures.queries import Query, tune
from models.figures.scope import Part, Scope
from models.place import Place


class Beside:
    """A second connection, in a thread, that takes a share of a read-only report's work."""

    # The medians it walks on SQLite once the grouped pass has told it their sizes; the
    # calling thread walks the others (by village, 片区, assignee) meanwhile.
    SQLITE_KEYS = ("all", "category")

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        parts: tuple[Part, ...],
        keys: list[str],
        counted: Future[list[tuple[Any, ...]]],
        sizes: Future[dict[str, dict[Any, int]]],
        work: Future[dict[tuple[str, Any], float]],
    ) -> None:
        self.executor = executor
        self.parts = parts  # the caller's share of the grouped pass
        self.keys = keys
        self.counted = counted
        self.sizes = sizes
        self.work = work

    @classmethod
    def start(
        cls, session: Session, scope: Scope, places: Places, by: Sequence[str], assignee: bool
    ) -> Beside | None:
        """Start the thread, or None where a second connection would not see the same data."""
        # Only a read-only session of a file database qualifies: a session that has written
        # may hold changes another connection cannot see, and ":memory:" is per connection.
        conn = session.connection()
        if not conn.get_execution_options().get("sqlite_read_only"):  # set by read_session
            return None
        sqlite = conn.dialect.name == "sqlite"
        if sqlite and conn.engine.url.database in (None, "", ":memory:"):
            return None
        if scope.place is not None:
            # A detached copy: the thread must never make the caller's session load anything.
            place = scope.place
            copy = Place(id=place.id, name=place.name, kind=place.kind, path=place.path)
            scope = replace(scope, place=copy)
        counted: Future[list[tuple[Any, ...]]] = Future()
        sizes: Future[dict[str, dict[Any, int]]] = Future()
        mine: Part = None
        parts: tuple[Part, ...] = (None,)
        if sqlite:
            keys = [key for key in cls.SQLITE_KEYS if key == "all" or key in by]
            split = places.split()
            if split is not None:
                mine, parts = ("from", split), (("null", 0), ("below", split))
            else:
                counted.set_result([])
        else:
            # PostgreSQL groups in parallel itself; percentile_cont needs no sizes, so all the
            # medians start at once.
            keys = ["all", *by]
            counted.set_result([])
            sizes.set_result({key: {} for key in keys})
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures")
        work = executor.submit(_beside, conn.engine, scope, assignee, mine, counted, sizes)
        return cls(executor, parts, keys, counted, sizes, work)

    def rows(self) -> list[tuple[Any, ...]]:
        """The thread's share of the grouped pass (waits for it)."""
        return self.counted.result()

    def walk(self, sizes: dict[str, dict[Any, int]]) -> dict[str, dict[Any, int]]:
        """Hand the thread the sizes of its medians; return those the caller walks itself."""
        if not self.sizes.done():
            self.sizes.set_result({key: sizes[key] for key in self.keys})
        return {key: table for key, table in sizes.items() if key not in self.keys}

    def result(self) -> dict[tuple[str, Any], float]:
        """Wait for the thread: the medians it computed."""
        if not self.sizes.done():  # the caller failed on the way: let the thread stop too
            self.sizes.set_exception(RuntimeError("the report stopped"))
        try:
            return self.work.result()
        finally:
            self.executor.shutdown(wait=True)


def _beside(
    engine: Engine,
    scope: Scope,
    assignee: bool,
    part: Part,
    counted: Future[list[tuple[Any, ...]]],
    sizes: Future[dict[str, dict[Any, int]]],
) -> dict[tuple[str, Any], float]:
    with engine.connect() as conn:
        conn.execution_options(sqlite_read_only=True)  # BEGIN, not BEGIN IMMEDIATE
        with conn.begin():
            tune(conn)
            query = Query(conn, scope)
            if not counted.done():
                try:
                    counted.set_result(query.group_counts(assignee, (part,)))
                except BaseException as exc:
                    counted.set_exception(exc)
                    raise
            return query.medians(sizes.result())
