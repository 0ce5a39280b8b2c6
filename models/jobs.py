"""Scheduled job runs: a unique (job, slot) row is claimed before a run, so no slot runs twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import UniqueConstraint, and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from models.base import utc_column


class JobRun(SQLModel, table=True):
    """One run of a scheduled job for one time slot."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_job_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    slot: datetime = Field(sa_column=utc_column(nullable=False))
    worker: str = Field(default="", max_length=128)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column())
    status: str = Field(default="running", max_length=16)  # running, done, failed
    note: str = Field(default="", max_length=1024)


# A run still "running" this long after it started lost its worker (killed, machine down): the
# next worker to fire the same slot may take it over.
STALE_RUN = timedelta(hours=1)


def claim_slot(
    session: Session,
    job: str,
    slot: datetime,
    *,
    worker: str,
    at: datetime,
    stale_after: timedelta = STALE_RUN,
) -> JobRun | None:
    """Claim (job, slot) for this worker; None when another worker has it.

    The unique (job, slot) row decides: the first insert wins and every other one meets an
    IntegrityError. A failed run, or a running one older than `stale_after`, is taken over so a
    slot whose worker crashed still runs once. The caller commits the claim before running the job.
    """
    run = JobRun(job=job, slot=slot, worker=worker, started_at=at, status="running")
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        pass  # the savepoint's rollback has already dropped `run` from the session
    else:
        return run
    takeover = (
        update(JobRun)
        .where(
            col(JobRun.job) == job,
            col(JobRun.slot) == slot,
            or_(
                col(JobRun.status) == "failed",
                and_(col(JobRun.status) == "running", col(JobRun.started_at) < at - stale_after),
            ),
        )
        .values(worker=worker, started_at=at, finished_at=None, status="running", note="")
        .execution_options(synchronize_session=False)
    )
    if session.execute(takeover).rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.exec(select(JobRun).where(JobRun.job == job, JobRun.slot == slot)).one()


def finish_run(session: Session, run_id: int, *, status: str, note: str, at: datetime) -> None:
    """Record how a claimed run ended ("done" or "failed") with a one-line note."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise LookupError(f"no job run {run_id}")
    run.status = status
    run.note = note[:1024]
    run.finished_at = at
    session.add(run)
    session.flush()


def last_runs(session: Session) -> dict[str, JobRun]:
    """The latest run (by slot) of every job that ever ran."""
    latest = (
        select(JobRun.job, func.max(JobRun.slot).label("slot")).group_by(col(JobRun.job)).subquery()
    )
    stmt = select(JobRun).join(
        latest, and_(col(JobRun.job) == latest.c.job, col(JobRun.slot) == latest.c.slot)
    )
    return {run.job: run for run in session.exec(stmt)}
