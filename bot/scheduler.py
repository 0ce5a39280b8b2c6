"""Scheduled jobs: every job listed once in `job_specs`, each run claiming its time slot first.

A slot is the moment a run is for (the 08:30 of a Monday, the 10:05 of a sweep), computed from the
clock alone, so every process agrees on it. Before running, a worker inserts the unique
(job, slot) row (models.jobs.claim_slot) and commits; whoever comes second — another worker
process, or a restarted one — sees the row and skips. At start every job runs once at once, which
catches up a slot missed while no worker was up: a sweep always, the weekly digest only on the
slot's own day (Asia/Shanghai).

`dry_run_job` runs a job's body for any moment in one transaction that it rolls back: it claims
no slot and keeps nothing, and tells what the run would send (`jobs run --dry-run`).

Outbox delivery and media downloads are not slot jobs: bot/worker.py runs them as a polling loop
under per-message leases, which already keeps several workers apart.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.digest import send_weekly_digests
from config.calendar import TIMEZONE, WorkCalendar
from config.office import OfficeConfig, load_office
from config.settings import Settings
from config.sla import SlaConfig, WeeklyTime
from handlers import intake, texts
from handlers.router import Context as HandlerContext
from models.base import utcnow
from models.db import read_session, unit_of_work
from models.followup import FollowupResult, FollowupTexts, rating_followup
from models.jobs import JobRun, claim_slot, finish_run
from models.outbox import OutboxMessage
from models.person import Person
from models.sla import AlertTexts, SweepResult, plan_sweep

log = logging.getLogger(__name__)

# A run stops after this many batches and leaves the rest to the next slot, so one slot never
# runs into the next one.
MAX_BATCHES = 50

ALERT_TEXTS = AlertTexts(
    deadline_names={"ack": texts.SLA_DEADLINE_ACK, "resolve": texts.SLA_DEADLINE_RESOLVE},
    reminders={"ack": texts.SLA_REMINDER_ACK, "resolve": texts.SLA_REMINDER_RESOLVE},
    overdue=texts.SLA_OVERDUE,
    escalation=texts.SLA_ESCALATION,
    leader=texts.SLA_LEADER,
    note_reminded=texts.SLA_NOTE_REMINDED,
    note_escalated=texts.SLA_NOTE_ESCALATED,
    note_leader=texts.SLA_NOTE_LEADER,
    nobody=texts.SLA_NOBODY,
    due=texts.SLA_DUE,
)
FOLLOWUP_TEXTS = FollowupTexts(
    reminder=texts.RATING_REMINDER,
    closed=texts.RATING_AUTO_CLOSED,
    closed_note=texts.RATING_AUTO_CLOSED_NOTE,
)


Transaction = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class JobContext:
    """What a job body gets: the database, the settings and files, and the moment of its run."""

    engine: Engine
    settings: Settings
    office: OfficeConfig
    now: datetime
    # Where the body writes: one committed unit of work per call, unless a dry run gives its
    # own (one transaction for the whole run, rolled back at the end).
    transaction: Transaction | None = field(default=None, repr=False)

    @property
    def sla(self) -> SlaConfig:
        """The time limits of the worker's (or command's) SLA file."""
        return self.office.sla

    @property
    def calendar(self) -> WorkCalendar:
        """The worker's working-day calendar."""
        return self.office.calendar

    def unit(self) -> AbstractContextManager[Session]:
        """One transaction of the job's work: committed on success (rolled back in a dry run)."""
        if self.transaction is not None:
            return self.transaction()
        return unit_of_work(self.engine)

    def read(self) -> AbstractContextManager[Session]:
        """A session for reading without SQLite's write lock (a dry run's own transaction)."""
        if self.transaction is not None:
            return self.transaction()
        return read_session(self.engine)


JobBody = Callable[[JobContext], str]


@dataclass(frozen=True)
class EveryMinutes:
    """A job every N minutes at fixed places on the clock (N divides an hour, or hours a day)."""

    minutes: int

    def trigger(self) -> CronTrigger:
        """The APScheduler trigger firing at the start of each slot."""
        if self.minutes < 60:
            return CronTrigger(minute=f"*/{self.minutes}", timezone=TIMEZONE)
        return CronTrigger(minute=0, hour=f"*/{self.minutes // 60}", timezone=TIMEZONE)

    def slot_for(self, now: datetime) -> datetime:
        """The latest slot start at or before `now` (aware UTC)."""
        local = now.astimezone(TIMEZONE)
        midnight = datetime.combine(local.date(), time(0), tzinfo=TIMEZONE)
        elapsed = (local - midnight) // timedelta(minutes=1)
        return (midnight + timedelta(minutes=elapsed - elapsed % self.minutes)).astimezone(
            now.tzinfo
        )

    def __str__(self) -> str:
        return f"every {self.minutes} minutes"


@dataclass(frozen=True)
class Weekly:
    """A job once a week at a weekday and time of day, Asia/Shanghai."""

    at: WeeklyTime

    def trigger(self) -> CronTrigger:
        """The APScheduler trigger firing at that moment each week."""
        return CronTrigger(
            day_of_week=self.at.weekday, hour=self.at.hour, minute=self.at.minute, timezone=TIMEZONE
        )

    def slot_for(self, now: datetime) -> datetime:
        """The latest such moment at or before `now` (aware, in `now`'s zone)."""
        local = now.astimezone(TIMEZONE)
        day = local.date() - timedelta(days=(local.weekday() - self.at.weekday) % 7)
        slot = datetime.combine(day, time(self.at.hour, self.at.minute), tzinfo=TIMEZONE)
        if slot > local:
            slot -= timedelta(days=7)
        return slot.astimezone(now.tzinfo)

    def __str__(self) -> str:
        return f"weekly {self.at} Asia/Shanghai"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its id, when it runs, and what it does."""

    name: str
    schedule: EveryMinutes | Weekly
    body: JobBody
    # A missed slot is caught up only on its own day (a Monday digest is not sent on Tuesday).
    same_day_only: bool = False


def run_sla_sweep(ctx: JobContext) -> str:
    """Reminders, escalations and 督办 due now, in batches: each is read without the database's
    writer and then written in one short transaction, so the webhook never waits long."""
    total = SweepResult()
    for _ in range(MAX_BATCHES):
        with ctx.read() as session:
            plan = plan_sweep(
                session, ctx.now, texts=ALERT_TEXTS, sla=ctx.sla, calendar=ctx.calendar
            )
        with ctx.unit() as session:
            batch = plan.write(session)
        total.reminded += batch.reminded
        total.escalated += batch.escalated
        total.leader += batch.leader
        total.more = batch.more
        if not batch.more:
            break
    return texts.JOB_NOTE_SWEEP.format(
        reminded=total.reminded,
        escalated=total.escalated,
        leader=total.leader,
        more=texts.JOB_NOTE_MORE if total.more else "",
    )


def run_rating_followup(ctx: JobContext) -> str:
    """回访: ask unrated reporters again, close long-unrated tickets, in batches."""
    total = FollowupResult()
    for _ in range(MAX_BATCHES):
        with ctx.unit() as session:
            batch = rating_followup(session, ctx.now, texts=FOLLOWUP_TEXTS, sla=ctx.sla)
        total.asked_again += batch.asked_again
        total.closed += batch.closed
        total.more = batch.more
        if not batch.more:
            break
    return texts.JOB_NOTE_FOLLOWUP.format(
        asked_again=total.asked_again,
        closed=total.closed,
        more=texts.JOB_NOTE_MORE if total.more else "",
    )


def run_release_drafts(ctx: JobContext) -> str:
    """Photos and voice notes nobody described within a day go to the dispatcher."""
    with ctx.unit() as session:
        released = intake.release_stale_drafts(
            HandlerContext(session=session, settings=ctx.settings, now=ctx.now, office=ctx.office)
        )
    return texts.JOB_NOTE_DRAFTS.format(released=released)


def run_weekly_digest(ctx: JobContext) -> str:
    """The Monday status push to every cadre with open work and every dispatcher and leader."""
    week = ctx.now.astimezone(TIMEZONE).date().isoformat()
    counts = send_weekly_digests(
        ctx.engine, ctx.settings, ctx.office, ctx.now, week, transaction=ctx.unit
    )
    return texts.JOB_NOTE_DIGEST.format(
        cadres=counts.cadres, overseers=counts.overseers, messages=counts.messages
    )


def job_specs(sla: SlaConfig) -> list[JobSpec]:
    """Every scheduled job with its id: the one place a job is registered."""
    at = sla.schedule
    return [
        JobSpec("sla_sweep", EveryMinutes(at.sla_sweep_minutes), run_sla_sweep),
        JobSpec("rating_followup", EveryMinutes(at.rating_followup_minutes), run_rating_followup),
        JobSpec("drafts", EveryMinutes(30), run_release_drafts),
        JobSpec("weekly_digest", Weekly(at.weekly_digest), run_weekly_digest, same_day_only=True),
    ]


@dataclass(frozen=True)
class RunOutcome:
    """How one attempt at a slot ended: done, failed, taken (by another worker) or missed."""

    job: str
    slot: datetime
    status: str
    note: str

    def __str__(self) -> str:
        local = self.slot.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
        return f"{self.job} slot {local} (Asia/Shanghai): {self.status}: {self.note}"


def worker_name() -> str:
    """This process, as recorded on the runs it claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    spec: JobSpec,
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    office: OfficeConfig | None = None,
    worker: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> RunOutcome:
    """Claim the slot `now` falls in and, if this worker got it, run the job for that moment.

    The claim commits before the job runs, so a second worker waits for nothing and skips; the
    outcome is recorded on the claimed row afterwards. `clock` stamps when it really ran.
    `office` is the worker's files, read once when it started (else read now from `settings`).
    """
    slot = spec.schedule.slot_for(now)
    if _missed(spec, slot, now):
        return RunOutcome(spec.name, slot, "missed", "the slot's day is over; not caught up")
    worker = worker or worker_name()
    with unit_of_work(engine) as session:
        run = claim_slot(session, spec.name, slot, worker=worker, at=clock())
        run_id = run.id if run is not None else None
        if run_id is None:
            holder = session.exec(
                select(JobRun).where(JobRun.job == spec.name, JobRun.slot == slot)
            ).first()
            taken = f"already claimed by {holder.worker} ({holder.status})" if holder else ""
    if run_id is None:
        return RunOutcome(spec.name, slot, "taken", taken)
    ctx = JobContext(
        engine=engine, settings=settings, office=office or load_office(settings), now=now
    )
    try:
        note, status = spec.body(ctx), "done"
    except Exception as exc:
        # Recorded as failed: the next worker to fire this slot (or `jobs run`) takes it over.
        log.exception("job %s, slot %s failed", spec.name, slot.isoformat())
        note, status = f"{type(exc).__name__}: {exc}", "failed"
    with unit_of_work(engine) as session:
        finish_run(session, run_id, status=status, note=note, at=clock())
    return RunOutcome(spec.name, slot, status, note)


def _missed(spec: JobSpec, slot: datetime, now: datetime) -> bool:
    """A same-day-only job whose slot's day is over (a Monday digest is not sent on Tuesday)."""
    local_day = now.astimezone(TIMEZONE).date()
    return spec.same_day_only and slot.astimezone(TIMEZONE).date() != local_day


@dataclass(frozen=True)
class PlannedMessage:
    """A message a dry run would have written to the outbox."""

    person: str
    kind: str
    text: str


@dataclass(frozen=True)
class DryRunOutcome:
    """What a job would do at a moment: its note and the messages it would send."""

    job: str
    slot: datetime
    status: str  # "dry-run", or "missed" when a real run would not run at all
    note: str
    messages: list[PlannedMessage]


class _Undo(Exception):
    """Raised to roll a dry run's transaction back."""


def dry_run_job(
    spec: JobSpec,
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    office: OfficeConfig | None = None,
) -> DryRunOutcome:
    """Run a job's body for `now` and undo it: no slot is claimed, nothing stays written.

    The whole run is one transaction (its batches share it, so each sees the ones before); the
    messages it wrote to the outbox are read back, then everything is rolled back.
    """
    slot = spec.schedule.slot_for(now)
    if _missed(spec, slot, now):
        return DryRunOutcome(spec.name, slot, "missed", "the slot's day is over", [])
    office = office or load_office(settings)
    planned: list[PlannedMessage] = []
    note = ""
    try:
        with unit_of_work(engine) as session:
            first_new = (session.exec(select(func.max(OutboxMessage.id))).one() or 0) + 1

            @contextmanager
            def transaction() -> Iterator[Session]:
                yield session
                session.flush()

            ctx = JobContext(
                engine=engine, settings=settings, office=office, now=now, transaction=transaction
            )
            note = spec.body(ctx)
            session.flush()
            rows = session.exec(
                select(OutboxMessage, Person)
                .join(Person, col(Person.id) == OutboxMessage.person_id, isouter=True)
                .where(col(OutboxMessage.id) >= first_new)
                .order_by(col(OutboxMessage.id))
            )
            planned = [
                PlannedMessage(person.name if person else "—", message.kind, message.text)
                for message, person in rows
            ]
            raise _Undo
    except _Undo:
        pass
    return DryRunOutcome(spec.name, slot, "dry-run", note, planned)


def _fire(
    spec: JobSpec,
    engine: Engine,
    settings: Settings,
    office: OfficeConfig,
    clock: Callable[[], datetime],
    worker: str | None,
) -> None:
    try:
        outcome = run_job(
            spec, engine, settings, clock(), office=office, worker=worker, clock=clock
        )
    except Exception:
        # The claim itself failed (database away): the next firing tries again.
        log.exception("job %s could not run", spec.name)
        return
    level = logging.WARNING if outcome.status == "failed" else logging.INFO
    log.log(level, "%s", outcome)


def build_scheduler(
    engine: Engine,
    settings: Settings,
    *,
    specs: list[JobSpec] | None = None,
    clock: Callable[[], datetime] = utcnow,
    worker: str | None = None,
    catch_up: bool = True,
    office: OfficeConfig | None = None,
) -> BackgroundScheduler:
    """A scheduler (not started) with every job of `job_specs` under its own id.

    The office's files are read once here (from `settings`, unless given) and shared by every run.
    """
    office = office or load_office(settings)
    scheduler = BackgroundScheduler(
        timezone=TIMEZONE,
        # A run held up (a busy pool, a suspended machine) runs once, however late: the slot
        # claim and `same_day_only` decide whether it still does anything.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    first_run: dict[str, Any] = {"next_run_time": datetime.now(TIMEZONE)} if catch_up else {}
    for spec in specs if specs is not None else job_specs(office.sla):
        scheduler.add_job(
            _fire,
            trigger=spec.schedule.trigger(),
            args=(spec, engine, settings, office, clock, worker),
            id=spec.name,
            name=spec.name,
            replace_existing=True,
            **first_run,
        )
    return scheduler


def start_scheduler(
    engine: Engine,
    settings: Settings,
    *,
    specs: list[JobSpec] | None = None,
    clock: Callable[[], datetime] = utcnow,
    worker: str | None = None,
    office: OfficeConfig | None = None,
) -> BackgroundScheduler:
    """Start every scheduled job in background threads; call `.shutdown()` when stopping."""
    scheduler = build_scheduler(
        engine, settings, specs=specs, clock=clock, worker=worker, office=office
    )
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    return scheduler
