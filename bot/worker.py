"""The outbox worker: claims due messages under a short lease, sends them, records each outcome.

A pass claims a batch in one short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so
several workers take disjoint batches; SQLite's immediate write transaction elsewhere), stamps a
lease and counts the attempt, and commits. The sends happen outside any transaction. Just
before each API call the message is marked `sending` in its own commit; each outcome is then
written in its own small transaction: sent, retry later (exponential backoff with jitter), or
dead. A claimed message's `next_attempt_at` is its lease's end, so a worker that dies mid-batch
leaves messages that become due again: a `pending` one was never handed to WeChat and is sent
as usual; a `sending` one may have been, and is repeated only as a call WeChat deduplicates,
else held as an uncertain dead letter (bot/channels.py `resend_is_safe`). The attempt count
doubles as a fencing token: nothing is written if somebody re-claimed the message meanwhile.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import col, select

from bot.access_token import HTTP_TIMEOUT_SECONDS, build_clients
from bot.channels import (
    Channel,
    Channels,
    LeaseLost,
    Outcome,
    Sending,
    SendResult,
    build_channels,
    channel_for,
    family_of,
    recipient_of,
    resend_is_safe,
    retry_delay,
)
from bot.media import MediaCounts, MediaFetcher
from config.settings import Settings
from handlers import texts
from models.base import utcnow
from models.db import unit_of_work
from models.outbox import OutboxMessage, OutboxStatus
from models.person import Person
from web.links import with_ticket_link

log = logging.getLogger(__name__)

# Stop sending from a batch while this much of its lease is left: one more slow call must not
# outlive the lease, or another worker could claim and send the same message.
LEASE_SAFETY_SECONDS = HTTP_TIMEOUT_SECONDS + 5
# The states a worker may claim: waiting, or interrupted mid-call.
ACTIVE = (OutboxStatus.pending.value, OutboxStatus.sending.value)


@dataclass
class DeliveryCounts:
    """What one pass over due messages did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0  # put back unsent: their channel was failing, or the lease ran short
    uncertain: int = 0  # of the dead: found `sending` where a repeat could be delivered twice


@dataclass
class WorkerPass:
    """One turn of the worker loop: deliveries and media downloads."""

    deliveries: DeliveryCounts = field(default_factory=DeliveryCounts)
    media: MediaCounts = field(default_factory=MediaCounts)

    @property
    def busy(self) -> bool:
        """True when there was work, so the loop should go on without sleeping."""
        return self.deliveries.claimed > 0 or self.media.claimed > 0


@dataclass(frozen=True)
class Claimed:
    """A leased message, its recipient, and the attempt number that fences its outcome.

    `resumed_via` is set for a message found `sending`: the call (wecom, wechat_cs,
    wechat_template) an earlier attempt made, begun at `resumed_since`, may have gone through.
    """

    message: OutboxMessage
    person: Person | None
    attempt: int
    resumed_via: str | None = None
    resumed_since: datetime | None = None


class Worker:
    """Delivers due outbox messages; `deliver_due(now)` is one pass, usable step by step."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        channels: Channels | None = None,
        *,
        media: MediaFetcher | None = None,
        rng: random.Random | None = None,
        name: str = "worker",
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels if channels is not None else build_channels(engine, settings)
        self.media = media
        self.rng = rng or random.Random()  # jitter, not secrecy
        self.name = name

    @property
    def lease(self) -> timedelta:
        """How long a claim keeps other workers off a message."""
        return timedelta(seconds=self.settings.worker_lease_seconds)

    def claim(self, now: datetime) -> list[Claimed]:
        """Lease a batch of due messages and commit, so sending holds no lock."""
        with unit_of_work(self.engine) as session:
            stmt = (
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.status).in_(ACTIVE),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(self.settings.worker_batch_size)
            )
            if self.engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            messages = list(session.exec(stmt))
            lease_until = now + self.lease
            resumed = {
                m.id: (m.channel, m.sent_at)
                for m in messages
                if m.status == OutboxStatus.sending.value and m.channel
            }
            for message in messages:
                message.attempts += 1
                message.lease_until = lease_until
                message.next_attempt_at = lease_until
                session.add(message)
            person_ids = {m.person_id for m in messages if m.person_id is not None}
            people = {
                p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))
            }
            session.flush()
            return [
                Claimed(
                    m,
                    recipient_of(m, people.get(m.person_id) if m.person_id else None),
                    m.attempts,
                    *resumed.get(m.id, (None, None)),
                )
                for m in messages
            ]

    def deliver_due(self, now: datetime) -> DeliveryCounts:
        """Claim, send and record one batch of due messages; returns what happened."""
        started = time.monotonic()
        claimed = self.claim(now)
        counts = DeliveryCounts(claimed=len(claimed))
        paused: dict[str, datetime] = {}  # channel → when the failing API is worth trying again
        for item in claimed:
            target = channel_for(item.person, self.channels)
            if isinstance(target, str):
                self._record(item, SendResult.dead("", target), now, counts)
                continue
            if item.resumed_via is not None and not self._may_repeat(item, target, now):
                # It may be on the phone already, and WeChat would not drop a second copy.
                counts.uncertain += 1
                self._record(
                    item, SendResult.dead(item.resumed_via, texts.OUTBOX_UNCERTAIN), now, counts
                )
                continue
            lease_left = self.settings.worker_lease_seconds - (time.monotonic() - started)
            if target.name in paused or lease_left < LEASE_SAFETY_SECONDS:
                self._release(item, paused.get(target.name, now))
                counts.released += 1
                continue
            sending = Sending(partial(self._mark_sending, item, now=now), item.resumed_via)
            result = self._send(target, item, sending, now)
            if result is None:
                counts.released += 1  # another worker has it now
                continue
            retry_at = self._record(item, result, now, counts, sending)
            if result.unavailable and retry_at is not None:
                # One failing call stands for the rest: don't hammer an API that is down.
                paused[target.name] = retry_at
        if counts.claimed:
            log.info(
                "%s: %d claimed, %d sent, %d retry later, %d dead (%d uncertain), %d put back",
                self.name,
                counts.claimed,
                counts.sent,
                counts.retried,
                counts.dead,
                counts.uncertain,
                counts.released,
            )
        return counts

    def run_once(self, now: datetime) -> WorkerPass:
        """One turn: deliver due messages, then fetch due media."""
        deliveries = self.deliver_due(now)
        media = self.media.download_due(now) if self.media is not None else MediaCounts()
        return WorkerPass(deliveries, media)

    def _may_repeat(self, item: Claimed, channel: Channel, now: datetime) -> bool:
        """Whether a call that may have gone through can be made again, by the same channel."""
        assert item.resumed_via is not None
        if family_of(item.resumed_via) != channel.name:
            return False  # the person is reached another way now: no dedup across apps
        return resend_is_safe(item.resumed_via, item.resumed_since, now)

    def _send(
        self, channel: Channel, item: Claimed, sending: Sending, now: datetime
    ) -> SendResult | None:
        """One delivery; None when another worker claimed the message before the call."""
        assert item.person is not None
        if item.message.recipient is None:  # never a sign-in link to a WeChat not the person's
            item.message.text = with_ticket_link(
                self.settings, item.message, item.message.person_id
            )
        try:
            return channel.send(item.person, item.message, now=now, sending=sending)
        except LeaseLost:
            log.warning("message %s was re-claimed before it was sent", item.message.id)
            return None
        except Exception as exc:
            # A bug in a channel must not strand the message under its lease; after the mark
            # nobody can say whether the call went out.
            log.exception("%s channel failed on message %s", channel.name, item.message.id)
            return SendResult.retry(
                channel.name,
                f"unexpected {type(exc).__name__}",
                uncertain=sending.marked_via is not None,
            )

    def _mark_sending(self, item: Claimed, via: str, now: datetime) -> None:
        """Commit `sending` via `via` just before the call (LeaseLost if no longer ours).

        The first call's start is kept while a repeat is pending: WeChat's dedup window runs
        from the call that may have been delivered.
        """
        values: dict[str, Any] = {"status": OutboxStatus.sending.value, "channel": via}
        if item.resumed_via is None:
            values["sent_at"] = now
        if not self._update(item, values):
            raise LeaseLost(f"message {item.message.id} was claimed by another worker")

    def _record(
        self,
        item: Claimed,
        result: SendResult,
        now: datetime,
        counts: DeliveryCounts,
        sending: Sending | None = None,
    ) -> datetime | None:
        """Write the outcome (fenced by the attempt number); returns the retry time, if any."""
        values: dict[str, Any] = {"lease_until": None}
        retry_at = None
        # Whether an earlier call, or this one, may have reached the phone.
        in_doubt = item.resumed_via is not None or (
            result.uncertain and sending is not None and sending.marked_via is not None
        )
        if result.outcome is Outcome.sent:
            values.update(
                status=OutboxStatus.sent.value,
                sent_at=now,
                last_error=None,
                channel=result.channel or None,
            )
            counts.sent += 1
        elif result.outcome is Outcome.retry and item.attempt < self.settings.worker_max_attempts:
            retry_at = now + retry_delay(item.attempt, self.rng)
            values.update(next_attempt_at=retry_at, last_error=result.reason[:1024])
            if in_doubt:
                # Stays `sending` with the call it made: the next try repeats that call only.
                values.update(status=OutboxStatus.sending.value)
            else:
                values.update(
                    status=OutboxStatus.pending.value, channel=result.channel or None, sent_at=None
                )
            counts.retried += 1
        else:
            reason = result.reason
            if result.outcome is Outcome.retry:
                reason = f"gave up after {item.attempt} attempts: {reason}"
                if in_doubt:
                    reason = f"{texts.OUTBOX_UNCERTAIN} ({reason})"
            values.update(
                status=OutboxStatus.dead.value,
                last_error=reason[:1024],
                channel=result.channel or None,
            )
            counts.dead += 1
            log.warning("message %s is a dead letter: %s", item.message.id, reason)
        if not self._update(item, values):
            log.warning(
                "message %s was re-claimed by another worker before its outcome (%s) was written",
                item.message.id,
                result.outcome,
            )
        return retry_at

    def _release(self, item: Claimed, retry_at: datetime) -> None:
        """Put a claimed message back unsent; the attempt it was charged is given back."""
        self._update(
            item,
            {"lease_until": None, "next_attempt_at": retry_at, "attempts": item.attempt - 1},
        )

    def _update(self, item: Claimed, values: dict[str, Any]) -> bool:
        stmt = (
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == item.message.id,
                col(OutboxMessage.attempts) == item.attempt,
                col(OutboxMessage.status).in_(ACTIVE),
            )
            .values(**values)
        )
        with unit_of_work(self.engine) as session:
            result = session.execute(stmt, execution_options={"synchronize_session": False})
            return bool(getattr(result, "rowcount", 0))


def build_worker(engine: Engine, settings: Settings, *, name: str = "worker") -> Worker:
    """A worker with the channels and media fetcher the settings call for."""
    clients = build_clients(engine, settings)
    media = MediaFetcher(engine, settings, clients) if (clients.wechat or clients.wecom) else None
    channels = build_channels(engine, settings, clients=clients)
    return Worker(engine, settings, channels, media=media, name=name)


def run_worker(
    engine: Engine,
    settings: Settings,
    stop_event: threading.Event,
    *,
    worker: Worker | None = None,
) -> None:
    """Deliver and download until `stop_event` is set; sleeps only when there is nothing to do."""
    worker = worker or build_worker(engine, settings)
    log.info("%s started (%s delivery)", worker.name, settings.resolved_delivery)
    while not stop_event.is_set():
        try:
            busy = worker.run_once(utcnow()).busy
        except Exception:
            # The database or a bug: log, wait, and go on; leases make the batch due again.
            log.exception("%s: a pass failed", worker.name)
            busy = False
        if not busy:
            stop_event.wait(settings.worker_poll_seconds)
    log.info("%s stopped", worker.name)
