"""automations: automation rules and their runs (issue 10)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loa.store.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "automations",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=48), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("class", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("channels", Json, nullable=False),
        sa.Column("fallback_after_s", sa.Integer(), nullable=True),
        sa.Column("timing", Json, nullable=False),
        sa.Column("conditions", Json, nullable=True),
        sa.Column("limit_days", sa.Integer(), nullable=True),
        sa.Column("voucher", Json, nullable=True),
        sa.Column("params", Json, nullable=True),
        sa.Column("subject", sa.String(length=48), nullable=True),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("5"), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="active", nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_automations_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
        sa.UniqueConstraint("workspace_id", "name", name="uq_automations_workspace_name"),
    )
    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automations_workspace_event", ["workspace_id", "event"], unique=False
        )

    op.create_table(
        "automation_runs",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("automation_id", Id, nullable=False),
        sa.Column("run_key", sa.String(length=120), nullable=False),
        sa.Column("event_id", Id, nullable=True),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("subject", sa.String(length=160), nullable=True),
        sa.Column("step", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("outbox_id", Id, nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("voucher_code", sa.String(length=32), nullable=True),
        sa.Column("watch_until", loa.store.tables.UtcDateTime(), nullable=True),
        sa.Column("created_at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.Column("updated_at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["automation_id"],
            ["automations.id"],
            name=op.f("fk_automation_runs_automation_id_automations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_automation_runs_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint("automation_id", "run_key", name="uq_automation_runs_key"),
    )
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automation_runs_subject", ["workspace_id", "subject"], unique=False
        )
        batch_op.create_index(
            "ix_automation_runs_contact",
            ["automation_id", "contact_id", "created_at"],
            unique=False,
        )
        batch_op.create_index("ix_automation_runs_watch", ["watch_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("automation_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_automation_runs_watch")
        batch_op.drop_index("ix_automation_runs_contact")
        batch_op.drop_index("ix_automation_runs_subject")
    op.drop_table("automation_runs")
    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.drop_index("ix_automations_workspace_event")
    op.drop_table("automations")
