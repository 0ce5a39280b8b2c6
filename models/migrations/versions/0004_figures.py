"""figures: SQLite indexes for the county-scale report

Revision ID: 0004_figures
Revises: 0003_roster

SQLite groups only in index order and has no percentile, so the report reads a covering index in
(village, category, state, rating) order, one for distinct (village, reporter) pairs, and walks the
resolved tickets in order of the time they took (partial expression indexes). PostgreSQL gets
nothing: it scans, hashes and sorts in parallel. The expressions must stay exactly as
models/figures.py writes them, or the planner will not match them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_figures"
down_revision: str | None = "0003_roster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOLVE_TIME = "(julianday(resolved_at) - julianday(created_at)), created_at, place_path, state"
INDEXES = {
    "ix_ticket_report": (
        "ticket (village_id, category, state, rating, assignee_id, created_at, place_path, "
        "reopen_count, return_count, assigned_at, accepted_at, ack_due_at, resolved_at, "
        "resolve_due_at)"
    ),
    "ix_ticket_reporters": "ticket (village_id, reporter_id, created_at, place_path, state)",
    "ix_ticket_resolve_time": f"ticket ({RESOLVE_TIME}) WHERE state IN ('resolved', 'closed')",
    "ix_ticket_resolve_time_village": (
        f"ticket (village_id, {RESOLVE_TIME}) WHERE state IN ('resolved', 'closed')"
    ),
    "ix_ticket_resolve_time_category": (
        f"ticket (category, {RESOLVE_TIME}) WHERE state IN ('resolved', 'closed')"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
