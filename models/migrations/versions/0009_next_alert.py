"""next_alert: the moment the SLA sweep must next look at a ticket, indexed

Revision ID: 0009_next_alert
Revises: 0008_ledger

The sweep used to page through every open ticket each minute; it now reads only the tickets whose
`next_alert_at` has come. Tickets someone must 签收 or 办结 are marked for a look at the first
sweep after the upgrade, which sets each one's exact next moment.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0009_next_alert"
down_revision: str | None = "0008_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(
            sa.Column("next_alert_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_ticket_next_alert_at", ["next_alert_at"], unique=False)
    ticket = sa.table(
        "ticket",
        sa.column("next_alert_at", models.base.UTCDateTime()),
        sa.column("state", sa.String()),
        sa.column("assignee_id", sa.Integer()),
    )
    op.execute(
        ticket.update()
        .where(
            ticket.c.state.in_(("assigned", "accepted", "in_progress")),
            ticket.c.assignee_id.is_not(None),
        )
        .values(next_alert_at=datetime(2000, 1, 1, tzinfo=UTC))
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index("ix_ticket_next_alert_at")
        batch.drop_column("next_alert_at")
