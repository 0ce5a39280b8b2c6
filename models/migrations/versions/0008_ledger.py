"""ledger: the first 派单 and the latest 签收 of a ticket; 退单 counted when approved

Revision ID: 0008_ledger
Revises: 0007_binding_limits

A 转办, a re-route or a reopen assigns a ticket again: `assigned_at` is the latest 派单 (the
deadlines run from it) and `accepted_at` the first 签收 (the 响应率 reads it). The 台账 shows the
first and the latest of both, so two columns keep the other ends, filled from the timeline.

`return_count` counted every 退回 when it was made; it now counts the returns the dispatcher
approved (a refused or still pending one is no 退单), so those are taken off.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0008_ledger"
down_revision: str | None = "0007_binding_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_APPROVED = (
    "(SELECT count(*) FROM ticket_request r WHERE r.ticket_id = ticket.id "
    "AND r.kind = 'return' AND r.status IN ('rejected', 'pending'))"
)


def upgrade() -> None:
    # Adding nullable columns is a plain ALTER on SQLite too: the table (and the expression
    # indexes of 0004, which a rebuild would lose) stays as it is.
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(
            sa.Column("first_assigned_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("last_accepted_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE ticket SET first_assigned_at = coalesce("
        "(SELECT min(e.at) FROM ticket_event e "
        "WHERE e.ticket_id = ticket.id AND e.to_state = 'assigned'), assigned_at) "
        "WHERE assigned_at IS NOT NULL"
    )
    op.execute(
        "UPDATE ticket SET last_accepted_at = coalesce("
        "(SELECT max(e.at) FROM ticket_event e "
        "WHERE e.ticket_id = ticket.id AND e.to_state = 'accepted'), accepted_at) "
        "WHERE accepted_at IS NOT NULL"
    )
    # A constant of this file, no input: S608 does not apply.
    op.execute(
        f"UPDATE ticket SET return_count = CASE WHEN return_count > {NOT_APPROVED} "  # noqa: S608
        f"THEN return_count - {NOT_APPROVED} ELSE 0 END WHERE return_count > 0"
    )


def downgrade() -> None:
    op.execute(f"UPDATE ticket SET return_count = return_count + {NOT_APPROVED}")  # noqa: S608
    # Not in batch mode: a batch rebuild of the table on SQLite would lose the expression
    # indexes; SQLite ≥ 3.35 drops a column in place, as PostgreSQL does.
    op.drop_column("ticket", "last_accepted_at")
    op.drop_column("ticket", "first_assigned_at")
