"""duplicates: index the merged-into column, read for every notification of a ticket

Revision ID: 0005_duplicates
Revises: 0004_figures
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_duplicates"
down_revision: str | None = "0004_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_duplicate_of_id", "ticket", ["duplicate_of_id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_duplicate_of_id", table_name="ticket")
