"""outbox recipient: a message may go to a WeChat identity rather than a bound person

Revision ID: 0006_outbox_recipient
Revises: 0005_duplicates
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_outbox_recipient"
down_revision: str | None = "0005_duplicates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "recipient_channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("recipient")
        batch_op.drop_column("recipient_channel")
