"""`grievance-bot outbox …` and `grievance-bot worker`: see, revive and deliver messages."""

from __future__ import annotations

import json
import logging
import signal
import threading
from typing import Any

import click
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.cli_support import open_database
from bot.inbox import Inbox
from bot.ingest import SpoolIngest, start_ingest
from bot.scheduler import start_scheduler
from bot.spool import Spool
from bot.worker import run_worker
from config.calendar import TIMEZONE
from config.office import OfficeConfig, load_office
from config.settings import ProductionConfigError, Settings, get_settings
from handlers import build_router, texts
from models.base import utcnow
from models.db import read_session, unit_of_work
from models.outbox import OutboxMessage, OutboxStatus, RetryRefused, retry_all_dead, retry_one
from models.person import Person

LOCAL_TZ = TIMEZONE
RETRY_REFUSED = {
    "missing": "no outbox message #{id}",
    "sent": "message #{id} was already sent",
    "sending": "message #{id} is being sent right now",
}


def _local(value: Any) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@click.group()
def outbox() -> None:
    """Outbound messages: waiting, sent, and dead letters."""


@outbox.command("list")
@click.option("--dead", "dead_only", is_flag=True, help="Only dead letters.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@click.option("--ticket", "ticket_id", type=int, help="Only messages about this ticket.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
def outbox_list(dead_only: bool, as_json: bool, ticket_id: int | None, limit: int) -> None:
    """List the newest messages, with their status, channel and last error."""
    stmt = (
        select(OutboxMessage, Person)
        .join(Person, col(Person.id) == col(OutboxMessage.person_id), isouter=True)
        .order_by(col(OutboxMessage.id).desc())
        .limit(limit)
    )
    if dead_only:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus.dead.value)
    if ticket_id is not None:
        stmt = stmt.where(OutboxMessage.ticket_id == ticket_id)
    with open_database() as engine, read_session(engine) as session:
        rows = list(session.exec(stmt))
    if as_json:
        records = [_record(message, person) for message, person in rows]
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no dead letters" if dead_only else "no messages")
        return
    for message, person in rows:
        click.echo(_line(message, person))


def _line(message: OutboxMessage, person: Person | None) -> str:
    """Two lines for one message: what and to whom, then where it stands."""
    if message.status == OutboxStatus.sent.value:
        state = f"sent {_local(message.sent_at)} via {message.channel}"
    elif message.status == OutboxStatus.dead.value:
        state = f"dead after {message.attempts} attempt(s): {message.last_error}"
    elif message.status == OutboxStatus.sending.value:
        state = texts.OUTBOX_SENDING.format(
            via=message.channel, since=_local(message.sent_at), attempts=message.attempts
        )
    else:
        state = f"next try {_local(message.next_attempt_at)}, {message.attempts} attempt(s)"
        if message.last_error:
            state += f", last error: {message.last_error}"
    ticket = f" ticket #{message.ticket_id}" if message.ticket_id else ""
    text = " ".join(message.text.split())
    if len(text) > 40:
        text = text[:39] + "…"
    who = person.name if person else "-"
    return (
        f"#{message.id:<6} {message.status:<8} {message.kind:<12} → {who}{ticket}: {text}\n"
        f"        {state}"
    )


def _record(message: OutboxMessage, person: Person | None) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": message.id,
        "status": message.status,
        "kind": message.kind,
        "person_id": message.person_id,
        "person": person.name if person else None,
        "ticket_id": message.ticket_id,
        "text": message.text,
        "channel": message.channel,
        "attempts": message.attempts,
        "next_attempt_at": iso(message.next_attempt_at),
        "last_error": message.last_error,
        "created_at": iso(message.created_at),
        "sent_at": iso(message.sent_at),
    }


@outbox.command("retry")
@click.argument("message_id", type=int, required=False)
@click.option("--all-dead", is_flag=True, help="Queue every dead letter again.")
def outbox_retry(message_id: int | None, all_dead: bool) -> None:
    """Queue a dead (or waiting) message for delivery now, its attempts counted afresh."""
    if (message_id is None) == (not all_dead):
        raise click.UsageError("give a message ID or --all-dead (not both)")
    now = utcnow()
    with open_database() as engine, unit_of_work(engine) as session:
        if all_dead:
            messages = retry_all_dead(session, now=now, by="cli")
        else:
            assert message_id is not None
            try:
                messages = [retry_one(session, message_id, now=now, by="cli")]
            except RetryRefused as refused:
                raise click.ClickException(
                    RETRY_REFUSED[refused.reason].format(id=message_id)
                ) from None
    click.echo(f"{len(messages)} message(s) queued for delivery")


@click.command("worker")
def worker() -> None:
    """Deliver the outbox, download media and run the scheduled jobs until SIGTERM or Ctrl-C."""
    settings = get_settings()
    try:
        settings.check_production()
    except ProductionConfigError as exc:
        raise click.ClickException(f"refusing to start in production: {exc}") from exc
    settings = settings.with_development_credentials()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        logging.getLogger(__name__).info("signal %s: stopping after this pass", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    click.echo(f"grievance-bot worker running ({settings.resolved_delivery} delivery)")
    office = load_office(settings)
    with open_database(settings) as engine:
        scheduler = start_scheduler(engine, settings, office=office)
        # This machine's spool (callbacks its webhook took while the database was down).
        ingest_thread = start_ingest(
            spool_inbox(engine, settings, office), stop, poll_seconds=settings.worker_poll_seconds
        )
        try:
            run_worker(engine, settings, stop)
        finally:
            scheduler.shutdown(wait=True)
            if ingest_thread is not None:
                ingest_thread.join(timeout=30)


def spool_inbox(engine: Engine, settings: Settings, office: OfficeConfig) -> Inbox:
    """An inbox like the web app's, for ingesting the instance folder's spool."""
    return Inbox(
        engine,
        settings,
        build_router(),
        office,
        spool=Spool(settings.spool_path, limit=settings.spool_max_messages),
    )


@click.group()
def spool() -> None:
    """Callbacks kept in the local spool while the database was down."""


@spool.command("status")
def spool_status() -> None:
    """How many callbacks wait in this machine's spool, since when, and how many were set aside."""
    settings = get_settings()
    status = Spool(settings.spool_path, limit=settings.spool_max_messages).status()
    click.echo(
        texts.SPOOL_STATUS.format(
            waiting=status.waiting,
            limit=status.limit,
            oldest=_local(status.oldest) if status.oldest else "-",
            rejected=status.rejected,
            folder=status.folder,
        )
    )


@spool.command("ingest")
def spool_ingest() -> None:
    """Handle the waiting callbacks now (the worker and `serve` do it on their own)."""
    settings = get_settings()
    with open_database(settings) as engine:
        inbox = spool_inbox(engine, settings, load_office(settings))
        assert inbox.spool is not None
        counts = SpoolIngest(inbox, inbox.spool).run_once()
    if counts.skipped:
        raise click.ClickException(texts.SPOOL_INGEST_BUSY)
    click.echo(
        texts.SPOOL_INGESTED.format(
            ingested=counts.ingested, repeats=counts.repeats, rejected=counts.rejected
        )
    )
    if counts.database_down:
        raise click.ClickException(texts.SPOOL_DATABASE_DOWN)
