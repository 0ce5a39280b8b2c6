"""Scheduled job runs: a unique (job, slot) row is claimed before a run, so no slot runs twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

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
