"""Engines and sessions: SQLite tuned for one busy server, PostgreSQL through psycopg 3."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL: a server that does not answer at all (a host that went away) must fail within the
# webhook's deadline, not after the operating system's TCP timeout of minutes.
PG_CONNECT_TIMEOUT_SECONDS = 3

MIN_SQLITE_BUSY_SECONDS = 0.5

# SQLite lets one writer in at a time and makes the others poll with sleeps, which gives long
# tails under load; threads of one process queue on this lock instead, in order.
_sqlite_write_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class WriteBusy(Exception):
    """The database writer stayed busy longer than the caller could wait."""


def _write_lock(engine: Engine) -> threading.Lock | nullcontext[None]:
    if engine.dialect.name != "sqlite":
        return nullcontext()
    key = str(engine.url)
    with _locks_guard:
        return _sqlite_write_locks.setdefault(key, threading.Lock())


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("check_same_thread", False)
        kwargs["connect_args"].setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(parsed, **kwargs)
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("connect_timeout", PG_CONNECT_TIMEOUT_SECONDS)
    return create_engine(parsed, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads then writes can fail
        # with "database is locked" instead of waiting its turn.
        options = conn.get_execution_options()
        if options.get("sqlite_read_only"):
            conn.exec_driver_sql("BEGIN")
            return
        # How long BEGIN IMMEDIATE waits for another process's writer: bounded for callers that
        # must answer in time (unit_of_work's `wait`), the default otherwise.
        busy_ms = int(options.get("sqlite_busy_ms", SQLITE_BUSY_TIMEOUT_MS))
        info = conn.connection.info  # per pooled connection: set the pragma only on a change
        if info.get("busy_ms", SQLITE_BUSY_TIMEOUT_MS) != busy_ms:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={busy_ms}")
            info["busy_ms"] = busy_ms
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def unit_of_work(engine: Engine, *, wait: float | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    `wait` bounds, in seconds, how long to queue for SQLite's writer slot in this process, and
    then for another process's writer: past it WriteBusy (this process) or OperationalError
    "database is locked" (another process) is raised, so the webhook can answer in time.
    """
    lock = _write_lock(engine)
    started = time.monotonic()
    if isinstance(lock, nullcontext):
        acquired = True
    else:
        acquired = lock.acquire(timeout=-1 if wait is None else wait)
    if not acquired:
        raise WriteBusy(f"waited {wait} s for the database writer")
    bind = engine
    if wait is not None and is_sqlite(engine):
        left = max(MIN_SQLITE_BUSY_SECONDS, wait - (time.monotonic() - started))
        bind = engine.execution_options(sqlite_busy_ms=int(left * 1000))
    try:
        with Session(bind, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
    finally:
        if not isinstance(lock, nullcontext):
            lock.release()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only session that does not take SQLite's write lock."""
    bind = engine.execution_options(sqlite_read_only=True)
    with Session(bind, expire_on_commit=False) as session:
        yield session
