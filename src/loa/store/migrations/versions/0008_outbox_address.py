"""outbox address: outbox.phone widened to hold email addresses and push tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDRESS = "E.164; for email and push the address, FCM token or Web Push subscription"
OLD = "E.164 (or the address for email)"


def upgrade() -> None:
    # FCM tokens run to ~160 characters and Web Push subscriptions longer: at 20, PostgreSQL
    # refused them (SQLite does not enforce the length, so only PostgreSQL showed it).
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=20),
            type_=sa.String(length=512),
            existing_nullable=False,
            comment=ADDRESS,
            existing_comment=OLD,
        )


def downgrade() -> None:
    # Fails on PostgreSQL while a longer address is stored: cutting a token would only make it
    # a wrong one, so those rows must be dealt with first.
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "phone",
            existing_type=sa.String(length=512),
            type_=sa.String(length=20),
            existing_nullable=False,
            comment=OLD,
            existing_comment=ADDRESS,
        )
