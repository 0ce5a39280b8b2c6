"""binding limits: failed attempts keep the name and phone they tried, and can be cleared

Revision ID: 0007_binding_limits
Revises: 0006_outbox_recipient
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0007_binding_limits"
down_revision: str | None = "0006_outbox_recipient"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("binding_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("target_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("target_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cleared_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_binding_attempt_at", ["at"])
        batch_op.create_index("ix_binding_attempt_target_name", ["target_name"])
        batch_op.create_index("ix_binding_attempt_target_phone", ["target_phone"])


def downgrade() -> None:
    with op.batch_alter_table("binding_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_binding_attempt_target_phone")
        batch_op.drop_index("ix_binding_attempt_target_name")
        batch_op.drop_index("ix_binding_attempt_at")
        batch_op.drop_column("cleared_at")
        batch_op.drop_column("target_phone")
        batch_op.drop_column("target_name")
        batch_op.drop_column("kind")
