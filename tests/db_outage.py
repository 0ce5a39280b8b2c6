"""Databases that go away on demand: what the app sees when PostgreSQL stops or SQLite fails.

Each outage gives the URL the app must use, `cut()` and `restore()`. Nothing here stops the
machine's PostgreSQL server: a TCP proxy the test owns stands between the app and it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import make_url


class Outage(Protocol):
    url: str

    def cut(self, engine: Engine) -> None: ...

    def restore(self) -> None: ...

    def close(self) -> None: ...


class PostgresGone:
    """PostgreSQL stopped: live connections are dropped and new ones refused, until restored."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.target = (parsed.host or "127.0.0.1", parsed.port or 5432)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self.url = parsed.set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False
        )

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def cut(self, engine: Engine) -> None:
        """The server goes away: connections reset, the port refuses."""
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        """The server is back on the same port."""
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.cut(None)  # type: ignore[arg-type]


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SqliteUnopenable:
    """The SQLite file cannot be opened (its folder is gone: an unmounted disk, a bad path)."""

    def __init__(self, template_url: str, folder: Path) -> None:
        source = Path(make_url(template_url).database or "")
        self.folder = folder / "db"
        self.away = folder / "db.away"
        self.folder.mkdir(parents=True)
        shutil.copyfile(source, self.folder / source.name)
        self.url = f"sqlite:///{self.folder / source.name}"

    def cut(self, engine: Engine) -> None:
        engine.dispose()  # the connections that had the file open are gone too
        self.folder.rename(self.away)

    def restore(self) -> None:
        if self.away.exists():
            self.away.rename(self.folder)

    def close(self) -> None:
        self.restore()


class SqliteWriterHeld:
    """Another process holds SQLite's writer (a long import, a stuck job) past the deadline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = make_url(url).database or ""
        self._holder: sqlite3.Connection | None = None

    def cut(self, engine: Engine) -> None:
        holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        self._holder = holder

    def restore(self) -> None:
        if self._holder is not None:
            self._holder.execute("ROLLBACK")
            self._holder.close()
            self._holder = None

    def close(self) -> None:
        self.restore()
