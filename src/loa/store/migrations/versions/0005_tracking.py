"""tracking: clicks, attribution and reports (issue 8)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import loa.store.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clicks",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", Id, nullable=True),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("outbox_id", Id, nullable=True),
        sa.Column("variant", sa.String(length=16), nullable=True),
        sa.Column("at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.Column(
            "human",
            sa.Boolean(),
            nullable=False,
            comment="false: a link preview, scanner or bot",
        ),
        sa.Column(
            "bot", sa.String(length=32), nullable=True, comment="which kind of bot, when not human"
        ),
        sa.Column("method", sa.String(length=8), server_default="GET", nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_clicks_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clicks")),
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clicks_campaign", ["campaign_id", "human", "outbox_id", "at"], unique=False
        )
        batch_op.create_index(
            "ix_clicks_contact", ["workspace_id", "contact_id", "at"], unique=False
        )

    op.create_table(
        "attributions",
        sa.Column("event_id", Id, nullable=False, comment="the order; primary key: credited once"),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("outbox_id", Id, nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=True),
        sa.Column("model", sa.String(length=8), nullable=False, comment="click / view"),
        sa.Column("value_vnd", sa.BigInteger(), nullable=False),
        sa.Column(
            "occurred_at",
            loa.store.tables.UtcDateTime(),
            nullable=False,
            comment="when the order was placed",
        ),
        sa.Column(
            "touch_at",
            loa.store.tables.UtcDateTime(),
            nullable=False,
            comment="the click or the delivery",
        ),
        sa.Column("attributed_at", loa.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_attributions_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_attributions")),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attributions_campaign", ["campaign_id", "occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_campaign")
    op.drop_table("attributions")
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_contact")
        batch_op.drop_index("ix_clicks_campaign")
    op.drop_table("clicks")
