"""accounts: users, sessions, API keys, approvals and idempotency (issue 9)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loa.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Utc = loa.store.tables.UtcDateTime


def _workspace() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("workspace_id", Id, nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, nullable=False),
        _workspace(),
        sa.Column("email", sa.String(length=254), nullable=False, comment="lower-case"),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False, comment="Argon2id"),
        sa.Column(
            "role",
            sa.String(length=16),
            nullable=False,
            comment="owner/admin/marketer/analyst/developer",
        ),
        sa.Column("lang", sa.String(length=2), server_default="vi", nullable=False),
        sa.Column(
            "totp_secret",
            sa.String(length=64),
            nullable=True,
            comment="base32; set once the user enrolled",
        ),
        sa.Column("failed_logins", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", Utc(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_login_at", Utc(), nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_users_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("workspace_id", "email", name="uq_users_workspace_email"),
    )
    op.create_table(
        "user_sessions",
        sa.Column(
            "token_hash", sa.String(length=64), nullable=False, comment="sha256 hex of the token"
        ),
        sa.Column("user_id", Id, nullable=False),
        _workspace(),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("expires_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_user_sessions_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_user_sessions_user", ["user_id"], unique=False)

    op.create_table(
        "login_failures",
        sa.Column("id", Id, nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_ip_at", ["ip", "at"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", Id, nullable=False),
        _workspace(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "prefix",
            sa.String(length=16),
            nullable=False,
            comment="shown in lists to tell keys apart",
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("last_used_at", Utc(), nullable=True),
        sa.Column("revoked_at", Utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_api_keys_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "workspace_settings",
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_settings_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_settings")),
    )
    op.create_table(
        "approvals",
        sa.Column("id", Id, nullable=False),
        _workspace(),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("reasons", Json, nullable=False),
        sa.Column(
            "planned_at",
            Utc(),
            nullable=True,
            comment="the plan approved; a new plan needs a new approval",
        ),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", Utc(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=10),
            nullable=False,
            comment="pending / approved / rejected",
        ),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", Utc(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_approvals_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_approvals_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index("ix_approvals_campaign", ["campaign_id", "status"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_idempotency_keys_workspace_id_workspaces"),
        ),
        sa.PrimaryKeyConstraint("workspace_id", "key", name=op.f("pk_idempotency_keys")),
    )


def downgrade() -> None:
    for name in (
        "idempotency_keys",
        "approvals",
        "workspace_settings",
        "api_keys",
        "login_failures",
        "user_sessions",
        "users",
    ):
        op.drop_table(name)
