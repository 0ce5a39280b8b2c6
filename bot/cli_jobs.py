"""`grievance-bot jobs`: list the scheduled jobs, or run one at a given moment."""

from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, timedelta

import click

from bot.channels import Channels, ConsoleChannel
from bot.cli_support import open_database
from bot.scheduler import (
    DryRunOutcome,
    EveryMinutes,
    JobSpec,
    Weekly,
    dry_run_job,
    job_specs,
    run_job,
    worker_name,
)
from bot.worker import Worker
from config.calendar import TIMEZONE
from config.office import OfficeConfig, load_office
from config.settings import get_settings
from handlers import texts
from models.base import utcnow
from models.db import make_engine, read_session
from models.jobs import last_runs

TIME_FORMAT = "%Y-%m-%d %H:%M"
# How far ahead of this machine's clock --now may be for a real run: clocks of two machines
# differ a little; a slot of the future is never claimed and no message is stamped with it.
FUTURE_TOLERANCE = timedelta(minutes=5)


def _moment(text: str | None) -> datetime:
    """An ISO-8601 moment; without an offset it is read as Asia/Shanghai time."""
    if text is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time", param_hint="--now") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return moment


def _specs(office: OfficeConfig) -> list[JobSpec]:
    return job_specs(office.sla)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(TIMEZONE).strftime(TIME_FORMAT) if moment else "—"


@click.group()
def jobs() -> None:
    """Scheduled jobs (times in Asia/Shanghai)."""


@jobs.command("list")
@click.option("--now", "now_text", help="Compute next runs from this ISO-8601 moment.")
def list_jobs(now_text: str | None) -> None:
    """Show each job, its schedule, its next run and its last run."""
    settings = get_settings()
    now = _moment(now_text)
    engine = make_engine(settings.resolved_database_url)
    try:
        with read_session(engine) as session:
            last = last_runs(session)
    finally:
        engine.dispose()
    rows = [texts.JOB_COLUMNS]
    for spec in _specs(load_office(settings)):
        next_run = spec.schedule.trigger().get_next_fire_time(None, now)
        run = last.get(spec.name)
        rows.append(
            (
                spec.name,
                texts.JOB_NAMES.get(spec.name, spec.name),
                schedule_text(spec.schedule),
                _local(next_run),
                _local(run.slot) if run else texts.JOB_NEVER,
                texts.JOB_STATUS.get(run.status, run.status) if run else "",
                _local(run.finished_at) if run else "",
                run.note if run else "",
            )
        )
    widths = [max(_width(row[i]) for row in rows) for i in range(len(texts.JOB_COLUMNS) - 1)]
    for row in rows:
        cells = [
            cell + " " * (width - _width(cell)) for cell, width in zip(row, widths, strict=False)
        ]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def schedule_text(schedule: EveryMinutes | Weekly) -> str:
    """When a job runs, as the office says it: 每5分钟, 每周一 08:30."""
    if isinstance(schedule, Weekly):
        at = schedule.at
        return texts.JOB_WEEKLY.format(
            weekday=texts.WEEKDAYS[at.weekday], hour=at.hour, minute=at.minute
        )
    return texts.JOB_EVERY.format(minutes=schedule.minutes)


def _width(text: str) -> int:
    """Columns a terminal gives `text`: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@jobs.command("run")
@click.argument("name")
@click.option(
    "--now",
    "now_text",
    help="Run as of this ISO-8601 moment, e.g. 2026-12-07T08:30:00+08:00 (no offset: Shanghai); "
    "a moment in the future only with --dry-run.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what the job would send, and change nothing: no slot claimed, no outbox row.",
)
def run(name: str, now_text: str | None, dry_run: bool) -> None:
    """Run job NAME for the slot of --now (default: now), claiming the slot like a worker does."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    office = load_office(settings)
    specs = {spec.name: spec for spec in _specs(office)}
    spec = specs.get(name)
    if spec is None:
        raise click.BadParameter(
            f"no job {name!r}; the jobs are {', '.join(specs)}", param_hint="NAME"
        )
    now = _moment(now_text)
    ahead = now - utcnow()
    if ahead > FUTURE_TOLERANCE and not dry_run:
        raise click.ClickException(
            texts.JOBS_RUN_FUTURE_REFUSED.format(now=now_text, ahead=_how_long(ahead))
        )
    with open_database(settings) as engine:
        if dry_run:
            _print_dry_run(dry_run_job(spec, engine, settings, now, office=office))
            return
        outcome = run_job(spec, engine, settings, now, office=office, worker=f"cli:{worker_name()}")
        if settings.resolved_delivery == "console":
            # In development the messages the job wrote are shown here, as the console sends them.
            worker = Worker(engine, settings, Channels(console=ConsoleChannel(echo=click.echo)))
            while worker.deliver_due(now).claimed:
                pass
    click.echo(str(outcome))
    if outcome.status == "failed":
        raise SystemExit(1)


def _how_long(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return texts.JOBS_AHEAD_MINUTES.format(n=minutes)
    if minutes < 48 * 60:
        return texts.JOBS_AHEAD_HOURS.format(n=round(minutes / 60))
    return texts.JOBS_AHEAD_DAYS.format(n=round(minutes / 1440))


def _print_dry_run(outcome: DryRunOutcome) -> None:
    slot = _local(outcome.slot)
    if outcome.status == "missed":
        click.echo(texts.JOBS_DRY_RUN_MISSED.format(job=outcome.job, slot=slot))
        return
    click.echo(
        texts.JOBS_DRY_RUN_HEADER.format(job=outcome.job, slot=slot, count=len(outcome.messages))
    )
    for message in outcome.messages:
        click.echo(
            texts.JOBS_DRY_RUN_MESSAGE.format(
                person=message.person, kind=message.kind, text=message.text
            )
        )
    click.echo(texts.JOBS_DRY_RUN_NOTE.format(note=outcome.note))
