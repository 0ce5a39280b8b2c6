"""Scheduled jobs: one run per slot across workers, a missed slot caught up once, the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from click.testing import CliRunner
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.cli import main
from bot.scheduler import (
    EveryMinutes,
    JobContext,
    JobSpec,
    Weekly,
    build_scheduler,
    job_specs,
    run_job,
)
from config.calendar import TIMEZONE as SHANGHAI
from config.settings import Settings, get_settings
from config.sla import SlaConfig, WeeklyTime
from handlers import texts
from models.db import make_engine
from models.jobs import JobRun
from models.outbox import OutboxMessage
from models.ticket import Ticket, TicketAlert, TicketEvent
from tests.deadline_town import add_ticket, build_ladder, cst, outbox

BIN = Path(sys.executable).parent / "grievance-bot"


class Recorder:
    """A job body that records each moment it ran for, slowly enough for runs to overlap."""

    def __init__(self, delay: float = 0.0) -> None:
        self.moments: list[datetime] = []
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, ctx: JobContext) -> str:
        time.sleep(self.delay)
        with self._lock:
            self.moments.append(ctx.now)
        return f"ran for {ctx.now.isoformat()}"


def job_runs(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun).order_by(col(JobRun.id))))


def test_every_job_is_registered_once_under_its_own_id(settings: Settings) -> None:
    specs = job_specs(SlaConfig())
    assert [s.name for s in specs] == ["sla_sweep", "rating_followup", "drafts", "weekly_digest"]
    engine = make_engine("sqlite://")
    scheduler = build_scheduler(engine, settings, specs=specs, catch_up=False)
    assert sorted(job.id for job in scheduler.get_jobs()) == [
        "drafts",
        "rating_followup",
        "sla_sweep",
        "weekly_digest",
    ]
    engine.dispose()
    assert str(scheduler.timezone) == "Asia/Shanghai"


def test_slots_are_fixed_places_on_the_clock() -> None:
    every5 = EveryMinutes(5)
    assert every5.slot_for(cst(2026, 11, 30, 10, 7, 59)) == cst(2026, 11, 30, 10, 5)
    hourly = EveryMinutes(60)
    assert hourly.slot_for(cst(2026, 11, 30, 10, 59)) == cst(2026, 11, 30, 10, 0)
    monday = Weekly(WeeklyTime(0, 8, 30))
    assert monday.slot_for(cst(2026, 12, 7, 8, 30)) == cst(2026, 12, 7, 8, 30)
    assert monday.slot_for(cst(2026, 12, 7, 8, 29)) == cst(2026, 11, 30, 8, 30)
    assert monday.slot_for(cst(2026, 12, 9, 12, 0)) == cst(2026, 12, 7, 8, 30)
    next_run = monday.trigger().get_next_fire_time(None, cst(2026, 12, 7, 8, 31))
    assert next_run == cst(2026, 12, 14, 8, 30)


def test_two_workers_firing_the_same_slot_run_it_once(
    settings: Settings, database_url: str
) -> None:
    body = Recorder(delay=0.3)
    spec = JobSpec("weekly_test", Weekly(WeeklyTime(0, 8, 30)), body, same_day_only=True)
    # Two workers as two processes would be: each with its own engine, firing a second apart.
    engines = [make_engine(database_url) for _ in range(2)]
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def worker(name: str, engine: Engine, now: datetime) -> None:
        start.wait()
        outcomes[name] = run_job(spec, engine, settings, now, worker=name).status

    threads = [
        threading.Thread(target=worker, args=("a", engines[0], cst(2026, 12, 7, 8, 30, 0))),
        threading.Thread(target=worker, args=("b", engines[1], cst(2026, 12, 7, 8, 30, 1))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines:
        engine.dispose()

    assert sorted(outcomes.values()) == ["done", "taken"]
    assert len(body.moments) == 1
    reader = make_engine(database_url)
    runs = job_runs(reader)
    reader.dispose()
    assert [(r.job, r.slot, r.status) for r in runs] == [
        ("weekly_test", cst(2026, 12, 7, 8, 30), "done")
    ]


def run_scheduler_once(
    engine: Engine, settings: Settings, spec: JobSpec, clock_at: datetime, worker: str
) -> None:
    """Start a scheduler as a worker process would, wait for its start-up run, stop it."""
    finished = threading.Event()
    scheduler = build_scheduler(
        engine, settings, specs=[spec], clock=lambda: clock_at, worker=worker
    )

    def on_run(event: JobExecutionEvent) -> None:
        finished.set()

    scheduler.add_listener(on_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        assert finished.wait(timeout=20), "the start-up run did not happen"
    finally:
        scheduler.shutdown(wait=True)


def test_a_worker_down_over_the_slot_catches_it_up_once_the_same_day(
    engine: Engine, settings: Settings
) -> None:
    body = Recorder()
    spec = JobSpec("weekly_test", Weekly(WeeklyTime(0, 8, 30)), body, same_day_only=True)

    # Nobody ran Monday 08:30; a worker starts at 10:00 and catches the slot up.
    run_scheduler_once(engine, settings, spec, cst(2026, 12, 7, 10, 0), "w1")
    # Restarted at 11:00 (or a second worker starting): the slot has run, nothing happens.
    run_scheduler_once(engine, settings, spec, cst(2026, 12, 7, 11, 0), "w2")
    assert body.moments == [cst(2026, 12, 7, 10, 0)]

    # The next Monday the worker is down all day and starts on Tuesday: too late, not sent.
    run_scheduler_once(engine, settings, spec, cst(2026, 12, 15, 9, 0), "w3")
    assert body.moments == [cst(2026, 12, 7, 10, 0)]
    runs = job_runs(engine)
    assert [(r.slot, r.worker, r.status) for r in runs] == [(cst(2026, 12, 7, 8, 30), "w1", "done")]


def test_a_failed_run_is_taken_over_by_the_next_worker(engine: Engine, settings: Settings) -> None:
    calls: list[str] = []

    def flaky(ctx: JobContext) -> str:
        calls.append("run")
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return "ok"

    spec = JobSpec("flaky", EveryMinutes(5), flaky)
    now = cst(2026, 12, 7, 10, 1)
    first = run_job(spec, engine, settings, now, worker="a")
    assert (first.status, first.note) == ("failed", "RuntimeError: database went away")
    assert run_job(spec, engine, settings, now, worker="b").status == "done"
    assert run_job(spec, engine, settings, now, worker="c").status == "taken"
    assert [(r.worker, r.status) for r in job_runs(engine)] == [("b", "done")]


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's settings pointed at the test database."""
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url)
    for name in ("GRIEVANCE_SLA_FILE", "GRIEVANCE_HOLIDAYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_jobs_run_and_list_from_the_command_line(engine: Engine, cli_env: str) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0), urgent=True)
    runner = CliRunner()

    result = runner.invoke(main, ["jobs", "run", "sla_sweep", "--now", "2026-11-30T12:03:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "sla_sweep slot 2026-11-30 12:00 (Asia/Shanghai): done" in result.output
    assert texts.JOB_NOTE_SWEEP.format(reminded=0, escalated=1, leader=0, more="") in result.output
    assert [m.kind for m in outbox(engine, ticket_id)] == ["sla_escalate_ack", "sla_overdue_ack"]

    again = runner.invoke(main, ["jobs", "run", "sla_sweep", "--now", "2026-11-30T12:04:00+08:00"])
    assert again.exit_code == 0, again.output
    assert "taken: already claimed by cli:" in again.output

    listing = runner.invoke(main, ["jobs", "list", "--now", "2026-11-30T12:04:00+08:00"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split() == list(texts.JOB_COLUMNS)
    sweep = next(line for line in lines if line.startswith("sla_sweep"))
    assert "每5分钟" in sweep
    assert "2026-11-30 12:05" in sweep  # next run
    assert "2026-11-30 12:00" in sweep and "完成" in sweep  # last run
    followup = next(line for line in lines if line.startswith("rating_followup"))
    assert "2026-11-30 13:00" in followup and texts.JOB_NEVER in followup
    assert "每周一 08:30" in next(line for line in lines if line.startswith("weekly_digest"))
    # Only the job names, which `jobs run NAME` takes, are not Chinese.
    for line in lines[1:]:
        assert not re.search(r"[A-Za-z]", line.split(maxsplit=1)[1]), line

    unknown = runner.invoke(main, ["jobs", "run", "weekly_digestt"])
    assert unknown.exit_code == 2
    assert "sla_sweep, rating_followup, drafts, weekly_digest" in unknown.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_processes_running_the_same_slot(engine: Engine, database_url: str) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0), urgent=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIEVANCE_")}
    env["GRIEVANCE_DATABASE_URL"] = database_url
    command = [str(BIN), "jobs", "run", "sla_sweep", "--now", "2026-11-30T12:02:00+08:00"]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    statuses = sorted(out.split(": ")[1] for out, _ in outputs)
    assert statuses == ["done", "taken"]
    assert [m.kind for m in outbox(engine, ticket_id)] == ["sla_escalate_ack", "sla_overdue_ack"]


# ---------------------------------------------------------------- jobs run: the future, dry runs


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a job may write: claimed slots, outbox, alerts, timelines, tickets."""
    with Session(engine) as session:
        counts = {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (JobRun, OutboxMessage, TicketAlert, TicketEvent)
        }
        tickets = session.exec(select(Ticket.id, Ticket.state, Ticket.updated_at)).all()
    return {**counts, "tickets": sorted(tickets)}


def next_monday_morning() -> datetime:
    """The next weekly-digest slot (Monday 08:30 Asia/Shanghai) at least a day from now."""
    local = (datetime.now(UTC) + timedelta(days=1)).astimezone(SHANGHAI)
    day = local.date() + timedelta(days=(7 - local.weekday()) % 7 or 7)
    return datetime.combine(day, dt_time(8, 30), tzinfo=SHANGHAI)


def test_jobs_run_refuses_a_moment_in_the_future(engine: Engine, run_cli) -> None:  # type: ignore[no-untyped-def]
    ladder = build_ladder(engine)
    add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0))
    before = snapshot(engine)
    monday = next_monday_morning().isoformat()

    result = run_cli("jobs", "run", "weekly_digest", "--now", monday)
    assert result.exit_code == 1, result.output
    assert "不能提前替将来的时段发消息" in result.output and "--dry-run" in result.output
    # Nothing sent, stamped or claimed: the real Monday's slot is still free.
    assert snapshot(engine) == before
    # A clock a little behind another machine's is no reason to refuse.
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert run_cli("jobs", "run", "drafts", "--now", soon).exit_code == 0


def test_a_dry_run_of_a_future_digest_prints_it_and_writes_nothing(
    engine: Engine,
    run_cli,  # type: ignore[no-untyped-def]
) -> None:
    ladder = build_ladder(engine)
    ticket_id = add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0), summary="3组水渠堵了")
    before = snapshot(engine)
    monday = next_monday_morning()

    result = run_cli("jobs", "run", "weekly_digest", "--now", monday.isoformat(), "--dry-run")
    assert result.exit_code == 0, result.output
    slot = monday.strftime("%Y-%m-%d %H:%M")
    header = re.search(
        rf"试运行 weekly_digest（时段 {slot}，北京时间）.*会发出(\d+)条消息", result.output
    )
    assert header is not None, result.output
    assert int(header.group(1)) >= 2  # the cadre's list and the dispatcher's overview
    assert "【每周待办】" in result.output and f"#{ticket_id} " in result.output
    assert "【每周通报】" in result.output
    assert snapshot(engine) == before


def test_every_job_can_be_dry_run_and_the_real_run_does_what_it_said(
    engine: Engine,
    run_cli,  # type: ignore[no-untyped-def]
) -> None:
    ladder = build_ladder(engine)
    add_ticket(engine, ladder, cst(2026, 11, 30, 10, 0), urgent=True)
    before = snapshot(engine)
    now = "2026-11-30T12:03:00+08:00"  # the urgent ticket's 签收 is an hour overdue
    said: dict[str, int] = {}
    for spec in job_specs(SlaConfig()):
        result = run_cli("jobs", "run", spec.name, "--now", now, "--dry-run")
        assert result.exit_code == 0, result.output
        found = re.search(r"会发出(\d+)条消息", result.output)
        assert found is not None, result.output
        said[spec.name] = int(found.group(1))
        assert snapshot(engine) == before, spec.name
    assert said["sla_sweep"] == 2  # the escalation to the supervisor, the overdue notice

    # The dry run claimed nothing: the real run takes the slot and sends what it announced.
    result = run_cli("jobs", "run", "sla_sweep", "--now", now)
    assert result.exit_code == 0, result.output
    assert "sla_sweep slot 2026-11-30 12:00 (Asia/Shanghai): done" in result.output
    assert len(outbox(engine)) == said["sla_sweep"]
