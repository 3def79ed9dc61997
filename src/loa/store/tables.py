"""Every table Loa keeps. Each row belongs to one workspace (tenant).

Datetimes are stored as naive UTC (`UtcDateTime` converts at the edge), so SQLite and
PostgreSQL compare them the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the store."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite hands back the stored text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Id, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("policy_pack", String(16), nullable=False, server_default="vn"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("phone", String(20), nullable=False, comment="E.164"),
    Column("name", String(200)),
    Column("given_name", String(80), comment="last word of a Vietnamese full name"),
    Column("email", String(254)),
    Column("gender", String(8), comment="male / female / other"),
    Column("birthday", Date),
    Column("birth_mmdd", SmallInteger, comment="month*100+day, for birthday windows"),
    Column("province", String(80)),
    Column("carrier", String(16), comment="original range holder; numbers are portable"),
    Column("phone_type", String(24)),
    Column("legacy_converted", Boolean, nullable=False, server_default=text("false")),
    Column("attrs", Json, comment="custom attributes"),
    Column("source", String(200)),
    Column("dnc", Boolean, nullable=False, server_default=text("false")),
    Column("invalid_reason", Text),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    # No secondary indexes: segment counts scan a workspace's contacts in well under a second
    # per million, while each index would add ~1.5 s to importing a million rows.
    UniqueConstraint("workspace_id", "phone", name="uq_contacts_workspace_phone"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Index("ix_contact_tags_workspace_tag", "workspace_id", "tag"),
)

# No row means "subscribed": only changes from the default are stored.
channel_states = Table(
    "channel_states",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("channel", String(8), primary_key=True, comment="sms / email / push / zalo"),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("status", String(16), nullable=False, comment="subscribed / opted_out"),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("method", String(32), comment="how: reply keyword, hotline, form, app, import"),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("purpose", String(16), nullable=False, comment="marketing / care"),
    Column("method", String(32), nullable=False),
    Column("evidence", Text),
    Column("given_at", UtcDateTime, nullable=False),
    Column("withdrawn_at", UtcDateTime),
    Column("source", String(200)),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Index("ix_consents_contact", "contact_id", "channel", "purpose"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(48), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("value_vnd", BigInteger),
    Column("category", String(80)),
    Column("properties", Json),
    Column("external_id", String(128), comment="idempotency key from the source system"),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "external_id", name="uq_events_workspace_external"),
    # Covering indexes: segment counts and the stats rebuild read only the index.
    Index(
        "ix_events_workspace_type_time",
        "workspace_id",
        "type",
        "occurred_at",
        "contact_id",
        "value_vnd",
    ),
    Index(
        "ix_events_contact_type_time",
        "contact_id",
        "type",
        "occurred_at",
        "value_vnd",
        "workspace_id",
    ),
)

# Purchase figures per contact, rebuilt after events change; RFM scores are quintiles 1..5.
contact_stats = Table(
    "contact_stats",
    metadata,
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("orders_count", Integer, nullable=False),
    Column("total_spend_vnd", BigInteger, nullable=False),
    Column("first_order_at", UtcDateTime, nullable=False),
    Column("last_order_at", UtcDateTime, nullable=False),
    Column("r_score", SmallInteger, nullable=False),
    Column("f_score", SmallInteger, nullable=False),
    Column("m_score", SmallInteger, nullable=False),
    Index("ix_contact_stats_workspace", "workspace_id"),
)

segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("rule", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False, default=_now),
    Column("updated_at", UtcDateTime, nullable=False, default=_now),
    UniqueConstraint("workspace_id", "name", name="uq_segments_workspace_name"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("workspace_id", Id, ForeignKey("workspaces.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False, default=_now),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), comment="masked: phone numbers never appear whole"),
    Column("details", Json),
    Index("ix_audit_log_workspace_at", "workspace_id", "at"),
)
