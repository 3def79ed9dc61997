"""outbox segment and partial indexes: which segment brought each recipient in; the history,
provider and lease indexes hold only the rows they are read for

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEGMENT = "the included segment that brought the recipient in (the first that holds them)"

# (name, columns, the rows it holds). A freshly planned message has no submission time,
# provider id or lease yet, so a plan of a million rows no longer writes three index entries
# per row that nothing reads (every query on these indexes compares the column with a value,
# which SQLite and PostgreSQL both accept as implying IS NOT NULL).
PARTIAL = (
    ("ix_outbox_history", ["workspace_id", "class", "submitted_at", "phone"], "submitted_at"),
    ("ix_outbox_provider", ["route", "provider_id"], "provider_id"),
    ("ix_outbox_lease", ["status", "lease_until"], "lease_until"),
)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("segment", sa.String(length=64), comment=SEGMENT))
    for name, columns, present in PARTIAL:
        op.drop_index(name, table_name="outbox")
        where = sa.text(f"{present} IS NOT NULL")
        op.create_index(
            name, "outbox", columns, unique=False, sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for name, columns, _present in PARTIAL:
        op.drop_index(name, table_name="outbox")
        op.create_index(name, "outbox", columns, unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("segment")
