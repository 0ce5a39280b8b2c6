"""The inbound spool: callbacks taken while the database could not store them, in a local file.

When the database is unreachable (PostgreSQL stopped, a SQLite file that cannot be opened or
written, a writer held past the webhook's deadline) the decrypted callback is appended to
`<instance>/spool/inbound.jsonl` and fsynced before WeChat gets its 200. The ingester
(bot/ingest.py, in `serve` and `grievance-bot worker`) later hands the entries, in the order
they arrived, to the same Inbox dispatch.

The file is one header line naming its generation, then one JSON line per callback. Appends
take an exclusive flock on `inbound.lock`, so the threads and processes of one machine append
whole lines in one order, and a callback whose dedup key is already waiting (WeChat retrying)
is not appended twice. The ingester's progress is a byte offset in `inbound.cursor`. Exactly
once does not rest on that offset: each entry is recorded in the database under its dedup key
in the same transaction as everything it causes, so an entry handled again (a crash before the
cursor moved, a cursor file lost) finds itself recorded and causes nothing. That is also why
the cursor is replaced atomically but not fsynced. Once everything is ingested the file is
swapped for an empty one of a new generation.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from collections import Counter, deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATA_FILE = "inbound.jsonl"
CURSOR_FILE = "inbound.cursor"
APPEND_LOCK_FILE = "inbound.lock"
INGEST_LOCK_FILE = "ingest.lock"
REJECTED_FILE = "rejected.jsonl"
HEADER_NAME = "grievance-bot inbound spool"

Identity = tuple[str, str]  # (channel, sender)
Key = tuple[str, str, str]  # (channel, sender, dedup key)


class SpoolFull(RuntimeError):
    """The spool holds as many waiting callbacks as it may: refuse rather than grow unseen."""


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled callback, where it lies in the file, and what is needed to handle it."""

    generation: str
    offset: int  # where its line starts: the order of arrival
    end: int  # where the next line starts: the cursor once this entry is handled
    channel: str = ""
    sender: str = ""
    key: str = ""
    xml: str = ""
    received_at: datetime | None = None
    reason: str = ""
    damaged: str | None = None  # the raw line, when it is not a readable entry

    @property
    def identity(self) -> Identity:
        return (self.channel, self.sender)


@dataclass(frozen=True)
class SpoolStatus:
    """How full the spool is, for logs and `grievance-bot spool status`."""

    waiting: int
    limit: int
    oldest: datetime | None
    rejected: int
    folder: Path


@dataclass
class _Index:
    """What this process knows of the waiting entries, read on from where it stopped."""

    generation: str = ""
    scanned: int = 0  # bytes of the file read so far; always at a line boundary
    entries: deque[tuple[int, Key]] = field(default_factory=deque)
    keys: set[Key] = field(default_factory=set)
    senders: Counter[Identity] = field(default_factory=Counter)

    def drop_before(self, offset: int) -> None:
        while self.entries and self.entries[0][0] < offset:
            _, key = self.entries.popleft()
            self.keys.discard(key)
            self.senders[key[:2]] -= 1
            if self.senders[key[:2]] <= 0:
                del self.senders[key[:2]]

    def add(self, offset: int, key: Key) -> None:
        self.entries.append((offset, key))
        self.keys.add(key)
        self.senders[key[:2]] += 1


class Spool:
    """A durable queue of callbacks in one folder, safe for threads and processes of a machine."""

    def __init__(self, folder: Path, *, limit: int) -> None:
        self.folder = folder
        self.limit = limit
        self.data = folder / DATA_FILE
        self.cursor = folder / CURSOR_FILE
        self.rejected = folder / REJECTED_FILE
        self._index = _Index()
        self._index_lock = threading.Lock()

    # ------------------------------------------------------------------ the webhook's side

    def add(
        self,
        *,
        channel: str,
        sender: str,
        key: str,
        xml: str,
        received_at: datetime,
        reason: str,
    ) -> tuple[bool, int]:
        """Append a callback and fsync it; (False, …) when the same one is already waiting.

        Returns whether it was appended and how many callbacks wait now. SpoolFull when the
        limit is reached; OSError when the file cannot be written (nothing is kept then).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "channel": channel,
            "sender": sender,
            "key": key,
            "received_at": received_at.isoformat(),
            "reason": reason,
            "xml": xml,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._flock(APPEND_LOCK_FILE, blocking=True):
            if not self.data.exists():
                self._new_generation()
            elif _header_length(self.data) == 0:
                # Not a spool file (edited by hand?): keep it aside rather than append to it.
                aside = self.data.with_name(f"{DATA_FILE}.unreadable-{uuid.uuid4().hex[:8]}")
                log.error("spool: %s has no readable header; moved to %s", self.data, aside)
                os.replace(self.data, aside)
                self._new_generation()
            with self._index_lock:
                index = self._refresh()
                if (channel, sender, key) in index.keys:
                    return False, len(index.entries)
                if len(index.entries) >= self.limit:
                    raise SpoolFull(f"{len(index.entries)} callbacks already wait in {self.data}")
                self._append(line, index.scanned)
                index.add(index.scanned, (channel, sender, key))
                index.scanned += len(line)
                return True, len(index.entries)

    def holds(self, channel: str, sender: str) -> bool:
        """Whether callbacks of this sender wait: a new one must queue behind them."""
        if not self.data.exists():
            return False
        with self._index_lock:
            return (channel, sender) in self._refresh().senders

    def waiting(self) -> int:
        """How many callbacks wait to be ingested."""
        if not self.data.exists():
            return 0
        with self._index_lock:
            return len(self._refresh().entries)

    # ------------------------------------------------------------------ the ingester's side

    @contextmanager
    def ingesting(self) -> Iterator[bool]:
        """Hold the ingester's lock while the block runs; False when another process has it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._flock(INGEST_LOCK_FILE, blocking=False) as held:
            yield held

    def pending(self) -> Generator[SpoolEntry, None, None]:
        """The waiting entries in order of arrival (complete lines only)."""
        try:
            handle = self.data.open("rb")
        except FileNotFoundError:
            return
        with handle:
            generation, header_end = _read_header(handle)
            if generation is None:
                return
            handle.seek(self._cursor_of(generation, header_end))
            while True:
                offset = handle.tell()
                line = handle.readline()
                if not line.endswith(b"\n"):
                    return  # the end, or a line still being written
                yield _entry(generation, offset, offset + len(line), line)

    def advance(self, entry: SpoolEntry) -> None:
        """Record that `entry` and everything before it are handled."""
        payload = json.dumps({"generation": entry.generation, "offset": entry.end})
        temporary = self.cursor.with_name(CURSOR_FILE + ".tmp")
        temporary.write_text(payload, encoding="utf-8")
        os.replace(temporary, self.cursor)

    def reject(self, entry: SpoolEntry, error: str) -> None:
        """Keep an entry that cannot be handled beside the spool, with why, for the operator."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"error": error, "offset": entry.offset}
        if entry.damaged is not None:
            record["line"] = entry.damaged
        else:
            record.update(
                channel=entry.channel,
                sender=entry.sender,
                key=entry.key,
                received_at=entry.received_at.isoformat() if entry.received_at else None,
                xml=entry.xml,
            )
        with self.rejected.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def compact(self) -> bool:
        """Swap a fully ingested file for an empty one; False when something still waits."""
        if not self.data.exists():
            return False
        with self._flock(APPEND_LOCK_FILE, blocking=True), self._index_lock:
            index = self._refresh()
            if index.entries:
                return False
            header_end = _header_length(self.data)
            if self.data.stat().st_size <= header_end:
                return False  # already empty
            self._new_generation()
            self._index = _Index()
            return True

    def status(self) -> SpoolStatus:
        """Waiting entries, the oldest one's arrival, and how many were rejected."""
        waiting = self.waiting()
        oldest = next((e.received_at for e in self.pending() if e.received_at), None)
        rejected = 0
        if self.rejected.exists():
            with self.rejected.open("rb") as handle:
                rejected = sum(1 for _ in handle)
        return SpoolStatus(waiting, self.limit, oldest, rejected, self.folder)

    # ------------------------------------------------------------------------- internals

    @contextmanager
    def _flock(self, name: str, *, blocking: bool) -> Iterator[bool]:
        # A separate lock file: the data file is replaced on compaction, its lock with it.
        fd = os.open(self.folder / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _new_generation(self) -> None:
        """Write an empty file with a new header and move it into place (under the lock)."""
        header = {"spool": HEADER_NAME, "version": 1, "generation": uuid.uuid4().hex}
        temporary = self.data.with_name(DATA_FILE + ".new")
        with temporary.open("wb") as handle:
            handle.write((json.dumps(header) + "\n").encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.data)
        _fsync_folder(self.folder)

    def _append(self, line: bytes, complete_until: int) -> None:
        """Write one line at the end and fsync it (under the lock); undo a partial write."""
        fd = os.open(self.data, os.O_WRONLY | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size > complete_until:
                # An unfinished line from a process that died mid-append: it was never
                # acknowledged (the fsync comes before the 200), so WeChat sends it again.
                log.warning("spool: dropping %d bytes of an unfinished line", size - complete_until)
                os.ftruncate(fd, complete_until)
                size = complete_until
            try:
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def _cursor_of(self, generation: str, header_end: int) -> int:
        """The ingester's offset in this generation of the file (its start when unknown)."""
        try:
            data = json.loads(self.cursor.read_text(encoding="utf-8"))
            offset = int(data["offset"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return header_end
        if data.get("generation") != generation:
            return header_end
        return max(header_end, offset)

    def _refresh(self) -> _Index:
        """Bring the index up to the file and the cursor (the caller holds `_index_lock`)."""
        try:
            handle = self.data.open("rb")
        except FileNotFoundError:
            self._index = _Index()
            return self._index
        with handle:
            generation, header_end = _read_header(handle)
            index = self._index
            if generation is None:
                self._index = _Index()
                return self._index
            if generation != index.generation:
                index = self._index = _Index(generation=generation, scanned=header_end)
            cursor = self._cursor_of(generation, header_end)
            index.drop_before(cursor)
            index.scanned = max(index.scanned, cursor)
            handle.seek(index.scanned)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # being written, or unfinished: not an entry yet
                entry = _entry(generation, index.scanned, index.scanned + len(line), line)
                if entry.damaged is None:
                    index.add(entry.offset, (entry.channel, entry.sender, entry.key))
                index.scanned = entry.end
        return index


def _read_header(handle: Any) -> tuple[str | None, int]:
    """The file's generation and where its entries start; None for a missing or torn header."""
    handle.seek(0)
    line = handle.readline()
    if not line.endswith(b"\n"):
        return None, 0
    try:
        header = json.loads(line)
    except ValueError:
        return None, 0
    if not isinstance(header, dict) or header.get("spool") != HEADER_NAME:
        return None, 0
    return str(header.get("generation")), len(line)


def _header_length(path: Path) -> int:
    with path.open("rb") as handle:
        return _read_header(handle)[1]


def _entry(generation: str, offset: int, end: int, line: bytes) -> SpoolEntry:
    try:
        record = json.loads(line)
        return SpoolEntry(
            generation=generation,
            offset=offset,
            end=end,
            channel=str(record["channel"]),
            sender=str(record["sender"]),
            key=str(record["key"]),
            xml=str(record["xml"]),
            received_at=datetime.fromisoformat(record["received_at"]),
            reason=str(record.get("reason", "")),
        )
    except (ValueError, KeyError, TypeError):
        return SpoolEntry(
            generation, offset, end, damaged=line.decode("utf-8", errors="replace").rstrip("\n")
        )


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
