"""The spool's ingester: spooled callbacks, in order, through the inbox once the database is back.

One process at a time ingests a spool (a non-blocking flock); it stops at the first entry the
database cannot take and tries again later, waiting longer each time while the database stays
down. An entry that fails for another reason (a bug, a message the handlers cannot take) is set
aside in `rejected.jsonl`, its sender is asked to send it again, and the ingest goes on: one
bad entry must not hold up everyone behind it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bot.inbox import Inbox, database_unavailable, describe_failure, mask
from bot.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass
class IngestCounts:
    """What one pass over the spool did."""

    ingested: int = 0  # took effect now
    repeats: int = 0  # recorded already: nothing done again
    rejected: int = 0
    database_down: bool = False  # stopped at an entry the database could not take
    skipped: bool = False  # another process holds the ingester's lock

    @property
    def handled(self) -> int:
        return self.ingested + self.repeats + self.rejected


class SpoolIngest:
    """Ingests one spool through one inbox; `run_once()` is one pass."""

    def __init__(self, inbox: Inbox, spool: Spool) -> None:
        self.inbox = inbox
        self.spool = spool

    def run_once(self) -> IngestCounts:
        """Handle every waiting entry in order, until the end or the database fails."""
        counts = IngestCounts()
        if not self.spool.data.exists():
            return counts
        with self.spool.ingesting() as mine:
            if not mine:
                counts.skipped = True
                return counts
            entries = self.spool.pending()
            try:
                for entry in entries:
                    if not self._handle(entry, counts):
                        counts.database_down = True
                        break
                    self.spool.advance(entry)
            finally:
                entries.close()
            if not counts.database_down:
                self.spool.compact()
        if counts.handled or counts.database_down:
            log.info(
                "spool: %d ingested, %d already recorded, %d rejected%s",
                counts.ingested,
                counts.repeats,
                counts.rejected,
                ", stopped: database unavailable" if counts.database_down else "",
            )
        return counts

    def _handle(self, entry: SpoolEntry, counts: IngestCounts) -> bool:
        """One entry; False when the database cannot take it now (it stays waiting)."""
        try:
            if entry.damaged is not None:
                raise ValueError("unreadable spool line")
            if self.inbox.ingest(entry):
                counts.ingested += 1
            else:
                counts.repeats += 1
            return True
        except Exception as exc:
            if database_unavailable(exc):
                log.info("spool: database unavailable (%s)", describe_failure(exc))
                return False
            log.exception(
                "spool: entry at %d from %s cannot be handled; set aside",
                entry.offset,
                mask(entry.sender),
            )
            error = f"{type(exc).__name__}: {exc}"[:500]
        try:
            self.inbox.tell_failed(entry)
        except Exception as exc:
            if database_unavailable(exc):
                return False
            log.exception("spool: could not ask %s to send again", mask(entry.sender))
        self.spool.reject(entry, error)
        counts.rejected += 1
        return True


def run_ingest(
    ingest: SpoolIngest,
    stop_event: threading.Event,
    *,
    poll_seconds: float,
    on_pass: Callable[[IngestCounts], None] | None = None,
) -> None:
    """Ingest the spool until `stop_event` is set; back off while the database stays down."""
    log.info("spool ingest started (%s)", ingest.spool.folder)
    backoff = 0.0
    while not stop_event.is_set():
        try:
            counts = ingest.run_once()
        except Exception:
            # The spool folder itself failing (disk, permissions): say so and keep trying.
            log.exception("spool: an ingest pass failed")
            counts = IngestCounts(database_down=True)
        if on_pass is not None:
            on_pass(counts)
        if counts.database_down:
            backoff = min(BACKOFF_MAX_SECONDS, max(BACKOFF_FIRST_SECONDS, backoff * 2))
            log.warning(
                "spool: %s waiting; the database is still unavailable, next try in %.0f s",
                _waiting(ingest.spool),
                backoff,
            )
            stop_event.wait(backoff)
            continue
        backoff = 0.0
        stop_event.wait(poll_seconds)
    log.info("spool ingest stopped")


def _waiting(spool: Spool) -> str:
    try:
        return str(spool.waiting())
    except OSError:
        return "?"


def start_ingest(
    inbox: Inbox, stop_event: threading.Event, *, poll_seconds: float
) -> threading.Thread | None:
    """Run the ingester of the inbox's spool in a daemon thread (None without a spool)."""
    if inbox.spool is None:
        return None
    thread = threading.Thread(
        target=run_ingest,
        args=(SpoolIngest(inbox, inbox.spool), stop_event),
        kwargs={"poll_seconds": poll_seconds},
        name="spool-ingest",
        daemon=True,
    )
    thread.start()
    return thread
